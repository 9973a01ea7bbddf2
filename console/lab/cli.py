"""`mailconsole lab up|status|down`: bring the real miniature stack up for demos and tests. Up and
down go through the dispatcher: refused in read-only mode, audited."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from console.actions import ActionContext, dispatch
from console.cli import settings_of
from console.errors import fail
from console.lab import run
from console.lab.render import DEFAULT_DIR, DEFAULT_PORT_BASE, PORT_BLOCK, LabInfo
from console.settings import load_settings

dir_option = click.option(
    "--dir",
    "lab_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DIR,
    show_default=True,
    help="The lab's directory (a /mail-like tree).",
)


def this_command() -> str:
    """How to run mailconsole again from here: `mailconsole` when that is on the PATH, else the
    path it was started by (`.venv/bin/mailconsole` in a clone)."""
    started = Path(sys.argv[0])
    found = shutil.which("mailconsole")
    if started.name != "mailconsole" or (found and Path(found).resolve() == started.resolve()):
        return "mailconsole"
    return str(started)


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
    click.echo(
        dispatch(
            settings,
            "lab.up",
            str(lab_dir),
            params,
            context=ActionContext(settings, progress=click.echo),
        )
    )
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
    click.echo(f"  {this_command()} --config {info.paths['settings']}")


@lab.command("send")
@dir_option
@click.pass_context
def send(ctx: click.Context, lab_dir: Path) -> None:
    """Put mail in the lab's queue: a message to a local user (delivered), to unreachable.test
    (stays queued) and to permfail.test (bounces). Audited, refused when read-only."""
    root = settings_of(ctx)
    settings_file = lab_dir / "mailconsole.toml"
    if not settings_file.is_file():
        fail(
            f"no lab in {lab_dir} (no {settings_file.name}): run `mailconsole lab up --dir {lab_dir}`"
        )
    # The lab's own settings (its audit log); read-only and the operator as the command line says.
    settings = load_settings(
        str(settings_file), {"read_only": root.read_only or None, "operator": root.operator}
    ).settings
    text = dispatch(settings, "lab.send", str(lab_dir.resolve()))
    for line in text.removeprefix("sent ").split("; "):
        click.echo(f"sent to {line}")
    click.echo(f"the queue: {lab_dir}/bin/smtpctl show queue, or the console's Queue screen (F3)")


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
