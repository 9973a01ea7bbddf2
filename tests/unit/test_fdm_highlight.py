"""The fdm.conf highlighter of the Rules editor: comments, strings, keywords, macros, byte offsets."""

from __future__ import annotations

from widgets.rules.editor import highlight_line


def spans(line: str) -> list[tuple[str, str]]:
    data = line.encode()
    return [(data[start:end].decode(), style) for start, end, style in highlight_line(line)]


def test_statements_conditions_action_types_strings_and_macros() -> None:
    assert spans('match "^To:.+${me}" in headers action "inbox" continue') == [
        ("match", "keyword"),
        ('"^To:.+${me}"', "string"),
        ("${me}", "type.builtin"),
        ("in", "conditional"),
        ("headers", "conditional"),
        ("action", "keyword"),
        ('"inbox"', "string"),
        ("continue", "keyword"),
    ]
    assert spans("action 'x' pipe '$not_a_macro'") == [
        ("action", "keyword"),
        ("'x'", "string"),
        ("pipe", "function"),
        ("'$not_a_macro'", "string"),
    ]
    assert spans('%n = 10K  # size "limit" match') == [
        ("%n", "type.builtin"),
        ("10K", "number"),
        ('# size "limit" match', "comment"),
    ]


def test_a_hash_inside_a_string_is_not_a_comment_and_offsets_are_bytes() -> None:
    assert spans('match "a#b" action "é" # café') == [
        ("match", "keyword"),
        ('"a#b"', "string"),
        ("action", "keyword"),
        ('"é"', "string"),
        ("# café", "comment"),
    ]
    assert spans('match "unterminated') == [("match", "keyword"), ('"unterminated', "string")]
