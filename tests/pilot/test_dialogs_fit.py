"""Every dialog of the console fits an 80x24 terminal: long content scrolls inside it, its buttons
(or its closing hint) stay on the screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.app import App
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Label

from console.fdm.testmail import RouteChange
from tests.helpers import until
from widgets.common.dialogs import ConfirmDialog, HelpDialog, SignalDialog
from widgets.rules.dialogs import BackupDialog, CorpusDialog, MessageSourceDialog, ReviewDialog

LONG = "\n".join(
    f'  line {n}: action "a{n}" is never used, and this sentence is long enough to wrap'
    for n in range(80)
)


def dialogs(tmp_path: Path) -> dict[str, Screen[Any]]:
    """One of each dialog, with as much content as a real one can get."""
    changes = [
        RouteChange(
            f"message-{n}.eml",
            "delivered: bob_inbox -> bob/INBOX",
            f"delivered: bob_mailinglists -> bob/Lists/a-very-long-folder-name-{n}",
        )
        for n in range(40)
    ]
    return {
        "confirm": ConfirmDialog(
            "Remove for good 40 envelopes (" + ", ".join(f"{n:016x}" for n in range(400)) + ")?",
            yes_label="Remove for good",
        ),
        "review": ReviewDialog("Save fdm.conf with 80 warnings?", Text(LONG), yes_label="Save"),
        "signal": SignalDialog("opensmtpd"),
        "help": HelpDialog(
            "Keys of the Queue screen", [(f"k{n}", f"key number {n}") for n in range(40)]
        ),
        "message": MessageSourceDialog(tmp_path / "spool"),
        "corpus": CorpusDialog(Text("40 saved messages change route"), changes),
        "backup": BackupDialog(
            [tmp_path / f"fdm.conf.2026120{n % 10}T0000{n:02d}.bak" for n in range(60)]
        ),
    }


def on_screen(widget: Widget) -> bool:
    """The widget is drawn whole inside the 80x24 terminal."""
    region = widget.region
    return (
        region.height > 0
        and region.width > 0
        and region.x >= 0
        and region.y >= 0
        and region.right <= 80
        and region.bottom <= 24
    )


@pytest.mark.parametrize(
    "name", ["confirm", "review", "signal", "help", "message", "corpus", "backup"]
)
async def test_dialog_fits_80x24(name: str, tmp_path: Path) -> None:
    app: App[None] = App()
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = dialogs(tmp_path)[name]
        await app.push_screen(dialog)
        await until(pilot, lambda: dialog.query_one(".dialog").region.height > 0)
        frame = dialog.query_one(".dialog")
        assert frame.region.bottom <= 24 and frame.region.y >= 0, frame.region
        buttons = list(dialog.query(Button))
        closing = [label for label in dialog.query(Label) if "escape" in str(label.render())]
        assert buttons or closing, "a dialog says how to leave it"
        for widget in buttons + closing:
            assert on_screen(widget), f"{name}: {widget} at {widget.region} is off the 80x24 screen"
            assert frame.region.contains_region(widget.region), (
                f"{name}: {widget} at {widget.region} is cut off by the dialog at {frame.region}"
            )
