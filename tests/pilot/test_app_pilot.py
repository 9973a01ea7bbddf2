"""The app shell: every screen is reachable from the palette and takes the keyboard when shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.settings import Settings
from tests.recorded import URL, RecordedSupervisor
from widgets.app import TABS, ConsoleApp


@pytest.mark.parametrize("tab", [t.id for t in TABS if t.id != "services"])
async def test_palette_switches_screen_and_focuses_it(tab: str, tmp_path: Path) -> None:
    (tmp_path / "smtpd.log").write_text("hello\n")
    settings = Settings(supervisor_url=URL, log_dir=tmp_path, fdm_config=tmp_path / "fdm.conf",
                        smtpctl=[str(tmp_path / "no-smtpctl")], refresh_interval=3600,
                        audit_log=tmp_path / "audit.log")
    app = ConsoleApp(settings, supervisor=RecordedSupervisor(), hostname="mail.example.com")
    title = next(t.title for t in TABS if t.id == tab)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*f"go to {title.lower()}")
        await pilot.pause(0.3)
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause(0.05)
            if app.focused is not None and tab in [a.id for a in app.focused.ancestors_with_self]:
                break
        assert app.tabs.active == tab
        assert app.focused is not None
        assert tab in [a.id for a in app.focused.ancestors_with_self]
        assert app.is_running


async def test_quitting_with_unsaved_rules_asks_first(tmp_path: Path) -> None:
    from widgets.dialogs import ConfirmScreen

    conf = tmp_path / "fdm.conf"
    conf.write_text('account "stdin" disabled stdin\nmatch all action "x"\n')
    settings = Settings(supervisor_url=URL, log_dir=tmp_path, fdm_config=conf, refresh_interval=3600,
                        audit_log=tmp_path / "audit.log", fdm_test_messages=tmp_path)
    app = ConsoleApp(settings, supervisor=RecordedSupervisor(), hostname="mail.example.com",
                     initial_tab="rules")
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if app.focused is not None and app.focused.id == "rules-editor":
                break
        await app.workers.wait_for_complete()
        await pilot.press("end", "x")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert not app.is_running
    assert conf.read_text() == 'account "stdin" disabled stdin\nmatch all action "x"\n'
