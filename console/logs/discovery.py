"""Which log files there are: every file of the log directory, rotated siblings under their file.

Supervisord rotates `X.log` to `X.log.1`, `X.log.2`...; logrotate may add `-YYYYMMDD` and `.gz`.
supervisord's own log lives elsewhere (its config's `[supervisord] logfile`), so it is passed in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from console.errors import UserError
from console.logs.follow import COMPRESSED
from console.logs.parse import timestamps_parse

_ROTATED = re.compile(
    r"^(?P<base>.+?)(?P<generation>\.\d+|-\d{8}(?:\d\d)?)?(?P<compressed>\.(?:gz|bz2|xz|zst|lz4))?$"
)


class LogFileInfo(NamedTuple):
    """One log file: where it is, how big, when it last changed, and its rotated predecessors."""

    path: Path
    size: int
    mtime: float
    rotated: tuple[LogFileInfo, ...] = ()

    @property
    def compressed(self) -> bool:
        """True for a compressed rotated file (listed, not opened as text)."""
        return self.path.name.endswith(COMPRESSED)


def rotation_base(name: str) -> tuple[str, int]:
    """The live file a name was rotated from, and its generation (0 for the live file itself)."""
    match = _ROTATED.match(name)
    if match is None or not (match["generation"] or match["compressed"]):
        return name, 0
    generation = match["generation"] or ""
    number = int(generation.lstrip(".-")) if generation else 1
    return match["base"], number


def _newest_first(info: LogFileInfo) -> tuple[float, int]:
    return (-info.mtime, rotation_base(info.path.name)[1])


def _info(path: Path) -> LogFileInfo | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return LogFileInfo(path, st.st_size, st.st_mtime)


def discover(log_dir: Path, extra: Iterable[Path] = ()) -> list[LogFileInfo]:
    """Every regular file of `log_dir` plus `extra` files; rotated siblings under their file, newest first."""
    try:
        entries = [e for e in os.scandir(log_dir) if e.is_file()]
    except FileNotFoundError:
        raise UserError(f"the log directory {log_dir} does not exist.") from None
    except OSError as exc:
        raise UserError(f"cannot read the log directory {log_dir}: {exc.strerror}.") from None
    names = {e.name for e in entries}
    live: dict[str, LogFileInfo] = {}
    rotated: dict[str, list[LogFileInfo]] = {}
    for entry in sorted(entries, key=lambda e: e.name):
        info = _info(Path(entry.path))
        if info is None:
            continue
        base, generation = rotation_base(entry.name)
        if generation and base in names:
            rotated.setdefault(base, []).append(info)
        else:
            live[entry.name] = info
    result = [
        LogFileInfo(
            info.path,
            info.size,
            info.mtime,
            tuple(sorted(rotated.get(name, []), key=_newest_first)),
        )
        for name, info in live.items()
    ]
    for path in extra:
        info = _info(Path(path))
        if info is not None and info.path.parent != Path(log_dir):
            result.append(info)
    return result


def supervisord_logfile(config: Path) -> Path | None:
    """supervisord's own log file as its config names it (`[supervisord] logfile`), if readable."""
    import configparser  # only when supervisord.conf is read; kept off the start-up

    parser = configparser.RawConfigParser()
    try:
        if not parser.read(config):
            return None
    except configparser.Error:
        return None
    value = parser.get("supervisord", "logfile", fallback="").strip()
    if not value or value.upper() in ("NONE", "OFF", "SYSLOG"):
        return None
    value = value.replace("%(here)s", str(config.parent))
    return Path(value) if Path(value).is_absolute() else config.parent / value


def stamped(path: Path) -> bool:
    """True when the last lines of a file start with timestamps (so it can be merged by time)."""
    try:
        with path.open("rb") as f:
            start = max(0, path.stat().st_size - 8192)
            f.seek(start)
            tail = f.read().decode("utf-8", "replace").splitlines()[1 if start else 0 :]
    except OSError:
        return False
    return timestamps_parse(tail[-20:])


def open_files_error(paths: list[Path]) -> str | None:
    """The first of `paths` that cannot be read, as a sentence (for `mailconsole tail`)."""
    for path in paths:
        if not path.exists():
            return f"cannot open {path}: No such file or directory."
        if path.is_dir():
            return f"cannot open {path}: it is a directory."
        if not path.is_file():  # a named pipe would block the console's start until a writer came
            return f"cannot follow {path}: it is not a regular file (a pipe, a device or a socket)."
        if not os.access(path, os.R_OK):
            return f"cannot open {path}: Permission denied."
    return None
