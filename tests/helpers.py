"""What the tests share: one way to wait for a condition (with a timeout, never a bare sleep), and
for text to be drawn; the installed `mailconsole` command and its environment; and proof that keys
did nothing."""

from __future__ import annotations

import html
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
S = TypeVar("S")

WAIT_S = 30.0
"""How long a wait may take before the test fails: generous, since 2 cores are shared by many runs."""
STEP_S = 0.05
"""How often the condition is checked."""


class _Waiting:
    """One wait: its deadline and the last exception the check raised (shown when it times out)."""

    def __init__(self, what: str, timeout: float) -> None:
        self.what = what
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.last_error: BaseException | None = None

    def check(self, condition: Callable[[], T | None]) -> T | None:
        """The condition's value, or None when it raised (remembered for the failure message)."""
        try:
            return condition()
        except Exception as exc:  # noqa: BLE001 - still coming up; said if it never does
            self.last_error = exc
            return None

    def fail_if_late(self) -> None:
        if time.monotonic() > self.deadline:
            raised = f"; the check last raised {self.last_error!r}" if self.last_error else ""
            pytest.fail(f"timed out after {self.timeout:g} s waiting for {self.what}{raised}")


def wait_for(
    check: Callable[[], T | None], timeout: float = WAIT_S, what: str = "the condition"
) -> T:
    """Call `check` until it returns something truthy, and return that; fail the test after `timeout`
    seconds, naming `what` and the last exception `check` raised."""
    waiting = _Waiting(what, timeout)
    while True:
        value = waiting.check(check)
        if value:
            return value
        waiting.fail_if_late()
        time.sleep(STEP_S)


async def until(
    pilot: Any, check: Callable[[], T | None], timeout: float = WAIT_S, what: str = "the console"
) -> T:
    """`wait_for` inside a pilot test: the app runs between checks (`pilot.pause`)."""
    waiting = _Waiting(what, timeout)
    while True:
        value = waiting.check(check)
        if value:
            return value
        waiting.fail_if_late()
        await pilot.pause(STEP_S)


def drawn_lines(widget: Any) -> list[str]:
    """The text of each line `widget` draws now (`render_line`), as many lines as it is high."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


async def drawn(pilot: Any, widget: Any, needle: str) -> str:
    """The lines `widget` draws, joined by newlines, once `needle` is among them; the test fails by
    timeout when it never is. A widget draws from its size and scroll offset, which the layout brings
    up to date a frame after what it shows changed (a list just shown, grown or filled can still be 0
    lines high, or show the old lines): read once right after the change, its lines can be empty."""

    def text() -> str:
        joined = "\n".join(drawn_lines(widget))
        return joined if needle in joined else ""

    return await until(pilot, text, what=f"{needle!r} drawn in the {type(widget).__name__}")


def screen_text(app: Any) -> str:
    """Everything the screen draws now, as text (the screenshot's SVG unescaped)."""
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


async def on_screen(pilot: Any, needle: str) -> str:
    """`screen_text` once `needle` is drawn on the screen (a dialog's new line is laid out a frame
    after it was set); the test fails by timeout when it never is."""

    def text() -> str:
        shown = screen_text(pilot.app)
        return shown if needle in shown else ""

    return await until(pilot, text, what=f"{needle!r} drawn on the screen")


def top_screen(app: Any, kind: type[S]) -> S:
    """The screen on top of `app` (a dialog a test reads), checked to be a `kind`."""
    screen = app.screen
    assert isinstance(screen, kind), (
        f"the top screen is a {type(screen).__name__}, not a {kind.__name__}"
    )
    return screen


def _mailconsole_command() -> list[str]:
    """The `mailconsole` script installed beside this interpreter (the wheel's or the editable one)."""
    beside = Path(sys.executable).with_name("mailconsole")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("mailconsole")
    return [found] if found else [sys.executable, "-m", "widgets"]


MAILCONSOLE = _mailconsole_command()
"""argv of the installed `mailconsole` command."""


def command_env(**extra: str) -> dict[str, str]:
    """The environment for a `mailconsole` subprocess: this one's without its MAILCONSOLE_* settings
    (each test says what it sets), except MAILCONSOLE_CONFIG, the tests' own settings file that keeps the
    host's own settings file out of the tests (tests/conftest.py); then `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MAILCONSOLE_") or key == "MAILCONSOLE_CONFIG"
    }
    env.update(extra)
    return env


async def keys_handled(pilot: Any) -> None:
    """Return once every key pressed so far has been handled, with the workers it started: how a
    test proves that a key did nothing. The help key (F1) is handled after them (keys are handled in
    order), so its screen showing is the proof. A key that opened a dialog returns at once."""
    from widgets.common.dialogs import HelpDialog

    app = pilot.app
    if len(app.screen_stack) == 1:
        await pilot.press("f1")  # not `?`, which an editor or an input with the focus would type
        await until(pilot, lambda: isinstance(app.screen, HelpDialog), what="the help dialog")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpDialog), what="the help to close")
    await app.workers.wait_for_complete()


async def queued_handled(pilot: Any) -> None:
    """Return once everything already queued for the app has been handled (what a message handler
    scheduled with `call_later` included): a callback queued now runs after them, in order."""
    done: list[bool] = []
    pilot.app.call_later(done.append, True)
    await until(pilot, lambda: done, what="the app's queued work")


async def palette_answered(pilot: Any, title: str) -> None:
    """Wait until the command palette, which searches in a worker, highlights the command `title`."""
    from textual.command import CommandList

    def highlighted() -> bool:
        commands = pilot.app.screen.query_one(CommandList)
        return commands.highlighted is not None and commands.get_option_at_index(
            commands.highlighted
        ).prompt.plain.startswith(title)

    await until(pilot, highlighted, what=f"the palette to offer {title!r}")


def planted_link(link: Path, victim: Path, uid: int = 1234) -> None:
    """A symbolic link at `link` to `victim` (made a file of root's holding "secret\n"), owned by
    user `uid`, as whoever may write the link's directory would plant it (needs root)."""
    victim.write_text("secret\n")
    link.symlink_to(victim)
    os.chown(link, uid, uid, follow_symlinks=False)


def run_mailconsole(conf: Path, *args: str) -> int:
    """`mailconsole --config CONF ARGS` in this process; its exit code (garbage collection, which
    the entry point pauses while the console starts, is on again afterwards)."""
    import gc

    from widgets.launch import main

    try:
        main(["--config", str(conf), *args])
    except SystemExit as exited:
        return int(exited.code or 0)
    finally:
        gc.enable()
    return 0
