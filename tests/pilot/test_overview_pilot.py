"""The Overview screen in a virtual terminal: a health report recorded on the lab
(tests/recordings/health-lab.json), a stamped smtpd log at a pinned clock, keys, fixes, read-only."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from console.health.flow import MailFlow
from console.health.run import HealthReport
from console.settings import Settings
from tests.helpers import until
from tests.recorded import RecordedSupervisor, supervisor_answered
from widgets.app import ConsoleApp
from widgets.common.dialogs import ConfirmDialog
from widgets.overview import FindingList, OverviewScreen, sparkline

ROOT = Path(__file__).resolve().parents[2]
REPORT = json.loads((ROOT / "tests" / "recordings" / "health-lab.json").read_text())
SMTPD_LINES = (ROOT / "tests" / "recordings" / "smtpd-flow.log").read_text().splitlines()
NOW = 1796300000.0  # pinned: the snapshot must not move with the clock


def stamped_log(directory: Path) -> Path:
    """smtpd's recorded lines behind rsyslog's RFC 3339 headers (the year is in the stamp, so the
    pinned hour stays the hour the lines are in), spread over the pinned hour."""
    directory.mkdir(exist_ok=True)
    lines = []
    for n, line in enumerate(SMTPD_LINES):
        when = time.strftime(
            "%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(NOW - (len(SMTPD_LINES) - n) * 80)
        )
        lines.append(f"{when} mail smtpd[4242]: {line}\n")
    (directory / "maillog").write_text("".join(lines))
    return directory


def overview_app(
    tmp_path: Path, read_only: bool = False, report: dict[str, Any] = REPORT
) -> ConsoleApp:
    logs = stamped_log(tmp_path / "log")
    settings = Settings(
        log_dir=logs,
        audit_log=tmp_path / "audit.log",
        read_only=read_only,
        refresh_interval=3600,
        health_interval=3600,
    )
    options = {
        "run": lambda s: HealthReport.from_json(report),
        "flow": lambda: MailFlow(logs, now=NOW),
        "clock": lambda: NOW,
        "flow_interval": 3600,
    }
    return ConsoleApp(
        settings,
        supervisor=RecordedSupervisor(),
        initial_screen="overview",
        hostname="mail.example.com",
        overview=options,
    )


def screen_of(app: ConsoleApp) -> OverviewScreen:
    return app.query_one(OverviewScreen)


def text_of(app: ConsoleApp, selector: str) -> str:
    return str(app.query_one(selector).render())


async def settled(pilot: Any) -> None:
    await supervisor_answered(pilot)  # the header says "connected" once Services has polled
    await until(
        pilot,
        lambda: (
            screen_of(pilot.app).report is not None
            and "Mail per minute" in text_of(pilot.app, "#flow")
        ),
    )
    await pilot.pause()


def test_sparkline_scales_to_the_busiest_minute() -> None:
    assert sparkline([0] * 60, 6) == "······"
    assert sparkline([0, 0, 1, 0, 0, 8], 6) == "··▁··█"
    assert sparkline([1] * 60, 3) == "███"
    assert len(sparkline(list(range(60)), 16)) == 16


async def test_findings_worst_first_with_status_flow_and_detail(tmp_path: Path) -> None:
    app = overview_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        findings = app.query_one(FindingList)
        states = [c.state.name for c in findings.checks]
        assert states == sorted(states, key=["CRITICAL", "WARNING", "UNKNOWN", "OK"].index)
        status = text_of(app, "#overview-status")
        assert "CRITICAL" in status and "6 critical · 2 warning · 7 ok" in status
        flow = text_of(app, "#flow")
        assert "accepted" in flow and "from maillog: the last hour" in flow
        assert flow.split("accepted")[1].split("\n")[0].rstrip().endswith(" 6")
        detail = text_of(app, "#finding-detail")
        assert "smtpd 127.0.0.1:26700" in detail and "OpenSSL 3" in detail
        for _ in range(6):  # past the six critical findings: the first warning
            await pilot.press("down")
        assert findings.selected is not None and findings.selected.fix is not None
        # The detail follows the list's Moved message, which bubbles up after the key.
        await until(pilot, lambda: "f or enter: HUP dovecot" in text_of(app, "#finding-detail"))


async def test_fix_asks_first_then_goes_through_the_dispatcher(tmp_path: Path) -> None:
    app = overview_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        findings = app.query_one(FindingList)
        await pilot.press("f")  # the first finding (smtpd's handshake) has no fix to run
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
        assert any("no fix" in n.message for n in app._notifications)
        target = next(i for i, c in enumerate(findings.checks) if c.fix is not None)
        findings.move_to(target)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")  # HUP is dangerous: asked first, and nothing ran on "no"
        await pilot.pause()
        assert not (tmp_path / "audit.log").exists() or (tmp_path / "audit.log").read_text() == ""


async def test_read_only_offers_no_fix_and_refuses_enter(tmp_path: Path) -> None:
    app = overview_app(tmp_path, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        assert "Fix" not in str(app.key_bar.render())
        findings = app.query_one(FindingList)
        findings.move_to(next(i for i, c in enumerate(findings.checks) if c.fix is not None))
        await pilot.pause()
        assert "HUP dovecot" not in text_of(app, "#finding-detail")
        await pilot.press("enter")
        await until(pilot, lambda: any("Read-only" in n.message for n in app._notifications))
        assert not isinstance(app.screen, ConfirmDialog)
        # The fix key pressed anyway: said in one line and audited as refused.
        await pilot.press("f")
        audit = app.settings.audit_log
        await until(pilot, lambda: audit.exists() and audit.read_text().count("\n") == 1)
        assert "read-only: fix is not available" in [n.message for n in app._notifications]
        [record] = [json.loads(line) for line in audit.read_text().splitlines()]
        selected = findings.selected
        assert selected is not None and selected.fix is not None
        fix = selected.fix
        assert (record["action"], record["outcome"]) == (fix.action, "refused")


async def test_check_now_runs_the_checks_again(tmp_path: Path) -> None:
    app = overview_app(tmp_path)
    runs: list[float] = []
    options = app.screen_options["overview"]
    first = options["run"]
    options["run"] = lambda s: (runs.append(time.monotonic()), first(s))[1]
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        assert len(runs) == 1
        await pilot.press("c")
        await until(pilot, lambda: len(runs) == 2)
        await until(pilot, lambda: "checked" in text_of(app, "#overview-status"))


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_overview_snapshot(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(overview_app(tmp_path), terminal_size=size, run_before=settled)


async def test_the_status_line_fits_80_columns_without_cutting_a_figure(tmp_path: Path) -> None:
    """With all four states counted, the status line is longer than 80 columns: when the check ran
    gets shorter (it lost its unit, "in 0.1", at the edge), then goes; at 120 it is whole."""
    report = json.loads(json.dumps(REPORT))
    report["checks"][0]["state"] = "UNKNOWN"
    app = overview_app(tmp_path, report=report)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        status = text_of(app, "#overview-status")
        assert "1 unknown" in status and status.rstrip().endswith("ok  checked 13:25:38"), status
        await pilot.resize_terminal(120, 30)
        await until(pilot, lambda: text_of(app, "#overview-status").rstrip().endswith(" s"))
        assert "checked 13:25:38 in 0.1 s" in text_of(app, "#overview-status")
