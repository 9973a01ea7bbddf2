"""EntryList: a short list of entries drawn line by line, with a cursor (the log files, the programs)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.text import printable

CURSOR_KEYS: list[BindingType] = [
    Binding("up", "move(-1)", "Previous", show=False),
    Binding("down", "move(1)", "Next", show=False),
    Binding("pageup", "page(-1)", "Page up", show=False),
    Binding("pagedown", "page(1)", "Page down", show=False),
    Binding("home", "move(-1000000)", "First", show=False),
    Binding("end", "move(1000000)", "Last", show=False),
]
"""The keys of a list with a cursor: its `action_move(step)` clamps, `action_page(direction)` pages."""


class EntryList(ScrollView, can_focus=True):
    """Entries of one or more lines each, under optional title lines that do not scroll. Up, down,
    page up/down, home and end move the cursor over the entries that can be chosen; enter or a click
    chooses one (`Selected`).

    A subclass says what the entries look like at a width (`lay_out`) and calls `changed()` when they
    change. Drawing a line is only styling a ready Strip: the lines are made again only when the
    entries or the width change. (Textual's OptionList and DataTable render through Rich on every
    change: that cost the Logs screen a sixth of its start-up, and was most of the Services screen's
    idle CPU, since a running program's uptime changes every second.)
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"entry-list--cursor"}
    DEFAULT_CSS = """
    EntryList > .entry-list--cursor { background: $block-cursor-blurred-background; }
    EntryList:focus > .entry-list--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *CURSOR_KEYS,
        Binding("enter", "select", "Choose", show=False),
    ]

    class Selected(Message):
        """An entry was chosen (enter or a click)."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.enabled: list[bool] = []
        """One flag per entry: can it be chosen? (Entries that cannot are drawn dim.)"""
        self.highlighted: int | None = None
        """The entry under the cursor, which enter chooses."""
        self._titles: list[Strip] = []
        self._rows: list[
            tuple[int, Strip]
        ] = []  # (entry, one of its lines) per line below the titles
        self._width: int | None = None  # the width the lines were made for; None: make them again

    # ------------------------------------------------------------------ what subclasses provide

    def lay_out(self, width: int) -> tuple[list[Strip], list[list[Strip]]]:
        """The title lines, and each entry's lines, at this width."""
        raise NotImplementedError

    def line_style(self, entry: int) -> Style:
        """A style under an entry's lines (zebra stripes, say); the cursor's goes on top."""
        return Style()

    def changed(self, enabled: list[bool], keep: int | None = None) -> None:
        """The entries changed (`enabled` has one flag per entry): the cursor goes to `keep`, else
        stays on its index, else on the first entry that can be chosen."""
        self.enabled = enabled
        at = keep if keep is not None else self.highlighted
        if at is None or at >= len(enabled) or not enabled[at]:
            at = next((i for i, ok in enumerate(enabled) if ok), None)
        self.highlighted = at
        self._width = None
        self.refresh()

    # ------------------------------------------------------------------ layout and drawing

    def _lines(self, width: int) -> list[tuple[int, Strip]]:
        if width != self._width:
            self._width = width
            self._titles, entries = self.lay_out(width)
            self._rows = [(index, line) for index, lines in enumerate(entries) for line in lines]
            self.virtual_size = Size(width, len(self._titles) + len(self._rows))
        return self._rows

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """As many lines as the entries take at this width (for `height: auto`)."""
        return len(self._titles) + len(self._lines(width))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        rows = self._lines(width)
        base = self.rich_style
        if y < len(self._titles):
            return self._titles[y].crop_extend(0, width, base).apply_style(base)
        row = self.scroll_offset.y + y - len(self._titles)
        if row >= len(rows):
            return Strip.blank(width, base)
        index, line = rows[row]
        line = line.crop_extend(0, width, None)
        style = base + self.line_style(index)
        if index == self.highlighted:  # the cursor's colours win over the entry's own
            cursor = self.get_component_rich_style("entry-list--cursor")
            return Strip(Segment.apply_style(iter(line), style, post_style=cursor), width)
        return line.apply_style(style + Style(dim=True) if not self.enabled[index] else style)

    # ------------------------------------------------------------------ keys and mouse

    def action_move(self, step: int) -> None:
        """Put the cursor on the next (or previous) entry that can be chosen."""
        choosable = [i for i, ok in enumerate(self.enabled) if ok]
        if not choosable:
            return
        at = (
            choosable.index(self.highlighted)
            if self.highlighted in choosable
            else -1
            if step > 0
            else len(choosable)
        )
        self.move_to(choosable[max(0, min(len(choosable) - 1, at + step))])

    def action_page(self, direction: int) -> None:
        self.action_move(
            direction * max(1, self.scrollable_content_region.height - len(self._titles) - 1)
        )

    def move_to(self, index: int) -> None:
        """Put the cursor on an entry and scroll it into view."""
        self.highlighted = index
        lines = [n for n, (entry, _) in enumerate(self._rows) if entry == index]
        if (
            lines
        ):  # the titles take the top of the view: the region reaches that far below the entry
            self.scroll_to_region(
                Region(0, lines[0], 1, len(lines) + len(self._titles)), animate=False
            )
        self.refresh()

    def action_select(self) -> None:
        """Choose the entry under the cursor."""
        if self.highlighted is not None:
            self.post_message(self.Selected(self.highlighted))

    def on_click(self, event: Click) -> None:
        row = self.scroll_offset.y + event.y - len(self._titles)
        if 0 <= row < len(self._rows) and self.enabled[self._rows[row][0]]:
            self.move_to(self._rows[row][0])
            self.action_select()


def fit_cell(value: str, size: int) -> str:
    """Untrusted text in exactly `size` cells (control characters escaped): padded, or cut with
    "…" as its last cell, so that a cut value does not pass for a whole one. By cells, not
    characters: wide characters keep the columns."""
    shown = printable(value)
    if cell_len(shown) <= size:
        return set_cell_size(shown, size)
    return set_cell_size(shown, size - 1) + "…" if size else ""


def cells_strip(cells: list[tuple[str, int, str]], width: int) -> Strip:
    """Fixed-width cells of untrusted text (control characters escaped, never markup); a cell of
    width 0 takes the rest of the line."""
    segments = []
    used = 0
    for value, size, style in cells:
        size = size or max(0, width - used)
        shown = fit_cell(value, size)
        segments += [Segment(shown, Style.parse(style) if style else None), Segment(" ")]
        used += size + 1
    return Strip(segments).crop_extend(0, width, None)
