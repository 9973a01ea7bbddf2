"""Untrusted text stays text: markup is literal, control characters are escaped."""

from __future__ import annotations

import json

from rich.console import Console
from rich.text import Text

from console.text import (
    count,
    decode,
    editable,
    first_uneditable_line,
    json_text,
    needs_escaping,
    printable,
    printable_lines,
)


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


def test_undecodable_bytes_kept_by_surrogateescape_are_shown_as_bytes() -> None:
    """A table or fdm.conf read with surrogateescape keeps a raw 0x9b (C1 CSI) as U+DC9B: printed
    as is, it would be that byte again on the terminal."""
    line = b"c1\x9b31mx@example.com \xff\xc3".decode("utf-8", "surrogateescape")
    assert printable(line) == "c1\\x9b31mx@example.com \\xff\\xc3"
    assert printable_lines(line + "\n\udc80") == "c1\\x9b31mx@example.com \\xff\\xc3\n\\x80"
    assert needs_escaping("\udcff") and needs_escaping("\udc80") and not needs_escaping("\ud7ff")
    assert printable("\udc7f\ud7ff\ue000") == "\udc7f\ud7ff\ue000"  # not from a byte: left


def test_text_for_an_editor_keeps_tabs_and_newlines_and_escapes_the_rest() -> None:
    hostile = "a\tb\nc\x1b[2J\rd\x0ce\x85f\u2028g\u2029h\u202ei\udce9\x7f\x00\x1f\x0b"
    assert editable(hostile) == (
        "a\tb\nc\\x1b[2J\\rd\\x0ce\\x85f\\u2028g\\u2029h\\u202ei\\xe9\\x7f\\x00\\x1f\\x0b"
    )
    assert editable("plain\ttext\n\u00e9\u2027\u202a\u2069\u206a") == (
        "plain\ttext\n\u00e9\u2027\\u202a\\u2069\u206a"
    )
    assert first_uneditable_line("a\nb\tc\n") is None
    assert first_uneditable_line("a\nb\nc\x1b\nd\x07") == 3
    assert first_uneditable_line("\x08") == 1 and first_uneditable_line("x\n\n\u2028") == 3
    assert first_uneditable_line("\n\x1b") == 2  # a newline first counts too


def test_json_for_the_command_line_is_always_valid_utf8() -> None:
    value = {"address": b"bad\xffutf@example.com".decode("utf-8", "surrogateescape"), "é": "ü"}
    text = json_text(value)
    assert text == '{"address": "bad\\udcffutf@example.com", "é": "ü"}'
    assert json.loads(text.encode("utf-8").decode("utf-8")) == value
    assert json_text([1], indent=2) == "[\n  1\n]"


def test_invalid_utf8_is_replaced() -> None:
    assert decode(b"ok \xff\xfe") == "ok \ufffd\ufffd"


# Every character a terminal acts on instead of showing, named, with its neighbours that must stay.
C0_CONTROLS = [chr(code) for code in range(0x00, 0x20) if code != 0x09]
C1_CONTROLS = [chr(code) for code in range(0x7F, 0xA0)]
BIDI_CONTROLS = {
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
}
SAFE_NEIGHBOURS = [
    " ",
    "~",
    "\xa0",
    "\xff",
    "\u0100",
    "\u2029",
    "\u202f",
    "\u2065",
    "\u206a",
    "é",
    "☃",
]


def test_every_c0_and_c1_control_is_escaped_as_its_code() -> None:
    named = {"\n": "\\n", "\r": "\\r"}
    for char in C0_CONTROLS + C1_CONTROLS:
        expected = named.get(char, f"\\x{ord(char):02x}")
        assert printable(f"a{char}b") == f"a{expected}b", repr(char)


def test_every_bidi_control_is_escaped_as_its_code_point() -> None:
    for char, name in BIDI_CONTROLS.items():
        assert printable(f"user{char}fdp.exe") == f"user\\u{ord(char):04x}fdp.exe", name


def test_a_carriage_return_cannot_overwrite_what_came_before() -> None:
    # "ok\rFAILED" on a terminal shows only FAILED: the CR is shown, both words stay.
    assert printable("status: ok\rFAILED") == "status: ok\\rFAILED"
    assert printable("\r\n") == "\\r\\n"
    assert printable_lines("one\r\ntwo\r") == "one\\r\ntwo\\r"


def test_printable_characters_next_to_the_unsafe_ranges_are_kept() -> None:
    for char in SAFE_NEIGHBOURS:
        assert printable(f"a{char}b") == f"a{char}b", repr(char)


def test_tabs_expand_to_the_tab_size_and_are_kept_when_it_is_zero() -> None:
    assert printable("a\tb") == "a   b"
    assert printable("ab\tc", tab_size=8) == "ab      c"
    assert printable("a\tb", tab_size=0) == "a\tb"


def test_lines_keep_spaces_and_every_newline() -> None:
    assert printable_lines("a b\x1b\n\nc\td") == "a b\\x1b\n\nc   d"


def test_decode_reads_utf8_and_never_raises() -> None:
    assert decode("héllo ☃".encode()) == "héllo ☃"
    assert decode(b"\xc3") == "\ufffd"


def test_count_is_singular_only_for_one_and_groups_thousands() -> None:
    assert count(1, "line") == "1 line"
    assert count(0, "line") == "0 lines"
    assert count(2, "line") == "2 lines"
    assert count(12345, "envelope") == "12,345 envelopes"


def test_needs_escaping_is_true_exactly_where_printable_changes_a_line() -> None:
    # Every character up to past the bidi isolates, alone and inside plain text; a newline alone
    # never counts (the caller splits lines), a tab does (printable expands it).
    for code in range(0x2100):
        char = chr(code)
        for text in (char, f"plain {char} text"):
            want = char != "\n" and printable(text) != text
            assert needs_escaping(text) is want, repr(text)
    assert needs_escaping("two\nlines") is False and needs_escaping("") is False
