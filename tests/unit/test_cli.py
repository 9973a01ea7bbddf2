"""The entry point: garbage collection is paused only while the console starts."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from console.cli import main


@pytest.mark.parametrize(("settings", "command", "code", "stream", "shown"), [
    ('log_dir = "/mail/log"\n', "config", 0, "out", "log_dir"),  # runs and collects as usual
    ("no_such_key = 1\n", "status", 2, "err", "no_such_key"),  # a bad setting is one line
])
def test_a_command_that_does_not_open_the_console_collects_garbage(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: str, command: str, code: int,
        stream: str, shown: str) -> None:
    conf = tmp_path / "mailconsole.toml"
    conf.write_text(settings)
    try:
        with pytest.raises(SystemExit) as exited:
            main(["--config", str(conf), command])
        assert exited.value.code == code
        assert gc.isenabled()
        assert shown in getattr(capsys.readouterr(), stream)
    finally:
        gc.enable()


def test_a_usage_error_leaves_collection_on(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--no-such-flag"])
    assert exited.value.code == 2
    assert gc.isenabled()
