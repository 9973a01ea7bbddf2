"""`mailconsole lab up|send|status|down`: bring the real miniature stack up for demos and tests. Up,
send and down are the dispatcher's actions (refused in read-only mode, audited), their commands
declared with them in console/actions.py; the bodies of up and send are here."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import click

from console.action_commands import ActionGroup, click_parameter, settings_in_context
from console.actions import LAB_DIR, Action, ActionContext, dispatch
from console.errors import fail
from console.lab import run
from console.lab.render import LabInfo
from console.settings import Settings, load_settings


def this_command() -> str:
    """How to run mailconsole again from here: `mailconsole` when that is on the PATH, else the
    path it was started by (`.venv/bin/mailconsole` in a clone)."""
    started = Path(sys.argv[0])
    found = shutil.which("mailconsole")
    if started.name != "mailconsole" or (found and Path(found).resolve() == started.resolve()):
        return "mailconsole"
    return str(started)


@click.group("lab", cls=ActionGroup)
def lab() -> None:
    """The lab: the article's mail stack, real programs on 127.0.0.1, in one directory."""


def up(
    settings: Settings, action: Action, target: str, params: dict[str, str], options: dict[str, Any]
) -> None:
    """The body of `lab up`: dispatch with its steps printed as they happen, then how to use the lab."""
    click.echo(
        dispatch(
            settings,
            action.name,
            target,
            params,
            context=ActionContext(settings, progress=click.echo),
        )
    )
    info = LabInfo(**run.read_info(Path(target).resolve()))  # type: ignore[arg-type]
    ports = info.ports
    click.echo(
        f"  smtp 127.0.0.1:{ports['smtp']}  imap 127.0.0.1:{ports['imap']}"
        f"  imaps 127.0.0.1:{ports['imaps']}  submission 127.0.0.1:{ports['submission']}"
    )
    for user, facts in info.users.items():
        click.echo(f"  user {user} password {facts['password']}")
    for name, why in info.left_out.items():
        click.echo(f"  not running {name}: {why}")
    click.echo(f"  queue: {info.paths['smtpctl']} show queue")
    click.echo("attach the console with:")
    click.echo(f"  {this_command()} --config {info.paths['settings']}")


def send(
    root: Settings, action: Action, target: str, params: dict[str, str], options: dict[str, Any]
) -> None:
    """The body of `lab send`: dispatched with the lab's own settings (its audit log), read-only and
    the operator as the command line says."""
    lab_dir = Path(target)
    settings_file = lab_dir / "mailconsole.toml"
    if not settings_file.is_file():
        fail(
            f"no lab in {lab_dir} (no {settings_file.name}): run `mailconsole lab up --dir {lab_dir}`"
        )
    settings = load_settings(
        str(settings_file), {"read_only": root.read_only or None, "operator": root.operator}
    ).settings
    text = dispatch(settings, action.name, str(lab_dir.resolve()), params)
    for line in text.removeprefix("sent ").split("; "):
        click.echo(f"sent to {line}")
    click.echo(f"the queue: {lab_dir}/bin/smtpctl show queue, or the console's Queue screen (F3)")


@lab.command("status", params=[click_parameter(LAB_DIR)])
def status(lab_dir: Path | None) -> None:
    """List the lab's programs and their states."""
    for program in run.status(lab_dir or settings_in_context().lab_dir):
        click.echo(f"{program.name:<12} {program.state:<9} {program.description}")
