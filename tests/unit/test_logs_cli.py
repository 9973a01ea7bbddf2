"""`mailconsole tail` refuses unreadable paths with one line on stderr, before any screen opens."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers import MAILCONSOLE

ROOT = Path(__file__).resolve().parents[2]


def tail(tmp_path: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "mailconsole.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCONSOLE_")}
    env["MAILCONSOLE_CONFIG"] = str(config)
    return subprocess.run(
        [*MAILCONSOLE, "tail", *paths],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_missing_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "ok.log").write_text("x\n")
    done = tail(tmp_path, str(tmp_path / "ok.log"), str(tmp_path / "missing.log"))
    assert done.returncode == 1
    assert (
        done.stderr
        == f"mailconsole: cannot open {tmp_path / 'missing.log'}: No such file or directory.\n"
    )


def test_a_directory_is_refused(tmp_path: Path) -> None:
    done = tail(tmp_path, str(tmp_path))
    assert (done.returncode, done.stderr) == (
        1,
        f"mailconsole: cannot open {tmp_path}: it is a directory.\n",
    )


def test_a_named_pipe_or_a_device_is_refused_not_waited_on(tmp_path: Path) -> None:
    """Opening a named pipe blocks until something writes to it: the console hung, blank, deaf to q."""
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        done = tail(tmp_path, path)
        assert (done.returncode, done.stderr) == (
            1,
            f"mailconsole: cannot follow {path}: it is not a regular file "
            "(a pipe, a device or a socket).\n",
        )


def test_paths_are_required(tmp_path: Path) -> None:
    done = tail(tmp_path)
    assert done.returncode == 2 and "Missing argument" in done.stderr
