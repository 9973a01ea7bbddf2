"""Follow a log file by name through rotation, copytruncate and delete-and-recreate.

`FollowedLog` reads what is appended, keeps a `LineIndex` per file it has followed (a segment) so
every line stays reachable, and turns each rotation into a marker line.

Promise: every line that was in the file when it was read (or, after copytruncate, in the copy
logrotate made) is emitted once, in order. After a rename (logrotate's `create`) or a delete, the
writer keeps writing to the old file until it is told to reopen its log: the old file is read on by
its open descriptor until it has been quiet for `LATE_QUIET_S`, its late lines interleaved with the
new file's as they arrive (each file's lines in order, whole lines only while both are read). Not
promised, because no reader can: lines written between logrotate's copy and its truncate (they are
in no file), and a file that was rotated away before it was ever read (two rotations between two
polls). Old files stay open for scrolling back until the log is closed.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from io import BufferedIOBase
from pathlib import Path
from typing import NamedTuple

from console.errors import UserError
from console.logs.index import MAX_LINE_BYTES, LineIndex, RawLine
from console.text import decode

COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4")
"""Suffixes of rotated files that are compressed (listed, never read as text)."""

_DECOMPRESS: dict[str, Callable[[str], BufferedIOBase]] = {
    ".gz": gzip.GzipFile,
    ".bz2": bz2.BZ2File,
    ".xz": lzma.LZMAFile,
}
"""Compressed copies whose text can be checked against the lines read (to name where they went)."""

READ_CHUNK = 1 << 20
"""Bytes read per step while following: new lines arrive in batches of at most this size."""

LATE_QUIET_S = 5.0
"""A renamed or deleted log file is read on until it has not grown for this long."""

_SIGNATURE = 64


class NewLines(NamedTuple):
    """Complete lines appended to the followed file since the last poll, in order."""

    lines: list[str]


class Rotation(NamedTuple):
    """The file was rotated (renamed, recreated or truncated); `text` is the marker line shown."""

    kind: str
    text: str


class Unavailable(NamedTuple):
    """The file cannot be read now (removed, or an error); following resumes when it can."""

    text: str


FollowEvent = NewLines | Rotation | Unavailable


class LogLine(NamedTuple):
    """One line of the view: file text (not yet made printable), or a marker written by the console."""

    text: str
    marker: bool = False
    origin: str = ""
    """In a merged view, the name of the file the line came from."""
    lineno: int = 0
    """Its line number in that file, when a search across files found it (the queue's story)."""


class Segment:
    """A stretch of one file's lines in the view, and the marker shown after them. A file is one
    segment, unless lines of a rotated file that arrived late interleave with it."""

    def __init__(self, index: LineIndex) -> None:
        self.index = index
        self.marker: str | None = None
        """The marker line shown after this stretch, once the file was rotated."""
        self.lost = ""
        """When the file was truncated in place and no copy of it can be read: what each of its lines
        shows instead (empty while they can be read)."""

    def __len__(self) -> int:
        return len(self.index) + (1 if self.marker is not None else 0)


class _LateFile:
    """A file rotated away (renamed or deleted) whose writer may still append to it."""

    def __init__(self, segment: Segment, clock: float) -> None:
        self.segment = segment
        """The segment its late lines go to while it is the last one of the view."""
        self.fd = segment.index.fd
        self.end = segment.index.end
        """Bytes of it in the view (a line start)."""
        self.size = self.end
        self.grew_at = clock


def line_text(raw: RawLine) -> str:
    """A line's text for display, with an indicator when it was too long to read whole."""
    text = decode(raw.data)
    if raw.truncated:
        text += f" … [line truncated: {raw.length:,} bytes]"
    return text


def _cannot(action: str, path: Path, exc: OSError) -> UserError:
    return UserError(f"cannot {action} {path}: {exc.strerror or exc}.")


class FollowedLog:
    """A log file followed by name: random access to every line seen, and a stream of new ones."""

    def __init__(
        self, path: Path | str, *, scan: bool = True, late_quiet: float = LATE_QUIET_S
    ) -> None:
        self.path = Path(path)
        self.late_quiet = late_quiet
        self._late: list[_LateFile] = []
        self._lock = threading.RLock()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise _cannot("open", self.path, exc) from None
        st = os.fstat(fd)
        self._identity = (st.st_dev, st.st_ino)
        index = LineIndex(fd, st.st_size, scan=scan)
        self.segments: list[Segment] = [Segment(index)]
        self._current = self.segments[0]
        """The segment the file under the name is appended to."""
        self._partial = b""
        self._partial_length = 0
        if len(index) and index.end and os.pread(fd, 1, index.end - 1) != b"\n":
            last = index.read(len(index) - 1, MAX_LINE_BYTES + 1)
            self._partial, self._partial_length = last.data, last.length
        self._signature = self._read_signature()
        self._unavailable = False

    def start_scan(self) -> None:
        """Start indexing the opened file backwards (when made with `scan=False`)."""
        self.segments[0].index.start_scan()

    @property
    def index(self) -> LineIndex:
        """The index of the file currently under the name."""
        return self._current.index

    @property
    def fd(self) -> int:
        """The open file currently followed."""
        return self.index.fd

    def close(self) -> None:
        """Stop background indexing and close every file this log holds open."""
        with self._lock:
            fds = {seg.index.fd for seg in self.segments}
            for seg in self.segments:
                seg.index.close()
            for fd in fds:
                os.close(fd)

    # -- the view ------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return sum(len(seg) for seg in self.segments)

    @property
    def prepended(self) -> int:
        """Lines added at the top by the background scan so far (a viewer shifts by the growth)."""
        return self.segments[0].index.prepended

    def line(self, n: int) -> LogLine:
        """Line n of the view: the files' lines in order, a marker after each rotation."""
        with self._lock:
            for seg in self.segments:
                count = len(seg.index)
                if n < count:
                    if seg.lost:
                        return LogLine(seg.lost, True)
                    return LogLine(line_text(seg.index.read(n)))
                n -= count
                if seg.marker is not None:
                    if n == 0:
                        return LogLine(seg.marker, True)
                    n -= 1
        raise IndexError(n)

    def layout(self) -> list[tuple[Segment, int]]:
        """Each segment with the view line number of its first line (a consistent snapshot)."""
        with self._lock:
            result, base = [], 0
            for seg in self.segments:
                result.append((seg, base))
                base += len(seg)
            return result

    def view_line(self, hit_segment: int, offset: int) -> int | None:
        """View line number of the line containing `offset` in a segment (None: not indexed yet)."""
        with self._lock:
            seg, base = self.layout()[hit_segment]
            line = seg.index.line_at(offset)
            return None if line is None else base + line

    def locate(self, line: int) -> tuple[int, int]:
        """(segment, byte offset of the line start) of view line `line` (a marker: its segment's end)."""
        with self._lock:
            for number, (seg, base) in enumerate(self.layout()):
                if line < base + len(seg):
                    inside = line - base
                    if inside < len(seg.index):
                        return number, seg.index.span(inside)[0]
                    return number, seg.index.end
            last = len(self.segments) - 1
            return last, self.segments[last].index.end

    # -- following -----------------------------------------------------------------------

    def poll(self, max_bytes: int = 4 * READ_CHUNK) -> list[FollowEvent]:
        """Read what changed since the last poll: new lines, and a rotation if one happened."""
        with self._lock:
            events: list[FollowEvent] = []
            self._read_late(events, max_bytes)
            try:
                named = os.stat(self.path)
            except FileNotFoundError:
                named = None
            except OSError as exc:
                raise _cannot("read", self.path, exc) from None
            replaced = named is None or (named.st_dev, named.st_ino) != self._identity
            if self._truncated() or not self._read_new(events, None if replaced else max_bytes):
                self._on_truncated(events)
            elif named is None:
                if not self._unavailable:
                    events.append(
                        Unavailable(f"{self.path.name} was removed; waiting for it to reappear")
                    )
                self._unavailable = True
            elif replaced:
                self._on_replaced(events)
            return events

    def _read_signature(self) -> bytes:
        end = self.index.end
        size = min(_SIGNATURE, end)
        return os.pread(self.fd, size, end - size) if size else b""

    def _truncated(self) -> bool:
        """True when the open file shrank, or was truncated and regrew past where we were."""
        end = self.index.end
        if os.fstat(self.fd).st_size < end:
            return True
        sig = self._signature
        return bool(sig) and os.pread(self.fd, len(sig), end - len(sig)) != sig

    def _read_new(self, events: list[FollowEvent], max_bytes: int | None) -> bool:
        """Index and emit what was appended (all of it when max_bytes is None).

        Each read starts with the bytes we saw last: False when they changed, i.e. the file was
        truncated in place between two reads.
        """
        size = os.fstat(self.fd).st_size
        stop = size if max_bytes is None else min(size, self.index.end + max_bytes)
        lines: list[str] = []
        intact = True
        while self.index.end < stop:
            overlap = len(self._signature)
            want = min(READ_CHUNK, stop - self.index.end)
            data = os.pread(self.fd, overlap + want, self.index.end - overlap)
            if data[:overlap] != self._signature:
                intact = False
                break
            data = data[overlap:]
            if not data:
                break
            if self._late and len(data) < READ_CHUNK:
                # While a late file is read too, either file's lines may come next: whole lines only
                # (a line longer than a read is taken in pieces).
                data = data[: data.rfind(b"\n") + 1]
                if not data:
                    break
            self._extend(self._current).append(data)
            self._split(data, lines)
            self._signature = (self._signature + data)[-_SIGNATURE:]
        if lines:
            events.append(NewLines(lines))
        return intact

    def _extend(self, segment: Segment) -> LineIndex:
        """The index to append a file's next lines to: its segment's, or, when other lines came
        after that segment, a new segment of the same file starting where it ended."""
        if self.segments[-1] is segment:
            return segment.index
        index = segment.index
        following = Segment(LineIndex(index.fd, index.end, scan=False, origin=index.end))
        self.segments.append(following)
        if segment is self._current:
            self._current = following
        for late in self._late:
            if late.segment is segment:
                late.segment = following
        return following.index

    def _read_late(self, events: list[FollowEvent], max_bytes: int) -> None:
        """Read the whole lines that rotated-away files gained; forget a file once it is quiet."""
        now = time.monotonic()
        for late in list(self._late):
            size = os.fstat(late.fd).st_size
            if size != late.size:
                late.size, late.grew_at = size, now
            quiet = now - late.grew_at >= self.late_quiet
            if size > late.end:
                data = os.pread(late.fd, min(size - late.end, max_bytes), late.end)
                whole = data[: data.rfind(b"\n") + 1]
                if quiet or (not whole and len(data) == max_bytes):
                    whole = data  # the writer has moved on: its last line stays unterminated
                if whole:
                    self._extend(late.segment).append(whole)
                    late.end += len(whole)
                    text = decode(whole[:-1] if whole.endswith(b"\n") else whole)
                    events.append(NewLines([_limit(line) for line in text.split("\n")]))
            if size < late.end or (quiet and late.end >= size):
                self._late.remove(late)

    def _split(self, data: bytes, lines: list[str]) -> None:
        """Append the complete lines of partial+data to `lines`; keep the rest as the partial line."""
        first = data.find(b"\n")
        if first == -1:
            self._add_partial(data)
            return
        self._add_partial(data[:first])
        lines.append(line_text(RawLine(0, self._partial[:MAX_LINE_BYTES], self._partial_length)))
        last = data.rfind(b"\n")
        if last > first:
            lines.extend(_limit(text) for text in decode(data[first + 1 : last]).split("\n"))
        self._partial, self._partial_length = b"", 0
        self._add_partial(data[last + 1 :])

    def _add_partial(self, data: bytes) -> None:
        if len(self._partial) <= MAX_LINE_BYTES:
            self._partial += data[: MAX_LINE_BYTES + 1 - len(self._partial)]
        self._partial_length += len(data)

    def _flush_partial(self, events: list[FollowEvent]) -> None:
        """Emit an unterminated last line when its file is left behind."""
        if self._partial_length:
            raw = RawLine(0, self._partial[:MAX_LINE_BYTES], self._partial_length)
            events.append(NewLines([line_text(raw)]))
        self._partial, self._partial_length = b"", 0

    def _start_segment(self, fd: int, marker: str, kind: str, events: list[FollowEvent]) -> None:
        self._flush_partial(events)
        self.segments[-1].marker = marker
        events.append(Rotation(kind, marker))
        self._current = Segment(LineIndex(fd, 0, scan=False))
        self.segments.append(self._current)
        self._signature = b""
        self._unavailable = False
        self._read_new(events, max_bytes=None)

    def _read_on_later(self) -> None:
        """Keep reading the file just rotated away by its descriptor: its writer appends until it
        reopens its log. An unterminated last line is taken back, to be read whole."""
        old = self._current
        old.index.drop_partial()
        self._partial, self._partial_length = b"", 0
        self._late.append(_LateFile(old, time.monotonic()))

    def _on_replaced(self, events: list[FollowEvent]) -> None:
        """The name now points to another file: the old one was renamed away or deleted."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _cannot("open", self.path, exc) from None
        st = os.fstat(fd)
        old_name = _name_of(self.path.parent, self._identity)
        self._identity = (st.st_dev, st.st_ino)
        stamp = time.strftime("%H:%M:%S")
        self._read_on_later()
        if old_name:
            text = f"── {self.path.name} rotated {stamp}, lines above now in {old_name} ──"
            self._start_segment(fd, text, "renamed", events)
        else:
            text = f"── {self.path.name} deleted and recreated {stamp} ──"
            self._start_segment(fd, text, "recreated", events)

    def _on_truncated(self, events: list[FollowEvent]) -> None:
        """The file was truncated in place: finish from its copy (copytruncate) when one is found."""
        current = self._current
        live_fd = current.index.fd
        copy = _find_copy(self.path, self._identity, current.index.end, self._signature)
        stamp = time.strftime("%H:%M:%S")
        stretches = [seg for seg in self.segments if seg.index.fd == live_fd]
        if copy is None:
            packed = _find_compressed_copy(self.path, current.index.end, self._signature)
            if packed is None:
                lost = "(no longer readable: the file was truncated in place)"
                text = f"── {self.path.name} truncated {stamp}, lines above are gone ──"
            else:
                lost = f"(not shown: compressed in {packed})"
                text = f"── {self.path.name} truncated {stamp}, lines above now in {packed} ──"
            for seg in stretches:
                seg.lost = lost
        else:
            copy_fd, copy_name = copy
            for seg in stretches:
                seg.index.fd = copy_fd
            self._read_new(events, max_bytes=None)  # what the copy holds that we had not read
            text = f"── {self.path.name} truncated {stamp} (copytruncate), lines above now in {copy_name} ──"
        self._start_segment(live_fd, text, "truncated", events)


def _limit(text: str) -> str:
    if len(text) <= MAX_LINE_BYTES:
        return text
    return f"{text[:MAX_LINE_BYTES]} … [line truncated: {len(text.encode('utf-8', 'replace')):,} bytes]"


def _name_of(directory: Path, identity: tuple[int, int]) -> str | None:
    """Name of the file with that (device, inode) in `directory`, if it is still there."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return None
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == identity:
            return entry.name
    return None


def _find_compressed_copy(path: Path, end: int, signature: bytes) -> str | None:
    """Name of the compressed sibling (logrotate's `compress` after `copytruncate`) whose text has
    the same bytes before `end` as ours, newest first; only the formats Python reads are checked."""
    if not signature:
        return None
    found: list[tuple[float, str, Callable[[str], BufferedIOBase]]] = []
    try:
        for entry in os.scandir(path.parent):
            opener = _DECOMPRESS.get(os.path.splitext(entry.name)[1])
            if opener is not None and entry.name.startswith(path.name):
                with suppress(OSError):
                    found.append((entry.stat().st_mtime, entry.path, opener))
    except OSError:
        return None
    for _, name, opener in sorted(found, reverse=True):
        try:
            with opener(name) as packed:
                packed.seek(end - len(signature))
                if packed.read(len(signature)) == signature:
                    return os.path.basename(name)
        except (OSError, EOFError, lzma.LZMAError):
            continue
    return None


def _find_copy(
    path: Path, identity: tuple[int, int], end: int, signature: bytes
) -> tuple[int, str] | None:
    """Open the sibling copytruncate made: at least `end` bytes, the same bytes before `end` as ours."""
    if not signature:
        return None
    try:
        entries = sorted(os.scandir(path.parent), key=lambda e: e.name)
    except OSError:
        return None
    for entry in entries:
        if not entry.name.startswith(path.name) or entry.name == path.name:
            continue
        if entry.name.endswith(COMPRESSED):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY)
        except OSError:
            continue
        st = os.fstat(fd)
        if (
            (st.st_dev, st.st_ino) != identity
            and st.st_size >= end
            and os.pread(fd, len(signature), end - len(signature)) == signature
        ):
            return fd, entry.name
        os.close(fd)
    return None
