"""Opening the console: what a bare `mailconsole` and `mailconsole tail PATH...` do once settings are loaded.

Both the click commands and the quick path of `console.cli.main` call these, so the two cannot differ.
"""

from __future__ import annotations

from pathlib import Path

from console.errors import UserError
from console.settings import Settings


def open_console(settings: Settings) -> None:
    """Open the console on the Services screen."""
    # Ask supervisord now: its answer arrives while Textual is still being imported.
    from console.supervisor import Prefetch, client_for

    supervisor = client_for(settings)
    prefetch = Prefetch(supervisor)
    from widgets.app import run_console

    run_console(settings, supervisor=supervisor, prefetch=prefetch)


def open_tail(settings: Settings, paths: list[Path]) -> None:
    """Open the console on the Logs screen showing `paths` (a UserError if one cannot be read)."""
    from widgets.app import run_console
    from widgets.logs import open_files_error

    problem = open_files_error(paths)
    if problem:
        raise UserError(problem)
    run_console(settings, initial_tab="logs", log_files=[p.resolve() for p in paths])
