"""Run one argv in its own process group and stream its output, bounded, until it ends.

No shell: the argv is executed as it is. stdout and stderr are read as they come and split into lines
(told apart, made printable by console.text); only the last `keep` lines stay in memory, the rest are
counted. A timeout or a cancel stops the whole process group: SIGTERM, then SIGKILL after a grace
period, and the run ends only when no process of the group is left alive.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from console.text import decode, needs_escaping, printable

READ_SIZE = 65536
MAX_LINE_BYTES = 16384
"""A line longer than this is cut into pieces (a program printing megabytes without a newline)."""
KEEP_LINES = 2000
"""Lines kept in memory per run; older ones are only counted."""
GRACE_SECONDS = 5.0
"""Time between SIGTERM and SIGKILL when a run is cancelled or times out."""
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class OutputLine:
    """One line a job wrote: which stream, its printable text, seconds since the start."""

    stream: str
    text: str
    elapsed: float


class Cancel:
    """A cancel request: any thread may call `cancel()`; the run stops its process group."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the run to stop (SIGTERM to its process group, SIGKILL after the grace period)."""
        self._event.set()

    @property
    def requested(self) -> bool:
        """True once `cancel()` was called."""
        return self._event.is_set()


@dataclass
class Output:
    """A run's output with bounded memory: the last `keep` lines and how many there were in all."""

    keep: int = KEEP_LINES
    lines: deque[OutputLine] = field(default_factory=deque)
    total: int = 0

    def add(self, line: OutputLine) -> None:
        """Keep `line`, forgetting the oldest one when full."""
        self.total += 1
        self.lines.append(line)
        if len(self.lines) > self.keep:
            self.lines.popleft()

    @property
    def dropped(self) -> int:
        """Lines that were written but are no longer kept."""
        return self.total - len(self.lines)


@dataclass
class ProcessResult:
    """How a process run ended."""

    exit_code: int | None
    """The exit status, or None when a signal ended the process (see `signal`) or it never started."""
    signal: str | None
    timed_out: bool
    cancelled: bool
    duration: float
    output: Output
    start_error: str | None = None
    pgid: int | None = None


def _printable_line(raw: bytes) -> str:
    """A line of bytes as safe text; a carriage-return progress line keeps only its last state."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if b"\r" in raw:
        pieces = [piece for piece in raw.split(b"\r") if piece]
        raw = pieces[-1] if pieces else b""
    return printable(decode(raw))


def output_lines(stream: str, raw_lines: list[bytes], elapsed: float) -> list[OutputLine]:
    """Complete lines of one stream as printable OutputLines; plain text (the usual case) is
    decoded and checked in one go, not line by line."""
    if not raw_lines:
        return []
    text = decode(b"\n".join(raw_lines))
    if needs_escaping(text):  # a control character somewhere: line by line
        return [OutputLine(stream, _printable_line(raw), elapsed) for raw in raw_lines]
    return [OutputLine(stream, line, elapsed) for line in text.split("\n")]


class _LineSplitter:
    """Bytes of one stream in, complete lines out; a partial line waits for its newline."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        self.pending += data
        *lines, self.pending = self.pending.split(b"\n")
        while len(self.pending) > MAX_LINE_BYTES:
            lines.append(self.pending[:MAX_LINE_BYTES])
            self.pending = self.pending[MAX_LINE_BYTES:]
        return lines

    def flush(self) -> list[bytes]:
        rest, self.pending = self.pending, b""
        return [rest] if rest else []


def group_alive(pgid: int) -> bool:
    """True while a live (not zombie) process belongs to process group `pgid`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_process(
    argv: Sequence[str],
    *,
    timeout: float,
    on_output: Callable[[list[OutputLine]], None] | None = None,
    cancel: Cancel | None = None,
    keep: int = KEEP_LINES,
    grace: float = GRACE_SECONDS,
    env: dict[str, str] | None = None,
) -> ProcessResult:
    """Run `argv` to its end (or until timeout or cancel) and return how it ended.

    `on_output` is called from this thread with each batch of new lines as they are read.
    """
    output = Output(keep)
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=env,
        )
    except OSError as exc:
        return ProcessResult(
            None,
            None,
            False,
            False,
            time.monotonic() - started,
            output,
            start_error=f"cannot start {argv[0]}: {exc.strerror or exc}",
        )
    pgid = process.pid
    assert process.stdout is not None and process.stderr is not None
    splitters = {
        process.stdout.fileno(): _LineSplitter("out"),
        process.stderr.fileno(): _LineSplitter("err"),
    }
    selector = selectors.DefaultSelector()
    for fd in splitters:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    deadline = started + timeout
    timed_out = cancelled = False
    term_sent_at: float | None = None
    kill_sent = False

    def emit(stream: str, raw_lines: list[bytes]) -> list[OutputLine]:
        return output_lines(stream, raw_lines, time.monotonic() - started)

    try:
        while True:
            now = time.monotonic()
            if term_sent_at is None and (now >= deadline or (cancel and cancel.requested)):
                timed_out = now >= deadline and not (cancel and cancel.requested)
                cancelled = not timed_out
                _signal_group(pgid, signal.SIGTERM)
                term_sent_at = now
            elif term_sent_at is not None and not kill_sent and now >= term_sent_at + grace:
                _signal_group(pgid, signal.SIGKILL)
                kill_sent = True
            batch: list[OutputLine] = []
            if selector.get_map():
                for key, _events in selector.select(POLL_SECONDS):
                    fd = int(key.fd)
                    splitter = splitters[fd]
                    try:
                        data = os.read(fd, READ_SIZE)
                    except BlockingIOError:
                        continue
                    if data:
                        batch += emit(splitter.stream, splitter.feed(data))
                    else:
                        selector.unregister(fd)
                        batch += emit(splitter.stream, splitter.flush())
            else:
                time.sleep(POLL_SECONDS)
            for line in batch:
                output.add(line)
            if batch and on_output is not None:
                on_output(batch)
            if process.poll() is not None:
                # The leader is gone: read on while its group lives; then take what the pipes hold
                # (a process that left the group could keep them open for ever).
                if not selector.get_map():
                    break
                if not group_alive(pgid):
                    for key in list(selector.get_map().values()):
                        fd = int(key.fd)
                        batch = emit(splitters[fd].stream, splitters[fd].feed(_drain(fd)))
                        for line in batch:
                            output.add(line)
                        if batch and on_output is not None:
                            on_output(batch)
                    break
    finally:
        for fd, splitter in splitters.items():
            rest = emit(splitter.stream, splitter.flush())
            for line in rest:
                output.add(line)
            if rest and on_output is not None:
                on_output(rest)
            if fd in selector.get_map():
                selector.unregister(fd)
        selector.close()
        process.stdout.close()
        process.stderr.close()
        if process.poll() is None:
            _signal_group(pgid, signal.SIGKILL)
        process.wait()
        if term_sent_at is not None:
            _finish_group(pgid, term_sent_at + grace)
    code = process.returncode
    sig = signal.Signals(-code).name if code < 0 else None
    return ProcessResult(
        code if code >= 0 else None,
        sig,
        timed_out,
        cancelled,
        time.monotonic() - started,
        output,
        pgid=pgid,
    )


def _drain(fd: int) -> bytes:
    """What a pipe holds right now (up to 1 MiB: a writer outside the group may never stop)."""
    chunks = []
    for _ in range(16):
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def _finish_group(pgid: int, kill_at: float) -> None:
    """After a stop: wait for the group to go, SIGKILL what is left at `kill_at` (and give up
    waiting a few seconds later: a process stuck in the kernel cannot be helped from here)."""
    give_up = kill_at + GRACE_SECONDS
    while group_alive(pgid) and time.monotonic() < give_up:
        if time.monotonic() >= kill_at:
            _signal_group(pgid, signal.SIGKILL)
            kill_at = give_up
        time.sleep(POLL_SECONDS)
