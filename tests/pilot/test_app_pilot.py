"""The app shell: every screen is reachable from the palette and takes the keyboard when shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.actions import ACTIONS
from console.settings import Settings
from tests.helpers import palette_answered, queued_handled, until
from tests.recorded import URL, RecordedSupervisor, supervisor_answered
from widgets.app import SCREENS, ConsoleApp
from widgets.common.screen import ActionScreen, ConsoleScreen


@pytest.mark.parametrize("screen_id", [t.id for t in SCREENS if t.id != "services"])
async def test_palette_switches_screen_and_focuses_it(screen_id: str, tmp_path: Path) -> None:
    (tmp_path / "smtpd.log").write_text("hello\n")
    settings = Settings(
        supervisor_url=URL,
        log_dir=tmp_path,
        fdm_config=tmp_path / "fdm.conf",
        smtpctl=[str(tmp_path / "no-smtpctl")],
        refresh_interval=3600,
        audit_log=tmp_path / "audit.log",
    )
    app = ConsoleApp(settings, supervisor=RecordedSupervisor(), hostname="mail.example.com")
    title = next(t.title for t in SCREENS if t.id == screen_id)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*f"go to {title.lower()}")
        await palette_answered(pilot, f"Go to {title}")
        await pilot.press("enter")
        await until(
            pilot,
            lambda: (
                app.focused is not None
                and app.screen_widgets.get(screen_id) in app.focused.ancestors_with_self
            ),
        )
        assert app.active_screen == screen_id
        assert app.focused is not None
        assert app.screen_widgets.get(screen_id) in app.focused.ancestors_with_self
        assert app.is_running


async def test_quitting_with_unsaved_rules_asks_first(tmp_path: Path) -> None:
    from widgets.common.dialogs import ConfirmDialog

    conf = tmp_path / "fdm.conf"
    conf.write_text('account "stdin" disabled stdin\nmatch all action "x"\n')
    settings = Settings(
        supervisor_url=URL,
        log_dir=tmp_path,
        fdm_config=conf,
        refresh_interval=3600,
        audit_log=tmp_path / "audit.log",
        fdm_test_messages=tmp_path,
    )
    app = ConsoleApp(
        settings,
        supervisor=RecordedSupervisor(),
        hostname="mail.example.com",
        initial_screen="rules",
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.focused is not None and app.focused.id == "rules-editor")
        await app.workers.wait_for_complete()
        await pilot.press("end", "x")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert not app.is_running
    assert conf.read_text() == 'account "stdin" disabled stdin\nmatch all action "x"\n'


async def test_function_keys_brackets_and_clicks_switch_screens(tmp_path: Path) -> None:
    (tmp_path / "smtpd.log").write_text("hello\n")
    settings = Settings(
        supervisor_url=URL,
        log_dir=tmp_path,
        fdm_config=tmp_path / "fdm.conf",
        smtpctl=[str(tmp_path / "no-smtpctl")],
        refresh_interval=3600,
        audit_log=tmp_path / "audit.log",
    )
    app = ConsoleApp(settings, supervisor=RecordedSupervisor(), hostname="mail.example.com")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        assert app.active_screen == "logs"
        assert "Logs" in str(app.screen_bar.render())
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert app.active_screen == "rules"
        await pilot.press("f1")  # the Rules editor takes printable keys; F-keys still reach the app
        await pilot.pause()
        await pilot.press("escape", "f2", "left_square_bracket")
        await pilot.pause()
        assert app.active_screen == SCREENS[-1].id  # wraps around
        start, end, _ = next(span for span in app.screen_bar._spans if span[2] == "queue")
        await pilot.click("#screen-bar", offset=(start + 1, 0))
        await pilot.pause()
        assert app.active_screen == "queue"
        assert (
            app.focused is not None
            and app.screen_widgets["queue"] in app.focused.ancestors_with_self
        )


async def test_key_bar_lists_the_screens_keys_and_hides_mutating_ones_in_read_only(
    tmp_path: Path,
) -> None:
    for read_only in (False, True):
        settings = Settings(
            supervisor_url=URL,
            log_dir=tmp_path,
            refresh_interval=3600,
            audit_log=tmp_path / "audit.log",
            read_only=read_only,
        )
        app = ConsoleApp(settings, supervisor=RecordedSupervisor(), hostname="mail.example.com")
        async with app.run_test(size=(160, 24)) as pilot:
            await pilot.pause()
            keys = app.query_one("#key-bar").render()
            assert "Output" in str(keys) and "Quit" in str(keys)
            assert ("Restart" in str(keys)) is not read_only


async def test_garbage_collection_resumes_after_the_first_frame(tmp_path: Path) -> None:
    """widgets.launch.main turns collection off for the start-up; the console must turn it back on."""
    import gc

    settings = Settings(
        supervisor_url=URL,
        log_dir=tmp_path,
        refresh_interval=3600,
        audit_log=tmp_path / "audit.log",
    )
    app = ConsoleApp(settings, supervisor=RecordedSupervisor(), hostname="mail.example.com")
    gc.disable()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, gc.isenabled)
            assert gc.isenabled()
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()


@pytest.mark.parametrize("screen_id", [t.id for t in SCREENS])
async def test_every_screen_implements_the_screen_contract(screen_id: str, tmp_path: Path) -> None:
    """The App reaches each screen through ConsoleScreen (palette, action results, unsaved edits)."""
    settings = Settings(
        supervisor_url=URL,
        log_dir=tmp_path,
        fdm_config=tmp_path / "fdm.conf",
        smtpctl=[str(tmp_path / "no-smtpctl")],
        refresh_interval=3600,
        audit_log=tmp_path / "audit.log",
    )
    app = ConsoleApp(
        settings,
        supervisor=RecordedSupervisor(),
        hostname="mail.example.com",
        initial_screen=screen_id,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await supervisor_answered(
            pilot
        )  # the Services screen is built behind any other: let it finish
        shown = app.screen_widgets[screen_id]
        assert isinstance(shown, ConsoleScreen)
        assert shown.unsaved_changes() is False
        assert all(len(entry) == 3 for entry in shown.palette_commands())
        if any(action.screen == screen_id for action in ACTIONS.values()):
            assert isinstance(
                shown, ActionScreen
            )  # it offers the registry's actions in the palette


async def test_help_stays_above_notifications_and_the_palette_quits(tmp_path: Path) -> None:
    from textual.widgets._toast import ToastRack

    from widgets.app import ActionCommands
    from widgets.common.dialogs import HelpDialog

    settings = Settings(
        supervisor_url=URL,
        log_dir=tmp_path,
        fdm_config=tmp_path / "fdm.conf",
        refresh_interval=3600,
        audit_log=tmp_path / "audit.log",
    )
    app = ConsoleApp(settings, supervisor=RecordedSupervisor(), hostname="mail.example.com")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpDialog)
        note = "a long notification that would cover the help's last rows " * 3
        app.notify(note)
        await until(pilot, lambda: any(n.message == note for n in app._notifications))
        await queued_handled(pilot)  # the toasts' refresh the notification asked for, too
        assert not app.screen.get_child_by_type(ToastRack).display  # it waits under the help
        await pilot.press("escape")
        await until(pilot, lambda: app.screen.get_child_by_type(ToastRack).display)
        quit_command = [c for t, _, c in ActionCommands(app.screen)._commands() if t == "Quit"]
        assert quit_command == [app.action_quit]
        await quit_command[0]()
        await pilot.pause()
    assert app.return_code == 0
