"""What every test gets: a pinned time zone, no settings from the host, skips that fail under CI;
and the shared fixtures: a real supervisord (the pip-installed one) with small real programs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from console import settings as settings_module
from console.settings import Settings
from console.supervisor.client import SupervisorClient, SupervisorUnavailable
from tests.helpers import wait_for

# Property tests judge correctness, never speed: no per-example deadline on a loaded 2-core machine.
hypothesis_settings.register_profile("mailconsole", deadline=None)
hypothesis_settings.load_profile("mailconsole")

# Times are shown in local time (the Logs snapshots among others): the same zone on every machine.
# Set before any test runs, so the console's subprocesses inherit it too.
os.environ["TZ"] = "UTC0"
time.tzset()

# The host's own settings file (/mail/config/mailconsole.toml, /etc/mailconsole/config.toml) is never
# read: in-process, the search path is empty; a `mailconsole` subprocess gets MAILCONSOLE_CONFIG naming
# the tests' own file (tests.helpers.command_env keeps it when it drops the other MAILCONSOLE_*
# variables). It keeps every default but the audit log, which stays out of the host's /mail/log.
settings_module.CONFIG_SEARCH_PATH = ()
_NO_SETTINGS = Path(tempfile.mkdtemp(prefix="mc-tests-")) / "mailconsole.toml"
_NO_SETTINGS.write_text(f'audit_log = "{_NO_SETTINGS.parent}/audit.log"\n')
os.environ["MAILCONSOLE_CONFIG"] = str(_NO_SETTINGS)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_NO_SETTINGS.parent, ignore_errors=True)


def _fail_skip_under_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Under CI (`CI` set) every test must run: a skip, whatever its cause, is turned into a failure."""
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where every test must run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    _fail_skip_under_ci(outcome.get_result())  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    _fail_skip_under_ci(outcome.get_result())  # type: ignore[attr-defined]


SUPERVISORD_CONF = """\
[unix_http_server]
file={dir}/supervisor.sock

[supervisord]
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{dir}/supervisor.sock

[program:ticker]
command=/bin/sh -c 'trap "echo got HUP" HUP; while true; do echo "tick [red]x[/red]"; sleep 0.2; done'
stdout_logfile={dir}/ticker.log
redirect_stderr=true
stopwaitsecs=2

[program:sleeper]
command=sleep 100000
stdout_logfile={dir}/sleeper.log
stopwaitsecs=2

[program:broken]
command=/bin/false
autorestart=false
startretries=0
stdout_logfile={dir}/broken.log
"""


@dataclass
class Supervisord:
    """A running supervisord in a temp dir, which a test may kill and start again."""

    dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.dir}/supervisor.sock"

    @property
    def conf(self) -> Path:
        return self.dir / "supervisord.conf"

    def settings(self, **overrides: object) -> Settings:
        return Settings(
            supervisor_url=self.url,
            audit_log=self.dir / "audit.log",
            operator="tester",
            log_dir=self.dir,
            **overrides,  # type: ignore[arg-type]
        )  # type: ignore[arg-type]

    def client(self) -> SupervisorClient:
        return SupervisorClient(self.url)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = self.client()

        def settled() -> bool:
            programs = client.snapshot().programs
            return all(p.state not in ("STARTING", "BACKOFF") for p in programs)

        wait_for(settled, what="supervisord to start its programs")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def is_down(self) -> bool:
        try:
            self.client().snapshot()
        except SupervisorUnavailable:
            return True
        return False


@contextmanager
def running_supervisord(tmp_path: Path, extra_programs: str = "") -> Iterator[Supervisord]:
    """A real supervisord with the programs of SUPERVISORD_CONF and `extra_programs` (config text,
    `{dir}` standing for its directory), killed at the end."""
    short = Path(f"/tmp/mc-sv-{os.getpid()}-{tmp_path.name[-12:]}")  # unix socket paths are short
    short.mkdir(parents=True, exist_ok=True)
    (short / "supervisord.conf").write_text((SUPERVISORD_CONF + extra_programs).format(dir=short))
    sv = Supervisord(short)
    try:
        sv.start()
        yield sv
    finally:
        sv.kill()
        subprocess.run(["rm", "-rf", str(short)], check=False)


@pytest.fixture
def supervisord(tmp_path: Path) -> Iterator[Supervisord]:
    """A real supervisord with three small programs (ticker, sleeper, broken)."""
    with running_supervisord(tmp_path) as sv:
        yield sv
