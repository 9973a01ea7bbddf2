"""The story of a queued message in the logs: every line about it, time-ordered.

smtpd writes most lines about a message with its msgid or evpid, but not all: the line that says why
a delivery failed (`mta error reason=...`) carries only the id of the session that tried. So the story
follows sessions: every line of a session that names the message belongs to it (less the lines of
other messages the same session carried), and when the delivery line has no session (smtpd logs
`0000000000000000` when the route failed before a session could carry it), the mta sessions that
connected to that delivery's relay since the message's previous line are the attempts that failed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

from console.logs.follow import LogLine
from console.logs.parse import parse_timestamp
from console.queue.parse import split_message

LOG_TAIL_BYTES = 16 * 1024 * 1024
"""How much of the end of each log file is searched for a message's lines."""

SESSION = re.compile(rb"(?:^|\s)([0-9a-f]{16}) (smtp|mta|mda) ")
"""smtpd's session id and agent at the start of its message (after any syslog prefix)."""
NO_SESSION = b"0" * 16
OTHER_ID = re.compile(rb"\b(?:msgid|evpid)=([0-9a-f]{8,16})")
RELAY = re.compile(rb' relay="([^"]+)"')
CONNECTING = re.compile(rb" mta connecting address=\S*?://\[?([^\]\s:]+)")


def _session(raw: bytes) -> tuple[bytes, bytes] | None:
    """The (session id, agent) of an smtpd line, or None."""
    match = SESSION.search(raw[:200])
    return (match.group(1), match.group(2)) if match else None


def _story_lines(lines: list[bytes], wanted: list[bytes]) -> list[int]:
    """The indexes of the lines of one log file that belong to the story of the needles."""
    direct = [i for i, raw in enumerate(lines) if any(needle in raw for needle in wanted)]
    if not direct:
        return []
    sessions: set[bytes] = set()
    previous = direct[0]
    for i in direct:
        raw = lines[i]
        found = _session(raw)
        if found is not None and found[0] != NO_SESSION:
            sessions.add(found[0])
        elif found is not None and found[1] == b"mta":
            relay = RELAY.search(raw)
            if relay is not None and relay.group(1) != b"-":
                # The route failed: the attempts are the mta sessions to that relay since the
                # message's previous line.
                for j in range(previous, i):
                    connecting = CONNECTING.search(lines[j])
                    session = _session(lines[j])
                    if connecting and session and connecting.group(1) == relay.group(1):
                        sessions.add(session[0])
        previous = i
    chosen = set(direct)
    for i, raw in enumerate(lines):
        if i in chosen:
            continue
        found = _session(raw)
        if found is None or found[0] not in sessions:
            continue
        other = OTHER_ID.search(raw)
        if other is not None and not any(needle in raw for needle in wanted):
            continue  # the same session carried another message: its lines are not this story
        chosen.add(i)
    return sorted(chosen)


def message_story(log_dir: Path, needles: Sequence[str], limit: int = 2000) -> list[LogLine]:
    """Every line of the files in log_dir (their last LOG_TAIL_BYTES) that belongs to the story of
    a needle (the msgid, its Message-ID...): the lines that mention it and the lines of the smtpd
    sessions that handled it (see the module's docstring), time-ordered. Lines without a time keep
    the time of the line before them in their file, so each file's order is kept."""
    found: list[tuple[float, int, LogLine]] = []
    year = time.localtime().tm_year
    wanted = [n.encode("utf-8", "surrogateescape") for n in needles if n]
    try:
        files = sorted(p for p in log_dir.iterdir() if p.is_file())
    except OSError:
        return []
    order = 0
    for path in files:
        try:
            with path.open("rb") as handle:
                size = handle.seek(0, 2)
                handle.seek(max(0, size - LOG_TAIL_BYTES))
                data = handle.read()
        except OSError:
            continue
        if not any(needle in data for needle in wanted):
            continue
        lines = data.split(b"\n")
        chosen = set(_story_lines(lines, wanted))
        last_time = 0.0
        for index, raw in enumerate(lines):
            stamp = None
            if raw[:1].isalnum():
                stamp = parse_timestamp(raw.decode("utf-8", "replace"), year)[0]
            if stamp is not None:
                last_time = stamp
            if index in chosen:
                order += 1
                found.append(
                    (
                        stamp if stamp is not None else last_time,
                        order,
                        LogLine(raw.decode("utf-8", "replace"), origin=path.name, lineno=index + 1),
                    )
                )
    found.sort(key=lambda item: (item[0], item[1]))
    return [line for _, _, line in found[-limit:]]


def message_id_header(message: str) -> str:
    """The Message-ID of a queued message (angle brackets removed), or an empty string."""
    head, _ = split_message(message)
    for line in head.split("\n"):
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "message-id":
            return value.strip().strip("<>")
    return ""
