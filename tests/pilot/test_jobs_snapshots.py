"""Snapshot tests of the Jobs screen at 80x24 and 160x50: the article's jobs with kept runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from console.jobs.history import RunRecord, append_history
from console.settings import Settings
from tests.helpers import until
from tests.recorded import URL, RecordedSupervisor, supervisor_answered
from widgets.app import ConsoleApp
from widgets.jobs import JobList

SIZES = [(80, 24), (160, 50)]

RUNS = [
    RunRecord(
        "sa-update",
        ["sa-update", "-v", "--updatedir", "/mail/db/spamassassin"],
        "alice",
        "2026-12-01T06:30:02+00:00",
        0.6,
        "failed",
        4,
        None,
        "sa-update: downloading or extracting the updates failed; no channel was updated "
        "(exit 4, 0.6 s)",
        [],
        2,
        [
            ["err", "dns: no A records found for updates.spamassassin.org [bold]x[/bold]"],
            [
                "err",
                "channel 'updates.spamassassin.org': no 'mirrors.updates.spamassassin.org' "
                "record found, channel failed",
            ],
        ],
    ),
    RunRecord(
        "get_certs",
        ["/mail/bin/get_certs"],
        "alice",
        "2026-12-02T01:01:00+00:00",
        3.7,
        "ok",
        0,
        None,
        "get_certs: the certificate was issued or renewed (exit 0, 3.7 s); then SIGHUP "
        "sent to opensmtpd (pid 41). SIGHUP sent to dovecot (pid 42).",
        ["SIGHUP sent to opensmtpd (pid 41).", "SIGHUP sent to dovecot (pid 42)."],
        4,
        [
            ["out", "Account registered."],
            ["out", "Requesting a certificate for mail.example.com"],
            ["out", "Successfully received certificate."],
            ["out", "This certificate expires on 2031-12-02."],
        ],
    ),
]


def app(tmp_path: Path, read_only: bool = False) -> ConsoleApp:
    settings = Settings(
        supervisor_url=URL,
        refresh_interval=3600,
        read_only=read_only,
        audit_log=tmp_path / "audit.log",
    )
    for record in RUNS:
        append_history(settings, record)
    return ConsoleApp(
        settings,
        supervisor=RecordedSupervisor(),
        hostname="mail.example.com",
        initial_screen="jobs",
    )


async def settled(pilot: Any) -> None:
    await supervisor_answered(pilot)  # the header says "connected", not "connecting"
    await until(pilot, lambda: isinstance(pilot.app.focused, JobList), what="the job list's focus")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_jobs(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    assert snap_compare(app(tmp_path), terminal_size=size, run_before=settled)


def test_jobs_history(snap_compare: Any, tmp_path: Path) -> None:
    async def history(pilot: Any) -> None:
        await settled(pilot)
        await pilot.press("end", "h")
        await pilot.pause()

    assert snap_compare(app(tmp_path), terminal_size=(80, 24), run_before=history)


def test_jobs_read_only(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app(tmp_path, read_only=True), terminal_size=(80, 24), run_before=settled)
