"""Snapshot tests of the Logs screen at 80x24 and 160x50: highlighting, hostile text, search, filter."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from console.settings import Settings
from tests.recorded import URL, RecordedSupervisor, supervisor_answered
from widgets.app import ConsoleApp

SIZES = [(80, 24), (160, 50)]
STAMP = 1_700_000_000  # file times shown in the file list: fixed, in the past

LINES = [
    (
        "2025-11-24T10:00:00.000001+00:00 mail smtpd[812]: smtp-in: New session 89b3933313d7cda1 from host "
        "mx1.example.org [192.0.2.7]"
    ),
    (
        "2025-11-24T10:00:00.100000+00:00 mail smtpd[812]: smtp-in: Accepted message 0a1b2c3d on session "
        "89b3933313d7cda1: from=<alice@example.org>, size=2345, nrcpts=1, proto=ESMTP"
    ),
    (
        "2025-11-24T10:00:00.200000+00:00 mail smtpd[812]: delivery: Ok for 0a1b2c3d00000001: from=<alice@example.org>, "
        'to=<bob@example.com>, user=bob, method=mda, delay=0s, result="Ok" stat="Delivered"'
    ),
    (
        "2025-11-24T10:00:01.000000+00:00 mail smtpd[812]: delivery: TempFail for 0a1b2c3d00000002: "
        'from=<alice@example.org>, to=<carol@unreachable.test>, result="TempFail" stat="Connection refused"'
    ),
    (
        "2025-11-24T10:00:02.000000+00:00 mail smtpd[812]: delivery: PermFail for 0a1b2c3d00000003: "
        'result="PermFail" stat="550 5.1.1 User unknown"'
    ),
    (
        "2025-11-24T10:00:03.000000+00:00 mail smtpd[812]: warn: smtp-in: session 89b3933313d7cda1: client sent "
        "[bold]unexpected[/bold] \x1b[31mANSI\x1b[0m line [link=http://evil.example]x"
    ),
    "Nov 24 10:00:04 imap-login: Info: Login: user=<bob>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1",
    "Nov 24 10:00:05 imap-login: Info: Disconnected (auth failed, 1 attempts): user=<mallory>, rip=203.0.113.9",
    "Mon Nov 24 10:00:06 2025 -> /tmp/clamsmtpd.a1b2: Eicar-Signature FOUND",
    "2025-11-24 10:00:07,123 CRIT Supervisor is running as root.",
]


def app_with_logs(tmp_path: Path) -> ConsoleApp:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    (log_dir / "smtpd.log").write_text("\n".join(LINES) + "\n")
    (log_dir / "smtpd.log.1").write_text("older\n")
    (log_dir / "dovecot.log").write_text(LINES[6] + "\n")
    (log_dir / "supervisord.log").write_text(LINES[9] + "\n")
    (log_dir / "supervisord.log.1").write_text(LINES[9] + "\n" * 2000)
    (log_dir / "supervisord.log.2.gz").write_bytes(
        b"\x1f\x8b" + bytes(20_000)
    )  # listed, never opened
    for path in log_dir.iterdir():
        os.utime(path, (STAMP, STAMP))
    settings = Settings(
        supervisor_url=URL,
        refresh_interval=3600,
        log_dir=log_dir,
        supervisor_config=tmp_path / "none.conf",
    )
    app = ConsoleApp(
        settings,
        supervisor=RecordedSupervisor(),
        initial_screen="logs",
        hostname="mail.example.com",
    )
    return app


async def settle(pilot: Any) -> None:
    await supervisor_answered(pilot)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_smtpd(pilot: Any) -> None:
    await settle(pilot)
    await pilot.press("o", "down", "enter")  # dovecot.log is open; smtpd.log is next
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES)
def test_logs(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    assert snap_compare(app_with_logs(tmp_path), terminal_size=size, run_before=open_smtpd)


def test_logs_search(snap_compare: Any, tmp_path: Path) -> None:
    async def search(pilot: Any) -> None:
        await open_smtpd(pilot)
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"Fail", "enter")
        await settle(pilot)

    assert snap_compare(app_with_logs(tmp_path), terminal_size=(160, 50), run_before=search)


def test_logs_filter(snap_compare: Any, tmp_path: Path) -> None:
    async def filter_(pilot: Any) -> None:
        await open_smtpd(pilot)
        await pilot.press("f")
        await pilot.pause()
        await pilot.press(*"session", "enter")
        await settle(pilot)

    assert snap_compare(app_with_logs(tmp_path), terminal_size=(80, 24), run_before=filter_)


def test_logs_without_the_file_list(snap_compare: Any, tmp_path: Path) -> None:
    async def hide(pilot: Any) -> None:
        await open_smtpd(pilot)
        await pilot.press("b")
        await settle(pilot)

    assert snap_compare(app_with_logs(tmp_path), terminal_size=(80, 24), run_before=hide)
