"""The entry point: garbage collection is paused only while the console starts."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from widgets.launch import main, quick_launch


@pytest.mark.parametrize(
    ("settings", "command", "code", "stream", "shown"),
    [
        ('log_dir = "/mail/log"\n', "config", 0, "out", "log_dir"),  # runs and collects as usual
        ("no_such_key = 1\n", "status", 2, "err", "no_such_key"),  # a bad setting is one line
    ],
)
def test_a_command_that_does_not_open_the_console_collects_garbage(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    settings: str,
    command: str,
    code: int,
    stream: str,
    shown: str,
) -> None:
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


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ({}, None)),
        (
            ["--read-only", "--config", "c.toml"],
            ({"read_only": True, "config_path": "c.toml"}, None),
        ),
        (
            ["--readonly", "--operator=ann", "--supervisor-url", "unix:///s"],
            ({"read_only": True, "operator": "ann", "supervisor_url": "unix:///s"}, None),
        ),
        (
            ["--config=c.toml", "tail", "a.log", "b.log"],
            ({"config_path": "c.toml"}, [Path("a.log"), Path("b.log")]),
        ),
    ],
)
def test_quick_launch_reads_a_command_line_that_only_opens_the_console(
    argv: list[str], expected: object
) -> None:
    assert quick_launch(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["-h"],
        ["--version"],
        ["status"],
        ["tail"],
        ["tail", "--help"],
        ["tail", "a.log", "-x"],
        ["--config"],
        ["--read-only=yes"],
        ["--no-such-flag"],
        ["lab", "up"],
        ["fdm", "test"],
    ],
)
def test_anything_else_goes_to_click(argv: list[str]) -> None:
    assert quick_launch(argv) is None


def test_the_quick_path_reports_a_bad_setting_as_click_would(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--config", "/nonexistent/mailconsole.toml", "tail", "/nonexistent.log"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "mailconsole: /nonexistent/mailconsole.toml: no such settings file (given by --config)\n"
    )
    assert gc.isenabled()


def test_tail_of_a_missing_file_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tail", str(tmp_path / "missing.log")])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("mailconsole: cannot open ") and err.count("\n") == 1


def every_command_path() -> list[list[str]]:
    """Every command and subcommand of the command line, as argv prefixes."""
    import click

    from console.cli import main_group

    ctx = click.Context(main_group)
    found: list[list[str]] = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            found.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(main_group, [])
    return found


@pytest.mark.parametrize("command", every_command_path(), ids=" ".join)
def test_help_of_every_subcommand_works_with_a_broken_settings_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    conf = tmp_path / "mailconsole.toml"
    conf.write_text("no_such_key = 1\n")
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(conf), *command, "--help"])
    out = capsys.readouterr()
    assert (exited.value.code, out.err) == (0, "")
    assert out.out.startswith(f"Usage: mailconsole {' '.join(command)} ")


@pytest.mark.parametrize(
    "command",
    [
        ["config"],
        ["status"],
        ["queue", "show", "ffb57d30"],
        ["fdm", "lint"],
        ["tail", "/nonexistent.log"],
    ],
)
def test_a_command_that_uses_a_broken_settings_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    conf = tmp_path / "mailconsole.toml"
    conf.write_text("no_such_key = 1\n")
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(conf), *command])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert (
        err.startswith(f"mailconsole: {conf}: unknown key 'no_such_key'") and err.count("\n") == 1
    )
