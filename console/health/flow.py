"""Mail flow per minute over the last hour, counted from smtpd's log lines.

smtpd's events: a message accepted (`smtp message msgid=`), a delivery or relay that succeeded,
was deferred (TempFail) or failed for good (PermFail: a bounce), and a command refused with a 4xx
or 5xx reply (`smtp failed-command`). Where smtpd's lines carry a timestamp (syslog), the last hour
is read from the file itself. Under supervisord (`smtpd -d`) they carry none: such a file is counted
from when the console first saw its lines, and `since` says from when. Timestamps are read by
console.logs.parse, files followed by console.logs.follow (rotation included).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from console.logs.follow import FollowedLog, NewLines
from console.logs.parse import parse_timestamp

EVENTS = ("accepted", "delivered", "deferred", "bounced", "rejected")
"""What is counted, in the order shown."""

WINDOW_MINUTES = 60
HISTORY_BYTES = 4 * 1024 * 1024
"""How much of the end of a stamped log is read for the last hour's history."""
DETECT_BYTES = 64 * 1024
"""How much of the end of each log file tells whether smtpd writes to it."""

_DELIVERY = re.compile(r"\b(?:mda|mta) delivery evpid=.*\bresult=\"?(Ok|TempFail|PermFail)\b")
_REJECTED = re.compile(r"\bsmtp failed-command .*\bresult=\"?[45]\d\d\b")
_RESULTS = {"Ok": "delivered", "TempFail": "deferred", "PermFail": "bounced"}
_NEEDLES = (" smtp message msgid=", " delivery evpid=", " smtp failed-command ")


def classify(line: str) -> str | None:
    """The flow event an smtpd log line records, or None."""
    if not any(needle in line for needle in _NEEDLES):
        return None
    if " smtp message msgid=" in line:
        return "accepted"
    if found := _DELIVERY.search(line):
        return _RESULTS[found.group(1)]
    if _REJECTED.search(line):
        return "rejected"
    return None


@dataclass
class Source:
    """One log file counted: whether its lines are stamped, and since when it is counted."""

    path: Path
    stamped: bool
    since: float
    """The earliest time its counts cover (an hour ago for a stamped file, else when first seen)."""
    log: FollowedLog | None = field(default=None, repr=False)


class MailFlow:
    """Per-minute counts of smtpd's events over the last hour, from the log files that have them."""

    def __init__(self, log_dir: Path, now: float | None = None) -> None:
        self.log_dir = log_dir
        self.started = time.time() if now is None else now
        self.sources: list[Source] = []
        self._counts: dict[int, dict[str, int]] = {}
        """Minute number (Unix minutes) -> event -> count."""
        self._find_sources(self.started)

    # -- reading ---------------------------------------------------------------------------

    def _find_sources(self, now: float) -> None:
        """Open every live log file whose recent lines hold smtpd events; read the stamped ones' hour."""
        try:
            entries = sorted(e.path for e in os.scandir(self.log_dir) if e.is_file())
        except OSError:
            return
        for name in entries:
            path = Path(name)
            recent = _tail_lines(path, DETECT_BYTES)
            smtpd_lines = [line for line in recent if classify(line) or " smtp connected " in line]
            if not smtpd_lines:
                continue
            stamped = parse_timestamp(smtpd_lines[-1])[0] is not None
            try:
                log = FollowedLog(path, scan=False)
            except Exception:  # noqa: BLE001 - an unreadable file is left out
                continue
            since = now - WINDOW_MINUTES * 60 if stamped else now
            self.sources.append(Source(path, stamped, since, log))
            if stamped:
                self._count_history(_tail_lines(path, HISTORY_BYTES), now)

    def _count_history(self, lines: list[str], now: float) -> None:
        """Count the stamped lines of the last hour, newest first, stopping at the first older one."""
        start = now - WINDOW_MINUTES * 60
        for line in reversed(lines):
            event = classify(line)
            if event is None:
                continue
            stamp, _ = parse_timestamp(line)
            if stamp is None:
                continue
            if stamp < start:
                break
            self._add(stamp, event)

    def _add(self, when: float, event: str) -> None:
        minute = int(when // 60)
        self._counts.setdefault(minute, dict.fromkeys(EVENTS, 0))[event] += 1

    def poll(self, now: float | None = None) -> int:
        """Count what was appended since the last poll; the number of events counted."""
        now = time.time() if now is None else now
        added = 0
        for source in self.sources:
            if source.log is None:
                continue
            try:
                events = source.log.poll()
            except Exception:  # noqa: BLE001 - a file that cannot be read now is tried again later
                continue
            for item in events:
                if not isinstance(item, NewLines):
                    continue
                for line in item.lines:
                    event = classify(line)
                    if event is None:
                        continue
                    stamp = parse_timestamp(line)[0] if source.stamped else None
                    self._add(now if stamp is None else stamp, event)
                    added += 1
        cutoff = int(now // 60) - WINDOW_MINUTES
        for minute in [m for m in self._counts if m <= cutoff]:
            del self._counts[minute]
        return added

    def close(self) -> None:
        """Close the followed files."""
        for source in self.sources:
            if source.log is not None:
                source.log.close()
                source.log = None

    # -- what is shown -----------------------------------------------------------------------

    def series(self, now: float | None = None) -> dict[str, list[int]]:
        """Per event, the counts of the last WINDOW_MINUTES minutes, oldest first (this minute last)."""
        now = time.time() if now is None else now
        last = int(now // 60)
        minutes = range(last - WINDOW_MINUTES + 1, last + 1)
        return {event: [self._counts.get(m, {}).get(event, 0) for m in minutes] for event in EVENTS}

    @property
    def since(self) -> float | None:
        """The latest start of any source's counts: from then on every source is counted (None: no
        source)."""
        return max((s.since for s in self.sources), default=None)

    def describe(self) -> str:
        """Where the counts come from and since when, in a sentence."""
        if not self.sources:
            return f"no smtpd log lines found in {self.log_dir}"
        unstamped = [s for s in self.sources if not s.stamped]
        names = ", ".join(s.path.name for s in self.sources)
        if not unstamped:
            return f"from {names}: the last hour, from the lines' own times"
        since = time.strftime("%H:%M", time.localtime(max(s.since for s in unstamped)))
        return f"from {names} since {since} (smtpd's lines carry no time: counted as the console sees them)"


def _tail_lines(path: Path, size: int) -> list[str]:
    """The complete lines of the last `size` bytes of a file (none when it cannot be read)."""
    try:
        with path.open("rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            start = max(0, end - size)
            handle.seek(start)
            data = handle.read()
    except OSError:
        return []
    if start:
        data = data[data.find(b"\n") + 1 :]
    return data.decode("utf-8", "replace").splitlines()
