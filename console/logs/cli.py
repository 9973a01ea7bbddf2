"""`mailconsole tail PATH...`: open the console on the Logs screen with those files."""

from __future__ import annotations

from pathlib import Path

import click

from console.cli import launcher_of


@click.command("tail")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def tail(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Follow log files on the Logs screen (several: pick one in the file list)."""
    launcher_of(ctx).open_tail(ctx.obj, list(paths))
