"""The Rules screen: findings for the article's config, the live route as the message changes, save."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

from textual.widgets import Static, TextArea

from console.settings import Settings
from widgets.app import ConsoleApp
from widgets.dialogs import ConfirmScreen
from widgets.rules import RulesView

CORPUS = Path(__file__).parent.parent / "fdm_corpus"


async def until(pilot, check: Callable[[], object], timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting in the console"
        await pilot.pause(0.05)


def make_settings(tmp_path: Path, read_only: bool = False) -> Settings:
    conf = tmp_path / "fdm.conf"
    shutil.copy(CORPUS / "configs" / "article.conf", conf)
    for name in ("addrs", "vusers", "vdomains", "userdb"):
        shutil.copy(CORPUS / "tables" / name, tmp_path / name)
    return Settings(fdm_config=conf, table_addrs=tmp_path / "addrs", table_vusers=tmp_path / "vusers",
                    table_vdomains=tmp_path / "vdomains", table_userdb=tmp_path / "userdb",
                    audit_log=tmp_path / "audit.log", read_only=read_only,
                    supervisor_url="unix:///nonexistent/supervisor.sock")


def text_of(app: ConsoleApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_findings_and_live_route(tmp_path: Path) -> None:
    app = ConsoleApp(make_settings(tmp_path), initial_tab="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.query(RulesView) and app.query_one(RulesView).route)
        assert "bob_notices" in text_of(app, "#rules-findings")
        assert "user bob, folder INBOX" in text_of(app, "#rules-route")
        message = app.query_one("#rules-message", TextArea)
        message.load_text("To: notifications@example.com\nSubject: x\n\nb\n")
        await until(pilot, lambda: "outcome: error" in text_of(app, "#rules-route"))
        editor = app.query_one("#rules-editor", TextArea)
        editor.load_text(editor.text.replace('"bob_notices"', '"bob_notifications"'))
        await until(pilot, lambda: "bob_notifications" in text_of(app, "#rules-route"))


async def test_save_asks_then_writes_with_a_backup(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    app = ConsoleApp(settings, initial_tab="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.query(RulesView) and app.query_one(RulesView).loaded)
        editor = app.query_one("#rules-editor", TextArea)
        fixed = (CORPUS / "configs" / "01_article_fixed.conf").read_text()
        editor.load_text(fixed)
        app.query_one(RulesView).action_save()
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: settings.fdm_config.read_text() == fixed)
        assert list(tmp_path.glob("fdm.conf.*.bak"))


async def test_save_is_refused_read_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, read_only=True)
    before = settings.fdm_config.read_bytes()
    app = ConsoleApp(settings, initial_tab="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.query(RulesView) and app.query_one(RulesView).loaded)
        app.query_one(RulesView).action_save()
        await until(pilot, lambda: "read-only" in (tmp_path / "audit.log").read_text()
                    if (tmp_path / "audit.log").exists() else False)
    assert settings.fdm_config.read_bytes() == before
