"""The messages the App itself handles, as small typed classes named for what happened.

A screen's own worker results stay nested in the widget that posts them (`QueueScreen.QueueLoaded`);
what crosses screens is here.
"""

from __future__ import annotations

from textual.message import Message


class ActionFinished(Message):
    """A dispatched action ended: `ok` with its outcome, or its one-sentence error. `audited` is False
    when it ran but its outcome line is missing from the audit log (the text says so)."""

    def __init__(self, name: str, target: str, ok: bool, text: str, audited: bool = True) -> None:
        super().__init__()
        self.name = name
        """The action's registered name (console.actions.ACTIONS), e.g. "queue.remove"."""
        self.target = target
        self.ok = ok
        self.text = text
        self.audited = audited
