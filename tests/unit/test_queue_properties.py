"""Property tests: envelopes written in smtpctl's `show queue` format parse back to themselves."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from console.queue.parse import Envelope, QueueSnapshot, decode_vis, parse_queue
from console.queue.summary import queue_json

# RFC 5321 atext (which includes `|`) plus the dot; smtpd prints local parts as given.
LOCAL = st.text(alphabet="abcxyz019.!#$%&'*+-/=?^_`{|}~", min_size=1, max_size=12)
DOMAIN = st.builds(
    "{}.{}".format,
    st.text(alphabet="abcxyz019-", min_size=1, max_size=10),
    st.sampled_from(["test", "example", "com"]),
)
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN)
SENDER = st.one_of(st.just("@"), ADDRESS)
FLAGS = st.sampled_from([(), ("auth",), ("suspend",), ("auth", "suspend"), ("bounce", "internal")])
TIME = st.integers(min_value=0, max_value=2**33)
ERROR = st.text(max_size=40)  # any text: `|`, TAB, newlines, ESC, `[markup]`, accents, emoji


def format_queue_line(envelope: Envelope, error_raw: str) -> str:
    """An envelope written the way `show queue` prints it (error given already vis-encoded)."""
    delay = "" if envelope.delay is None else str(envelope.delay)
    return "|".join(
        (
            envelope.evpid,
            envelope.family,
            envelope.type,
            ",".join(envelope.flags),
            envelope.sender,
            envelope.rcpt,
            envelope.dest,
            str(envelope.ctime),
            str(envelope.expire),
            str(envelope.lasttry),
            str(envelope.retry),
            envelope.runstate,
            delay,
            error_raw,
        )
    )


def vis(data: bytes) -> str:
    """vis(3) as smtpd applies it to errors: `\\`, control and 8-bit bytes escaped, TAB raw."""
    out = []
    for byte in data:
        meta, low = ("\\M" if byte & 0x80 else ""), byte & 0x7F
        if byte == 0x5C:
            out.append("\\\\")
        elif 0x20 <= byte < 0x7F or byte == 0x09:
            out.append(chr(byte))
        elif low == 0x7F:
            out.append(f"{meta or chr(92)}^?")
        elif low < 0x20:
            out.append(f"{meta or chr(92)}^{chr(low + 0x40)}")
        else:
            out.append(f"{meta}-{chr(low)}")
    return "".join(out)


@st.composite
def envelopes(draw: st.DrawFn) -> Envelope:
    evpid = f"{draw(st.integers(0, 2**64 - 1)):016x}"
    runstate = draw(st.sampled_from(["pending", "inflight", "offline", "invalid"]))
    rcpt = draw(ADDRESS)
    return Envelope(
        evpid=evpid,
        msgid=evpid[:8],
        family=draw(st.sampled_from(["inet4", "inet6", "local", "?"])),
        type=draw(st.sampled_from(["mta", "mda", "bounce", "?"])),
        flags=draw(FLAGS),
        sender=draw(SENDER),
        rcpt=rcpt,
        dest=draw(st.one_of(st.just(rcpt), ADDRESS)),
        ctime=draw(TIME),
        expire=draw(TIME),
        lasttry=draw(TIME),
        retry=draw(st.integers(0, 500)),
        runstate=runstate,
        delay=None if runstate == "offline" else draw(st.integers(-1, 10**6)),
        error=draw(ERROR),
    )


def written(envelope: Envelope) -> str:
    """The line smtpctl prints: the error vis-encoded twice."""
    twice = vis(vis(envelope.error.encode("utf-8")).encode("ascii"))
    return format_queue_line(envelope, twice)


@settings(max_examples=300)
@given(st.lists(envelopes(), max_size=8))
def test_written_envelopes_parse_back(queue: list[Envelope]) -> None:
    text = "".join(written(e) + "\n" for e in queue)
    parsed, bad = parse_queue(text)
    assert bad == []
    assert parsed == queue


@given(envelopes())
def test_vis_round_trip_of_any_error(envelope: Envelope) -> None:
    encoded = vis(envelope.error.encode("utf-8"))
    assert "\n" not in encoded
    assert decode_vis(encoded, layers=1) == envelope.error


@given(st.lists(envelopes(), max_size=5))
def test_json_document_matches_the_envelopes(queue: list[Envelope]) -> None:
    document = json.loads(queue_json(QueueSnapshot(queue, [], smtpd_running=True)))
    assert [tuple(d.values()) for d in document["envelopes"]] == [
        (
            e.evpid,
            e.msgid,
            e.family,
            e.type,
            list(e.flags),
            e.sender,
            e.rcpt,
            e.dest,
            e.ctime,
            e.expire,
            e.lasttry,
            e.retry,
            e.runstate,
            e.delay,
            e.error,
        )
        for e in queue
    ]
    if queue:
        assert list(document["envelopes"][0]) == [
            "evpid",
            "msgid",
            "family",
            "type",
            "flags",
            "sender",
            "rcpt",
            "dest",
            "ctime",
            "expire",
            "lasttry",
            "retry",
            "runstate",
            "delay",
            "error",
        ]
    assert document["summary"]["total"] == len(queue)


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300))
def test_any_text_never_raises_and_every_line_is_accounted_for(text: str) -> None:
    parsed, bad = parse_queue(text)
    assert len(parsed) + len(bad) == sum(1 for line in text.split("\n") if line)
