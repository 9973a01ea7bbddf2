"""The log's lines on screen: `LogLines` draws only the visible lines (the Line API) from a source that
may grow at both ends, highlighted, with search matches shown; every line is `printable` text."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

import regex
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.logs.follow import FollowedLog, LogLine
from console.logs.parse import highlight
from console.logs.search import FilteredLines, line_spans
from console.text import printable
from widgets.common.repaint import RepaintOnResize

STYLE_OF = {
    "timestamp": "cyan",
    "host": "dim",
    "program": "magenta",
    "level": "dim",
    "error": "bold red",
    "warning": "yellow",
    "success": "green",
    "session": "blue",
    "message": "bold blue",
    "envelope": "bold blue",
    "address": "bright_cyan",
    "key": "dim",
    "virus": "bold white on red",
    "spam": "bold yellow",
}


MARKER_STYLE = "bold black on yellow"


MATCH_STYLE = "reverse"


CURRENT_MATCH_STYLE = "bold black on yellow"
"""The match a search landed on, told apart from the other matches."""


CURRENT_STYLE = Style(bgcolor="grey23")


TEXT_CACHE = 500
"""Rendered lines kept: a few screens' worth, so scrolling back and forth redraws nothing."""


ORIGIN_WIDTH = 12
"""Characters of the file name shown before each line of a merged view."""


class LineSource(Protocol):
    """What `LogLines` draws: numbered lines that may grow at both ends."""

    def __len__(self) -> int: ...

    def line(self, n: int) -> LogLine: ...

    @property
    def prepended(self) -> int: ...


class FilteredSource:
    """The lines of a log a filter kept (built once the log is fully indexed, so numbers are final)."""

    def __init__(self, log: FollowedLog, kept: FilteredLines) -> None:
        self.followed = log
        self.kept = kept
        self.prepended = 0

    def __len__(self) -> int:
        return len(self.kept)

    def line(self, n: int) -> LogLine:
        """The n-th kept line."""
        return self.followed.line(self.kept[n])


class LogLines(RepaintOnResize, ScrollView, can_focus=True):
    """The lines of one source, read and highlighted only when they are on screen."""

    # No horizontal scrollbar (a lone thumb glyph on an 80x24 terminal): the status line says when
    # the view is scrolled sideways.
    DEFAULT_CSS = "LogLines { height: 1fr; scrollbar-size-horizontal: 0; }"

    following: var[bool] = var(True)
    """Kept at the end as lines arrive; off once the user scrolls up or a search lands (watched by
    the Logs screen's status line)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source: LineSource | None = None
        self.current: int | None = None
        """The line a search or jump landed on (shown with a background)."""
        self.pattern: regex.Pattern[str] | None = None
        """Matches of the current search, shown reversed (not on a line where matching takes longer
        than LINE_TIMEOUT_S)."""
        self._cache: OrderedDict[int, Strip] = OrderedDict()
        self._prepended = 0
        self._width = 0
        self._base = Style()

    def set_source(self, source: LineSource | None, *, follow: bool = True) -> None:
        """Show another source, at its end."""
        self.source = source
        self._cache.clear()
        self._prepended = source.prepended if source is not None else 0
        self.current = None
        self._width = 0
        self.following = follow
        self.virtual_size = Size(0, len(source) if source is not None else 0)
        self.scroll_to(0, self.max_scroll_y if follow else 0, animate=False, immediate=True)
        self.refresh()

    def set_pattern(self, pattern: regex.Pattern[str] | None) -> None:
        """Mark the matches of `pattern` in every drawn line."""
        self.pattern = pattern
        self._cache.clear()
        self.refresh()

    def sync(self) -> int:
        """Catch up with the source (lines added at the top keep the place); returns lines appended."""
        if self.source is None:
            return 0
        prepended = self.source.prepended
        shift = prepended - self._prepended
        if shift:
            self._prepended = prepended
            self._cache.clear()
            if self.current is not None:
                self.current += shift
        before = self.virtual_size.height + shift
        count = len(self.source)
        self._set_height(count)
        if self.following:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        elif shift:
            self.scroll_to(y=self.scroll_y + shift, animate=False, immediate=True)
        self.refresh()
        return max(0, count - before)

    def _set_height(self, count: int) -> None:
        """Grow the scrollable height; with the scrollbar already there, without a screen layout.

        Assigning `virtual_size` lays out the whole screen (file list included) on every batch of
        followed lines; the cheap path updates the reactive and the scrollbar only.
        """
        size = Size(self._width, count)
        height = self.scrollable_content_region.height
        if size == self.virtual_size:
            return
        if (
            self.virtual_size.height > height
            and count > height
            and size.width == self.virtual_size.width
        ):
            self.set_reactive(LogLines.virtual_size, size)
            self._scroll_update(size)
        else:
            self.virtual_size = size

    def behind(self) -> bool:
        """True when the source gained lines at the top that the view has not taken in yet."""
        return self.source is not None and self.source.prepended != self._prepended

    def invalidate(self, n: int) -> None:
        """Forget the drawn text of line n (a partial last line that grew)."""
        self._cache.pop(n, None)

    def go_to(self, n: int) -> None:
        """Stop following and show line n near the middle of the screen, marked as current; its
        first search match is brought into view sideways (a long line's match past the right edge)."""
        for line in (self.current, n):
            if line is not None:
                self._cache.pop(line, None)
        self.current = n
        self.following = False
        self.scroll_to(
            x=self._match_x(n), y=max(0, n - self.size.height // 2), animate=False, immediate=True
        )
        self.refresh()

    def _match_x(self, n: int) -> float:
        """The horizontal scroll that shows line n's first match (none when it fits as it is)."""
        if self.pattern is None or self.source is None:
            return 0
        self._strip(n)  # widens the scrollable width to this line's
        self._widen()
        own = self._shown(n)
        spans = line_spans(self.pattern, own)
        if not spans:
            return 0
        offset = self._text(n).cell_len - len(own)  # a merged view's file name comes first
        start, end = offset + spans[0][0], offset + spans[0][1]
        width = self.scrollable_content_region.width or self.size.width
        if end <= width:
            return 0
        return max(0, start - width // 4)  # a quarter of the width of context before it

    def _shown(self, n: int) -> str:
        """Line n's own text as drawn (without the file name a merged view puts before it)."""
        assert self.source is not None
        try:
            return printable(self.source.line(n + self.source.prepended - self._prepended).text)
        except (IndexError, OSError):
            return ""

    def follow(self) -> None:
        """Go to the end and follow new lines again."""
        if self.current is not None:
            self._cache.pop(self.current, None)
        self.current = None
        self.following = True
        self.scroll_to(x=0, y=self.max_scroll_y, animate=False, immediate=True)
        self.refresh()

    def top_line(self) -> int:
        """Number of the first line on screen."""
        return int(self.scroll_y)

    def bottom_line(self) -> int:
        """Number of the last line on screen."""
        count = len(self.source) if self.source is not None else 0
        return max(0, min(count, int(self.scroll_y) + self.scrollable_content_region.height) - 1)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < old_value and new_value < self.max_scroll_y:
            self.following = False
        elif new_value >= self.max_scroll_y and round(new_value) != round(old_value):
            self.following = True

    def action_scroll_end(self) -> None:
        self.follow()

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        """A new size keeps a following view at the end, before the frame is drawn: the first frame
        shows the last lines (a Resize handler would run only after that frame was drawn at the top)."""
        changed = super()._size_updated(size, virtual_size, container_size, layout)
        if self.following and self.scroll_y != self.max_scroll_y:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        return changed

    def _text(self, n: int) -> Text:
        """Line n as styled text: printable, highlighted, search matches marked."""
        assert self.source is not None
        try:
            # Lines the background index added since the last sync shift the source's numbering.
            line = self.source.line(n + self.source.prepended - self._prepended)
        except IndexError:
            return Text("")
        except OSError as exc:
            line = LogLine(f"(cannot read this line: {exc.strerror or exc})", marker=True)
        shown = printable(line.text)
        origin = (
            Text(f"{printable(line.origin)[:ORIGIN_WIDTH]:<{ORIGIN_WIDTH}} ", style="dim")
            if line.origin
            else None
        )
        if line.marker:
            text = Text(shown, style=MARKER_STYLE, no_wrap=True, end="")
            return Text.assemble(origin, text, no_wrap=True, end="") if origin else text
        text = Text(shown, no_wrap=True, end="")
        for span in highlight(shown):
            style = STYLE_OF.get(span.style)
            if style:
                text.stylize(style, span.start, span.end)
        if self.pattern is not None:
            for index, (start, end) in enumerate(line_spans(self.pattern, shown)):
                current = n == self.current and index == 0
                text.stylize(CURRENT_MATCH_STYLE if current else MATCH_STYLE, start, end)
        return Text.assemble(origin, text, no_wrap=True, end="") if origin else text

    def _strip(self, n: int) -> Strip:
        """Line n rendered whole (cached: scrolling and following redraw the same lines)."""
        cached = self._cache.get(n)
        if cached is not None:
            self._cache.move_to_end(n)
            return cached
        text = self._text(n)
        strip = Strip(list(text.render(self.app.console)), text.cell_len).apply_style(self._base)
        self._cache[n] = strip
        if len(self._cache) > TEXT_CACHE:
            self._cache.popitem(last=False)
        if text.cell_len > self._width:
            self._width = text.cell_len
            self.call_after_refresh(self._widen)
        return strip

    def _widen(self) -> None:
        if self._width > self.virtual_size.width:
            self.virtual_size = Size(self._width, self.virtual_size.height)

    def render_lines(self, crop: Any) -> list[Strip]:
        base = self.rich_style  # computed once per frame, not once per line
        if base != self._base:
            self._base = base
            self._cache.clear()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        n = scroll_y + y
        if self.source is None or n >= len(self.source):
            return Strip.blank(width, self._base)
        strip = self._strip(n).crop_extend(scroll_x, scroll_x + width, self._base)
        return strip.apply_style(CURRENT_STYLE) if n == self.current else strip
