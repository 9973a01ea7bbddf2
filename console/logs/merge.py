"""Several followed logs as one time-ordered view (`mailconsole tail a.log b.log`).

The last `limit` lines of each file are merged by their timestamps once; lines that arrive later
are appended in arrival order, which is time order for live logs. Each merged line is kept as
(file, segment, offset): three small numbers, stable while the indexes still grow at the top.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Sequence

from console.logs.follow import FollowedLog, LogLine
from console.logs.parse import merge_by_time

MERGE_LIMIT = 20_000
"""Lines taken from the end of each file when the merged view is built."""

_MARKER = -1


class MergedLogs:
    """Lines of several logs interleaved by time; `line(n)` says which file each came from."""

    def __init__(self, logs: Sequence[FollowedLog], limit: int = MERGE_LIMIT) -> None:
        self.logs = list(logs)
        self.prepended = 0
        self._lock = threading.Lock()
        self._file = array("b")
        self._segment = array("l")
        self._offset = array("q")
        self._seen = [0] * len(self.logs)
        streams = []
        for number, log in enumerate(self.logs):
            log.segments[0].index.wait_scanned(0)
            count = len(log)
            first = max(0, count - limit)
            streams.append([(number, n) for n in range(first, count)])
            self._seen[number] = count
        texts = [[self.logs[f].line(n).text for f, n in stream] for stream in streams]
        positions = [0] * len(streams)
        for number, _ in merge_by_time(texts):
            file, n = streams[number][positions[number]]
            positions[number] += 1
            self._append(file, n)

    def _append(self, file: int, n: int) -> None:
        log = self.logs[file]
        for segment, (seg, base) in enumerate(log.layout()):
            if n < base + len(seg):
                inside = n - base
                offset = seg.index.span(inside)[0] if inside < len(seg.index) else _MARKER
                self._file.append(file)
                self._segment.append(segment)
                self._offset.append(offset)
                return

    def catch_up(self, log: FollowedLog) -> int:
        """Append the lines `log` gained since the last call; returns how many."""
        number = self.logs.index(log)
        with self._lock:
            count = len(log)
            for n in range(self._seen[number], count):
                self._append(number, n)
            added = count - self._seen[number]
            self._seen[number] = count
        return added

    def __len__(self) -> int:
        return len(self._offset)

    def line(self, n: int) -> LogLine:
        """Merged line n, with the name of the file it came from."""
        with self._lock:
            file, segment, offset = self._file[n], self._segment[n], self._offset[n]
        log = self.logs[file]
        origin = log.path.name
        if offset == _MARKER:
            return LogLine(log.segments[segment].marker or "", True, origin)
        view = log.view_line(segment, offset)
        if view is None:
            return LogLine("", False, origin)
        line = log.line(view)
        return LogLine(line.text, line.marker, origin)
