"""The queue parser at its edges: every vis(3) escape smtpctl can write, each field check of a
`show queue` line, and the small parsers (status, envelope details, message split)."""

from __future__ import annotations

import gc

import pytest

from console.queue.parse import (
    Envelope,
    collector_paused,
    decode_vis,
    parse_envelope_details,
    parse_queue,
    parse_status,
    split_message,
    unvis,
)

LINE = "ffb57d307450b25c|inet4|mta|{flags}|a@b.test|c@d.test|c@Example.ORG|100|200|300|4|{state}|{delay}|{error}"


def line(flags: str = "", state: str = "pending", delay: str = "5", error: str = "") -> str:
    return LINE.format(flags=flags, state=state, delay=delay, error=error)


@pytest.mark.parametrize(
    ("encoded", "raw"),
    [
        (rb"\n", b"\n"),
        (rb"\r", b"\r"),
        (rb"\t", b"\t"),
        (rb"\b", b"\b"),
        (rb"\a", b"\a"),
        (rb"\v", b"\v"),
        (rb"\f", b"\f"),
        (rb"\s", b" "),
        (rb"\0", b"\0"),
        (rb"\E", b"\x1b"),
        (rb"\\", b"\\"),
        (rb"\$", b""),
        (rb"\^[", b"\x1b"),
        (rb"\^?", b"\x7f"),
        (rb"\^@", b"\x00"),
        (rb"\M-A", b"\xc1"),
        (rb"\M^J", b"\x8a"),
        (rb"\M^?", b"\xff"),
        (rb"\M^[", b"\x9b"),
        (rb"\M^@", b"\x80"),
        (rb"\101", b"A"),
        (rb"\377", b"\xff"),
        (rb"\777", b"\xff"),
        (rb"\q", rb"\q"),
        (b"\\", b"\\"),
    ],
)
def test_each_vis_escape(encoded: bytes, raw: bytes) -> None:
    assert unvis(b"<" + encoded + b">") == b"<" + raw + b">"


def test_decode_vis_undoes_as_many_layers_as_asked() -> None:
    twice = r"\\M-C\\M-)"  # é, vis-encoded by smtpd, then again by smtpctl
    assert decode_vis(twice, layers=2) == "é"
    assert decode_vis(twice) == r"\M-C\M-)"
    assert decode_vis(r"a\Eb") == "a\x1bb"
    assert decode_vis("caf\udce9 \\n") == "caf\ufffd \n"  # bytes that are not UTF-8 read as U+FFFD
    assert decode_vis("no escapes: é") == "no escapes: é"


def test_a_line_with_every_field() -> None:
    [envelope], bad = parse_queue(line(flags="auth,suspend", error=r"\\^[[31mred"))
    assert bad == []
    assert envelope == Envelope(
        "ffb57d307450b25c",
        "ffb57d30",
        "inet4",
        "mta",
        ("auth", "suspend"),
        "a@b.test",
        "c@d.test",
        "c@Example.ORG",
        100,
        200,
        300,
        4,
        "pending",
        5,
        "\x1b[31mred",
    )
    assert envelope.domain == "example.org" and envelope.state == "paused"
    assert envelope.age(100 + 90.9) == 90 and envelope.age(50) == 0


def test_state_is_the_run_state_unless_suspended_and_delay_may_be_missing() -> None:
    envelopes, bad = parse_queue(
        "\n".join(
            [
                line(flags="bounce", state="inflight", delay="-1"),
                line(state="offline", delay=""),
            ]
        )
    )
    assert bad == []
    assert [(e.flags, e.state, e.delay) for e in envelopes] == [
        (("bounce",), "inflight", -1),
        ((), "offline", None),
    ]


def test_the_same_error_and_flags_on_many_lines_are_decoded_each_time_right() -> None:
    envelopes, _ = parse_queue(
        "\n".join([line(flags="auth", error=r"\\M-C\\M-)")] * 3 + [line(flags="hold", error="")])
    )
    assert [(e.flags, e.error) for e in envelopes] == [(("auth",), "é")] * 3 + [(("hold",), "")]


@pytest.mark.parametrize(
    "broken",
    [
        line().replace("ffb57d307450b25c", "ffb57d307450b25"),  # 15 hex digits
        line().replace("ffb57d307450b25c", "ffb57d307450b25c0"),  # 17
        line().replace("ffb57d307450b25c", "ffb57d307450b25g"),  # not hex
        line().replace("ffb57d307450b25c", "FFB57D307450B25C"),  # smtpctl prints lower case
        line().replace("a@b.test", "ab.test"),  # sender without @
        line().replace("c@d.test", "cd.test"),  # rcpt without @
        line().replace("c@Example.ORG", "cExample.ORG"),  # dest without @
        line(state="pend1ng"),  # run state not a word
        line(state=""),
        line().replace("|100|", "|1x0|"),  # a number that is not one
        line(delay="soon"),
    ],
)
def test_each_field_check_rejects_its_line(broken: str) -> None:
    assert parse_queue(broken + "\n" + line()) == (parse_queue(line())[0], [broken])


def test_a_field_holding_pipes_goes_through_the_anchored_pattern() -> None:
    piped = "ffb57d307450b25c|inet4|mta||a|b@b.test|c@d.test|c@d.test|1|2|3|4|pending|5|x|y"
    [envelope], bad = parse_queue(piped)
    assert bad == [] and (envelope.sender, envelope.error) == ("a|b@b.test", "x|y")
    assert parse_queue("a|b|c") == ([], ["a|b|c"])


def test_lines_split_only_at_newlines() -> None:
    """Python's splitlines would also cut at \\x1c or \\x85, which an error may hold."""
    [envelope], bad = parse_queue(line(error="a\x1cb\x85c") + "\n\n")
    assert bad == [] and envelope.error == "a\x1cb\x85c"


def test_the_collector_is_paused_inside_and_restored_after_even_when_nested() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a parser bug")
    assert gc.isenabled()


def test_status_takes_the_three_agents_in_any_case_and_ignores_the_rest() -> None:
    text = "MDA running\n  mta  paused  \nSMTP running\nqueue running\nMDA\nnoise\n"
    assert parse_status(text) == {"mda": "running", "mta": "paused", "smtp": "running"}


def test_envelope_details_keep_order_and_decode_only_the_error_once() -> None:
    text = "id: 0123\nerrorline: \\M-C\\M-) \\\\n\nno separator here\nrcpt: a\\nb@c\nempty: \n"
    assert parse_envelope_details(text) == [
        ("id", "0123"),
        ("errorline", "é \\n"),
        ("rcpt", "a\\nb@c"),
        ("empty", ""),
    ]


def test_a_message_splits_at_the_first_blank_line_with_any_line_ends() -> None:
    assert split_message("A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore") == ("A: 1\nB: 2", "body\n\nmore")
    assert split_message("A: 1\nB: 2") == ("A: 1\nB: 2", "")
    assert split_message("A: 1\n\n") == ("A: 1", "")


def test_an_error_is_decoded_exactly_twice() -> None:
    """smtpd's text `C:\\temp`, vis-encoded by smtpd and again by smtpctl: a third decoding would
    turn its `\\t` into a tab."""
    [envelope], _ = parse_queue(line(error=r"C:\\\\temp"))
    assert envelope.error == r"C:\temp"
