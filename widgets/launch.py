"""The `mailconsole` command: open the console, or hand the command line to the core's click group.

A command line that only opens the console (`mailconsole [OPTIONS]`, `mailconsole [OPTIONS] tail
PATH...`) is read here without importing click, which would cost 3% of the console's start-up;
anything else, `--help` included, goes to `console.cli.run` with this module as its launcher. Exit
codes: 0 done, 1 failed (one line on stderr), 2 usage or configuration error, 3 refused (read-only).
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

from console.errors import UserError, fail
from console.settings import Settings

# The root group's options (console.cli.main_group) as the quick path knows them.
_VALUE_OPTIONS = {
    "--config": "config_path",
    "--operator": "operator",
    "--supervisor-url": "supervisor_url",
}
_FLAG_OPTIONS = {"--read-only": "read_only", "--readonly": "read_only"}


def quick_launch(argv: list[str]) -> tuple[dict[str, Any], list[Path] | None] | None:
    """Read a command line that only opens the console: (root options, the paths for `tail` or None).

    None when the command line is anything else; click then reads it, with its checks and messages.
    """
    options: dict[str, Any] = {}
    args = list(argv)
    while args and args[0].startswith("-"):
        name, eq, value = args.pop(0).partition("=")
        if name in _FLAG_OPTIONS and not eq:
            options[_FLAG_OPTIONS[name]] = True
        elif name in _VALUE_OPTIONS and eq:
            options[_VALUE_OPTIONS[name]] = value
        elif name in _VALUE_OPTIONS and args:
            options[_VALUE_OPTIONS[name]] = args.pop(0)
        else:
            return None
    if not args:
        return options, None
    paths = args[1:]
    if args[0] == "tail" and paths and not any(p.startswith("-") for p in paths):
        return options, [Path(p) for p in paths]
    return None


class TextualLauncher:
    """Opens the Textual console: what a bare `mailconsole` and `mailconsole tail PATH...` do once
    settings are loaded. The quick path and the click commands both call it, so they cannot differ."""

    def open_console(self, settings: Settings) -> None:
        """Open the console on the Services screen."""
        # Ask supervisord now: its answer arrives while Textual is still being imported.
        from console.supervisor.client import Prefetch, client_for

        supervisor = client_for(settings)
        prefetch = Prefetch(supervisor)
        run_console(settings, supervisor=supervisor, prefetch=prefetch)

    def open_tail(self, settings: Settings, paths: list[Path]) -> None:
        """Open the console on the Logs screen showing `paths` (a UserError if one cannot be read)."""
        from console.logs.discovery import open_files_error

        problem = open_files_error(paths)
        if problem:
            raise UserError(problem)
        run_console(settings, initial_screen="logs", log_files=[p.resolve() for p in paths])


def run_console(settings: Settings, **options: Any) -> None:
    """Run the console's App (Textual is imported here, so `mailconsole status` never imports it)."""
    from widgets.app import ConsoleApp

    ConsoleApp(settings, **options).run()


def main(argv: list[str] | None = None) -> None:
    """Entry point: open the console, or run the click command line; every UserError becomes one line
    on stderr and its exit code.

    Garbage collection is off until the console's first frame (widgets.startup turns it back on):
    start-up only creates objects that live on, and collecting them again and again costs a sixth of it.
    """
    args = sys.argv[1:] if argv is None else argv
    gc.disable()
    launcher = TextualLauncher()
    try:
        quick = quick_launch(args)
        if quick is None:
            from console.cli import run

            run(args, launcher)
        else:
            from console.settings import load_settings

            options, paths = quick
            config_path = options.pop("config_path", None)
            settings = load_settings(config_path, options).settings
            if paths is None:
                launcher.open_console(settings)
            else:
                launcher.open_tail(settings, paths)
    except UserError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    finally:
        gc.enable()  # for callers in the same process (tests); a no-op when the console ran
    sys.exit(0)
