"""The `mailconsole` command line (click): a bare call opens the console; subcommands script the same
actions. `console.cli.main` is the entry point; it opens the console without importing click when the
command line is only that (see `console.cli.quick_launch`).

Exit codes: 0 done, 1 failed (one line on stderr), 2 usage or configuration error, 3 refused because
read-only. The Textual UI is imported only when the console opens, so the CLI stays quick.
"""

from __future__ import annotations

import gc
import importlib
import json
from typing import TYPE_CHECKING, Any

import click

from console import __version__
from console.actions import dispatch
from console.launch import open_console
from console.settings import Settings, load_settings, render_effective
from console.text import printable

if TYPE_CHECKING:
    from console.supervisor import Snapshot


def settings_of(ctx: click.Context) -> Settings:
    """The loaded settings stored on the root context."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings)
    return obj


class LazyGroup(click.Group):
    """A click group whose bigger subcommand groups are imported only when used (quick start-up)."""

    lazy = {
        "accounts": "console.accounts.cli:accounts",
        "fdm": "console.fdm.cli:fdm",
        "jobs": "console.jobs.cli:jobs",
        "lab": "console.lab_cli:lab",
        "queue": "console.queue_cli:queue",
        "run": "console.jobs.cli:run",
        "tail": "console.logs_cli:tail",
    }
    opens_console = ("tail",)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, _, attr = self.lazy[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="mailconsole")
@click.option("--config", "config_path", metavar="FILE", help="Settings file (TOML).")
@click.option("--read-only", "--readonly", "read_only", is_flag=True, default=None,
              help="On-call mode: refuse every mutating action.")
@click.option("--operator", metavar="NAME", help="Name written to the audit log.")
@click.option("--supervisor-url", metavar="URL", help="supervisord URL (unix:///path or http://...).")
@click.pass_context
def main_group(ctx: click.Context, config_path: str | None, read_only: bool | None,
               operator: str | None, supervisor_url: str | None) -> None:
    """mailconsole: the console for an OpenSMTPD + Dovecot + fdm mail stack under supervisord.

    Without a command it opens the console.
    """
    if ctx.invoked_subcommand not in (None, *LazyGroup.opens_console):
        gc.enable()  # see main(): only the console's start-up runs without collection
    overrides: dict[str, Any] = {"read_only": read_only, "operator": operator,
                                 "supervisor_url": supervisor_url}
    loaded = load_settings(config_path, overrides)
    ctx.obj = loaded.settings
    ctx.meta["loaded_settings"] = loaded
    if ctx.invoked_subcommand is None:
        open_console(loaded.settings)


@main_group.command("config")
@click.pass_context
def config_command(ctx: click.Context) -> None:
    """Print the effective settings and where each value came from."""
    click.echo(render_effective(ctx.find_root().meta["loaded_settings"]))


def status_json(snapshot: Snapshot) -> dict[str, Any]:
    """`status --json`: supervisord and its programs as plain data."""
    return {
        "supervisor": {"url": snapshot.url, "state": snapshot.state, "version": snapshot.version},
        "programs": [
            {
                "name": p.fullname,
                "group": p.group,
                "state": p.state,
                "pid": p.pid or None,
                "uptime_s": p.uptime_s,
                "description": p.description,
                "exitstatus": p.exitstatus,
                "stdout_logfile": p.stdout_logfile,
            }
            for p in snapshot.programs
        ],
    }


@main_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Show supervisord's programs and their states."""
    from console.supervisor import client_for

    snapshot = client_for(settings_of(ctx)).snapshot()
    if as_json:
        click.echo(json.dumps(status_json(snapshot), indent=2))
        return
    click.echo(f"supervisord {snapshot.version} at {snapshot.url}: {snapshot.state}")
    width = max((len(p.fullname) for p in snapshot.programs), default=10)
    for program in snapshot.programs:
        click.echo(printable(f"{program.fullname:<{width}}  {program.state:<9}  {program.description}"))


def _run_action(ctx: click.Context, name: str, target: str, **params: str) -> None:
    """Dispatch one action and print its outcome (errors are handled by `main`)."""
    click.echo(printable(dispatch(settings_of(ctx), name, target, params)))


@main_group.command("start")
@click.argument("name")
@click.pass_context
def start_command(ctx: click.Context, name: str) -> None:
    """Start a program (NAME or group:name)."""
    _run_action(ctx, "program.start", name)


@main_group.command("stop")
@click.argument("name")
@click.pass_context
def stop_command(ctx: click.Context, name: str) -> None:
    """Stop a program."""
    _run_action(ctx, "program.stop", name)


@main_group.command("restart")
@click.argument("name")
@click.pass_context
def restart_command(ctx: click.Context, name: str) -> None:
    """Restart a program (its pid changes)."""
    _run_action(ctx, "program.restart", name)


@main_group.command("signal")
@click.argument("name")
@click.argument("signal_name", metavar="SIGNAL")
@click.pass_context
def signal_command(ctx: click.Context, name: str, signal_name: str) -> None:
    """Send SIGNAL (HUP, USR1, TERM or a number) to a program."""
    _run_action(ctx, "program.signal", name, signal=signal_name)
