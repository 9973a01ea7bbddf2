"""An action declared in the registry (console/actions.py) and nowhere else has its command and its
palette entry, both through the one dispatcher (read-only refusal, audit); taken out, both are gone."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import pytest

from console import actions
from console.actions import Action, ActionContext, Arg, Cli
from console.settings import Settings
from tests.helpers import run_mailconsole, until
from tests.recorded import URL, RecordedSupervisor, supervisor_answered
from widgets.app import ActionCommands, ConsoleApp


def poke(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """The new action's handler: it only says what it was given."""
    return f"{target} poked{' hard' if params.get('hard') == 'yes' else ''}."


def poke_action(command: str) -> Action:
    """A new action, declared once: name, description, handler, target kind, command, palette."""
    return Action(
        "program.poke",
        "Poke a supervisord program",
        False,
        poke,
        target="program",
        cli=Cli(
            command,
            "Poke program NAME.",
            Arg("name"),
            (
                Arg("--hard", param="hard", help="Poke it hard.", flag=("yes", "")),
                Arg("--json", "as_json", help="Print JSON.", flag=("", "")),
            ),
        ),
        palette="Poke {target}",
        screen="services",
    )


def declare(monkeypatch: pytest.MonkeyPatch, action: Action | None) -> None:
    """The registry with `action` added (None: as it is, without it)."""
    registry = {n: a for n, a in actions.ACTIONS.items() if n != "program.poke"}
    if action is not None:
        registry[action.name] = action
    monkeypatch.setattr(actions, "ACTIONS", registry)


def run_cli(tmp_path: Path, *args: str) -> int:
    """`mailconsole --config ... ARGS` in this process; its exit code."""
    conf = tmp_path / "mailconsole.toml"
    conf.write_text(f'audit_log = "{tmp_path / "audit.log"}"\noperator = "dana"\n')
    return run_mailconsole(conf, *args)


def listed(*path: str) -> list[str]:
    """The command names the command line offers under `path` (the root group when empty)."""
    from console.cli import main_group

    ctx = click.Context(main_group)
    group: Any = main_group
    for name in path:
        group = group.get_command(ctx, name)
    return list(group.list_commands(ctx))


@pytest.mark.parametrize("command", ["poke", "queue poke", "newgroup poke"])
def test_a_declared_action_is_a_command_until_it_is_taken_out(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    *group, name = command.split()
    declare(monkeypatch, poke_action(command))
    assert name in listed(*group)
    assert run_cli(tmp_path, *command.split(), "--help") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: mailconsole {command} [OPTIONS] NAME")
    assert "Poke program NAME." in out and "--hard" in out and "Poke it hard." in out

    assert run_cli(tmp_path, *command.split(), "dovecot", "--hard") == 0
    assert capsys.readouterr().out == "dovecot poked hard.\n"
    assert run_cli(tmp_path, *command.split(), "--json", "smtpd") == 0
    assert json.loads(capsys.readouterr().out) == {
        "action": "program.poke",
        "target": "smtpd",
        "message": "smtpd poked.",
    }
    assert run_cli(tmp_path, "--read-only", *command.split(), "dovecot") == 3
    assert "read-only" in capsys.readouterr().err
    records = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert [(r["action"], r["target"], r["outcome"], r["params"]) for r in records] == [
        ("program.poke", "dovecot", "started", {"hard": "yes"}),
        ("program.poke", "dovecot", "ok", {"hard": "yes"}),
        ("program.poke", "smtpd", "started", {}),
        ("program.poke", "smtpd", "ok", {}),
        ("program.poke", "dovecot", "refused", {}),
    ]

    declare(monkeypatch, None)
    assert name not in (listed(*group) if group == ["queue"] else listed())
    assert run_cli(tmp_path, *command.split(), "dovecot") == 2
    assert "No such command" in capsys.readouterr().err


async def test_a_declared_action_is_in_the_palette_until_it_is_taken_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(supervisor_url=URL, refresh_interval=3600, audit_log=tmp_path / "a.log")
    program = RecordedSupervisor().snapshot().programs[0].fullname
    declare(monkeypatch, poke_action("poke"))
    app = ConsoleApp(settings, supervisor=RecordedSupervisor(), hostname="mail.example.com")
    async with app.run_test(size=(80, 24)) as pilot:
        await supervisor_answered(pilot)

        def entries() -> dict[str, Any]:
            return {title: call for title, _, call in ActionCommands(app.screen)._commands()}

        assert f"Poke {program}" in entries()
        entries()[f"Poke {program}"]()  # picked in the palette: through the dispatcher
        await until(pilot, lambda: f"{program} poked." in [n.message for n in app._notifications])
        records = [json.loads(line) for line in settings.audit_log.read_text().splitlines()]
        assert [(r["action"], r["target"], r["outcome"]) for r in records] == [
            ("program.poke", program, "started"),
            ("program.poke", program, "ok"),
        ]
        declare(monkeypatch, None)
        assert not [title for title in entries() if title.startswith("Poke")]
        declare(monkeypatch, poke_action("poke"))
        app.settings = dataclasses.replace(settings, read_only=True)
        assert not [title for title in entries() if title.startswith("Poke")]


def test_every_declared_command_and_palette_entry_has_a_home() -> None:
    """Each command path is on the command line; each palette entry names a screen of the console;
    `queue pause|resume AGENT` reaches the agent actions for exactly smtpd's agents; the constants
    written into the declarations are the ones the code uses."""
    from console.queue.parse import SUBSYSTEMS
    from tests.unit.test_cli import every_command_path
    from widgets.app import SCREENS

    paths = every_command_path()
    for action in actions.ACTIONS.values():
        if action.cli is not None:
            assert action.cli.command.split() in paths, action.name
        if action.palette:
            assert action.screen in [spec.id for spec in SCREENS], action.name
    from console.lab.render import PORT_BLOCK

    lab_up = actions.ACTIONS["lab.up"].cli
    assert lab_up is not None  # its --port-base help names the lab's block of ports
    assert [a for a in lab_up.args if f"First of the {PORT_BLOCK} 127.0.0.1 ports" in a.help]
    for verb in ("pause", "resume"):
        cli = actions.ACTIONS[f"queue.{verb}"].cli
        assert cli is not None
        assert dict(cli.instead) == {agent: f"queue.{verb}_subsystem" for agent in SUBSYSTEMS}
