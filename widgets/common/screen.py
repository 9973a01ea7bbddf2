"""The contract between the App and each screen's view: what the App asks of every screen."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from widgets.messages import ActionFinished

PaletteCommand = tuple[str, str, Callable[[], object]]
"""A command palette entry: title, help text, what it does."""


@runtime_checkable
class ScreenView(Protocol):
    """Every screen's top widget implements this (tests/pilot/test_app_pilot.py checks each one)."""

    def palette_commands(self) -> Iterable[PaletteCommand]:
        """The screen's entries in the command palette (only what the mode allows)."""
        ...

    def handle_action_result(self, message: ActionFinished) -> None:
        """A dispatched action ended (any screen's): refresh what it changed, if shown here."""
        ...

    def unsaved_changes(self) -> bool:
        """True when quitting now would lose the user's edits (the App asks first)."""
        ...
