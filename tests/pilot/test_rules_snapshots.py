"""Snapshot tests of the Rules screen at 80x24 and 160x50: the article's config, a message it loses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import TextArea

from console.settings import Settings
from tests.helpers import until
from tests.recorded import URL, RecordedSupervisor, supervisor_answered
from widgets.app import ConsoleApp
from widgets.rules.editor import FdmEditor
from widgets.rules.view import RulesScreen

CORPUS = Path(__file__).parent.parent / "fdm_corpus"
SIZES = [(80, 24), (160, 50)]
NOTICE = "From: alice@example.org\nTo: notifications@example.com\nSubject: [b]hi[/b]\n\nb\n"


def app(tmp_path: Path) -> ConsoleApp:
    conf = tmp_path / "fdm.conf"
    conf.write_text((CORPUS / "configs" / "article.conf").read_text())
    tables = CORPUS / "tables"
    settings = Settings(
        supervisor_url=URL,
        refresh_interval=3600,
        fdm_config=conf,
        table_addrs=tables / "addrs",
        table_vusers=tables / "vusers",
        table_vdomains=tables / "vdomains",
        table_userdb=tables / "userdb",
        audit_log=tmp_path / "audit.log",
        fdm_test_messages=tmp_path,
    )
    return ConsoleApp(
        settings,
        supervisor=RecordedSupervisor(),
        hostname="mail.example.com",
        initial_screen="rules",
    )


async def route_settled(pilot: Any) -> None:
    """Wait until the route shown is the one for the text now (the debounce timer is not a worker)."""
    await supervisor_answered(pilot)
    await pilot.app.workers.wait_for_complete()

    def settled() -> bool:
        screens = pilot.app.query(RulesScreen)
        return (
            bool(screens)
            and screens.first().loaded
            and screens.first().shown_generation == screens.first().generation
        )

    await until(pilot, settled, what="the Rules screen to settle")


@pytest.mark.parametrize("size", SIZES)
def test_rules_lost_mail(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def lost_mail(pilot: Any) -> None:
        # A blinking cursor is drawn or not depending on when the picture is taken.
        pilot.app.query_one(FdmEditor).cursor_blink = False
        await route_settled(pilot)
        pilot.app.query_one("#rules-message", TextArea).load_text(NOTICE)
        await route_settled(pilot)

    assert snap_compare(app(tmp_path), terminal_size=size, run_before=lost_mail)
