"""One run of a job at a time, across consoles and the CLI: an flock on a file next to the audit log.

The lock is taken, not checked: a second start finds it held and is refused at once. The kernel lets
go of it when the holder exits, however it exits. The file says who holds it, for the refusal.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

from console.errors import ActionFailed
from console.files import followed
from console.settings import Settings


class JobBusy(ActionFailed):
    """The job is running already (in this console, another one, or the CLI)."""


def lock_path(settings: Settings, name: str) -> Path:
    """The lock file of job `name`, beside the audit log."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return settings.audit_log.with_name(f"mailconsole-job-{safe}.lock")


class JobLock:
    """The held lock of one job; `release()` (or leaving the `with`) lets it go."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def release(self) -> None:
        """Let another run start."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> JobLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(settings: Settings, name: str) -> JobLock:
    """Take job `name`'s lock, or raise JobBusy saying who holds it."""
    path = followed(lock_path(settings, name))  # truncated below: never another user's link
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    except OSError as exc:
        raise ActionFailed(
            f"cannot open the lock file {path} ({exc.strerror}); nothing was run"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise JobBusy(f"{name} is already running{holder}; wait for it or cancel it") from None
    os.ftruncate(fd, 0)
    record = {
        "pid": os.getpid(),
        "operator": settings.resolved_operator(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    os.pwrite(fd, json.dumps(record).encode(), 0)
    return JobLock(fd)


def _holder(fd: int) -> str:
    """' (pid 12, started ... by alice)' from the lock file, or nothing when it cannot be read."""
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f" (pid {data['pid']}, started {data['started']} by {data['operator']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""
