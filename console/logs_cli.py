"""`mailconsole tail PATH...`: open the console on the Logs screen with those files."""

from __future__ import annotations

from pathlib import Path

import click

from console.errors import UserError


@click.command("tail")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def tail(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Follow log files on the Logs screen (several: pick one in the file list)."""
    from widgets.app import run_console
    from widgets.logs import open_files_error

    problem = open_files_error(list(paths))
    if problem:
        raise UserError(problem)
    run_console(ctx.obj, initial_tab="logs", log_files=[p.resolve() for p in paths])
