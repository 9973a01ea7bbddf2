"""Regex search and filtering over a followed log, in chunks, cancellable, with progress.

Patterns are matched against the raw bytes (UTF-8 encoded pattern), which keeps a 1 GiB scan near
disk speed; character classes are therefore byte-wise for non-ASCII text. Hits are (segment,
offset) pairs, stable while the background index still adds lines at the top.

The user's patterns go through the `regex` module (its VERSION0 syntax is `re`'s), not `re`: it lets
other threads run while it matches, and stops a match that takes too long, so a pattern that
backtracks without end (`(a|a)+$` on a long run of a's) is one clear error instead of a frozen console.
"""

from __future__ import annotations

import os
import threading
import time
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator
from typing import AnyStr, NamedTuple

import regex

from console.errors import UserError
from console.logs.follow import FollowedLog
from console.logs.parse import parse_timestamp

CHUNK = 4 << 20
"""Bytes searched per step; cancellation and progress are checked between steps."""

MAX_FILTER_RUNS = 2_000_000
"""A filter stops collecting after this many separate runs of lines (bounded memory)."""

BLOCK_TIMEOUT_S = 2.0
"""Longest a pattern with repeats or groups may take over one CHUNK of the log: a normal one needs a
few hundredths of a second, so more is backtracking without end, and the search stops with
PatternTooSlow. A flat pattern (see `_time_limit`) runs without it."""

_REPEAT_OR_GROUP = frozenset("*+?{(")

LINE_TIMEOUT_S = 0.02
"""Longest a pattern may take on one line on the UI thread (drawing its matches, testing a followed
line against the filter): a screenful of lines that all time out costs under a second, once."""

_STAMP_LOOKAHEAD = 50

Progress = Callable[[float], None]


class Hit(NamedTuple):
    """A matching line: which followed file (segment) and the byte offset where the line starts."""

    segment: int
    offset: int


class Cancelled(Exception):
    """The search was cancelled by its caller."""


class PatternTooSlow(UserError):
    """The pattern took longer than its time limit on one block or line (catastrophic backtracking)."""


def compile_pattern(text: str, *, ignore_case: bool = False) -> regex.Pattern[bytes]:
    """The user's regex compiled for byte-wise search; a bad one is a UserError naming the problem."""
    if not text:
        raise UserError("the search pattern is empty.")
    return _compiled(
        text, text.encode("utf-8"), regex.MULTILINE | (regex.IGNORECASE if ignore_case else 0)
    )


def compile_line_pattern(text: str) -> regex.Pattern[str]:
    """The user's regex compiled for one line of text as shown (its matches drawn, a followed line
    tested against the filter); a bad one is the same UserError as compile_pattern's."""
    return _compiled(text, text, 0)


def _compiled(text: str, source: AnyStr, flags: int) -> regex.Pattern[AnyStr]:
    try:
        return regex.compile(source, flags)
    except regex.error as exc:
        raise UserError(f"bad regular expression {text!r}: {exc}.") from None


def too_slow(
    pattern: regex.Pattern[bytes] | regex.Pattern[str], limit: float, where: str
) -> PatternTooSlow:
    """The one sentence for a pattern that ran out of time on `where` (a block, a line)."""
    text = pattern.pattern
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return PatternTooSlow(
        f"the pattern {text!r} took more than {limit:g} s on {where} (catastrophic "
        "backtracking?): simplify it."
    )


def line_spans(pattern: regex.Pattern[str], text: str) -> list[tuple[int, int]]:
    """Where `pattern` matches in one line as shown; none when it takes longer than LINE_TIMEOUT_S
    (the line is drawn without its matches marked)."""
    try:
        return [match.span() for match in pattern.finditer(text, timeout=LINE_TIMEOUT_S)]
    except TimeoutError:
        return []


def line_matches(pattern: regex.Pattern[str], text: str) -> bool:
    """Whether one line as shown matches; PatternTooSlow when it takes longer than LINE_TIMEOUT_S."""
    try:
        return pattern.search(text, timeout=LINE_TIMEOUT_S) is not None
    except TimeoutError:
        raise too_slow(pattern, LINE_TIMEOUT_S, "one line of the log") from None


def _check(cancel: threading.Event | None) -> None:
    """Between chunks: stop when cancelled, and let other threads (the UI) run first."""
    if cancel is not None and cancel.is_set():
        raise Cancelled
    time.sleep(0)


def _matching_line_starts(
    pattern: regex.Pattern[bytes], data: bytes, cancel: threading.Event | None
) -> Iterator[int]:
    """Start (index into data) of each line of `data` that matches, once per line, in order.

    The match lets other threads run and stops after BLOCK_TIMEOUT_S for the whole of `data`:
    PatternTooSlow, or Cancelled when the caller cancelled meanwhile.
    """
    last = -1
    try:
        for match in pattern.finditer(data, concurrent=True, timeout=_time_limit(pattern)):
            start = data.rfind(b"\n", 0, match.start()) + 1
            if start != last:
                last = start
                yield start
    except TimeoutError:
        _check(cancel)
        raise too_slow(pattern, BLOCK_TIMEOUT_S, "one block of the log") from None


def _time_limit(pattern: regex.Pattern[bytes]) -> float | None:
    """BLOCK_TIMEOUT_S, or None for a flat pattern (no repeat, no group: `carol@example.org`,
    `status=\\w|relay=\\S`): it costs at most its own length per byte, and regex's time limit costs
    about 0.7 us per match (a count of a string on a quarter of the lines took twice as long)."""
    return BLOCK_TIMEOUT_S if _REPEAT_OR_GROUP.intersection(pattern.pattern.decode()) else None


def find(
    log: FollowedLog,
    pattern: regex.Pattern[bytes],
    origin: Hit,
    *,
    backwards: bool,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> Hit | None:
    """The first line after `origin` (before it when `backwards`) that matches, or None.

    `origin` is a line start: forwards the search begins with the line after it, backwards it
    ends with the line before it. Raises Cancelled when `cancel` is set.
    """
    segments = (
        range(origin.segment, -1, -1) if backwards else range(origin.segment, len(log.segments))
    )
    total = sum(log.segments[s].index.end for s in segments) or 1
    done = 0
    for segment in segments:
        seg = log.segments[segment]
        if seg.lost:
            continue
        index = seg.index
        if backwards:
            # The bytes below the index are there to search; the hit waits for the index.
            stop = origin.offset if segment == origin.segment else index.end
            low = 0 if segment == 0 else index.low
            hit, done = _find_backwards(index.fd, pattern, low, stop, cancel, progress, done, total)
            if hit is not None:
                index.wait_scanned(hit, cancel)
        else:
            start = index.low
            if segment == origin.segment:
                start = _next_line(index.fd, origin.offset, index.end)
            hit, done = _find_forwards(
                index.fd, pattern, start, index.end, cancel, progress, done, total
            )
        if hit is not None:
            return Hit(segment, hit)
    return None


def _next_line(fd: int, offset: int, end: int) -> int:
    """Offset of the line after the one starting at `offset`."""
    while offset < end:
        data = os.pread(fd, min(CHUNK, end - offset), offset)
        at = data.find(b"\n")
        if at != -1:
            return offset + at + 1
        offset += len(data)
    return end


def _find_forwards(
    fd: int,
    pattern: regex.Pattern[bytes],
    start: int,
    end: int,
    cancel: threading.Event | None,
    progress: Progress | None,
    done: int,
    total: int,
) -> tuple[int | None, int]:
    pos = start
    while pos < end:
        _check(cancel)
        data = os.pread(fd, min(CHUNK, end - pos), pos)
        cut = data.rfind(b"\n") + 1 if pos + len(data) < end else len(data)
        if cut == 0:
            cut = len(data)  # one line longer than a chunk: matched in pieces
        for line_start in _matching_line_starts(pattern, data[:cut], cancel):
            return pos + line_start, done
        pos += cut
        done += cut
        if progress:
            progress(done / total)
    return None, done


def _find_backwards(
    fd: int,
    pattern: regex.Pattern[bytes],
    low: int,
    stop: int,
    cancel: threading.Event | None,
    progress: Progress | None,
    done: int,
    total: int,
) -> tuple[int | None, int]:
    pos = stop
    while pos > low:
        _check(cancel)
        start = max(low, pos - CHUNK)
        data = os.pread(fd, pos - start, start)
        skip = 0
        if start > low:
            skip = data.find(b"\n") + 1
            # skip == 0: one line longer than a chunk, matched in pieces
        last = None
        for line_start in _matching_line_starts(pattern, data[skip:], cancel):
            last = line_start
        if last is not None:
            return start + skip + last, done
        done += pos - (start + skip)
        pos = start + skip
        if progress:
            progress(done / total)
    return None, done


def count_matches(
    log: FollowedLog,
    pattern: regex.Pattern[bytes],
    *,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> int:
    """How many lines of the followed files match (every segment, oldest first)."""
    readable = [seg.index for seg in log.segments if not seg.lost]
    total = sum(index.end for index in readable) or 1
    done = count = 0
    for number, index in enumerate(readable):
        pos = 0 if number == 0 else index.low
        while pos < index.end:
            _check(cancel)
            data = os.pread(index.fd, min(CHUNK, index.end - pos), pos)
            cut = data.rfind(b"\n") + 1 if pos + len(data) < index.end else len(data)
            cut = cut or len(data)
            count += sum(1 for _ in _matching_line_starts(pattern, data[:cut], cancel))
            pos += cut
            done += cut
            if progress:
                progress(done / total)
    return count


class FilteredLines:
    """The view lines a filter kept, as sorted runs: compact even when millions of lines match.

    Filled by a worker thread while the UI reads it, hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._starts = array("q")
        self._stops = array("q")
        self._before = array("q")
        self.complete = False
        """True when the filter reached the end of what was there (or stopped at MAX_FILTER_RUNS)."""
        self.capped = False
        """True when the filter stopped early because it kept too many separate runs."""

    def __len__(self) -> int:
        with self._lock:
            return self._len_locked()

    def _len_locked(self) -> int:
        if not self._starts:
            return 0
        return self._before[-1] + self._stops[-1] - self._starts[-1]

    def add(self, start: int, stop: int) -> bool:
        """Keep view lines [start, stop), which come after everything kept so far; False if full."""
        with self._lock:
            if self._starts and start <= self._stops[-1]:
                self._stops[-1] = max(self._stops[-1], stop)
                return True
            if len(self._starts) >= MAX_FILTER_RUNS:
                self.capped = True
                return False
            self._before.append(self._len_locked())
            self._starts.append(start)
            self._stops.append(stop)
            return True

    def __getitem__(self, i: int) -> int:
        """The view line shown as the i-th filtered line."""
        with self._lock:
            if not 0 <= i < self._len_locked():
                raise IndexError(i)
            run = bisect_right(self._before, i) - 1
            return self._starts[run] + i - self._before[run]

    def position_of(self, line: int) -> int:
        """Index of the first kept line at or after view line `line` (len(self) if none)."""
        with self._lock:
            run = bisect_right(self._starts, line) - 1
            if run < 0:
                return 0
            if line < self._stops[run]:
                return self._before[run] + line - self._starts[run]
            return self._before[run] + self._stops[run] - self._starts[run]


def filter_lines(
    log: FollowedLog,
    pattern: regex.Pattern[bytes],
    result: FilteredLines,
    *,
    invert: bool = False,
    context: int = 0,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> int:
    """Fill `result` with the view lines that match (or not, `invert`), `context` lines around each.

    Waits for the background index first, so view line numbers are final. Marker lines are
    always kept. Returns the number of view lines the filter covered (later lines are the
    follower's to test).
    """
    log.segments[0].index.wait_scanned(0, cancel)
    _check(cancel)
    plan = [(seg, base, len(seg.index), seg.index.low, seg.index.end) for seg, base in log.layout()]
    covered = len(log)
    total = sum(end - low for _, _, _, low, end in plan) or 1
    done = 0
    for seg, base, count, low, end in plan:
        if not seg.lost:
            line = base
            pos = low
            previous_match = base - 1
            while pos < end:
                _check(cancel)
                data = os.pread(seg.index.fd, min(CHUNK, end - pos), pos)
                cut = data.rfind(b"\n") + 1 if pos + len(data) < end else len(data)
                if cut == 0:
                    cut = len(data)
                chunk = data[:cut]
                counted_to, counted = 0, 0
                for line_start in _matching_line_starts(pattern, chunk, cancel):
                    counted += chunk.count(b"\n", counted_to, line_start)
                    counted_to = line_start
                    hit = line + counted
                    if invert:
                        gap = (previous_match + 1, hit)
                        previous_match = hit
                        if gap[0] < gap[1] and not _keep(result, *gap, context, base, base + count):
                            return covered
                    elif not _keep(result, hit, hit + 1, context, base, base + count):
                        return covered
                line += counted + chunk.count(b"\n", counted_to)
                pos += cut
                done += cut
                if progress:
                    progress(done / total)
            tail = (previous_match + 1, base + count)
            if (
                invert
                and tail[0] < tail[1]
                and not _keep(result, *tail, context, base, base + count)
            ):
                return covered
        if seg.marker is not None:
            marker = base + count
            if not result.add(marker, marker + 1):
                return covered
    result.complete = True
    return covered


def _keep(result: FilteredLines, start: int, stop: int, context: int, low: int, high: int) -> bool:
    return result.add(max(low, start - context), min(high, stop + context))


def find_time(log: FollowedLog, when: float, *, year: int | None = None) -> Hit | None:
    """The first line stamped at or after `when` (POSIX time), found by bisecting the files' bytes.

    Assumes each file is in time order, as logs are; None when no line is that late.
    """
    for number, seg in enumerate(log.segments):
        if seg.lost:
            continue
        fd, low, high, end = seg.index.fd, seg.index.low, seg.index.end, seg.index.end
        while low < high:
            middle = (low + high) // 2
            found = _first_stamp_after(fd, middle, end, year)
            if found is None or found[1] >= when:
                high = middle
            else:
                low = middle + 1
        found = _first_stamp_after(fd, low, end, year)
        if found is not None and found[1] >= when:
            return Hit(number, found[0])
    return None


def _first_stamp_after(
    fd: int, offset: int, end: int, year: int | None
) -> tuple[int, float] | None:
    """(line start, stamp) of the first stamped line starting at or after `offset` (a few lines on)."""
    if offset > 0 and os.pread(fd, 1, offset - 1) != b"\n":
        offset = _next_line(fd, offset, end)
    for _ in range(_STAMP_LOOKAHEAD):
        if offset >= end:
            break
        head = os.pread(fd, 64, offset).split(b"\n", 1)[0]
        stamp, _ = parse_timestamp(head.decode("utf-8", "replace"), year)
        if stamp is not None:
            return offset, stamp
        offset = _next_line(fd, offset, end)
    return None
