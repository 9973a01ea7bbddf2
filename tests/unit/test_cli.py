"""The entry point: garbage collection is paused only while the console starts."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from console.cli import main


def test_a_command_that_does_not_open_the_console_collects_garbage(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "mailconsole.toml"
    conf.write_text(f'log_dir = "{tmp_path}"\n')
    try:
        with pytest.raises(SystemExit) as exited:
            main(["--config", str(conf), "config"])
        assert exited.value.code == 0
        assert gc.isenabled()
        assert "log_dir" in capsys.readouterr().out
    finally:
        gc.enable()


def test_a_bad_setting_still_leaves_collection_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "mailconsole.toml"
    conf.write_text("no_such_key = 1\n")
    try:
        with pytest.raises(SystemExit) as exited:
            main(["--config", str(conf), "status"])
        assert exited.value.code == 2
        assert gc.isenabled()
        assert "no_such_key" in capsys.readouterr().err
    finally:
        gc.enable()


def test_a_usage_error_leaves_collection_on(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--no-such-flag"])
    assert exited.value.code == 2
    assert gc.isenabled()
