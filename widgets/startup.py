"""The console's start-up timing: background work waits until the first frame is on the terminal."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.widget import Widget

if TYPE_CHECKING:
    pass


BACKGROUND_DELAY = 0.4
"""Seconds from mounting until start-up's background work (the Services build behind another screen,
log threads, garbage collection) begins: Textual's writer thread puts the first frame on the terminal
meanwhile, which would otherwise wait for the interpreter behind that work (a 1 GiB index scan holds it
for a second). A timer, not call_after_refresh: a callback pending after a refresh costs another frame."""


def start_in_background(node: Widget | App[Any], callback: Callable[[], object]) -> None:
    """Run `callback` BACKGROUND_DELAY seconds from now: called at mount, once the first frame is out."""
    node.set_timer(BACKGROUND_DELAY, callback)


def resume_garbage_collection() -> None:
    """After the first frame: keep start-up's long-lived objects out of every future collection, and
    collect again (widgets.launch.main turned collection off to start faster)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
