"""The Services screen and CLI end to end on the real lab: status, restart, HUP to dovecot, and an outage of supervisord."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from console.lab.render import LabConfig
from console.lab.run import down, up
from console.settings import load_settings
from console.supervisor.client import SupervisorClient
from tests.helpers import MAILCONSOLE, until, wait_for
from widgets.app import ConsoleApp
from widgets.services import ProgramTable

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]


def mc(lab: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCONSOLE_")}
    return subprocess.run(
        [*MAILCONSOLE, "--config", str(lab.settings_path), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def client(lab: Any) -> SupervisorClient:
    settings = load_settings(str(lab.settings_path), env={}).settings
    return SupervisorClient(settings.supervisor_url)


def test_status_json_agrees_with_supervisorctl(lab: Any) -> None:
    ours = json.loads(mc(lab, "status", "--json").stdout)
    ctl = subprocess.run(
        [
            sys.executable,
            "-m",
            "supervisor.supervisorctl",
            "-c",
            str(lab.supervisor_config),
            "status",
        ],
        capture_output=True,
        text=True,
    )
    theirs = {}
    for line in ctl.stdout.splitlines():
        name, state, *rest = line.split(None, 2)
        pid = re.search(r"pid (\d+)", rest[0]) if rest else None
        theirs[name] = (state, int(pid.group(1)) if pid else None)
    assert {p["name"]: (p["state"], p["pid"]) for p in ours["programs"]} == theirs
    assert {"opensmtpd", "dovecot"} <= set(theirs)
    assert ours["supervisor"]["state"] == "RUNNING"


def test_restart_changes_the_pid(lab: Any) -> None:
    before = client(lab).program("dovecot").pid
    result = mc(lab, "restart", "dovecot")
    assert result.returncode == 0, result.stderr
    after = client(lab).program("dovecot").pid
    assert after != before and client(lab).program("dovecot").state == "RUNNING"


def test_hup_reaches_dovecot(lab: Any) -> None:
    log = lab.dir / "log" / "dovecot.log"
    wait_for(lambda: client(lab).program("dovecot").state == "RUNNING", what="dovecot running")
    size = log.stat().st_size
    result = mc(lab, "signal", "dovecot", "HUP")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("SIGHUP sent to dovecot")
    wait_for(
        lambda: "SIGHUP received" in log.read_text(errors="replace")[size:],
        what="dovecot to log its reload",
    )


def test_read_only_changes_nothing_on_the_lab(lab: Any) -> None:
    before = client(lab).program("opensmtpd").pid
    result = mc(lab, "--read-only", "stop", "opensmtpd")
    assert result.returncode == 3
    assert client(lab).program("opensmtpd").pid == before
    audit = (lab.dir / "log" / "mailconsole-audit.log").read_text().splitlines()
    last = json.loads(audit[-1])
    assert (last["action"], last["target"], last["refused"]) == ("program.stop", "opensmtpd", True)


async def test_console_survives_supervisord_going_away(fresh_lab: Any) -> None:
    running = fresh_lab(False)
    settings = load_settings(str(running.settings_path), env={}).settings
    settings.refresh_interval = 0.2
    app = ConsoleApp(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one("#programs", ProgramTable)
        await until(pilot, lambda: len(table.names) >= 2)
        down(running.dir)
        banner = app.query_one("#services-banner", Static)
        await until(pilot, lambda: banner.display)
        assert len(table.names) >= 2 and table.has_class("stale")
        up(LabConfig(running.dir, running.ports["smtp"], False))
        # The poll thread went on while `up` held the event loop: its answers are shown in order, and
        # the first after the restart may still say STARTING.
        await until(
            pilot, lambda: not banner.display and table.cell("opensmtpd", "state") == "RUNNING"
        )
        assert not table.has_class("stale")
