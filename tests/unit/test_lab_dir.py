"""Which lab the `lab` commands act on without --dir: the lab_dir setting, which a lab's own settings
file names, so `--config DIR/mailconsole.toml` is enough; a given --dir wins. No lab runs here:
the commands are run against directories where none is running, and say so in one line."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from console.lab.render import Account, LabConfig, render_lab
from tests.helpers import MAILCONSOLE, command_env


def mailconsole(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAILCONSOLE, *args],
        env=command_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_file(tmp_path: Path, lab_dir: Path) -> Path:
    """A settings file naming a lab directory (auditing beside it)."""
    path = tmp_path / "settings.toml"
    path.write_text(
        f"lab_dir = {json.dumps(str(lab_dir))}\n"
        f"audit_log = {json.dumps(str(tmp_path / 'audit.log'))}\n"
    )
    return path


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("--config", "named"),
        ("MAILCONSOLE_CONFIG", "named"),
        ("MAILCONSOLE_LAB_DIR", "named"),
        ("--config and --dir", "given"),
    ],
)
def test_lab_status_acts_on_the_lab_dir_setting_unless_dir_is_given(
    tmp_path: Path, how: str, expected: str
) -> None:
    named, given = tmp_path / "named-lab", tmp_path / "given-lab"
    config = settings_file(tmp_path, named)
    args: list[str] = ["lab", "status"]
    env: dict[str, str] = {}
    if how == "--config":
        args = ["--config", str(config), *args]
    elif how == "MAILCONSOLE_CONFIG":
        env["MAILCONSOLE_CONFIG"] = str(config)
    elif how == "MAILCONSOLE_LAB_DIR":
        env["MAILCONSOLE_LAB_DIR"] = str(named)
    else:
        args = ["--config", str(config), *args, "--dir", str(given)]
    done = mailconsole(*args, **env)
    lab_dir = named if expected == "named" else given
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"mailconsole: no lab is running in {lab_dir}\n",
    )


def test_lab_down_without_dir_is_dispatched_on_the_lab_dir_setting(tmp_path: Path) -> None:
    """Refused read-only, as any action, with the setting's directory as its target."""
    lab_dir = tmp_path / "named-lab"
    config = settings_file(tmp_path, lab_dir)
    done = mailconsole("--read-only", "--config", str(config), "lab", "down")
    assert (done.returncode, done.stderr) == (
        3,
        f"mailconsole: refused: mailconsole is read-only (lab.down {lab_dir})\n",
    )
    [record] = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert (record["action"], record["target"]) == ("lab.down", str(lab_dir))


def test_lab_send_sends_nothing_to_a_lab_that_is_not_running(tmp_path: Path) -> None:
    """A lab that is down: its smtp port may belong to someone else by now (here a socket that
    would see the connection), so `lab send` connects to nothing and says why, in one line."""
    cfg = LabConfig(tmp_path / "lab", 20500)
    render_lab(cfg, Account("vmail", 2000, 2000))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        (cfg.dir / "lab.json").write_text(
            json.dumps({"dir": str(cfg.dir), "ports": {"smtp": port}})
        )
        done = mailconsole("--config", str(cfg.path("mailconsole.toml")), "lab", "send")
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"mailconsole: no lab is running in {cfg.dir}: nothing sent "
        f"(`mailconsole lab up --dir {cfg.dir}` brings it up)\n"
    )
    audit = cfg.path("log", "mailconsole-audit.log").read_text().splitlines()
    assert [(r["action"], r["target"], r["outcome"]) for r in map(json.loads, audit)] == [
        ("lab.send", str(cfg.dir), "started"),
        ("lab.send", str(cfg.dir), "failed"),
    ]
