"""Random access to the lines of a huge, growing file without holding it in memory.

`LineIndex` counts newlines per 64 KiB block: the last block synchronously (so opening costs the
same for 1 KiB and 1 GiB), the rest backwards in a background thread, appends as they are read.
Line N is found by a binary search over the blocks and one read of one block.
"""

from __future__ import annotations

import bisect
import os
import threading
from array import array
from collections import OrderedDict
from itertools import accumulate
from typing import NamedTuple

BLOCK = 64 * 1024
"""Bytes per index block: one block is read to locate a line inside it."""

SCAN_CHUNK = 16 * BLOCK
"""Bytes read per step of the background scan."""

MAX_LINE_BYTES = 8 * 1024
"""Bytes of a line read for display; longer lines are shown truncated."""

_POSITION_CACHE = 32


class RawLine(NamedTuple):
    """One line's bytes as read for display (no newline) and its real length in the file."""

    offset: int
    data: bytes
    length: int

    @property
    def truncated(self) -> bool:
        """True when the line is longer than what was read."""
        return self.length > len(self.data)


class LineIndex:
    """Where the lines of one open file start, for the region indexed so far.

    Lines are numbered from the first one known: while the background scan goes backwards, lines
    are added at the top and `prepended` grows, so a viewer can keep its place.
    """

    def __init__(self, fd: int, end: int, *, scan: bool = True, origin: int = 0) -> None:
        self.fd = fd
        self.origin = origin
        """Where the indexed part of the file begins, a line start: 0, or the offset where a later
        stretch of the same file begins (its earlier lines being in another index)."""
        self._lock = threading.Lock()
        self._starts = array("q")
        self._counts = array("q")
        self._cumulative: list[int] | None = None
        self._newlines = 0
        self._positions: OrderedDict[tuple[int, int], list[int]] = OrderedDict()
        self._last_byte_newline = False
        self.low = end
        """Lowest indexed offset: lines that start before it are not known yet."""
        self.end = end
        """Offset just past the indexed bytes."""
        self.prepended = 0
        """Lines added at the top by the backward scan so far."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if end > origin:
            self._last_byte_newline = os.pread(fd, 1, end - 1) == b"\n"
            self._scan_step(BLOCK)
        if scan:
            self.start_scan()

    def start_scan(self) -> None:
        """Index the rest of the file, backwards from `low`, in a background thread (once)."""
        if self._thread is None and self.low > self.origin:
            self._thread = threading.Thread(target=self._scan_all, name="log-index", daemon=True)
            self._thread.start()

    # -- building -------------------------------------------------------------------------

    def _scan_step(self, size: int) -> int:
        """Index about `size` bytes below `low`, in whole blocks; returns the number of lines added."""
        low = self.low
        start = max(self.origin, (low - 1) // BLOCK * BLOCK - (size - BLOCK))
        data = os.pread(self.fd, low - start, start)
        if len(data) != low - start:
            raise OSError("file shrank while it was being indexed")
        starts = array("q", range(start, low, BLOCK))
        counts = array("q", (data.count(b"\n", s - start, s - start + BLOCK) for s in starts))
        with self._lock:
            before = self._count_locked()
            self._starts = starts + self._starts
            self._counts = counts + self._counts
            self._newlines += sum(counts)
            self._cumulative = None
            self.low = start
            added = self._count_locked() - before
            self.prepended += added
        return added

    def _scan_all(self) -> None:
        while self.low > self.origin and not self._stop.is_set():
            try:
                self._scan_step(SCAN_CHUNK)
            except OSError:
                return

    @property
    def scanning(self) -> bool:
        """True while the backward scan is still working towards the start of the file."""
        return self._thread is not None and self._thread.is_alive()

    def wait_scanned(self, offset: int, stop: threading.Event | None = None) -> bool:
        """Block until the index covers `offset` (or the scan ends); True when it does."""
        while self.low > offset:
            if (stop and stop.is_set()) or self._thread is None or not self._thread.is_alive():
                return self.low <= offset
            self._thread.join(0.02)
        return True

    def close(self) -> None:
        """Stop the background scan (the file descriptor belongs to the caller)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def append(self, data: bytes) -> None:
        """Index `data`, the bytes that were just appended at `end`."""
        if not data:
            return
        with self._lock:
            pos = 0
            if self._starts:
                last_start = self._starts[-1]
                room = BLOCK - (self.end - last_start)
                if room > 0:
                    added = data.count(b"\n", 0, room)
                    self._counts[-1] += added
                    self._newlines += added
                    self._forget_block(last_start)
                    pos = room
            while pos < len(data):
                self._starts.append(self.end + pos)
                added = data.count(b"\n", pos, pos + BLOCK)
                self._counts.append(added)
                self._newlines += added
                pos += BLOCK
            self.end += len(data)
            self._last_byte_newline = data.endswith(b"\n")
            self._cumulative = None

    def drop_partial(self) -> int:
        """Un-index an unterminated last line, so that its bytes can be read again once the line is
        complete; returns the new end (unchanged when the last line is complete or not known)."""
        with self._lock:
            count = self._count_locked()
            if self._last_byte_newline or count == 0:
                return self.end
            start = self._start_locked(count - 1)
            while self._starts and self._starts[-1] >= start:
                self._starts.pop()
                self._counts.pop()  # no newline after `start`: nothing to subtract
            if self._starts:
                self._forget_block(self._starts[-1])
            self.end = start
            self._last_byte_newline = start > self.low
            self._cumulative = None
            return self.end

    def _forget_block(self, start: int) -> None:
        for key in [k for k in self._positions if k[0] == start]:
            del self._positions[key]

    # -- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return self._count_locked()

    def _count_locked(self) -> int:
        if self.end == self.low:
            return 0
        newlines = self._newlines
        if self._last_byte_newline:
            newlines -= 1
        return newlines + (1 if self.low == self.origin else 0)

    def _cumulative_locked(self) -> list[int]:
        if self._cumulative is None:
            self._cumulative = list(accumulate(self._counts, initial=0))
        return self._cumulative

    def _block_positions(self, i: int) -> list[int]:
        """Offsets just past each newline in block i (cached)."""
        start = self._starts[i]
        stop = self._starts[i + 1] if i + 1 < len(self._starts) else self.end
        key = (start, stop)
        found = self._positions.get(key)
        if found is None:
            data = os.pread(self.fd, stop - start, start)
            found = []
            at = data.find(b"\n")
            while at != -1:
                found.append(start + at + 1)
                at = data.find(b"\n", at + 1)
            self._positions[key] = found
            if len(self._positions) > _POSITION_CACHE:
                self._positions.popitem(last=False)
        else:
            self._positions.move_to_end(key)
        return found

    def _after_newline_locked(self, j: int) -> int:
        """Offset just past the j-th newline (1-based) of the indexed region."""
        cumulative = self._cumulative_locked()
        i = bisect.bisect_left(cumulative, j) - 1
        return self._block_positions(i)[j - cumulative[i] - 1]

    def _start_locked(self, n: int) -> int:
        j = n if self.low == self.origin else n + 1
        return self.low if j == 0 else self._after_newline_locked(j)

    def span(self, n: int) -> tuple[int, int]:
        """Byte range of line n, newline excluded."""
        with self._lock:
            count = self._count_locked()
            if not 0 <= n < count:
                raise IndexError(n)
            start = self._start_locked(n)
            if n + 1 < count:
                stop = self._start_locked(n + 1) - 1
            else:
                stop = self.end - 1 if self._last_byte_newline else self.end
        return start, stop

    def read(self, n: int, limit: int = MAX_LINE_BYTES) -> RawLine:
        """Line n's bytes, at most `limit` of them."""
        start, stop = self.span(n)
        data = os.pread(self.fd, min(stop - start, limit), start)
        return RawLine(start, data, stop - start)

    def line_at(self, offset: int) -> int | None:
        """Number of the line containing `offset`, or None when that part is not indexed yet."""
        with self._lock:
            if (
                offset < self.low
                or offset >= self.end
                or (offset == self.low and self.low > self.origin)
            ):
                return None
            i = bisect.bisect_right(self._starts, offset) - 1
            before = self._cumulative_locked()[i]
            before += sum(1 for p in self._block_positions(i) if p <= offset)
            line = before if self.low == self.origin else before - 1
            return line if line >= 0 else None
