"""The errors the core raises for a person to read: one sentence each, mapped to CLI exit codes."""

from __future__ import annotations

import sys
from typing import NoReturn


class UserError(Exception):
    """Something went wrong that a person must read: the message is one plain sentence."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(UserError):
    """Bad settings or usage: names the file, the key and what was expected (exit 2)."""

    exit_code = 2


class ActionFailed(UserError):
    """A mutating action ran and did not do what was asked (exit 1)."""

    exit_code = 1


class AuditIncomplete(UserError):
    """A mutating action ran, but its outcome could not be added to the audit log (exit 1).

    Its intent line is there; the message says what the action did and that the outcome is missing.
    """

    exit_code = 1


class ReadOnlyRefused(UserError):
    """A mutating action was refused because the console is read-only (exit 3)."""

    exit_code = 3


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line on stderr (`mailconsole: message`, made printable) and exit with `code`."""
    from console.text import printable

    print(f"mailconsole: {printable(message)}", file=sys.stderr)
    sys.exit(code)
