"""The contract between the App and each screen's top widget: what the App asks of every screen."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from widgets.messages import ActionFinished

PaletteCommand = tuple[str, str, Callable[[], object]]
"""A command palette entry: title, help text, what it does."""

ActionTarget = tuple[str, str]
"""Something an action can be aimed at from the palette, and its help text ("": the action's)."""


@runtime_checkable
class ConsoleScreen(Protocol):
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


@runtime_checkable
class ActionScreen(Protocol):
    """A screen that offers the dispatcher's actions declared with `screen=` its id (console/actions.py):
    the palette lists them from the registry, for the targets the screen gives."""

    def action_targets(self, name: str) -> Iterable[ActionTarget]:
        """What action `name` can be aimed at now (nothing when it cannot run now)."""
        ...

    def start_action(self, name: str, target: str) -> None:
        """Start action `name` on `target` as the screen's key does (a form, a dialog, a question)."""
        ...
