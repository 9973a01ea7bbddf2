"""`mailconsole lab up|status|down`: bring the real miniature stack up for demos and tests. Up and
down go through the dispatcher: refused in read-only mode, audited."""

from __future__ import annotations

from pathlib import Path

import click

from console.actions import ActionContext, dispatch
from console.cli import settings_of
from console.lab import run
from console.lab.render import DEFAULT_DIR, DEFAULT_PORT_BASE, PORT_BLOCK, LabInfo

dir_option = click.option(
    "--dir",
    "lab_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DIR,
    show_default=True,
    help="The lab's directory (a /mail-like tree).",
)


@click.group("lab")
def lab() -> None:
    """The lab: the article's mail stack, real programs on 127.0.0.1, in one directory."""


@lab.command("up")
@dir_option
@click.option(
    "--filters", is_flag=True, help="Also run clamd, clamsmtpd and spampd in the filter chain."
)
@click.option(
    "--port-base",
    type=int,
    default=DEFAULT_PORT_BASE,
    show_default=True,
    help=f"First of the {PORT_BLOCK} 127.0.0.1 ports the lab listens on.",
)
@click.pass_context
def up(ctx: click.Context, lab_dir: Path, filters: bool, port_base: int) -> None:
    """Render config_samples into DIR and start the stack under supervisord (needs root)."""
    settings = settings_of(ctx)
    params = {"port_base": str(port_base), "filters": "yes" if filters else "no"}
    click.echo(dispatch(settings, "lab.up", str(lab_dir), params,
                        context=ActionContext(settings, progress=click.echo)))
    info = LabInfo(**run.read_info(lab_dir.resolve()))  # type: ignore[arg-type]
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
    click.echo(f"  mailconsole --config {info.paths['settings']}")


@lab.command("status")
@dir_option
def status(lab_dir: Path) -> None:
    """List the lab's programs and their states."""
    for program in run.status(lab_dir):
        click.echo(f"{program.name:<12} {program.state:<9} {program.description}")


@lab.command("down")
@dir_option
@click.pass_context
def down(ctx: click.Context, lab_dir: Path) -> None:
    """Stop every process of the lab in DIR (the files stay for a look afterwards)."""
    click.echo(dispatch(settings_of(ctx), "lab.down", str(lab_dir)))
