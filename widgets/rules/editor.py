"""A TextArea for fdm.conf: a small highlighter (no tree-sitter) and finding markers in the gutter.

TextArea draws syntax from `_highlights` (line -> byte ranges and style names of its theme); tree-sitter
is not installed, so `_build_highlight_map` is overridden to fill it from a regex tokenizer, one line at
a time, cached by line text. Lines with linter findings get a coloured dot between number and text.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widgets import TextArea

# Statements, condition words and action types of fdm.conf; style names of TextArea's themes.
STATEMENTS = frozenset(
    {
        "match",
        "action",
        "actions",
        "account",
        "accounts",
        "set",
        "continue",
        "include",
        "ifdef",
        "ifndef",
        "endif",
    }
)
CONDITIONS = frozenset(
    {
        "all",
        "and",
        "or",
        "not",
        "in",
        "headers",
        "body",
        "matched",
        "unmatched",
        "case",
        "tagged",
        "size",
        "age",
        "string",
        "to",
        "user",
        "users",
        "disabled",
        "stdin",
        "keep",
        "drop",
    }
)
ACTION_TYPES = frozenset(
    {
        "pipe",
        "exec",
        "maildir",
        "mbox",
        "rewrite",
        "add-header",
        "remove-header",
        "remove-headers",
        "tag",
        "write",
        "append",
        "smtp",
        "stdout",
        "value",
        "compress",
    }
)
_TOKEN = re.compile(
    r"""
    (?P<comment>\#.*)
  | (?P<string>"(?:\\.|[^"\\])*"?|'[^']*'?)
  | (?P<macro>[$%](?:\{[^}]*\}?|\[[^\]]*\]?|\w+))
  | (?P<number>\b\d+[KMGkmg]?\b)
  | (?P<word>[A-Za-z][\w-]*)
""",
    re.VERBOSE,
)
_MACRO_IN_STRING = re.compile(r"(?<!\\)[$%](?:\{[^}]*\}|\[[^\]]*\]|\w+)")
MARKS = {
    "error": ("●", Style(color="red", bold=True)),
    "warning": ("●", Style(color="yellow", bold=True)),
    "info": ("·", Style(color="cyan")),
}

Highlight = tuple[int, "int | None", str]


def _word_style(word: str) -> str | None:
    if word in STATEMENTS:
        return "keyword"
    if word in CONDITIONS:
        return "conditional"
    if word in ACTION_TYPES:
        return "function"
    return None


@lru_cache(maxsize=4096)
def highlight_line(line: str) -> tuple[Highlight, ...]:
    """The highlights of one line: (start byte, end byte, style name), later ones drawn on top."""
    spans: list[tuple[int, int, str]] = []
    for found in _TOKEN.finditer(line):
        kind = found.lastgroup or ""
        start, end = found.span()
        if kind == "word":
            style = _word_style(found.group())
            if style:
                spans.append((start, end, style))
        elif kind == "macro":
            spans.append((start, end, "type.builtin"))
        elif kind == "string":
            spans.append((start, end, "string"))
            if found.group().startswith('"'):
                for inner in _MACRO_IN_STRING.finditer(line, start, end):
                    spans.append((inner.start(), inner.end(), "type.builtin"))
        else:
            spans.append((start, end, kind))
    if line.isascii():
        return tuple((start, end, style) for start, end, style in spans)
    return tuple(
        (len(line[:start].encode()), len(line[:end].encode()), style) for start, end, style in spans
    )


class FdmEditor(TextArea):
    """fdm.conf with highlighting, line numbers and a marker on each line that has findings."""

    def __init__(self, text: str = "", **kwargs: object) -> None:
        self.marks: dict[int, str] = {}
        super().__init__(
            text,
            show_line_numbers=True,
            soft_wrap=False,
            tab_behavior="focus",
            **kwargs,  # type: ignore[arg-type]
        )

    def _build_highlight_map(self) -> None:
        """Fill TextArea's highlight map from the fdm tokenizer (cached per line text)."""
        self._line_cache.clear()
        highlights = self._highlights
        highlights.clear()
        for index, line in enumerate(self.document.lines):
            spans = highlight_line(line)
            if spans:
                highlights[index] = list(spans)

    def set_marks(self, marks: dict[int, str]) -> None:
        """Mark lines (0-based) with a severity (error, warning, info); repaint when they change."""
        if marks != self.marks:
            self.marks = dict(marks)
            self._line_cache.clear()
            self.refresh()

    def _render_line(self, y: int) -> Strip:
        """TextArea's line, with the gutter's last-but-one cell replaced by the line's marker."""
        strip = super()._render_line(y)
        line_index = self.scroll_offset.y + y  # soft wrap is off: one display row per line
        severity = self.marks.get(line_index)
        gutter = self.gutter_width
        if severity is None or not self.show_line_numbers or strip.cell_length < gutter:
            return strip
        symbol, colour = MARKS[severity]
        number = strip.crop(0, gutter - 2)
        segments = list(number)
        under = segments[-1].style if segments and segments[-1].style else Style()
        marker = Strip([Segment(symbol, under + colour)], 1)
        return Strip.join([number, marker, strip.crop(gutter - 1, strip.cell_length)])
