"""Snapshot tests: how each screen looks at 80x24 and 160x50 (recorded lab data, fixed host name)."""

from __future__ import annotations

from typing import Any

import pytest

from console.settings import Settings
from tests.recorded import URL, RecordedSupervisor, supervisor_answered
from widgets.app import ConsoleApp

SIZES = [(80, 24), (160, 50)]


def app(read_only: bool = False, down: bool = False) -> ConsoleApp:
    settings = Settings(supervisor_url=URL, read_only=read_only, refresh_interval=3600)
    return ConsoleApp(
        settings, supervisor=RecordedSupervisor(down=down), hostname="mail.example.com"
    )


async def settle(pilot: Any) -> None:
    await supervisor_answered(pilot)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_services(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(app(), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_services_with_output(snap_compare: Any, size: tuple[int, int]) -> None:
    async def open_output(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("down", "l")
        await settle(pilot)

    assert snap_compare(app(), terminal_size=size, run_before=open_output)


def test_services_read_only(snap_compare: Any) -> None:
    assert snap_compare(app(read_only=True), terminal_size=(80, 24), run_before=settle)


def test_services_disconnected(snap_compare: Any) -> None:
    assert snap_compare(app(down=True), terminal_size=(80, 24), run_before=settle)


def test_help(snap_compare: Any) -> None:
    assert snap_compare(app(), terminal_size=(80, 24), press=["question_mark"], run_before=settle)
