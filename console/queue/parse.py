"""Parsing exactly what smtpctl prints: `show queue` lines (vis-encoded fields), status, stats,
envelopes and messages. The formats and their traps are shown by the real captures under
tests/captures/smtpctl/."""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

SUBSYSTEMS = ("mda", "mta", "smtp")
"""What `pause`/`resume` can stop besides envelopes."""

_HEXDIGITS = "0123456789abcdef"

# One `show queue` line when some field contains `|`: fixed fields anchored from the left, each
# address ends with `@domain` (domains hold neither `|` nor `@`), the numbers and the run state
# follow, and the error takes the rest of the line, `|` included.
_LINE = re.compile(
    r"([0-9a-f]{16})\|([^|]*)\|([^|]*)\|([^|]*)"
    r"\|(.*?@[^|@]*)\|(.*?@[^|@]*)\|(.*?@[^|@]*)"
    r"\|(\d+)\|(\d+)\|(\d+)\|(\d+)\|([a-z]+)\|(-?\d*)\|(.*)",
    re.DOTALL,
)


@dataclass(slots=True)
class Envelope:
    """One line of `smtpctl show queue`: one recipient of one message."""

    evpid: str
    """Envelope id, 16 hex digits."""
    msgid: str
    """Message id: the first 8 hex digits of evpid, shared by its envelopes and its bounce."""
    family: str
    """Where it came from: inet4, inet6, local or ?."""
    type: str
    """Which agent delivers it: mta (relay), mda (local delivery), bounce, or ?."""
    flags: tuple[str, ...]
    """auth, bounce, internal, suspend (paused by an operator), hold."""
    sender: str
    """Envelope sender; the null sender (bounces) is `@`."""
    rcpt: str
    """Recipient as given in RCPT TO."""
    dest: str
    """Final destination after aliases and virtual tables."""
    ctime: int
    """Creation time (Unix seconds)."""
    expire: int
    """ctime + ttl as smtpctl prints it (usually equal to ctime in 6.8: ttl is stored as 0)."""
    lasttry: int
    """Time of the last delivery attempt, 0 when never tried."""
    retry: int
    """Number of delivery attempts so far."""
    runstate: str
    """pending, inflight, offline (smtpd down: read from the spool) or invalid."""
    delay: int | None
    """Seconds to the next try (pending), since the try started (inflight), -1 when its agent is
    paused; None when offline."""
    error: str
    """Last error, vis-decoded to real text (may hold control characters: show it via printable)."""

    @property
    def domain(self) -> str:
        """The destination domain, lower-cased (an empty string for a malformed address)."""
        return self.dest.rpartition("@")[2].lower()

    @property
    def state(self) -> str:
        """What an operator calls it: paused when suspended by hand, else the run state."""
        return "paused" if "suspend" in self.flags else self.runstate

    def age(self, now: float) -> int:
        """Seconds since the envelope was created."""
        return max(0, int(now - self.ctime))


@dataclass
class QueueSnapshot:
    """A parsed `show queue`: the envelopes, the lines that did not parse, and smtpd's state."""

    envelopes: list[Envelope]
    bad_lines: list[str]
    smtpd_running: bool | None
    """True or False when known; None when parsed from a saved dump."""
    problem: str = ""
    """One sentence when something is wrong (smtpd down), empty otherwise."""
    taken_at: float = field(default_factory=time.time)
    """When the queue was read (Unix seconds): ages are computed against it."""


# --------------------------------------------------------------------------- vis decoding

_VIS_ESCAPE = re.compile(rb"\\(M\^.|M-.|\^.|[0-7]{3}|.)", re.DOTALL)
_VIS_SIMPLE = {
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"b": b"\b",
    b"a": b"\a",
    b"v": b"\v",
    b"f": b"\f",
    b"s": b" ",
    b"0": b"\0",
    b"E": b"\x1b",
    b"\\": b"\\",
    b"$": b"",
}


def _unvis_one(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code.startswith(b"M^"):
        char = code[2]
        return bytes([(0x7F if char == 0x3F else char & 0x1F) | 0x80])
    if code.startswith(b"M-"):
        return bytes([code[2] | 0x80])
    if code.startswith(b"^"):
        char = code[1]
        return bytes([0x7F if char == 0x3F else char & 0x1F])
    if len(code) == 3:
        return bytes([int(code, 8) & 0xFF])
    return _VIS_SIMPLE.get(code, b"\\" + code)  # an unknown escape stays as it was


def unvis(data: bytes) -> bytes:
    """Undo one layer of vis(3) encoding (`\\M-C`, `\\^[`, `\\\\`, `\\012`...); unknown escapes stay."""
    return _VIS_ESCAPE.sub(_unvis_one, data)


def decode_vis(text: str, layers: int = 1) -> str:
    """Text vis-encoded `layers` times back to the real text (invalid UTF-8 becomes U+FFFD)."""
    if "\\" not in text:
        return text
    data = text.encode("utf-8", "surrogateescape")
    for _ in range(layers):
        data = unvis(data)
    return data.decode("utf-8", "replace")


# --------------------------------------------------------------------------- parsing


def parse_queue(text: str) -> tuple[list[Envelope], list[str]]:
    """Parse `show queue` output: the envelopes and the lines that did not parse (never raises).

    The error is vis-encoded twice by smtpctl; it is decoded to real text here. A line with exactly
    13 `|` has no `|` inside a field and is split; any other goes through the anchored regex.
    """
    envelopes: list[Envelope] = []
    bad: list[str] = []
    errors: dict[str, str] = {}
    flag_lists: dict[str, tuple[str, ...]] = {"": ()}
    with collector_paused():
        for line in text.split("\n"):  # not splitlines(): it also splits at \x1c, \x85...
            parts: Sequence[str] = line.split("|")
            if len(parts) != 14:
                match = _LINE.fullmatch(line)
                if match is None:
                    if line:
                        bad.append(line)
                    continue
                parts = match.groups()
            (
                evpid,
                family,
                type_,
                flags,
                sender,
                rcpt,
                dest,
                ctime,
                expire,
                lasttry,
                retry,
                runstate,
                delay,
                error,
            ) = parts
            if (
                len(evpid) != 16
                or evpid.strip(_HEXDIGITS)
                or "@" not in sender
                or "@" not in rcpt
                or "@" not in dest
                or not runstate.isalpha()
            ):
                bad.append(line)
                continue
            decoded = errors.get(error)
            if decoded is None:
                decoded = errors[error] = decode_vis(error, layers=2)
            flag_list = flag_lists.get(flags)
            if flag_list is None:
                flag_list = flag_lists[flags] = tuple(flags.split(","))
            try:
                envelopes.append(
                    Envelope(
                        evpid,
                        evpid[:8],
                        family,
                        type_,
                        flag_list,
                        sender,
                        rcpt,
                        dest,
                        int(ctime),
                        int(expire),
                        int(lasttry),
                        int(retry),
                        runstate,
                        int(delay) if delay else None,
                        decoded,
                    )
                )
            except ValueError:
                bad.append(line)
    return envelopes, bad


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic objects (a third faster).

    Nests: only the outermost pause turns the collector back on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_status(text: str) -> dict[str, str]:
    """`show status` (`MDA running` ...) as {"mda": "running", "mta": "paused", "smtp": ...}."""
    status = {}
    for line in text.splitlines():
        name, _, state = line.strip().partition(" ")
        if name.lower() in SUBSYSTEMS and state:
            status[name.lower()] = state.strip()
    return status


def parse_envelope_details(text: str) -> list[tuple[str, str]]:
    """`show envelope` (`key: value` lines) in order; `errorline` is vis-decoded (encoded once here)."""
    fields = []
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        fields.append((key, decode_vis(value) if key == "errorline" else value))
    return fields


def split_message(text: str) -> tuple[str, str]:
    """`show message` output split into its header block and its body."""
    normal = text.replace("\r\n", "\n")
    head, sep, body = normal.partition("\n\n")
    return (head, body) if sep else (normal, "")


# The dispatcher's handlers, (ctx, target, params) -> outcome; declared in console/actions.py.
