"""`mailconsole health [--json]`: every check, with monitoring-plugin exit codes (0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN), so `HEALTHCHECK CMD mailconsole health` works in a Dockerfile."""

from __future__ import annotations

import json
import sys

import click

from console.health.model import State
from console.text import printable


@click.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print every finding as JSON.")
@click.option("--problems", is_flag=True, help="List only the findings that are not OK.")
@click.pass_context
def health(ctx: click.Context, as_json: bool, problems: bool) -> None:
    """Check certificates, TLS listeners, ClamAV, SpamAssassin, free space, the queue and the programs.

    Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the monitoring plugins' codes).
    """
    from console.cli import settings_of
    from console.health.run import run_checks

    try:
        report = run_checks(settings_of(ctx))
    except Exception as exc:  # noqa: BLE001 - a monitoring command answers UNKNOWN, never a traceback
        click.echo(f"MAILCONSOLE UNKNOWN: the health checks could not run: {printable(str(exc))}")
        sys.exit(int(State.UNKNOWN))
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        perfdata = report.perfdata()
        click.echo(printable(report.headline() + (f" | {perfdata}" if perfdata else "")))
        for check in report.checks:
            if problems and check.state == State.OK:
                continue
            click.echo(
                printable(
                    f"{check.state.name:<8}  {check.group:<12}  {check.name}: {check.summary}"
                )
            )
            if check.cause:
                click.echo(printable(f"{'':<10}  cause: {check.cause}"))
            if check.remedy:
                click.echo(printable(f"{'':<10}  by hand: {check.remedy}"))
            if check.fix:
                click.echo(
                    printable(
                        f"{'':<10}  fix: {check.fix.label} (mailconsole {_command(check.fix)})"
                    )
                )
    sys.exit(int(report.state))


def _command(fix: object) -> str:
    """The CLI command that runs a fix's action, its target quoted for the shell (a program or a
    job may be named `x$(…)`: pasted, the command must not run anything else)."""
    import shlex

    from console.health.model import Fix

    assert isinstance(fix, Fix)
    target = shlex.quote(fix.target)
    commands = {
        "program.start": f"start {target}",
        "program.restart": f"restart {target}",
        "program.signal": f"signal {target} {shlex.quote(fix.params.get('signal', 'HUP'))}",
        "queue.schedule": f"queue retry {target}",
        "job.run": f"run {target}",
    }
    return commands.get(fix.action, f"{fix.action} {target}")
