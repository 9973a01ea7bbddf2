"""Untrusted text stays text: markup is literal, control characters are escaped."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from console.text import decode, printable, printable_lines


def test_ansi_and_controls_are_escaped() -> None:
    assert printable("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m"
    assert printable("a\x00b\x07c\x7fd\x9be") == "a\\x00b\\x07c\\x7fd\\x9be"
    assert printable("line\nbreak\r") == "line\\nbreak\\r"
    assert printable("rtl\u202eevil") == "rtl\\u202eevil"
    assert printable("a\tb") == "a   b"


def test_markup_stays_literal_when_rendered_as_text() -> None:
    hostile = "[red]x[/red] [link=http://evil]click[/link] [bold"
    console = Console(record=True, width=100, color_system="truecolor")
    console.print(Text(printable(hostile)))
    assert console.export_text().strip() == hostile
    assert "\x1b]8;" not in console.export_text(styles=True)


def test_lines_keep_newlines_only() -> None:
    assert printable_lines("a\x1b\nb") == "a\\x1b\nb"


def test_invalid_utf8_is_replaced() -> None:
    assert decode(b"ok \xff\xfe") == "ok \ufffd\ufffd"
