"""Reading the stack's log lines: timestamps, highlight spans, OpenSMTPD ids, merging by time.

Highlighting returns plain data, `Span(start, end, style)` with a style *name*; the UI maps names
to colours. It runs on the printable text (after `console.text.printable`), so offsets match what
is drawn. Formats: rsyslog RFC 3339 and classic syslog headers, supervisord's own log, smtpd -d
output (no timestamp), Dovecot (`log_timestamp`), clamd (`LogTime`), clamsmtpd, spampd, dkimproxy.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

STYLES = (
    "timestamp", "host", "program", "level", "error", "warning", "success", "session", "message",
    "envelope", "address", "key", "virus", "spam", "marker",
)  # fmt: skip
"""Every style name `highlight` can return."""

_pattern = functools.cache(re.compile)
"""A pattern below, compiled on its first use: most logs never need half of them, and compiling them
all at once costs the console 1.5 % of its start-up."""

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_MONTH = "(" + "|".join(_MONTH_NAMES) + ")"

_ISO = r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)?"
_SYSLOG = _MONTH + r" {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?"
_CLAMD = (
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) " + _MONTH + r" {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})"
)


class Span(NamedTuple):
    """A highlighted part of a line: [start, end) gets the style named `style`."""

    start: int
    end: int
    style: str


def parse_timestamp(line: str, year: int | None = None) -> tuple[float | None, int]:
    """(POSIX time, length of the timestamp) of the stamp a line starts with, or (None, 0).

    Stamps without a zone are local time; syslog stamps without a year get `year` (default: this
    year, or last year when that would put the stamp in the future).
    """
    found = _stamp(line)
    if found is None:
        return None, 0
    source, match = found
    if source == _ISO:
        y, mo, d, h, mi, s, frac, zone = match.groups()
        micro = int((frac or "0")[:6].ljust(6, "0"))
        tz = None
        if zone == "Z":
            tz = dt.timezone.utc
        elif zone:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        try:
            when = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=tz)
        except ValueError:
            return None, 0
        return when.timestamp(), match.end()
    if source == _CLAMD:
        mon, d, h, mi, s, y = match.groups()
        return _local(int(y), _MONTHS[mon], int(d), int(h), int(mi), int(s), 0), match.end()
    mon, d, h, mi, s, frac = match.groups()  # syslog
    micro = int((frac or "0").ljust(6, "0"))
    now = dt.datetime.now()
    y = year if year is not None else now.year
    stamp = _local(y, _MONTHS[mon], int(d), int(h), int(mi), int(s), micro)
    if year is None and stamp is not None and stamp > now.timestamp() + 86400:
        stamp = _local(y - 1, _MONTHS[mon], int(d), int(h), int(mi), int(s), micro)
    return stamp, match.end()


def _stamp(line: str) -> tuple[str, re.Match[str]] | None:
    """The format (its pattern) and the match of the stamp a line starts with, or None; the formats
    are tried in the order that tells them apart."""
    for source in (_ISO, _CLAMD, _SYSLOG):
        if match := _pattern(source).match(line):
            return source, match
    return None


def _stamp_length(line: str) -> int:
    """Length of the timestamp a line starts with (0 if none): parse_timestamp's match, not its time."""
    found = _stamp(line)
    return found[1].end() if found else 0


def _local(y: int, mo: int, d: int, h: int, mi: int, s: int, micro: int) -> float | None:
    try:
        return dt.datetime(y, mo, d, h, mi, s, micro).timestamp()
    except ValueError:
        return None


# "host program[pid]:" (syslog) or Dovecot's "lda(user)<pid><session>:" after the stamp.
_HEADER = r" +(?:(?P<host>[\w.-]+) +)?(?P<program>[\w./-]+(?:\([^()\s]*\))?(?:<[^<>\s]*>)*)(?P<pid>\[\d+\])?:(?= )"
_SUPERVISORD_LEVEL = r" (CRIT|ERRO|WARN|INFO|DEBG|TRAC|BLAT) "
_RULES: list[tuple[str, str, int, tuple[str, ...]]] = [
    # (pattern, style, group, needles): later rules are drawn on top of earlier ones. A rule with
    # needles runs only on lines that contain one of them (a substring test costs far less than a scan).
    (r"\b([\w-]+)=(?=\S)", "key", 1, ("=",)),
    (r"<[^<>\s]*@[^<>\s]*>|<>", "address", 0, ("<",)),
    (r"\[(?:\d{1,3}\.){3}\d{1,3}\]|\b(?:\d{1,3}\.){3}\d{1,3}\b", "address", 0, ()),
    (r"\b[0-9a-f]{16}\b", "session", 0, ()),
    (r"(?:\bmessage |\bmsgid=)([0-9a-f]{8})\b", "message", 1, ("message ", "msgid=")),
    (
        r"(?:\bevpid=|\bfor |\benvelope )([0-9a-f]{16})\b",
        "envelope",
        1,
        ("evpid=", "for ", "envelope "),
    ),
    (
        r"\b(?:warn|warning|Warning|WARNING|WARN|TempFail|deferred|Deferred)\b:?",
        "warning",
        0,
        ("warn", "Warn", "WARN", "TempFail", "eferred"),
    ),
    (
        r"\b(?:fatal|Fatal|FATAL|[Pp]anic|error|Error|ERROR|ERRO|CRIT|crit|[Ff]ailed|failure|"
        r"PermFail|Loop|[Rr]ejected|[Rr]efused|denied|auth failed|[Bb]ounced?|Authentication failed)\b:?",
        "error",
        0,
        (),
    ),
    (
        r"\bresult=\"?Ok\b\"?|\bstat=\"?(?:Delivered|250 [^\"]*)\"?|\bLogin:|saved mail to \S+",
        "success",
        0,
        ("result=", "stat=", "Login:", "saved mail to "),
    ),
    (
        r"\bstatus=CLEAN\b|\bclean message\b|DKIM (?:verify - pass|signing - signed)",
        "success",
        0,
        ("status=CLEAN", "clean message", "DKIM "),
    ),
    (r"(?<!\S)\S+ FOUND\b|\bstatus=VIRUS\S*|\bVIRUS\b", "virus", 0, (" FOUND", "VIRUS")),
    (r"\bidentified spam\b|\bspam message\b", "spam", 0, ("spam",)),
    (r"DKIM verify - (?:fail|invalid)\S*", "error", 0, ("DKIM verify - ",)),
]


def highlight(line: str) -> list[Span]:
    """Spans to style in a printable log line: stamp, host and program, levels, ids, outcomes."""
    spans: list[Span] = []
    end = _stamp_length(line)
    if end:
        spans.append(Span(0, end, "timestamp"))
        if level := _pattern(_SUPERVISORD_LEVEL).match(line, end):
            name = level.group(1)
            style = (
                "error" if name in ("CRIT", "ERRO") else "warning" if name == "WARN" else "level"
            )
            spans.append(Span(level.start(1), level.end(1), style))
        elif header := _pattern(_HEADER).match(line, end):
            if header["host"]:
                spans.append(Span(header.start("host"), header.end("host"), "host"))
            spans.append(
                Span(
                    header.start("program"),
                    header.end("pid") if header["pid"] else header.end("program"),
                    "program",
                )
            )
    for source, style, group, needles in _RULES:
        if needles and not any(needle in line for needle in needles):
            continue
        for match in _pattern(source).finditer(line, end):
            spans.append(Span(match.start(group), match.end(group), style))
    return spans


_WHEN = r"(?:(\d{4})-(\d\d)-(\d\d)[T ])?(\d{1,2}):(\d\d)(?::(\d\d))?"


def parse_when(text: str, reference: float) -> float:
    """A time the user typed (`HH:MM[:SS]`, `YYYY-MM-DD HH:MM[:SS]`, or a log stamp) as POSIX time.

    A bare clock time is on the day of `reference` (the log's last stamp). Raises ValueError.
    """
    text = text.strip()
    stamp, length = parse_timestamp(text)
    if stamp is not None and length == len(text):
        return stamp
    match = _pattern(_WHEN).fullmatch(text)
    if match is None:
        raise ValueError(
            f"cannot read {text!r} as a time: use HH:MM, HH:MM:SS or YYYY-MM-DD HH:MM."
        )
    y, mo, d, h, mi, s = match.groups()
    day = dt.datetime.fromtimestamp(reference)
    try:
        when = dt.datetime(
            int(y) if y else day.year,
            int(mo) if mo else day.month,
            int(d) if d else day.day,
            int(h),
            int(mi),
            int(s or 0),
        )
    except ValueError as exc:
        raise ValueError(f"cannot read {text!r} as a time: {exc}.") from None
    return when.timestamp()


def opensmtpd_ids(line: str) -> dict[str, list[str]]:
    """OpenSMTPD ids a line mentions, by kind: "session", "message", "envelope" (for the queue)."""
    spans = [s for s in highlight(line) if s.style in ("session", "message", "envelope")]
    envelopes = {line[s.start : s.end] for s in spans if s.style == "envelope"}
    found: dict[str, list[str]] = {}
    for span in spans:
        value = line[span.start : span.end]
        if span.style == "session" and value in envelopes:
            continue
        ids = found.setdefault(span.style, [])
        if value not in ids:
            ids.append(value)
    return found


def timestamps_parse(lines: Iterable[str], share: float = 0.8) -> bool:
    """True when at least `share` of the (non-empty) lines start with a timestamp."""
    total = parsed = 0
    for line in lines:
        if line:
            total += 1
            parsed += parse_timestamp(line)[0] is not None
    return total > 0 and parsed >= share * total


def merge_by_time(streams: Sequence[Iterable[str]]) -> Iterator[tuple[int, str]]:
    """(stream number, line) of several time-ordered streams, merged into one time order.

    A line without a timestamp stays after the line before it in its own stream.
    """

    def keyed(number: int, lines: Iterable[str]) -> Iterator[tuple[float, int, int, str]]:
        last = float("-inf")
        for position, line in enumerate(lines):
            stamp, _ = parse_timestamp(line)
            if stamp is not None:
                last = stamp
            yield last, number, position, line

    for _, number, _, line in heapq.merge(*(keyed(n, s) for n, s in enumerate(streams))):
        yield number, line
