"""The `mailconsole` command line: the root click group, with each feature's group beside its core.

Exit codes: 0 done, 1 failed (one line on stderr), 2 usage or configuration error, 3 refused because
read-only. The console itself (a bare `mailconsole`, `mailconsole tail`) is opened through a `Launcher`
that the UI side passes to `run`: the core never imports the UI, and commands that only script the
stack never import Textual.
"""

from __future__ import annotations

import gc
import importlib
import sys
from pathlib import Path
from typing import Any, Protocol, cast

import click

from console import __version__
from console.action_commands import ActionGroup
from console.errors import ConfigError, UserError, fail
from console.settings import Settings, load_settings, render_effective


class Launcher(Protocol):
    """What opens the console once settings are loaded (widgets.launch provides it)."""

    def open_console(self, settings: Settings) -> None:
        """Open the console on its first screen."""

    def open_tail(self, settings: Settings, paths: list[Path]) -> None:
        """Open the console on the Logs screen showing `paths`."""


class UnloadedSettings(Settings):
    """Stands for settings that could not be loaded, so that a subcommand's `--help` (which needs
    none) still works: the first use of any setting raises the loading error (one line, exit 2)."""

    def __init__(self, error: ConfigError) -> None:
        object.__setattr__(self, "_error", error)

    def __getattribute__(self, name: str) -> Any:
        raise object.__getattribute__(self, "_error")


def settings_of(ctx: click.Context) -> Settings:
    """The loaded settings stored on the root context."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings)
    return obj


def launcher_of(ctx: click.Context) -> Launcher:
    """The launcher `run` was given; a UserError when the command line runs without the UI."""
    launcher = ctx.find_root().meta.get("launcher")
    if launcher is None:
        raise UserError("this command opens the console, which is not available here")
    return cast(Launcher, launcher)


class LazyGroup(ActionGroup):
    """The root group: every feature's commands are imported only when used (quick start-up); the
    dispatcher's actions declare their own commands (console/actions.py)."""

    lazy = {
        "accounts": "console.accounts.cli:accounts",
        "fdm": "console.fdm.cli:fdm",
        "health": "console.health.cli:health",
        "jobs": "console.jobs.cli:jobs",
        "lab": "console.lab.cli:lab",
        "mailboxes": "console.mailbox.cli:mailboxes",
        "queue": "console.queue.cli:queue",
        "tail": "console.logs.cli:tail",
        "status": "console.supervisor.cli:status_command",
    }
    opens_console = ("tail",)

    def path(self) -> str:
        return ""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, _, attr = self.lazy[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="mailconsole")
@click.option("--config", "config_path", metavar="FILE", help="Settings file (TOML).")
@click.option(
    "--read-only",
    "--readonly",
    "read_only",
    is_flag=True,
    default=None,
    help="On-call mode: refuse every mutating action.",
)
@click.option("--operator", metavar="NAME", help="Name written to the audit log.")
@click.option(
    "--supervisor-url", metavar="URL", help="supervisord URL (unix:///path or http://...)."
)
@click.pass_context
def main_group(
    ctx: click.Context,
    config_path: str | None,
    read_only: bool | None,
    operator: str | None,
    supervisor_url: str | None,
) -> None:
    """mailconsole: the console for an OpenSMTPD + Dovecot + fdm mail stack under supervisord.

    Without a command it opens the console.
    """
    if ctx.invoked_subcommand not in (None, *LazyGroup.opens_console):
        gc.enable()  # see widgets.launch.main: only the console's start-up runs without collection
    overrides: dict[str, Any] = {
        "read_only": read_only,
        "operator": operator,
        "supervisor_url": supervisor_url,
    }
    ctx.meta["launcher"] = ctx.obj
    try:
        loaded = load_settings(config_path, overrides)
    except ConfigError as exc:
        if ctx.invoked_subcommand is None:
            raise
        # Raised when the subcommand uses a setting: its --help uses none.
        ctx.obj = UnloadedSettings(exc)
        ctx.meta["loaded_settings"] = exc
        return
    ctx.obj = loaded.settings
    ctx.meta["loaded_settings"] = loaded
    if ctx.invoked_subcommand is None:
        launcher_of(ctx).open_console(loaded.settings)


@main_group.command("config")
@click.pass_context
def config_command(ctx: click.Context) -> None:
    """Print the effective settings and where each value came from."""
    loaded = ctx.find_root().meta["loaded_settings"]
    if isinstance(loaded, ConfigError):
        raise loaded
    click.echo(render_effective(loaded))


def run(args: list[str], launcher: Launcher | None) -> None:
    """Run the command line `args` (click's checks and messages); `launcher` opens the console."""
    try:
        main_group.main(args=args, prog_name="mailconsole", standalone_mode=False, obj=launcher)
    except click.exceptions.Abort:
        fail("aborted", 1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
