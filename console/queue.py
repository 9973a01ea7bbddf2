"""OpenSMTPD's queue through smtpctl: run it, parse exactly what it prints, summarise, act on it.

smtpctl's formats and traps are in shared/reference/stack-facts.md section 3 and in the real captures
under tests/captures/smtpctl/. smtpctl runs through `settings.smtpctl`, an argv prefix, so the same
code drives a local smtpd, one in a private namespace (`nsenter ...`) or one in a container.
"""

from __future__ import annotations

import gc
import json
import re
import subprocess
import tempfile
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.errors import ActionFailed, UserError
from console.settings import Settings

if TYPE_CHECKING:
    from console.actions import ActionContext

SUBSYSTEMS = ("mda", "mta", "smtp")
"""What `pause`/`resume` can stop besides envelopes."""

AGE_BANDS = (5, 10, 20, 40, 80, 160, 320, 640, 1280)
"""qshape's age bands, in minutes: an envelope younger than 5 min counts in the first one."""

AGE_LABELS = tuple(f"<{m}m" for m in AGE_BANDS) + (f"{AGE_BANDS[-1]}m+",)
"""Labels of the age bands, oldest last."""

SMTPCTL_TIMEOUT = 30.0
"""Seconds before a hung smtpctl is given up (smtpd busy or a stuck prefix such as docker exec)."""

_HEXDIGITS = "0123456789abcdef"
_TARGET = re.compile(r"[0-9a-f]{16}|[0-9a-f]{8}|all")
_COUNT = re.compile(r"^(\d+) envelopes? (scheduled|removed|paused|resumed)$", re.MULTILINE)

# One `show queue` line when some field contains `|`: fixed fields anchored from the left, each
# address ends with `@domain` (domains hold neither `|` nor `@`), the numbers and the run state
# follow, and the error takes the rest of the line, `|` included.
_LINE = re.compile(
    r"([0-9a-f]{16})\|([^|]*)\|([^|]*)\|([^|]*)"
    r"\|(.*?@[^|@]*)\|(.*?@[^|@]*)\|(.*?@[^|@]*)"
    r"\|(\d+)\|(\d+)\|(\d+)\|(\d+)\|([a-z]+)\|(-?\d*)\|(.*)",
    re.DOTALL,
)


class SmtpdDown(UserError):
    """smtpctl answered but smtpd is not running (`smtpd doesn't seem to be running`)."""


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


@dataclass
class DomainShape:
    """One row of the qshape view: a destination domain and its envelopes per age band."""

    domain: str
    total: int
    bands: list[int]


@dataclass
class QueueSummary:
    """Counts that answer "what is stuck, where, and since when"."""

    total: int
    messages: int
    by_state: dict[str, int]
    by_type: dict[str, int]
    by_domain: dict[str, int]
    """Envelopes per destination domain, most first."""
    by_age: dict[str, int]
    """Envelopes per age band (AGE_LABELS)."""
    shape: list[DomainShape]
    """qshape: per domain, envelopes per age band, most envelopes first."""
    oldest: Envelope | None
    oldest_age: int


@dataclass
class QueueDiff:
    """Envelope ids that appeared or disappeared between two snapshots."""

    new: set[str]
    vanished: set[str]


# --------------------------------------------------------------------------- vis decoding

_VIS_ESCAPE = re.compile(rb"\\(M\^.|M-.|\^.|[0-7]{3}|.)", re.DOTALL)
_VIS_SIMPLE = {
    b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"a": b"\a", b"v": b"\v",
    b"f": b"\f", b"s": b" ", b"0": b"\0", b"E": b"\x1b", b"\\": b"\\", b"$": b"",
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
    return _VIS_SIMPLE.get(code, code)


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
            (evpid, family, type_, flags, sender, rcpt, dest,
             ctime, expire, lasttry, retry, runstate, delay, error) = parts
            if (len(evpid) != 16 or evpid.strip(_HEXDIGITS) or "@" not in sender
                    or "@" not in rcpt or "@" not in dest or not runstate.isalpha()):
                bad.append(line)
                continue
            decoded = errors.get(error)
            if decoded is None:
                decoded = errors[error] = decode_vis(error, layers=2)
            flag_list = flag_lists.get(flags)
            if flag_list is None:
                flag_list = flag_lists[flags] = tuple(flags.split(","))
            try:
                envelopes.append(Envelope(
                    evpid, evpid[:8], family, type_, flag_list, sender, rcpt, dest,
                    int(ctime), int(expire), int(lasttry), int(retry), runstate,
                    int(delay) if delay else None, decoded,
                ))
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


def format_queue_line(envelope: Envelope, error_raw: str) -> str:
    """An envelope written the way `show queue` prints it (error given already vis-encoded)."""
    delay = "" if envelope.delay is None else str(envelope.delay)
    return "|".join((
        envelope.evpid, envelope.family, envelope.type, ",".join(envelope.flags),
        envelope.sender, envelope.rcpt, envelope.dest, str(envelope.ctime), str(envelope.expire),
        str(envelope.lasttry), str(envelope.retry), envelope.runstate, delay, error_raw,
    ))


def parse_status(text: str) -> dict[str, str]:
    """`show status` (`MDA running` ...) as {"mda": "running", "mta": "paused", "smtp": ...}."""
    status = {}
    for line in text.splitlines():
        name, _, state = line.strip().partition(" ")
        if name.lower() in SUBSYSTEMS and state:
            status[name.lower()] = state.strip()
    return status


def parse_stats(text: str) -> dict[str, int | str]:
    """`show stats` (`key=value` lines) as a dict; numeric values become ints."""
    stats: dict[str, int | str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            stats[key] = int(value) if value.lstrip("-").isdigit() else value
    return stats


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


# --------------------------------------------------------------------------- summary and diff


_BAND_LIMITS_S = [minutes * 60 for minutes in AGE_BANDS]


def age_band(age_s: int) -> int:
    """Index into AGE_LABELS of an age in seconds."""
    return bisect_right(_BAND_LIMITS_S, age_s)


def summarise(envelopes: Sequence[Envelope], now: float) -> QueueSummary:
    """Counts by state, type, destination domain and age band, the qshape rows, the oldest one."""
    by_state: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    cells: Counter[tuple[str, int]] = Counter()
    limits = _BAND_LIMITS_S
    oldest: Envelope | None = None
    with collector_paused():
        for envelope in envelopes:
            by_state["paused" if "suspend" in envelope.flags else envelope.runstate] += 1
            by_type[envelope.type] += 1
            domain = envelope.dest.rpartition("@")[2].lower()
            cells[domain, bisect_right(limits, now - envelope.ctime)] += 1
            if oldest is None or envelope.ctime < oldest.ctime:
                oldest = envelope
    shape: dict[str, list[int]] = {}
    for (domain, band), count in cells.items():
        shape.setdefault(domain, [0] * len(AGE_LABELS))[band] += count
    rows = sorted(
        (DomainShape(domain, sum(bands), bands) for domain, bands in shape.items()),
        key=lambda r: (-r.total, r.domain),
    )
    by_age = [sum(row.bands[i] for row in rows) for i in range(len(AGE_LABELS))]
    return QueueSummary(
        total=len(envelopes),
        messages=len({e.msgid for e in envelopes}),
        by_state=dict(by_state.most_common()),
        by_type=dict(by_type.most_common()),
        by_domain={row.domain: row.total for row in rows},
        by_age=dict(zip(AGE_LABELS, by_age, strict=True)),
        shape=rows,
        oldest=oldest,
        oldest_age=oldest.age(now) if oldest else 0,
    )


def diff(before: Iterable[Envelope], after: Iterable[Envelope]) -> QueueDiff:
    """Envelopes new in `after` and those of `before` that are gone."""
    old = {e.evpid for e in before}
    new = {e.evpid for e in after}
    return QueueDiff(new=new - old, vanished=old - new)


def summary_json(snapshot: QueueSnapshot) -> dict[str, object]:
    """The summary part of `queue --json`: counts, the oldest envelope, smtpd's state."""
    summary = summarise(snapshot.envelopes, snapshot.taken_at)
    return {
        "total": summary.total,
        "messages": summary.messages,
        "by_state": summary.by_state,
        "by_type": summary.by_type,
        "by_domain": summary.by_domain,
        "by_age": summary.by_age,
        "oldest": None if summary.oldest is None else {
            "evpid": summary.oldest.evpid, "age_s": summary.oldest_age,
        },
        "bad_lines": len(snapshot.bad_lines),
        "smtpd_running": snapshot.smtpd_running,
        "problem": snapshot.problem,
    }


_ENVELOPE_JSON = (
    '{"evpid":"%s","msgid":"%s","family":%s,"type":%s,"flags":%s,"sender":%s,"rcpt":%s,'
    '"dest":%s,"ctime":%d,"expire":%d,"lasttry":%d,"retry":%d,"runstate":%s,"delay":%s,"error":%s}'
)


def queue_json(snapshot: QueueSnapshot) -> str:
    """The `queue --json` document: {"envelopes": [...], "bad_lines": [...], "summary": {...}}.

    Envelopes are written with a template rather than json.dumps of dicts: twice as fast on 100,000
    envelopes (the 1 s budget), and the values shared by many envelopes are encoded once.
    """
    shared: dict[object, str] = {}

    def encoded(value: str | tuple[str, ...]) -> str:
        text = shared.get(value)
        if text is None:
            text = shared[value] = json.dumps(value, ensure_ascii=False)
        return text

    with collector_paused():
        envelopes = [
            _ENVELOPE_JSON % (
                e.evpid, e.msgid, encoded(e.family), encoded(e.type), encoded(e.flags),
                encoded(e.sender), encode_basestring(e.rcpt), encode_basestring(e.dest),
                e.ctime, e.expire, e.lasttry, e.retry, encoded(e.runstate),
                "null" if e.delay is None else e.delay, encoded(e.error),
            )
            for e in snapshot.envelopes
        ]
    bad_lines = json.dumps(snapshot.bad_lines, ensure_ascii=False)
    summary = json.dumps(summary_json(snapshot), ensure_ascii=False)
    return f'{{"envelopes":[{",".join(envelopes)}],"bad_lines":{bad_lines},"summary":{summary}}}'


def human_age(seconds: int) -> str:
    """A short age: 45s, 12m, 5h, 3d."""
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def next_try(envelope: Envelope) -> str:
    """When smtpd tries again, in words: in 5m, trying for 10s, agent paused, offline."""
    if envelope.delay is None:
        return envelope.runstate
    if envelope.delay < 0:
        return "agent paused"
    if envelope.runstate == "inflight":
        return f"trying {human_age(envelope.delay)}"
    return f"in {human_age(envelope.delay)}"


# --------------------------------------------------------------------------- the table: filter, sort, group

SORT_KEYS = ("age", "sender", "rcpt", "domain", "state", "retry", "next", "error")
"""Columns the queue table can be sorted by."""

_FILTER_FIELDS = ("sender", "rcpt", "domain", "state", "error", "type", "msgid")


@dataclass(slots=True)
class MessageRow:
    """The table line heading a message's envelopes."""

    msgid: str
    count: int


@dataclass(slots=True)
class BadRow:
    """A table line for a `show queue` line that did not parse."""

    text: str


QueueRow = Envelope | MessageRow | BadRow
"""One line of the queue table: the envelopes themselves are rows (no copy per envelope)."""

_SORT_KEYS: dict[str, Callable[[Envelope], Any]] = {
    "age": attrgetter("ctime", "evpid"),
    "sender": attrgetter("sender", "evpid"),
    "rcpt": attrgetter("rcpt", "evpid"),
    "domain": lambda e: (e.domain, e.evpid),
    "state": lambda e: (e.state, e.evpid),
    "retry": attrgetter("retry", "evpid"),
    "next": lambda e: (-2 if e.delay is None else e.delay, e.evpid),
    "error": attrgetter("error", "evpid"),
}


def matches(envelope: Envelope, terms: Sequence[str]) -> bool:
    """Whether every term matches: `field:text` (sender, rcpt, domain, state, error, type, msgid)
    or bare text found in the id, sender, recipient, destination or error; case-insensitive."""
    for term in terms:
        name, sep, wanted = term.partition(":")
        if sep and name in _FILTER_FIELDS:
            value = envelope.domain if name == "domain" else envelope.state if name == "state" \
                else str(getattr(envelope, name))
            if wanted.lower() not in value.lower():
                return False
        else:
            haystack = " ".join((envelope.evpid, envelope.sender, envelope.rcpt, envelope.dest,
                                 envelope.error)).lower()
            if term.lower() not in haystack:
                return False
    return True


def table_rows(envelopes: Sequence[Envelope], bad_lines: Sequence[str], sort: str = "age",
               reverse: bool = False, query: str = "", grouped: bool = True) -> list[QueueRow]:
    """The table's rows: filtered by `query`, sorted by `sort`, each message's envelopes together
    under a MessageRow when `grouped`; unparsed lines last (they are never filtered out)."""
    if sort not in _SORT_KEYS:
        raise ValueError(f"unknown sort key {sort!r}")
    terms = query.split()
    chosen = [e for e in envelopes if matches(e, terms)] if terms else list(envelopes)
    with collector_paused():
        chosen.sort(key=_SORT_KEYS[sort], reverse=reverse)
        rows: list[QueueRow]
        if grouped:
            messages: dict[str, list[Envelope]] = {}
            for envelope in chosen:  # a message sorts where its first envelope does
                members = messages.get(envelope.msgid)
                if members is None:
                    messages[envelope.msgid] = [envelope]
                else:
                    members.append(envelope)
            rows = []
            for msgid, members in messages.items():
                rows.append(MessageRow(msgid, len(members)))
                rows.extend(members)
        else:
            rows = list(chosen)
        rows.extend(BadRow(line) for line in bad_lines)
    return rows


# --------------------------------------------------------------------------- the story in the logs

_LOG_TIMES = (
    (re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)"), "%Y-%m-%d %H:%M:%S"),
    (re.compile(r"^([A-Z][a-z]{2} [ \d]\d) (\d\d:\d\d:\d\d)"), "%b %d %H:%M:%S"),
)
LOG_TAIL_BYTES = 16 * 1024 * 1024
"""How much of the end of each log file is searched for a message's lines."""


@dataclass
class LogLine:
    """A log line that mentions a message: its file, line number, text and time when it has one."""

    file: str
    lineno: int
    text: str
    time: float | None


def _line_time(text: str, year: int) -> float | None:
    """The timestamp at the start of a log line (ISO or syslog style), as Unix seconds, if any."""
    for pattern, layout in _LOG_TIMES:
        found = pattern.search(text[:40])
        if found:
            stamp = f"{found.group(1)} {found.group(2)}"
            try:
                if "%Y" not in layout:
                    parsed = time.strptime(f"{year} {stamp}", f"%Y {layout}")
                else:
                    parsed = time.strptime(stamp, layout)
            except ValueError:
                return None
            return time.mktime(parsed)
    return None


def message_story(log_dir: Path, needles: Sequence[str], limit: int = 2000) -> list[LogLine]:
    """Every line of the files in log_dir (their last LOG_TAIL_BYTES) that mentions a needle (the
    msgid, its Message-ID...), time-ordered: lines without a time keep the time of the line before
    them in their file, so each file's order is kept."""
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
        last_time = 0.0
        for lineno, raw in enumerate(data.split(b"\n"), start=1):
            text = raw.decode("utf-8", "replace")
            stamp = _line_time(text, year) if raw[:1].isalnum() else None
            if stamp is not None:
                last_time = stamp
            if any(needle in raw for needle in wanted):
                order += 1
                found.append((stamp if stamp is not None else last_time, order,
                              LogLine(path.name, lineno, text, stamp)))
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


# --------------------------------------------------------------------------- running smtpctl


@dataclass
class SmtpctlResult:
    """What one smtpctl run printed and its exit status."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def run_smtpctl(settings: Settings, *args: str, timeout: float = SMTPCTL_TIMEOUT) -> SmtpctlResult:
    """Run `settings.smtpctl + args`; UserError (one sentence) when it cannot run or needs root."""
    argv = [*settings.smtpctl, *args]
    # stdout goes to a file, read in one go afterwards: reading megabytes through a pipe from a
    # thread takes the GIL back hundreds of times and stalls behind the UI thread.
    try:
        with tempfile.TemporaryFile() as out:
            done = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
            out.seek(0)
            stdout = out.read()
    except FileNotFoundError:
        raise UserError(
            f"cannot run {argv[0]!r}: no such program (is OpenSMTPD installed? see the smtpctl setting)"
        ) from None
    except PermissionError:
        raise UserError(f"cannot run {argv[0]!r}: permission denied (see the smtpctl setting)") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"smtpctl {' '.join(args)} did not answer within {timeout:g} s") from None
    result = SmtpctlResult(
        argv, done.returncode, stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"),
    )
    if "need root privileges" in result.stderr:
        raise UserError("smtpctl needs root: run mailconsole as root, or set smtpctl to a prefix "
                        "that gets root (for example sudo)")
    if "doesn't seem to be running" in result.stderr:
        raise SmtpdDown("smtpd is not running (smtpctl cannot reach its control socket)")
    return result


def _failure(result: SmtpctlResult, what: str) -> UserError:
    """One sentence for an smtpctl run that failed in some other way."""
    if "possibilities are:" in result.stderr:
        return UserError(f"smtpctl did not accept {what!r}: give an envelope id (16 hex digits), "
                         "a message id (8 hex digits) or all")
    if "No such file or directory" in result.stderr:
        return UserError(f"{what} is not in the queue")
    first = next((ln for ln in result.stderr.splitlines() if ln.strip()), "no message")
    return UserError(f"smtpctl failed (exit {result.returncode}): {first.strip()}")


def read_queue(settings: Settings, now: float | None = None) -> QueueSnapshot:
    """`show queue` parsed. smtpd down: the offline queue (read from the spool) with a problem line.

    `now` is the snapshot's time (ages are counted from it); default: the current time.
    """
    taken = time.time() if now is None else now
    result = run_smtpctl(settings, "show", "queue")
    if result.returncode != 0:
        raise _failure(result, "show queue")
    envelopes, bad = parse_queue(result.stdout)
    offline = any(e.runstate == "offline" for e in envelopes)
    if not offline and not envelopes:
        try:
            run_smtpctl(settings, "show", "status")
        except SmtpdDown:
            offline = True
    problem = "smtpd is not running: the queue is read from the spool (offline)" if offline else ""
    return QueueSnapshot(envelopes, bad, smtpd_running=not offline, problem=problem, taken_at=taken)


def read_status(settings: Settings) -> dict[str, str]:
    """`show status` as {"mda": "running", ...}; SmtpdDown when smtpd is not running."""
    result = run_smtpctl(settings, "show", "status")
    if result.returncode != 0:
        raise _failure(result, "show status")
    return parse_status(result.stdout)


def read_stats(settings: Settings) -> dict[str, int | str]:
    """`show stats` as a dict; SmtpdDown when smtpd is not running."""
    result = run_smtpctl(settings, "show", "stats")
    if result.returncode != 0:
        raise _failure(result, "show stats")
    return parse_stats(result.stdout)


def read_envelope(settings: Settings, evpid: str) -> list[tuple[str, str]]:
    """`show envelope EVPID` fields in order (works while smtpd is down)."""
    result = run_smtpctl(settings, "show", "envelope", evpid)
    if result.returncode != 0:
        raise _failure(result, evpid)
    return parse_envelope_details(result.stdout)


def read_message(settings: Settings, msgid: str) -> str:
    """`show message ID`: the raw message as queued (works while smtpd is down)."""
    result = run_smtpctl(settings, "show", "message", msgid)
    if result.returncode != 0:
        raise _failure(result, msgid)
    return result.stdout


# --------------------------------------------------------------------------- actions


def check_target(target: str) -> str:
    """An envelope id, a message id or `all`, lower-cased; ActionFailed for anything else."""
    value = target.strip().lower()
    if not _TARGET.fullmatch(value):
        raise ActionFailed(f"{target!r} is not an envelope id (16 hex digits), "
                           "a message id (8 hex digits) or all")
    return value


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _envelope_command(settings: Settings, args: list[str], target: str, verb: str) -> str:
    """Run an envelope command and judge it by the count smtpctl prints (it always exits 0)."""
    result = run_smtpctl(settings, *args, target)
    if result.returncode != 0:
        raise ActionFailed(_failure(result, target).message)
    match = _COUNT.search(result.stdout)
    if match is None:
        raise ActionFailed(f"smtpctl printed no count for {verb} {target}: "
                           f"{result.stdout.strip() or result.stderr.strip() or 'nothing'}")
    count = int(match.group(1))
    outcome = f"{_plural(count, 'envelope')} {verb}"
    if count == 0:
        why = {
            "scheduled": "nothing pending matches it (already being tried, paused, or gone)",
            "removed": "nothing in the queue matches it",
            "paused": "nothing matches it that is not paused already",
            "resumed": "nothing matches it that is paused",
        }[verb]
        raise ActionFailed(f"{outcome}: {why} ({target})")
    return f"{outcome} ({target})"


def schedule(settings: Settings, target: str) -> str:
    """Retry now: `smtpctl schedule ID|MSGID|all`."""
    return _envelope_command(settings, ["schedule"], check_target(target), "scheduled")


def remove(settings: Settings, target: str) -> str:
    """Remove from the queue for good: `smtpctl remove ID|MSGID|all`."""
    return _envelope_command(settings, ["remove"], check_target(target), "removed")


def pause_envelopes(settings: Settings, target: str) -> str:
    """Hold envelopes back from delivery: `smtpctl pause envelope ID|MSGID|all`."""
    return _envelope_command(settings, ["pause", "envelope"], check_target(target), "paused")


def resume_envelopes(settings: Settings, target: str) -> str:
    """Let paused envelopes be delivered again: `smtpctl resume envelope ID|MSGID|all`."""
    return _envelope_command(settings, ["resume", "envelope"], check_target(target), "resumed")


def check_subsystem(target: str) -> str:
    """mda, mta or smtp (lower-cased); ActionFailed for anything else."""
    value = target.strip().lower()
    if value not in SUBSYSTEMS:
        raise ActionFailed(f"{target!r} is not a subsystem: give mda, mta or smtp")
    return value


def _subsystem_command(settings: Settings, verb: str, target: str) -> str:
    """pause/resume a subsystem; `command failed` is explained from `show status`."""
    name = check_subsystem(target)
    result = run_smtpctl(settings, verb, name)
    done = "paused" if verb == "pause" else "running"
    if result.returncode == 0 and "command succeeded" in result.stdout:
        return f"{name} {'paused' if verb == 'pause' else 'resumed'}"
    if "command failed" in result.stdout + result.stderr:
        status = read_status(settings).get(name, "")
        if status == done:
            raise ActionFailed(f"{name} is already {done} (smtpctl said 'command failed')")
        raise ActionFailed(f"smtpctl could not {verb} {name} (command failed; status: {status or '?'})")
    raise ActionFailed(_failure(result, f"{verb} {name}").message)


def pause_subsystem(settings: Settings, target: str) -> str:
    """Stop one of smtpd's agents (mda: local delivery, mta: relaying, smtp: accepting mail)."""
    return _subsystem_command(settings, "pause", target)


def resume_subsystem(settings: Settings, target: str) -> str:
    """Restart one of smtpd's agents paused before."""
    return _subsystem_command(settings, "resume", target)


# The dispatcher's handlers, (ctx, target, params) -> outcome; declared in console/actions.py.


def schedule_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """queue.schedule: retry envelopes now."""
    return schedule(ctx.settings, target)


def remove_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """queue.remove: remove envelopes for good."""
    return remove(ctx.settings, target)


def pause_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """queue.pause: pause envelopes."""
    return pause_envelopes(ctx.settings, target)


def resume_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """queue.resume: resume paused envelopes."""
    return resume_envelopes(ctx.settings, target)


def pause_subsystem_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """queue.pause_subsystem: pause mda, mta or smtp."""
    return pause_subsystem(ctx.settings, target)


def resume_subsystem_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """queue.resume_subsystem: resume mda, mta or smtp."""
    return resume_subsystem(ctx.settings, target)
