"""The last runs of each job, kept across restarts in a JSON-lines file next to the audit log.

Each run adds one line; the file is rewritten (temporary file, fsync, rename, under a lock) to keep
only the last HISTORY_KEEP runs of each job, so it never grows without bound.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from console.settings import Settings

HISTORY_KEEP = 20
"""Runs kept per job."""
TAIL_LINES = 40
"""Output lines kept with each run in the history."""


@dataclass
class RunRecord:
    """One finished run of a job, as the history, `run --json` and the Jobs screen show it."""

    job: str
    argv: list[str]
    operator: str
    started: str
    """ISO 8601 time (UTC) the run started."""
    duration_s: float
    outcome: str
    """ok, failed, cancelled or timeout."""
    exit_code: int | None
    signal: str | None
    sentence: str
    """What happened, in one sentence: the exit code's meaning and what the follow-ups did."""
    then: list[str] = field(default_factory=list)
    """What each follow-up (HUP, restart) said, in order."""
    lines: int = 0
    """Lines the run wrote in all."""
    tail: list[list[str]] = field(default_factory=list)
    """The last lines: [stream, text] with stream "out" or "err"."""

    @property
    def ok(self) -> bool:
        """True when the run succeeded, follow-ups included."""
        return self.outcome == "ok"

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON data."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        """A record read back from the history file (unknown keys ignored)."""
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        return cls(**known)


def history_path(settings: Settings) -> Path:
    """The history file, beside the audit log."""
    return settings.audit_log.with_name("mailconsole-jobs.jsonl")


def load_history(settings: Settings, job: str | None = None) -> list[RunRecord]:
    """The kept runs, oldest first (of one job when `job` is given); unreadable lines are skipped."""
    try:
        text = history_path(settings).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = RunRecord.from_json(json.loads(line))
        except (ValueError, TypeError):
            continue
        if job is None or record.job == job:
            records.append(record)
    return records


def last_runs(settings: Settings) -> dict[str, RunRecord]:
    """The latest run of each job that has one."""
    return {record.job: record for record in load_history(settings)}


def append_history(settings: Settings, record: RunRecord) -> None:
    """Add `record`, keeping the last HISTORY_KEEP runs of each job. Raises OSError."""
    path = history_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        records = load_history(settings) + [record]
        kept: list[RunRecord] = []
        per_job: dict[str, int] = {}
        for old in reversed(records):
            per_job[old.job] = per_job.get(old.job, 0) + 1
            if per_job[old.job] <= HISTORY_KEEP:
                kept.append(old)
        text = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in reversed(kept))
        temporary = path.with_name(path.name + ".tmp")
        # A left-over, or a link planted there: removed, never written through.
        temporary.unlink(missing_ok=True)
        with open(temporary, "x", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        os.close(lock_fd)
