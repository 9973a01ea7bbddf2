"""The `mailconsole` entry point. The command line itself is `console.commands` (click).

Exit codes: 0 done, 1 failed (one line on stderr), 2 usage or configuration error, 3 refused because
read-only. A command line that only opens the console (`mailconsole [OPTIONS]`, `mailconsole [OPTIONS]
tail PATH...`) is read here without importing click, which would cost 3% of the console's start-up;
anything else, `--help` included, goes to click.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any, NoReturn

from console.errors import UserError
from console.text import printable

# The root group's options (console.commands.main_group) as the quick path knows them.
_VALUE_OPTIONS = {"--config": "config_path", "--operator": "operator", "--supervisor-url": "supervisor_url"}
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


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line on stderr and exit with `code`."""
    print(f"mailconsole: {printable(message)}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: open the console, or run the click command line; every UserError becomes one line
    on stderr and its exit code.

    Garbage collection is off until the console's first frame (widgets.app turns it back on): start-up
    only creates objects that live on, and collecting them again and again costs a sixth of it.
    """
    args = sys.argv[1:] if argv is None else argv
    gc.disable()
    try:
        quick = quick_launch(args)
        if quick is None:
            _run_click(args)
        else:
            from console.launch import open_console, open_tail
            from console.settings import load_settings

            options, paths = quick
            config_path = options.pop("config_path", None)
            settings = load_settings(config_path, options).settings
            if paths is None:
                open_console(settings)
            else:
                open_tail(settings, paths)
    except UserError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    finally:
        gc.enable()  # for callers in the same process (tests); a no-op when the console ran
    sys.exit(0)


def _run_click(args: list[str]) -> None:
    import click

    from console.commands import main_group

    try:
        main_group.main(args=args, prog_name="mailconsole", standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted", 1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
