"""The Logs screen's file list: every log file with its size and age, rotated files under theirs.

Each file takes one line. The list is as wide as its longest entry allows (up to the screen's limit);
narrower than that, the time goes first, then the middle of long names gives way to "…" (their start
and their end, `.log.1`, stay), then the size.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip

from console.logs.discovery import LogFileInfo
from console.text import printable
from widgets.common.entries import EntryList

NAME_AT_LEAST = 8
"""Cells a name keeps before the size column gives way too."""


def human_size(size: int) -> str:
    """1536 -> '1.5K', 15360 -> '15K': at most five cells, for the file list."""
    value, unit = float(size), "B"
    for unit in ("B", "K", "M", "G", "T"):  # noqa: B007 - the unit reached is the answer
        if value < 1024:
            break
        value /= 1024
    return f"{value:.0f}{unit}" if unit == "B" or value >= 10 else f"{value:.1f}{unit}"


class FileEntry(NamedTuple):
    """One file's entry: the name shown (a rotated file's with a branch in front), size and time."""

    name: str
    size: str
    when: str
    rotated: bool = False

    def __str__(self) -> str:
        return f"{self.name}  {self.size} {self.when}"


def file_entry(info: LogFileInfo, rotated: bool = False) -> FileEntry:
    """The entry of a log file: time of day if it changed today, else month and day."""
    stamp = time.localtime(info.mtime)
    when = time.strftime("%H:%M" if time.localtime()[:3] == stamp[:3] else "%m-%d", stamp)
    name = ("└ " if rotated else "") + printable(info.path.name)
    return FileEntry(name, human_size(info.size), when, rotated)


def shorten_middle(name: str, width: int) -> str:
    """`name` in at most `width` cells: when too long its middle becomes "…", so that its start and
    its end (from the first dot: `.log.1`, `.log-20251124.gz`) stay, the end in half the room at most."""
    if cell_len(name) <= width:
        return name
    if width < 2:
        return "…"[:width]
    dot = name.find(".", 1)
    end = name[dot:] if dot > 0 else ""
    room = (width - 1) // 2
    if cell_len(end) > room:  # its last `room` cells
        end = set_cell_size(end[::-1], room)[::-1]
    start = set_cell_size(name, width - 1 - cell_len(end))
    return start + "…" + end


class FileList(EntryList):
    """The log files, one line each: up and down move, enter or a click opens. Other entries (the
    merged view, an error) are text, wrapped to the width."""

    DEFAULT_CSS = (
        "FileList { width: auto; min-width: 16; padding: 0 1; scrollbar-size-vertical: 1; }"
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prompts: list[Text | FileEntry] = []
        """One entry per line of the list: a file, or a line of text."""

    def set_options(self, prompts: list[Text | FileEntry], enabled: list[bool]) -> None:
        """List these entries (the cursor stays on the same index when it still can be chosen)."""
        self.prompts = prompts
        self.changed(enabled)

    def _columns(self) -> tuple[int, int]:
        """The widest name and the widest size of the files."""
        files = [p for p in self.prompts if isinstance(p, FileEntry)]
        return (
            max((cell_len(f.name) for f in files), default=0),
            max((cell_len(f.size) for f in files), default=0),
        )

    def get_content_width(self, container: Size, viewport: Size) -> int:
        """Wide enough for every file with its size and time, and for every line of text."""
        name, size = self._columns()
        files = name + 2 + size + 1 + 5 if name else 0
        texts = [p.cell_len for p in self.prompts if isinstance(p, Text)]
        return max([files, *texts])

    def lay_out(self, width: int) -> tuple[list[Strip], list[list[Strip]]]:
        console = self.app.console
        name_width, size_width = self._columns()
        time_width = 5
        if name_width + 2 + size_width + 1 + time_width > width:
            time_width = 0  # the time goes first
        if time_width == 0 and width - 2 - size_width < min(name_width, NAME_AT_LEAST):
            size_width = 0  # then the size
        extra = (2 + size_width if size_width else 0) + (1 + time_width if time_width else 0)
        name_room = max(1, width - extra)
        entries = []
        for prompt in self.prompts:
            if isinstance(prompt, Text):
                entries.append(
                    [
                        Strip(list(line.render(console)), line.cell_len)
                        for line in prompt.wrap(console, max(width, 1))
                    ]
                )
                continue
            name = shorten_middle(prompt.name, name_room)
            segments = [Segment(name, Style(dim=True) if prompt.rotated else None)]
            if size_width:
                pad = " " * (name_room - cell_len(name) + 2 + size_width - cell_len(prompt.size))
                segments.append(Segment(pad + prompt.size, Style(dim=True)))
            if time_width:
                segments.append(Segment(" " + prompt.when, Style(dim=True)))
            entries.append([Strip(segments).crop_extend(0, width, None)])
        return [], entries
