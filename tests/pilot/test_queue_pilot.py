"""The Queue screen in a virtual terminal, on replayed real smtpctl output (tests/captures/smtpctl)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from console.queue.parse import Envelope, parse_queue
from console.queue.summary import MessageRow
from console.settings import Settings
from tests.helpers import drawn, top_screen, until
from tests.recorded import RecordedSupervisor, supervisor_answered
from widgets.app import ConsoleApp
from widgets.common.dialogs import ConfirmDialog
from widgets.queue import QueueScreen, QueueTable, row_text

ROOT = Path(__file__).resolve().parents[2]
REPLAY = str(ROOT / "tests" / "unit" / "smtpctl_replay.py")
CAPTURES = ROOT / "tests" / "captures" / "smtpctl"
NOW = 1795542851 + 15 * 60  # 15 minutes after the captured mail was sent

RUNNING = {
    "show queue": "show-queue-pipes",
    "show status": "show-status-running",
    "show envelope 04f155e8b486f107": "show-envelope-pipe-error",
    "show message 04f155e8": "show-message-offline",
    "remove ffb57d30": "remove-msgid",
}


def queue_settings(tmp_path: Path, mapping: dict[str, str], read_only: bool = False) -> Settings:
    logs = tmp_path / "log"
    logs.mkdir(exist_ok=True)
    shutil.copy(CAPTURES / "smtpd.log", logs / "smtpd.log")
    return Settings(
        smtpctl=[sys.executable, REPLAY, json.dumps(mapping)],
        log_dir=logs,
        audit_log=tmp_path / "audit.log",
        read_only=read_only,
        refresh_interval=3600,
    )


def queue_app(settings: Settings) -> ConsoleApp:
    return ConsoleApp(
        settings,
        supervisor=RecordedSupervisor(),
        hostname="mail.example.com",
        queue={"clock": lambda: NOW, "refresh_s": 3600},
    )


def table(app: ConsoleApp) -> QueueTable:
    return app.query_one(QueueTable)


def screen_lines(app: ConsoleApp) -> list[str]:
    t = table(app)
    return [t.render_line(y).text for y in range(t.size.height)]


async def loaded(pilot: Any, app: ConsoleApp) -> None:
    """Once the console is up, switch to the Queue screen as a user does; wait for its first rows."""
    await until(pilot, lambda: app.focused is not None and app.focused.id == "programs")
    await pilot.pause()  # the focus's own messages, which also select the Services screen
    app.show_screen("queue")
    await until(pilot, lambda: app.query(QueueTable) and table(app).rows)
    await until(pilot, lambda: app.focused is table(app))


async def goto(pilot: Any, app: ConsoleApp, key: str) -> None:
    t = table(app)
    t.cursor = next(i for i, r in enumerate(t.rows) if QueueTable._key(r) == key)
    await pilot.pause()


async def test_rows_grouped_by_message_with_untrusted_text_escaped(tmp_path: Path) -> None:
    app = queue_app(queue_settings(tmp_path, RUNNING))
    async with app.run_test(size=(200, 40)) as pilot:
        await loaded(pilot, app)
        rows = table(app).rows
        assert sum(isinstance(r, MessageRow) for r in rows) == 10
        assert sum(isinstance(r, Envelope) for r in rows) == 11
        heading = next(i for i, r in enumerate(rows) if getattr(r, "msgid", "") == "ffb57d30")
        assert rows[heading] == MessageRow("ffb57d30", 2)
        assert sorted(
            r.rcpt for r in rows[heading + 1 : heading + 3] if isinstance(r, Envelope)
        ) == ["carol@unreachable.test", "dave@unreachable.test"]
        text = await drawn(
            pilot, table(app), "x|y@unreachable.test"
        )  # shown just now: laid out next
        assert "o|brien@lab.test" in text and "x|y@unreachable.test" in text
        assert "\x1b" not in text and "\\x1b[31mred" in text
        summary = str(app.query_one("#queue-summary").render())
        assert (
            "mda mta smtp running" in summary and "11 envelopes, 10 messages: 11 pending" in summary
        )
        await pilot.press("end")
        assert table(app).cursor == len(rows) - 1
        await pilot.press("up", "home")
        assert table(app).cursor == 0


async def test_filter_and_sort(tmp_path: Path) -> None:
    app = queue_app(queue_settings(tmp_path, RUNNING))
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"domain:tempfail")
        await until(pilot, lambda: len(table(app).rows) == 4)
        assert {r.rcpt for r in table(app).rows if isinstance(r, Envelope)} == {
            "tim@tempfail.test",
            "eve@tempfail.test",
        }
        await pilot.press("escape")
        await until(pilot, lambda: len(table(app).rows) == 21)
        await pilot.press("g", "s")  # flat, sorted by sender: the null sender `@` first
        await until(
            pilot,
            lambda: (
                app.query_one(QueueScreen).sort == "sender"
                and isinstance(table(app).rows[0], Envelope)
            ),
        )
        senders = [r.sender for r in table(app).rows if isinstance(r, Envelope)]
        assert senders == sorted(senders) and senders[0] == "@"


async def test_details_tell_the_story_of_the_message(tmp_path: Path) -> None:
    app = queue_app(queue_settings(tmp_path, RUNNING))
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot, app)
        await goto(pilot, app, "04f155e8b486f107")
        await pilot.press("enter")
        details = app.query_one("#queue-details-text")
        await until(pilot, lambda: "Log lines" in str(details.render()))
        shown = str(details.render())
        assert 'errorline: "quota|exceeded' in shown and "\\x1b[31mred" in shown
        assert re.search(r"\nctime: \d+ \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\)\n", shown)
        assert "Subject: pipe error" in shown and "hello" not in shown  # headers only
        assert "smtp envelope evpid=04f155e8b486f107" in shown
        assert shown.index("smtp message msgid=04f155e8") < shown.index("result=TempFail")


async def test_remove_confirms_with_the_count_and_dispatches(tmp_path: Path) -> None:
    settings = queue_settings(tmp_path, RUNNING)
    app = queue_app(settings)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, app)
        await goto(pilot, app, "ffb57d30")  # the message row: both envelopes
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert top_screen(app, ConfirmDialog).question == "Remove for good 2 envelopes (ffb57d30)?"
        await pilot.press("y")
        # The dispatcher writes a started line before it acts and the outcome after: wait for both.
        await until(
            pilot,
            lambda: settings.audit_log.exists() and settings.audit_log.read_text().count("\n") == 2,
        )
        records = [json.loads(line) for line in settings.audit_log.read_text().splitlines()]
        assert [(r["action"], r["target"], r["outcome"]) for r in records] == [
            ("queue.remove", "ffb57d30", "started"),
            ("queue.remove", "ffb57d30", "ok"),
        ]


async def test_read_only_keys_say_no_and_are_audited(tmp_path: Path) -> None:
    """The mutating keys are not offered; pressed anyway, each says so in one line and its refused
    attempt is in the audit log (through the dispatcher), and nothing is asked or done."""
    settings = queue_settings(tmp_path, RUNNING, read_only=True)
    app = queue_app(settings)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, app)
        await goto(pilot, app, "ffb57d30")
        keys = {b.binding.action for b in app.active_bindings.values()}
        assert "remove" not in keys and "details" in keys
        await pilot.press("d", "r", "2", "R")
        await until(
            pilot,
            lambda: settings.audit_log.exists() and settings.audit_log.read_text().count("\n") == 4,
        )
        assert not isinstance(app.screen, ConfirmDialog)
        said = [n.message for n in app._notifications]
        assert said == [
            "read-only: remove is not available",
            "read-only: retry now is not available",
            "read-only: mta on/off is not available",
            "read-only: retry all is not available",
        ]
        records = [json.loads(line) for line in settings.audit_log.read_text().splitlines()]
        assert sorted((r["action"], r["target"], r["outcome"], r["refused"]) for r in records) == [
            ("queue.pause_subsystem", "mta", "refused", True),
            ("queue.remove", "ffb57d30", "refused", True),
            ("queue.schedule", "all", "refused", True),
            ("queue.schedule", "ffb57d30", "refused", True),
        ]


async def test_new_and_vanished_envelopes_are_marked(tmp_path: Path) -> None:
    settings = queue_settings(tmp_path, {**RUNNING, "show queue": "show-queue-running"})
    app = queue_app(settings)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, app)
        view = app.query_one(QueueScreen)
        assert {view.mark(r) for r in table(app).rows} == {""}
        settings.smtpctl[2] = json.dumps({**RUNNING, "show queue": "show-queue-before-stop"})
        view.refresh_soon()
        await until(pilot, lambda: len(table(app).rows) > 10 and view.loads == 2)
        marks = {r.evpid: view.mark(r) for r in table(app).rows if isinstance(r, Envelope)}
        assert marks["04f155e8b486f107"] == "+"  # arrived
        assert marks["ffb57d307450b25c"] == "-"  # removed meanwhile, still listed, struck out
        assert marks["99c1e639b21b3591"] == ""  # in both


async def test_smtpd_down_shows_the_offline_queue_and_says_so(tmp_path: Path) -> None:
    app = queue_app(queue_settings(tmp_path, {"show queue": "show-queue-offline"}))
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, app)
        banner = app.query_one("#queue-banner")
        assert banner.display and "smtpd is not running" in str(banner.render())
        assert "smtpd down" in str(app.query_one("#queue-summary").render())
        assert sum(isinstance(r, Envelope) for r in table(app).rows) == 9


async def test_unreadable_queue_is_one_sentence_not_a_crash(tmp_path: Path) -> None:
    app = queue_app(queue_settings(tmp_path, {"show queue": "not-root"}))
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.focused is not None and app.focused.id == "programs")
        await pilot.pause()
        app.show_screen("queue")
        await until(pilot, lambda: app.query("#queue-banner"))
        banner = app.query_one("#queue-banner")
        await until(pilot, lambda: banner.display)
        assert str(banner.render()).startswith("smtpctl needs root")


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_queue_snapshot(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def settle(pilot: Any) -> None:
        await loaded(pilot, pilot.app)
        await supervisor_answered(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(
        queue_app(queue_settings(tmp_path, RUNNING)), terminal_size=size, run_before=settle
    )


def test_a_cut_cell_ends_in_an_ellipsis_and_wide_characters_keep_the_columns() -> None:
    """At 80 columns a long error is cut with "…" (it passed for the whole error), and a recipient
    in wide characters takes as many cells as an ASCII one, so the columns after it stay put."""
    capture = Path(__file__).parents[1] / "captures" / "smtpctl" / "show-queue-running.out"
    envelopes, _ = parse_queue(capture.read_text())
    plain = dataclasses.replace(envelopes[0], error="Network error on destination MXs " * 3)
    wide = dataclasses.replace(plain, rcpt="郵便郵便郵便郵便郵便郵便郵便郵便@例え.jp")
    rows = [row_text(e, plain.ctime + 60, "", 80) for e in (plain, wide)]
    assert all(row.plain.endswith("…") and row.cell_len == 80 for row in rows), rows
    states = [row.plain.index(" inflight ") for row in rows]
    assert cell_len(rows[1].plain[: states[1]]) == cell_len(rows[0].plain[: states[0]]), rows


async def test_an_empty_table_says_why(tmp_path: Path) -> None:
    """No rows is never a blank table: a filter that matches nothing says so, and so does an empty
    queue (both showed the column titles over nothing)."""
    app = queue_app(queue_settings(tmp_path, RUNNING))
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"zzz", "enter")
        await until(pilot, lambda: not table(app).rows)
        await until(pilot, lambda: "no envelope matches the filter" in screen_lines(app)[0])
        await pilot.press("escape")
        await until(pilot, lambda: len(table(app).rows) == 21)
        assert not any("matches" in line for line in screen_lines(app))
    empty = queue_app(queue_settings(tmp_path, {**RUNNING, "show queue": "show-queue-empty"}))
    async with empty.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: pilot.app.focused is not None)
        await pilot.pause()
        empty.show_screen("queue")
        await until(
            pilot, lambda: empty.query(QueueTable) and "queue is empty" in screen_lines(empty)[0]
        )
        summary = str(empty.query_one("#queue-summary").render())
        assert "age: -" in summary and "domains: -" in summary, summary
