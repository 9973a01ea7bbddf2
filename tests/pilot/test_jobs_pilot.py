"""The Jobs screen in a virtual terminal, running real processes: run after a yes, live output with
stderr told apart and untrusted text as text, cancel, history, palette, read-only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.command import CommandPalette

from console.jobs.history import load_history
from console.jobs.runner import run_job
from console.jobs.spec import JobSpec
from console.settings import Settings
from tests.helpers import drawn, palette_answered, until
from tests.recorded import URL, RecordedSupervisor
from widgets.app import ConsoleApp
from widgets.common.dialogs import ConfirmDialog
from widgets.jobs import HistoryList, JobList, JobsScreen
from widgets.jobs.output import OutputLog


def settings(tmp_path: Path, read_only: bool = False, **jobs: JobSpec) -> Settings:
    return Settings(
        supervisor_url=URL,
        refresh_interval=3600,
        audit_log=tmp_path / "audit.log",
        read_only=read_only,
        jobs=dict(jobs),
    )


def sh(script: str, description: str = "") -> JobSpec:
    return JobSpec(("sh", "-c", script), description=description)


def jobs_app(s: Settings) -> ConsoleApp:
    return ConsoleApp(
        s, supervisor=RecordedSupervisor(), hostname="mail.example.com", initial_screen="jobs"
    )


async def ready(pilot: Any, app: ConsoleApp) -> JobsScreen:
    await until(pilot, lambda: app.query(JobsScreen) and isinstance(app.focused, JobList))
    return app.query_one(JobsScreen)


def output_text(app: ConsoleApp) -> list[str]:
    log = app.query_one(OutputLog)
    return [log.render_line(y).text.rstrip() for y in range(log.size.height)]


def notifications(app: ConsoleApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_run_asks_first_then_streams_stdout_and_stderr_as_text(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        renew=sh(
            r"echo '[bold]issued[/bold]'; printf '\033[31mwarn\n' >&2; exit 0",
            "Renew the certificate",
        ),
    )
    app = jobs_app(s)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await ready(pilot, app)
        await drawn(pilot, app.query_one(JobList), "never run")
        assert "never run" in app.query_one(JobList).render_line(1).text
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await pilot.pause()
        assert not view.jobs["renew"].running and load_history(s) == []
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: view.jobs["renew"].record is not None)
        await drawn(pilot, app.query_one(OutputLog), "warn")
        lines = output_text(app)
        assert lines[0] == "  [bold]issued[/bold]"
        assert lines[1] == "! \\x1b[31mwarn"
        assert "renew: succeeded (exit 0" in notifications(app)[-1]
        await drawn(pilot, app.query_one(JobList), " ok ")
        assert " ok " in app.query_one(JobList).render_line(1).text
        [record] = load_history(s)
        assert record.tail == [["out", "[bold]issued[/bold]"], ["err", "\\x1b[31mwarn"]]
        audit = [json.loads(line) for line in s.audit_log.read_text().splitlines()]
        assert [(a["action"], a["outcome"]) for a in audit] == [
            ("job.run", "started"),
            ("job.run", "ok"),
        ]


async def test_output_streams_while_the_job_runs_and_cancel_stops_it(tmp_path: Path) -> None:
    s = settings(tmp_path, slow=sh("echo first; sleep 300"))
    app = jobs_app(s)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await ready(pilot, app)
        view.start_job("slow", confirmed=True)
        await until(pilot, lambda: "  first" in output_text(app))
        assert view.jobs["slow"].running
        await drawn(pilot, app.query_one(JobList), "running")
        assert "running" in app.query_one(JobList).render_line(1).text
        await pilot.press("r")  # a second start from the screen is not even tried
        await pilot.pause()
        assert "slow is already running." in notifications(app)
        await pilot.press("c")
        await until(pilot, lambda: not view.jobs["slow"].running)
        assert view.jobs["slow"].record is not None
        assert view.jobs["slow"].record.outcome == "cancelled"
        await drawn(pilot, app.query_one(JobList), " cancelled ")
        assert " cancelled " in app.query_one(JobList).render_line(1).text


async def test_history_lists_runs_and_shows_a_runs_output(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    s = settings(
        tmp_path,
        j=sh(
            f"echo run-$(ls {runs} 2>/dev/null | wc -l); mkdir -p {runs}; touch {runs}/$$; exit 1"
        ),
    )
    for _ in range(2):
        run_job(s, "j")
    app = jobs_app(s)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        await drawn(pilot, app.query_one(OutputLog), "run-1")
        assert output_text(app)[0] == "  run-1"  # the last run's tail is shown while idle
        await pilot.press("h")
        history = app.query_one(HistoryList)
        await drawn(pilot, history, "exit 1")  # shown just now: laid out on the next refresh
        assert history.display and len(history.records) == 2
        assert "failed" in history.render_line(0).text and "exit 1" in history.render_line(0).text
        await pilot.press("down", "enter")
        await drawn(pilot, app.query_one(OutputLog), "run-0")
        assert not history.display and output_text(app)[0] == "  run-0"


async def test_read_only_offers_no_run_and_refuses_one_invoked_anyway(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    s = settings(tmp_path, read_only=True, touch=sh(f"touch {marker}"))
    app = jobs_app(s)
    async with app.run_test(size=(120, 24)) as pilot:
        view = await ready(pilot, app)
        keys = str(app.query_one("#key-bar").render())
        assert "Run" not in keys and "Cancel" not in keys and "History" in keys
        # Pressed anyway: said in one line and audited as refused, nothing is asked.
        await pilot.press("r")
        await until(
            pilot, lambda: s.audit_log.exists() and s.audit_log.read_text().count("\n") == 1
        )
        assert "read-only: run is not available" in notifications(app)
        assert not isinstance(app.screen, ConfirmDialog)
        view.start_job("touch")  # reached anyway: the dispatcher refuses it
        await until(pilot, lambda: s.audit_log.read_text().count("\n") == 2)
        assert not marker.exists()
        lines = [json.loads(x) for x in s.audit_log.read_text().splitlines()]
        assert [(x["action"], x["target"], x["outcome"]) for x in lines] == [
            ("job.run", "touch", "refused")
        ] * 2


async def test_palette_runs_a_job_from_another_screen(tmp_path: Path) -> None:
    s = settings(tmp_path, hello=sh("echo hello", "Say hello"))
    app = ConsoleApp(s, supervisor=RecordedSupervisor(), hostname="mail.example.com")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"run job hello")
        await palette_answered(pilot, "Run job hello")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert app.active_screen == "jobs"
        await pilot.press("y")
        await until(pilot, lambda: load_history(s))
        await until(pilot, lambda: "  hello" in output_text(app))


async def test_read_only_palette_has_no_job_entries(tmp_path: Path) -> None:
    from widgets.app import ActionCommands

    for read_only, expected in ((False, ["Run job x"]), (True, [])):
        s = settings(tmp_path / str(read_only), read_only=read_only, x=sh("true"))
        app = ConsoleApp(s, supervisor=RecordedSupervisor(), hostname="mail.example.com")
        async with app.run_test(size=(80, 24)):
            titles = [title for title, _, _ in ActionCommands(app.screen)._commands()]
            assert [t for t in titles if t.startswith("Run job")] == expected
