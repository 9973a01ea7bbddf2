"""`mailconsole status`: supervisord's programs from the command line. Start, stop, restart and
signal are the dispatcher's actions: their commands are declared with them (console/actions.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

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
