"""The Services screen against a real supervisord: table, restart with confirmation, read-only, outage."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from textual.widgets import Input, Label, Log, Select, Static

from tests.conftest import Supervisord
from tests.helpers import top_screen, until
from widgets.app import ActionCommands, ConsoleApp
from widgets.common.dialogs import ConfirmDialog, SignalDialog
from widgets.services import ProgramTable, ServicesScreen


def table(app: ConsoleApp) -> ProgramTable:
    return app.query_one("#programs", ProgramTable)


def cell(app: ConsoleApp, row: str, col: str) -> str:
    return table(app).cell(row, col)


async def select(pilot, app: ConsoleApp, name: str) -> None:  # type: ignore[no-untyped-def]
    table(app).select(name)
    await pilot.pause()


async def test_table_lists_every_program_with_state(supervisord: Supervisord) -> None:
    app = ConsoleApp(supervisord.settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).names) == 3)
        assert cell(app, "ticker", "state") == "RUNNING"
        assert cell(app, "sleeper", "pid") == str(supervisord.client().program("sleeper").pid)
        assert cell(app, "broken", "state") in ("FATAL", "EXITED")
        header = app.query_one("#app-header", Static)
        await until(pilot, lambda: "● connected" in str(header.render()))
        assert supervisord.url in str(header.render()) and "READ-ONLY" not in str(header.render())
        poller = app.query_one(ServicesScreen).poller
    poller.join(timeout=10)  # the poll thread ends with the console (quitting never waits for it)
    assert not poller.is_alive()


async def test_a_poll_answer_arriving_while_the_console_closes_is_dropped(
    supervisord: Supervisord,
) -> None:
    """Closing removes the table while the poll thread may still post an answer: no crash."""
    app = ConsoleApp(supervisord.settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).names) == 3)
        screen = app.query_one(ServicesScreen)
        snapshot = screen.snapshot
        assert snapshot is not None
        await app.query_one("#services-banner").remove()
        await table(app).remove()
        screen.post_message(ServicesScreen.ProgramsRefreshed(snapshot))
        screen.post_message(ServicesScreen.SupervisorDown("gone", 1.0))
        await pilot.pause()
        await until(pilot, lambda: app.is_running and not app._exception)


async def test_restart_asks_then_changes_the_pid(supervisord: Supervisord) -> None:
    app = ConsoleApp(supervisord.settings())
    before = supervisord.client().program("sleeper").pid
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).names) == 3)
        await select(pilot, app, "sleeper")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")  # no: nothing happens
        await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await app.workers.wait_for_complete()
        assert not (supervisord.dir / "audit.log").exists()  # nothing was dispatched
        assert supervisord.client().program("sleeper").pid == before
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: cell(app, "sleeper", "pid") not in ("", str(before)))
        audit_log = supervisord.dir / "audit.log"
        await until(pilot, lambda: audit_log.exists() and audit_log.read_text().count("\n") == 2)
    after = supervisord.client().program("sleeper").pid
    assert after != before
    audit = [json.loads(rec) for rec in (supervisord.dir / "audit.log").read_text().splitlines()]
    assert [(a["action"], a["target"], a["outcome"]) for a in audit] == [
        ("program.restart", "sleeper", "started"),
        ("program.restart", "sleeper", "ok"),
    ]


async def test_an_unwritable_audit_log_means_a_notification_and_no_restart(
    supervisord: Supervisord,
) -> None:
    """The audit log on a full device: the restart's started line cannot be written, so nothing is
    restarted, and the console says why."""
    settings = supervisord.settings()
    settings.audit_log = Path("/dev/full")
    app = ConsoleApp(settings)
    before = supervisord.client().program("sleeper").pid
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).names) == 3)
        await select(pilot, app, "sleeper")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: app._notifications)
        [note] = list(app._notifications)
        assert note.severity == "error"
        assert note.message == (
            "cannot write the audit log /dev/full (No space left on device); nothing was done"
        )
        assert cell(app, "sleeper", "pid") == str(before)
    assert supervisord.client().program("sleeper").pid == before


async def test_signal_defaults_to_hup_and_reaches_the_program(supervisord: Supervisord) -> None:
    app = ConsoleApp(supervisord.settings())
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: len(table(app).names) == 3)
        await select(pilot, app, "ticker")
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, SignalDialog))
        await pilot.click("#send")
        await until(pilot, lambda: "got HUP" in (supervisord.dir / "ticker.log").read_text())


async def test_a_stray_enter_in_the_signal_dialog_sends_nothing(supervisord: Supervisord) -> None:
    """Cancel has the focus: `k` then Enter closes the dialog and nothing is dispatched."""
    app = ConsoleApp(supervisord.settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).names) == 3)
        await select(pilot, app, "ticker")
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, SignalDialog))
        assert app.screen.focused is not None and app.screen.focused.id == "cancel"
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, SignalDialog))
        assert not isinstance(app.screen, ConfirmDialog)
    # The dialog's answer is handled when it closes: had it been "send", the audit log would exist.
    assert not (supervisord.dir / "audit.log").exists()


async def test_kill_and_term_say_what_they_do_and_ask_again(supervisord: Supervisord) -> None:
    app = ConsoleApp(supervisord.settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).names) == 3)
        await select(pilot, app, "sleeper")
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, SignalDialog))
        dialog = app.screen
        effect = dialog.query_one("#signal-effect", Label)
        assert "reload" in str(effect.render())
        dialog.query_one("#signal", Select).value = "KILL"
        await until(pilot, lambda: "kill at once" in str(effect.render()))
        await pilot.click("#send")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert top_screen(app, ConfirmDialog).question.startswith(
            "Really send SIGKILL to sleeper? Kill at once"
        )
        await pilot.press("n")  # no: back to the choice, nothing sent
        await until(pilot, lambda: app.screen is dialog)
        dialog.query_one("#signal", Select).value = "TERM"
        await until(pilot, lambda: "stop: the program exits" in str(effect.render()))
        await pilot.click("#send")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert top_screen(app, ConfirmDialog).question.startswith("Really send SIGTERM to sleeper?")
        assert not (supervisord.dir / "audit.log").exists()
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, (ConfirmDialog, SignalDialog)))
        await until(pilot, lambda: list(app._notifications))
        [note] = list(app._notifications)
        assert note.message.startswith("SIGTERM sent to sleeper")
    audit = [json.loads(rec) for rec in (supervisord.dir / "audit.log").read_text().splitlines()]
    assert [(a["action"], a["params"], a["outcome"]) for a in audit] == [
        ("program.signal", {"signal": "TERM"}, "started"),
        ("program.signal", {"signal": "TERM"}, "ok"),
    ]


async def test_output_is_shown_literally(supervisord: Supervisord) -> None:
    app = ConsoleApp(supervisord.settings())
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: len(table(app).names) == 3)
        await select(pilot, app, "ticker")
        await pilot.press("l")
        log = app.query_one("#program-log", Log)
        await until(pilot, lambda: any("tick [red]x[/red]" in line for line in log.lines))


async def test_read_only_hides_and_refuses(supervisord: Supervisord) -> None:
    settings = supervisord.settings(read_only=True)
    app = ConsoleApp(settings)
    before = supervisord.client().program("sleeper").pid
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).names) == 3)
        assert "READ-ONLY" in str(app.query_one("#app-header", Static).render())
        await select(pilot, app, "sleeper")
        shown = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert not shown & {"start", "stop", "restart", "signal"}
        # Pressed anyway: each says so in one line and is audited as refused, nothing is asked.
        await pilot.press("r", "x", "s", "k")
        audit_log = supervisord.dir / "audit.log"
        await until(pilot, lambda: audit_log.exists() and audit_log.read_text().count("\n") == 4)
        assert not isinstance(app.screen, (ConfirmDialog, SignalDialog))
        assert "read-only: restart is not available" in [n.message for n in app._notifications]
        # The palette offers no mutating command.
        titles = [t for t, _, _ in ActionCommands(app.screen)._commands()]
        assert titles and not [
            t for t in titles if t.split()[0] in ("Start", "Stop", "Restart", "Signal")
        ]
        # Reached anyway (a stray call): the dispatcher refuses, audits, and nothing changes.
        app.request_action("program.restart", "sleeper")
        await until(pilot, lambda: audit_log.read_text().count("\n") == 5)
    assert supervisord.client().program("sleeper").pid == before
    lines = [json.loads(rec) for rec in (supervisord.dir / "audit.log").read_text().splitlines()]
    assert sorted((r["action"], r["target"]) for r in lines[:4]) == [
        ("program.restart", "sleeper"),
        ("program.signal", "sleeper"),
        ("program.start", "sleeper"),
        ("program.stop", "sleeper"),
    ]
    assert all(r["refused"] is True for r in lines) and lines[4]["action"] == "program.restart"


async def test_disconnected_banner_and_reconnect(supervisord: Supervisord) -> None:
    app = ConsoleApp(supervisord.settings(refresh_interval=0.2))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).names) == 3)
        await pilot.press("r")  # a dialog is open while supervisord goes away
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        supervisord.kill()
        banner = app.screen_widgets["services"].query_one("#services-banner", Static)
        await until(pilot, lambda: banner.display)
        await pilot.press("n")
        assert "Disconnected" in str(banner.render())
        assert table(app).has_class("stale") and len(table(app).names) == 3
        header = app.query_one("#app-header", Static)
        await until(pilot, lambda: "● disconnected" in str(header.render()))
        supervisord.start()
        await until(pilot, lambda: not banner.display, timeout=20)
        assert not table(app).has_class("stale")
        view = app.query_one(ServicesScreen)
        assert view.connected is True


async def test_the_output_pane_says_supervisord_is_away_once_and_backs_off(
    supervisord: Supervisord,
) -> None:
    """While supervisord is down, the output pane gets one line (not one every half second) and
    reads less and less often; when it is back, the output continues."""
    app = ConsoleApp(supervisord.settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).names) == 3)
        await select(pilot, app, "ticker")
        await pilot.press("l")
        view = app.query_one(ServicesScreen)
        log = app.query_one("#program-log", Log)
        await until(pilot, lambda: any(line.startswith("tick") for line in log.lines))
        reads: list[str] = []
        real_tail = view.supervisor.tail

        def counted_tail(*args: object) -> object:
            reads.append("read")
            return real_tail(*args)

        view.supervisor.tail = counted_tail
        supervisord.kill()
        # Each read is armed by the handler of the one before: four reads after the kill mean three
        # failed reads were handled (the wait doubling each time: 0.5 -> 1 -> 2 -> 4 s).
        await until(pilot, lambda: len(reads) >= 4, timeout=30)
        away = [line for line in log.lines if "supervisord is not running" in line]
        assert away == [
            f"-- supervisord is not running: no socket at {supervisord.dir}/supervisor.sock"
            "; retrying --"
        ]
        assert log.lines[-2:] == [away[0], ""]
        assert view._log_delay >= 4.0
        supervisord.start()
        await until(pilot, lambda: "-- reading the output again --" in log.lines, timeout=30)
        assert view._log_delay == 0.5


HOSTILE_PROGRAMS = """
[program:bad]
process_name=bad[red]n[blink]
command=sleep 100000
stdout_logfile={dir}/bad.log
stopwaitsecs=2

[program:link]
process_name=[@click=app.quit]x
command=sleep 100000
stdout_logfile={dir}/link.log
stopwaitsecs=2
"""


async def test_markup_in_program_names_is_plain_text_in_the_palette(tmp_path: Path) -> None:
    """Names from supervisord reach the palette as text: shown literally, no style, no live link."""
    from textual.command import CommandList, CommandPalette
    from textual.content import Content

    from tests.conftest import running_supervisord

    with running_supervisord(tmp_path, HOSTILE_PROGRAMS) as sv:
        app = ConsoleApp(sv.settings())
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: len(table(app).names) == 5)
            await pilot.press("ctrl+p")
            await until(pilot, lambda: isinstance(app.screen, CommandPalette))

            def prompts() -> list[Content]:
                commands = app.screen.query_one(CommandList)
                return [
                    commands.get_option_at_index(i).prompt  # type: ignore[misc]
                    for i in range(commands.option_count)
                ]

            for query, name in (
                ("", "bad:bad[red]n[blink]"),
                ("bad", "bad:bad[red]n[blink]"),
                ("click", "link:[@click=app.quit]x"),
            ):
                app.screen.query_one(Input).value = query

                def listed(name: str = name) -> bool:
                    return any(f"Restart {name}" in p.plain for p in prompts())

                await until(pilot, listed)
                for prompt in prompts():
                    if name in prompt.plain:
                        assert not [
                            span
                            for span in prompt.spans
                            if "click" in str(span.style)
                            or "blink" in str(span.style)
                            or "red" in str(span.style)
                        ], prompt.spans
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, CommandPalette))
            assert app.is_running


class HeldTails:
    """The console's supervisord client, whose `tail` reads wait until the test lets them through
    (to put two reads in flight at once, as a slow supervisord does); everything else passes."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0
        self.gate = threading.Semaphore(0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def tail(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        self.gate.acquire(timeout=30)
        return self.client.tail(*args, **kwargs)


async def test_choosing_the_output_again_shows_each_line_once(supervisord: Supervisord) -> None:
    """`l` pressed again while the first read is under way: that read's late answer is dropped, not
    written under the second one's (the pane showed the whole output twice, then each line twice)."""
    supervisord.client().stop("ticker")  # its output no longer grows: the pane must equal its file
    written = (supervisord.dir / "ticker.log").read_text().splitlines()
    assert written
    app = ConsoleApp(supervisord.settings())
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: len(table(app).names) == 3)
        await select(pilot, app, "ticker")
        screen = app.query_one(ServicesScreen)
        held = screen.supervisor = HeldTails(screen.supervisor)
        await pilot.press("l")
        await until(pilot, lambda: held.calls == 1)
        await pilot.press("l")
        await until(pilot, lambda: held.calls == 2)
        held.gate.release(100)
        await until(pilot, lambda: held.calls >= 3)  # both answers handled, the next read made
        log = app.query_one("#program-log", Log)
        assert [line for line in log.lines if line] == written
