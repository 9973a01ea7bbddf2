"""Untrusted text made safe to show: control characters escaped, never interpreted.

Log lines, headers, addresses and program output are written by strangers. Whatever the UI or the CLI
prints goes through `printable` first; the UI then renders it as `rich.text.Text`, never as markup.
"""

from __future__ import annotations

import re

# C0 controls except TAB, DEL, C1 controls, the bidi overrides that can reorder what a line shows, and
# the lone surrogates that stand for undecodable bytes (surrogateescape): printed, they would be those
# raw bytes again, 0x9b a C1 CSI to a terminal that reads 8-bit controls.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\udc80-\udcff]")


def _escape(match: re.Match[str]) -> str:
    """One unsafe character as Python writes it in a literal: `\\n`, `\\r`, `\\x1b`, `\\u202e`; an
    undecodable byte as the byte: `\\xff`."""
    char = match.group()
    if char >= "\udc80":
        return f"\\x{ord(char) - 0xDC00:02x}"
    return ascii(char)[1:-1]


def printable(text: str, tab_size: int = 4) -> str:
    """`text` with every control character shown as an escape (ESC as `\\x1b`) and tabs as spaces."""
    if tab_size:
        text = text.expandtabs(tab_size)
    return _UNSAFE.sub(_escape, text)


_UNSAFE_BUT_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\udc80-\udcff]"
)


def needs_escaping(text: str) -> bool:
    """True when `text` holds something `printable` would change, newlines apart (one quick scan, so
    plain lines can skip the work line by line)."""
    return _UNSAFE_BUT_NEWLINE.search(text) is not None


# What `printable` escapes but tab and newline, and the line separators a text editor breaks lines at.
_UNSAFE_IN_TEXT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\udc80-\udcff]"
)


def editable(text: str) -> str:
    """Multi-line untrusted text for a text editor: tabs and newlines kept, every other control
    character, line separator, bidi control and undecodable byte escaped as `printable` does."""
    return _UNSAFE_IN_TEXT.sub(_escape, text)


def first_uneditable_line(text: str) -> int | None:
    """The number (from 1) of the first line a text editor cannot show as it is, or None: one with
    a character `editable` escapes (a terminal would act on it, or the editor would change it)."""
    found = _UNSAFE_IN_TEXT.search(text)
    return None if found is None else text[: found.start()].count("\n") + 1


def decode(data: bytes) -> str:
    """Bytes from a file or a process as text: invalid UTF-8 becomes U+FFFD, never an error."""
    return data.decode(errors="replace")  # Python decodes UTF-8 by default


def printable_lines(text: str) -> str:
    """Multi-line untrusted text made safe line by line (newlines kept, every other control escaped)."""
    return "\n".join(printable(line) for line in text.split("\n"))


def json_text(value: object, indent: int | None = None) -> str:
    """JSON as the command line prints it: other scripts as themselves, but an undecodable byte
    kept by surrogateescape (a table or fdm.conf line) as JSON's own `\\udcff` escape, so the
    output is always valid UTF-8 (printed as is, it was the raw byte, which JSON readers refuse)."""
    import json  # here, not at the top: the console's start-up does without it

    dumped = json.dumps(value, indent=indent, ensure_ascii=False)
    return dumped.encode(errors="backslashreplace").decode()


def count(n: int, noun: str) -> str:
    """`n noun` with thousands separators, the noun plural unless n is 1: "1 line", "12,345 lines"."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
