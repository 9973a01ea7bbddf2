"""The Logs screen's file list: every log file with its size and age, rotated files under theirs."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.strip import Strip

from console.logs.discovery import LogFileInfo
from console.text import printable
from widgets.common.entries import EntryList


def human_size(size: int) -> str:
    """1536 -> '1.5K': sizes for the file list."""
    value, unit = float(size), "B"
    for unit in ("B", "K", "M", "G", "T"):  # noqa: B007 - the unit reached is the answer
        if value < 1024:
            break
        value /= 1024
    return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"


def file_label(info: LogFileInfo, rotated: bool = False) -> Text:
    """One row of the file list: name, size and time of last change."""
    stamp = time.localtime(info.mtime)
    when = time.strftime("%H:%M" if time.localtime()[:3] == stamp[:3] else "%m-%d", stamp)
    name = ("└ " if rotated else "") + printable(info.path.name)
    label = Text.assemble(
        (name, "dim" if rotated else ""), "  ", (f"{human_size(info.size)} {when}", "dim")
    )
    label.no_wrap, label.overflow = True, "ellipsis"
    return label


class FileList(EntryList):
    """The log files, one entry each (wrapped to the width): up and down move, enter or a click opens."""

    DEFAULT_CSS = "FileList { width: 30; padding: 0 1; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prompts: list[Text] = []
        """One label per entry."""

    def set_options(self, prompts: list[Text], enabled: list[bool]) -> None:
        """List these entries (the cursor stays on the same index when it still can be chosen)."""
        self.prompts = prompts
        self.changed(enabled)

    def lay_out(self, width: int) -> tuple[list[Strip], list[list[Strip]]]:
        console = self.app.console
        return [], [
            [
                Strip(list(line.render(console)), line.cell_len)
                for line in prompt.wrap(console, max(width, 1), no_wrap=False)
            ]
            for prompt in self.prompts
        ]
