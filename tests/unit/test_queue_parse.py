"""console.queue's parsers on real smtpctl captures (tests/captures/smtpctl, see its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.queue.parse import (
    Envelope,
    decode_vis,
    parse_envelope_details,
    parse_queue,
    parse_status,
    split_message,
)
from console.queue.summary import summarise

CAPTURES = Path(__file__).resolve().parent.parent / "captures" / "smtpctl"


def capture(name: str) -> str:
    return (CAPTURES / f"{name}.out").read_text(encoding="utf-8")


def by_id(envelopes: list[Envelope]) -> dict[str, Envelope]:
    return {e.evpid: e for e in envelopes}


def test_running_queue_every_field() -> None:
    envelopes, bad = parse_queue(capture("show-queue-running"))
    assert bad == []
    assert len(envelopes) == 5
    tim = by_id(envelopes)["99c1e639b21b3591"]
    assert tim == Envelope(
        evpid="99c1e639b21b3591",
        msgid="99c1e639",
        family="inet4",
        type="mda",
        flags=(),
        sender="sender@lab.test",
        rcpt="tim@tempfail.test",
        dest="tim@tempfail.test",
        ctime=1795542851,
        expire=1795542851,
        lasttry=0,
        retry=2,
        runstate="pending",
        delay=30,
        error='"échec temporaire: boîte pleine"',
    )
    bounce = by_id(envelopes)["3e492f5731b0ac8e"]
    assert (bounce.family, bounce.flags, bounce.sender, bounce.runstate, bounce.error) == (
        "local",
        ("auth",),
        "@",
        "inflight",
        "",
    )


def test_pipes_in_local_parts_and_error() -> None:
    envelopes, bad = parse_queue(capture("show-queue-pipes"))
    assert bad == []
    found = by_id(envelopes)
    obrien = found["3ee993ecd74d5046"]
    assert (obrien.sender, obrien.rcpt, obrien.dest) == (
        "o|brien@lab.test",
        "x|y@unreachable.test",
        "x|y@unreachable.test",
    )
    assert obrien.domain == "unreachable.test"
    assert found["d52b644b4ffc44e9"].rcpt == "a|b@unreachable.test"
    eve = found["04f155e8b486f107"]
    assert eve.error == '"quota|exceeded: a|b\there [bold]x[/bold] \x1b[31mred"'
    assert (eve.retry, eve.runstate, eve.delay) == (2, "pending", 15)


def test_offline_queue_has_no_delay() -> None:
    envelopes, bad = parse_queue(capture("show-queue-offline"))
    assert bad == [] and len(envelopes) == 9
    assert {e.runstate for e in envelopes} == {"offline"}
    assert {e.delay for e in envelopes} == {None}
    assert by_id(envelopes)["220b2cdb9861677c"].error == ""


def test_paused_envelopes_and_subsystems() -> None:
    paused, _ = parse_queue(capture("show-queue-paused-envelopes"))
    states = {e.evpid: e.state for e in paused}
    assert states["ffb57d307450b25c"] == states["ffb57d303dd4347e"] == "paused"
    assert states["d52b644b4ffc44e9"] == "inflight"
    held, _ = parse_queue(capture("show-queue-paused-subsystems"))
    assert by_id(held)["99c1e639b21b3591"].delay == -1


def test_bounce_envelope_shares_the_message_id() -> None:
    envelopes, _ = parse_queue(capture("show-queue-bounces"))
    bounce = by_id(envelopes)["04f155e8d813a0b9"]
    assert bounce.type == "bounce"
    assert bounce.msgid == by_id(envelopes)["04f155e8b486f107"].msgid == "04f155e8"
    assert bounce.expire - bounce.ctime == 7 * 86400


def test_empty_queue() -> None:
    assert capture("show-queue-empty") == ""
    assert parse_queue(capture("show-queue-empty")) == ([], [])


def test_bad_lines_are_kept_and_the_rest_parsed() -> None:
    good = capture("show-queue-running")
    junk = [
        "not a queue line",
        "XYZ57d307450b25c|inet4|mta||a@b|c@d|c@d|1|1|0|1|pending|5|err",
        "ffb57d307450b25c|inet4|mta||a@b|c@d|c@d|soon|1|0|1|pending|5|err",
        "ffb57d307450b25c|inet4|mta||nobody|c@d|c@d|1|1|0|1|pending|5|err",
        "ffb57d307450b25c|inet4|mta||a@b|c@d|c@d|1|1|0|1|pending|5",
        "smtpctl: 0123456789abcdef: unexpected flags 0x0100",
    ]
    envelopes, bad = parse_queue(good + "\n".join(junk) + "\n")
    assert len(envelopes) == 5
    assert bad == junk


def test_vis_decoding() -> None:
    assert decode_vis("\\\\M-C\\\\M-)t\\\\M-C\\\\M-)", layers=2) == "été"
    assert decode_vis("\\^[[1m \\\\ \\012 \\M^@", layers=1) == "\x1b[1m \\ \n \x80".replace(
        "\x80", "\ufffd"
    )
    assert decode_vis("plain | text", layers=2) == "plain | text"


def test_status() -> None:
    assert parse_status(capture("show-status-running")) == {
        "mda": "running",
        "mta": "running",
        "smtp": "running",
    }
    assert parse_status(capture("show-status-paused")) == {
        "mda": "paused",
        "mta": "paused",
        "smtp": "paused",
    }


def test_envelope_details_decode_the_error_once() -> None:
    fields = dict(parse_envelope_details(capture("show-envelope-tempfail")))
    assert fields["errorline"] == '"échec temporaire: boîte pleine"'
    assert fields["dispatcher"] == "tempfail" and fields["mda-user"] == "nobody"
    queued, _ = parse_queue(capture("show-queue-pipes"))
    piped = dict(parse_envelope_details(capture("show-envelope-pipe-error")))
    assert piped["errorline"] == by_id(queued)["04f155e8b486f107"].error


def test_message_headers_and_body() -> None:
    head, body = split_message(capture("show-message-delay-warning"))
    assert "Subject: Delivery status notification: delayed" in head.splitlines()
    assert "Subject: pipe local part" in body


@pytest.mark.parametrize(
    ("age_s", "label"),
    [
        (0, "<5m"),
        (299, "<5m"),
        (300, "<10m"),
        (76799, "<1280m"),
        (76800, "1280m+"),
    ],
)
def test_age_bands(age_s: int, label: str) -> None:
    envelopes, _ = parse_queue(capture("show-queue-running"))
    one = envelopes[0]
    summary = summarise([one], now=one.ctime + age_s)
    assert [band for band, count in summary.by_age.items() if count] == [label]


def test_summary_of_a_real_queue() -> None:
    envelopes, _ = parse_queue(capture("show-queue-paused-envelopes"))
    summary = summarise(envelopes, now=1795542851 + 45 * 60)
    assert summary.total == 8 and summary.messages == 7  # ffb57d30 has two envelopes
    assert summary.by_state == {"inflight": 5, "paused": 2, "pending": 1}
    assert summary.by_domain == {"lab.test": 4, "unreachable.test": 3, "tempfail.test": 1}
    assert summary.by_age["<80m"] == 8 and sum(summary.by_age.values()) == 8
    assert summary.oldest is not None and summary.oldest.ctime == 1795542851
    assert summary.oldest_age == 45 * 60
    assert summary.shape[0].domain == "lab.test" and summary.shape[0].total == 4
