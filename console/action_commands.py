"""The command line of the dispatcher's actions, built from their declarations in console/actions.py.

Each action with a `Cli` becomes one click command, made when the command line asks for it: its
arguments and options fill the action's target and parameters, and its body dispatches the action and
prints the outcome (or runs the declared `Cli.run`). `ActionGroup` is a click group whose commands
include the actions declared under its name, so declaring an action is all it takes to add its command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from console import actions
from console.actions import Action, Arg, resolve_reference
from console.settings import Settings
from console.text import json_text, printable


def declared(group: str) -> dict[str, Action]:
    """The actions whose command is in `group` ("" for the top level), by command name."""
    found: dict[str, Action] = {}
    for action in actions.ACTIONS.values():
        if action.cli is None:
            continue
        parent, _, name = action.cli.command.rpartition(" ")
        if parent == group:
            found[name] = action
    return found


def declared_groups(group: str) -> set[str]:
    """The names of the groups directly under `group` that hold declared commands."""
    prefix = f"{group} " if group else ""
    groups: set[str] = set()
    for action in actions.ACTIONS.values():
        if action.cli is None or not action.cli.command.startswith(prefix):
            continue
        rest = action.cli.command[len(prefix) :].split(" ")
        if len(rest) > 1:
            groups.add(rest[0])
    return groups


class ActionGroup(click.Group):
    """A click group that also holds the commands of the actions declared under its name."""

    def path(self) -> str:
        """The group's command path below `mailconsole`, e.g. "queue" ("" for the root group)."""
        return str(self.name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        own = super().list_commands(ctx)
        return sorted({*own, *declared(self.path()), *declared_groups(self.path())})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        action = declared(self.path()).get(cmd_name)
        if action is not None:
            return action_command(action)
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in declared_groups(self.path()):
            name = f"{self.path()} {cmd_name}".strip()
            return ActionGroup(name, help=f"mailconsole {name}: its actions.")
        return command


def click_parameter(arg: Arg) -> click.Parameter:
    """The click argument or option of one declared `Arg` (an option with a `setting` has no
    default: the command's body fills it from the settings)."""
    kind: Any = None
    if arg.type == "int":
        kind = int
    elif arg.type == "dir":
        kind = click.Path(file_okay=False, path_type=Path)
    default = resolve_reference(arg.default_from) if arg.default_from else None
    if not arg.decl.startswith("-"):
        return click.Argument(
            [arg.name],
            metavar=arg.metavar or None,
            nargs=-1 if arg.many else 1,
            type=kind,
        )
    return click.Option(
        [arg.decl, arg.name],
        metavar=arg.metavar or None,
        is_flag=arg.flag is not None,
        type=kind,
        default=default,
        show_default=default is not None,
        help=arg.help or None,
    )


def _value(arg: Arg, raw: Any) -> str | None:
    """A click value as the handler's string parameter (None leaves it out: a flag's "")."""
    if arg.flag is not None:
        return (arg.flag[0] if raw else arg.flag[1]) or None
    if raw is None:  # an option without a default, not given
        return None
    if arg.many:
        return ",".join(raw)
    return str(raw)


def action_command(action: Action) -> click.Command:
    """The click command of one declared action."""
    cli = action.cli
    assert cli is not None
    name = cli.command.rpartition(" ")[2]

    def body(**options: Any) -> None:
        settings = settings_in_context()
        for arg in (cli.target, *cli.args):
            if arg.setting and options[arg.name] is None:
                options[arg.name] = getattr(settings, arg.setting)
        target = str(options[cli.target.name])
        params: dict[str, str] = {}
        for arg in cli.args:
            if arg.param:
                value = _value(arg, options[arg.name])
                if value is not None:
                    params[arg.param] = value
        chosen = dict(cli.instead).get(target.lower())
        to_run = actions.ACTIONS[chosen] if chosen else action
        if cli.run:
            resolve_reference(cli.run)(settings, to_run, target, params, options)
        else:
            print_outcome(settings, to_run, target, params, options)

    return click.Command(
        name,
        callback=body,
        params=[click_parameter(cli.target), *(click_parameter(arg) for arg in cli.args)],
        help=cli.help,
    )


def settings_in_context() -> Settings:
    """The loaded settings on the root click context (a UsageError outside `mailconsole`)."""
    obj = click.get_current_context().find_root().obj
    if not isinstance(obj, Settings):
        raise click.UsageError("run this command as part of `mailconsole`")
    return obj


def print_outcome(
    settings: Settings, action: Action, target: str, params: dict[str, str], options: dict[str, Any]
) -> None:
    """Dispatch the action and print its outcome: one line, or a JSON object with `--json`."""
    message = actions.dispatch(settings, action.name, target, params)
    if options.get("as_json"):
        click.echo(json_text({"action": action.name, "target": target, "message": message}))
    else:
        click.echo(printable(message))
