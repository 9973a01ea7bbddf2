"""Generated configs and messages: the router must agree with both real fdm binaries on each.

Hypothesis builds small configs from every condition and action the router models (regexes in
headers, body or anywhere, case, not, and/or, size near the message's own size, all, matched,
unmatched, tagged, string on tags, nested blocks, continue; tag, add-header, remove-header, drop,
keep, recorded deliveries) and messages from fdm's edge cases (folds, no blank line, no final
newline, CRLF, 8-bit bytes, duplicate and misplaced Received headers). The expected answer is the real
binary's. Example counts are bounded so the suite stays fast.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.fdm.parser import parse
from tests.integration.fdm_diff import VERSIONS, Differ, require_fdm

pytestmark = pytest.mark.lab

# Regexes both dialects read the same way (POSIX ERE and PCRE2 agree on these).
REGEXES = [
    "^Subject:.*a",
    "b$",
    "^Received: by",
    "^Received: from",
    "x",
    "[[:digit:]]+",
    "^To:.*bob",
    "^X-Tag: yes",
    "^$",
    "^[^:]*$",
    "e.l",
    "^From:[^\\n]*\\nReceived",
    "caf",
    "^ ",
    "(a|b)c",
]
HEADER_NAMES = [b"Subject", b"From", b"To", b"Received", b"Return-Path", b"X-Tag", b"Date", b"Cc"]
VALUES = [
    b"a note",
    b"bob@example.com",
    b"from mx by mail",
    b"yes",
    b"caf\xe9",
    b"x12",
    b"",
    b"hello bc",
    b"Mon, 01 Jan 2024 10:00:00 +0000",
]


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(HEADER_NAMES))
        value = draw(st.sampled_from(VALUES))
        line = name + b": " + value
        if draw(st.booleans()) and draw(st.booleans()):
            line += b"\n\t" + draw(st.sampled_from(VALUES))
        lines.append(line)
    body = [
        draw(st.sampled_from([b"hello", b"x", b"", b"Received: from body", b"caf\xe9"]))
        for _ in range(draw(st.integers(0, 3)))
    ]
    text = b"\n".join(lines)
    if draw(st.booleans()):
        text += b"\n\n" + b"\n".join(body)
    if draw(st.booleans()):
        text += b"\n"
    if draw(st.integers(0, 5)) == 0:
        text = text.replace(b"\n", b"\r\n")
    return text


@st.composite
def conditions(draw: st.DrawFn) -> str:
    parts = []
    for number in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                ["regex", "regex", "size", "all", "matched", "unmatched", "tagged", "string"]
            )
        )
        if kind == "regex":
            regex = draw(st.sampled_from(REGEXES)).replace("\\", "\\\\")
            case = "case " if draw(st.booleans()) and draw(st.booleans()) else ""
            area = draw(st.sampled_from(["", " in headers", " in body"]))
            text = f'{case}"{regex}"{area}'
        elif kind == "size":
            text = f"size {draw(st.sampled_from(['<', '>']))} {draw(st.integers(0, 400))}"
        elif kind == "tagged":
            text = 'tagged "t*"'
        elif kind == "string":
            text = 'string "%[t1]" to "^v"'
        else:
            text = kind
        if draw(st.booleans()) and draw(st.booleans()):
            text = "not " + text
        if number:
            text = draw(st.sampled_from(["and ", "or "])) + text
        parts.append(text)
    return " ".join(parts)


ACTIONS = (
    'action "deliver" maildir "/tmp/never"\n'
    'action "tag1" tag "t1" value "v%[account]"\n'
    'action "hdr" add-header "X-Tag" "yes"\n'
    'action "rmhdr" remove-header "subject"\n'
    'action "rmrcv" remove-headers { "received" "x-*" }\n'
    'action "both" { tag "t2" add-header "X-Tag" "yes" }\n'
)


@st.composite
def configs(draw: st.DrawFn) -> str:
    text = 'account "stdin" stdin\n' + ACTIONS
    if draw(st.booleans()):
        text += f"set unmatched-mail {draw(st.sampled_from(['keep', 'drop']))}\n"
    if draw(st.integers(0, 3)) == 0:
        text += "set no-received\n"
    depth = 0
    for _ in range(draw(st.integers(1, 6))):
        if depth and draw(st.integers(0, 3)) == 0:
            text += "}\n"
            depth -= 1
            continue
        rule = f"match {draw(conditions())}"
        if depth < 2 and draw(st.integers(0, 4)) == 0:
            text += rule + " {\n"
            depth += 1
            continue
        action = draw(
            st.sampled_from(["deliver", "tag1", "hdr", "rmhdr", "rmrcv", "both", "drop", "keep"])
        )
        if action in ("drop", "keep"):
            rule += f" action {action}"
        else:
            rule += f' action "{action}"'
        if draw(st.booleans()):
            rule += " continue"
        text += rule + "\n"
    return text + "}\n" * depth


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_generated_configs_and_messages_agree_with_real_fdm(version: str) -> None:
    binary, dialect = require_fdm(version)
    differ = Differ(binary, dialect)

    @settings(
        max_examples=int(os.environ.get("FDM_PROPERTY_EXAMPLES", "150")),
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(config_text=configs(), message=messages())
    def check(config_text: str, message: bytes) -> None:
        config = parse(config_text)
        disagreement = differ.disagreement(
            str(hash(config_text)), config, message, f"fdm {version}: {config_text!r} + {message!r}"
        )
        assert disagreement is None, disagreement

    try:
        check()
    finally:
        differ.close()
