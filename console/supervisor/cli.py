"""`mailconsole status|start|stop|restart|signal`: supervisord's programs from the command line.

Every change goes through console.actions.dispatch: refused in read-only mode (exit 3), audited.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from console.actions import dispatch
from console.cli import settings_of
from console.text import printable

if TYPE_CHECKING:
    from console.supervisor.client import Snapshot


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


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Show supervisord's programs and their states."""
    from console.supervisor.client import client_for

    snapshot = client_for(settings_of(ctx)).snapshot()
    if as_json:
        click.echo(json.dumps(status_json(snapshot), indent=2))
        return
    click.echo(f"supervisord {snapshot.version} at {snapshot.url}: {snapshot.state}")
    width = max((len(p.fullname) for p in snapshot.programs), default=10)
    for program in snapshot.programs:
        click.echo(
            printable(f"{program.fullname:<{width}}  {program.state:<9}  {program.description}")
        )


def _run_action(ctx: click.Context, name: str, target: str, **params: str) -> None:
    """Dispatch one action and print its outcome (errors are handled by `main`)."""
    click.echo(printable(dispatch(settings_of(ctx), name, target, params)))


@click.command("start")
@click.argument("name")
@click.pass_context
def start_command(ctx: click.Context, name: str) -> None:
    """Start a program (NAME or group:name)."""
    _run_action(ctx, "program.start", name)


@click.command("stop")
@click.argument("name")
@click.pass_context
def stop_command(ctx: click.Context, name: str) -> None:
    """Stop a program."""
    _run_action(ctx, "program.stop", name)


@click.command("restart")
@click.argument("name")
@click.pass_context
def restart_command(ctx: click.Context, name: str) -> None:
    """Restart a program (its pid changes)."""
    _run_action(ctx, "program.restart", name)


@click.command("signal")
@click.argument("name")
@click.argument("signal_name", metavar="SIGNAL")
@click.pass_context
def signal_command(ctx: click.Context, name: str, signal_name: str) -> None:
    """Send SIGNAL (HUP, USR1, TERM or a number) to a program."""
    _run_action(ctx, "program.signal", name, signal=signal_name)
