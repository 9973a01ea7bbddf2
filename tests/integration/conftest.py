"""The real lab for integration tests: brought up once per session in a temp dir on a free block
of ports, always brought down at the end. Skipped without root or packages, but never under CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.errors import UserError
from console.lab.render import PORT_BLOCK, LabConfig
from console.lab.run import check_requirements, down, free_port_bases, up

PORT_RANGE = range(20000, 21000)
"""The ports the lab tests may use (other sessions on this machine use other ranges)."""


@dataclass(frozen=True)
class RunningLab:
    """A lab brought up for the tests: where it is and how to reach it."""

    dir: Path
    ports: dict[str, int]
    users: dict[str, str]
    """user name -> password"""
    settings_path: Path
    """DIR/mailconsole.toml: load it with console.settings.load_settings(config=...)."""
    supervisor_config: Path
    smtpctl: list[str]
    info: dict[str, object]


def require_lab(filters: bool) -> None:
    """Skip when this machine cannot run the lab; under CI that is a failure instead."""
    try:
        check_requirements(filters)
    except UserError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the lab tests: {exc}")
        pytest.skip(str(exc))


def start_lab(filters: bool) -> RunningLab:
    """Bring a lab up in a new temp dir on the first free port block (another session may take a
    block between the check and the start: then the next one is tried)."""
    lab_dir = Path(tempfile.mkdtemp(prefix="mailconsole-lab-", dir="/tmp"))
    for base in free_port_bases(PORT_RANGE):
        try:
            info = up(LabConfig(lab_dir, base, filters))
        except UserError as exc:
            if "in use" in str(exc):
                continue
            shutil.rmtree(lab_dir, ignore_errors=True)
            raise
        return RunningLab(
            dir=Path(info.dir),
            ports=info.ports,
            users={user: str(facts["password"]) for user, facts in info.users.items()},
            settings_path=Path(info.paths["settings"]),
            supervisor_config=Path(info.paths["supervisor_config"]),
            smtpctl=[info.paths["smtpctl"]],
            info=info.__dict__,
        )
    shutil.rmtree(lab_dir, ignore_errors=True)
    raise UserError(f"no free block of {PORT_BLOCK} ports in {PORT_RANGE}")


def stop_lab(running: RunningLab) -> None:
    """Bring the lab down and remove its directory."""
    try:
        down(running.dir)
    finally:
        shutil.rmtree(running.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def lab() -> Iterator[RunningLab]:
    """The real lab without filters: opensmtpd, dovecot, fdm as the mda."""
    require_lab(filters=False)
    running = start_lab(filters=False)
    try:
        yield running
    finally:
        stop_lab(running)


@pytest.fixture
def fresh_lab() -> Iterator[Callable[[bool], RunningLab]]:
    """Start labs of one's own (for tests that stop them, or need the filters); all are brought
    down at the end of the test, whatever happened."""
    started: list[RunningLab] = []

    def start(filters: bool = False) -> RunningLab:
        require_lab(filters)
        started.append(start_lab(filters))
        return started[-1]

    try:
        yield start
    finally:
        for running in started:
            stop_lab(running)


def forward_team(running: RunningLab) -> None:
    """Make team@example.com an accepted address whose vusers key is listed twice (the second time
    in other case), forwarding to first@ then second@unreachable.test, and have smtpd reload both
    tables: the last line is the one smtpd uses."""
    with (running.dir / "db" / "vusers").open("a") as vusers:
        vusers.write("team@example.com first@unreachable.test\n")
        vusers.write("Team@Example.com second@unreachable.test\n")
    with (running.dir / "db" / "addrs").open("a") as addrs:
        addrs.write("team@example.com\n")
    for table in ("vusers", "addrs"):
        subprocess.run(
            [*running.smtpctl, "update", "table", table], check=True, capture_output=True
        )
