"""OutputLog: a job's output drawn line by line (Line API), stderr marked, following the end.

Only the visible lines are drawn, each one a single ready segment, so a job writing thousands of lines
a second costs the screen what its height costs. Memory is bounded: the oldest lines go first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from console.jobs.process import KEEP_LINES

ERR_MARK = "! "
PAINT_S = 0.05
"""At most this long between new lines coming and their being drawn."""
"""What stderr lines start with (so they are told apart without colour too)."""


class OutputLog(ScrollView, can_focus=True):
    """A job's output lines (stream, printable text); at the end it follows new lines, scrolled up it
    stays where it is."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"output-log--err"}
    DEFAULT_CSS = """
    OutputLog { background: $surface; }
    OutputLog > .output-log--err { color: $warning; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "scroll_up", "Up", show=False),
        Binding("down", "scroll_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "End", show=False),
    ]

    def __init__(self, keep: int = KEEP_LINES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines: deque[tuple[str, str]] = deque(maxlen=keep)
        self.widest = 0
        self._paint_timer: Timer | None = None
        self._follow = False

    def set_lines(self, lines: Iterable[tuple[str, str]]) -> None:
        """Show these lines instead (another job, or a run from the history), from their end, now."""
        self.lines.clear()
        self.widest = 0
        self._take(lines)
        self._follow = True
        self.paint()

    def add_lines(self, lines: Iterable[tuple[str, str]]) -> None:
        """Append lines, drawn within PAINT_S: output streaming at thousands of lines a second is
        painted a few dozen times a second, not once per batch. The view follows the end when it was
        at the end."""
        self._follow = self._follow or self.scroll_offset.y >= self.max_scroll_y
        self._take(lines)
        if self._paint_timer is None:
            self._paint_timer = self.set_timer(PAINT_S, self.paint)

    def _take(self, lines: Iterable[tuple[str, str]]) -> None:
        new = list(lines)
        self.lines.extend(new)
        self.widest = max(
            self.widest, max((len(text) for _, text in new), default=0) + len(ERR_MARK)
        )

    def paint(self) -> None:
        """Draw what came: the new size, the end in view when following."""
        if self._paint_timer is not None:
            self._paint_timer.stop()
            self._paint_timer = None
        self.virtual_size = Size(self.widest, len(self.lines))
        if self._follow:
            self.scroll_to(
                y=max(0, len(self.lines) - self.scrollable_content_region.height),
                animate=False,
                immediate=True,
            )
        self._follow = False
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        base = self.rich_style
        if index >= len(self.lines):
            return Strip.blank(width, base)
        stream, text = self.lines[index]
        if stream == "err":
            segment = Segment(
                ERR_MARK + text, base + self.get_component_rich_style("output-log--err")
            )
        else:
            segment = Segment("  " + text, base)
        return Strip([segment]).crop_extend(
            self.scroll_offset.x, self.scroll_offset.x + width, base or Style()
        )
