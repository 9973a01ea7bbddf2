"""The router's shortcuts give exactly the answers of the long way round.

The router rejects a one-regexp rule by the literal every match needs without evaluating it, finds
header lines with one `find`, and splits plain command lines without shlex. Each is compared here with
the long way over the differential corpus (whose answers the real fdm binaries check), the accounts
check's probe messages, and generated input.
"""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from console.accounts.check import probe_message
from console.fdm.parser import parse, parse_file
from console.fdm.regex import PCRE2
from console.fdm.router import (
    Router,
    _header_offset,
    _split_command,
    find_body,
    read_message,
)
from tests.integration.fdm_diff import defines_of

CORPUS = Path(__file__).parent.parent / "fdm_corpus"
NOW = 1_700_000_000.0

# The accounts check's shape: one rule per domain that takes the user from the address.
DOMAIN_RULES = (
    "$deliver = '/usr/lib/dovecot/deliver'\n"
    'account "stdin" stdin\n'
    'action "inbox" pipe "${deliver} -d %1 -m INBOX"\n'
    + "".join(
        f'match "^To:.*[< ]?(u[0-9]+)(-[a-z]+)?@d{i:02d}[.]example" in headers action "inbox"\n'
        for i in range(5)
    )
    + 'match "^(From|Subject):.*(route)" in headers action "inbox" continue\n'
    + 'match "check" in body action "inbox"\n'
)


def routes(router: Router, messages: list[bytes]) -> list[dict[str, object]]:
    return [dataclasses.asdict(router.route(message)) for message in messages]


def test_one_literal_rejection_routes_as_the_full_evaluation() -> None:
    messages = [path.read_bytes() for path in sorted((CORPUS / "messages").glob("*.eml"))]
    probes = [
        probe_message(address)
        for address in ("u00001@d01.example", "u00002-shop@d04.example", "bob@example.com", "x@y")
    ]
    configs = [parse_file(path, defines_of(path)) for path in sorted(CORPUS.glob("configs/*.conf"))]
    configs.append(parse(DOMAIN_RULES, "domains.conf"))
    shortcut_rules = 0
    for config in configs:
        fast = Router(config, PCRE2, hostname="mx.test", clock=lambda: NOW)
        slow = Router(config, PCRE2, hostname="mx.test", clock=lambda: NOW)
        slow.quick.clear()
        shortcut_rules += len(fast.quick)
        assert routes(fast, messages + probes) == routes(slow, messages + probes)
    assert shortcut_rules > 100  # the comparison exercised the shortcut


def test_a_rejected_rule_clears_the_groups_of_an_earlier_match() -> None:
    config = parse(
        'account "stdin" stdin\n'
        'action "a" pipe "deliver -d %1"\n'
        'match "^Subject: (\\\\w+)" in headers action "a" continue\n'
        'match "^X-Nothing: (here)" in headers action "a" continue\n'
        'match all action "a"\n'
    )
    router = Router(config, PCRE2, hostname="mx.test")
    assert router.quick  # the second rule is rejected by its literal
    route = router.route(b"Subject: hello\n\nbody\n")
    assert route.commands == ["deliver -d hello", "deliver -d "]
    # Without a header section a header rule fails but leaves the groups as they were.
    config = parse(
        "set no-received\n"
        'account "stdin" stdin\n'
        'action "a" pipe "deliver -d %1"\n'
        'match "(b.dy)" action "a" continue\n'
        'match "^Subject: (x)" in headers action "a" continue\n'
        'match all action "a"\n'
    )
    route = Router(config, PCRE2, hostname="mx.test").route(b"no blank line: body\n")
    assert route.commands == ["deliver -d body", "deliver -d body"]


def reference_header_offset(data: bytes, body: int, name: bytes) -> int | None:
    """fdm's find_header spelled out: each line that starts before the body, compared caseless."""
    size = len(name) + 1
    if body < size:
        return None
    pos = 0
    while pos < body:
        if data[pos : pos + size].lower() == name + b":":
            return pos
        nl = data.find(b"\n", pos)
        if nl == -1:
            return None
        pos = nl + 1
    return None


LINES = st.lists(
    st.sampled_from(
        [b"", b"Date: x", b"date:", b"DATE :x", b"Received: a", b"x-date: y", b" date: folded"]
    )
    | st.binary(max_size=12),
    max_size=8,
)


@settings(max_examples=400)
@given(LINES, st.sampled_from([b"date", b"received", b"message-id"]))
def test_header_offset_is_the_first_header_line_with_the_name(
    lines: list[bytes], name: bytes
) -> None:
    data = read_message(b"\n".join(lines))
    body = find_body(data)
    assert _header_offset(data, body, name) == reference_header_offset(data, body, name)


@settings(max_examples=400)
@given(st.text(alphabet=" \t\r\n\x0b\x85\u3000ab-/%'\"\\#;é\0", max_size=16))
def test_commands_split_as_shlex_splits_them(command: str) -> None:
    try:
        want: list[str] | None = shlex.split(command)
    except ValueError:
        want = None
    try:
        got: list[str] | None = _split_command(command)
    except ValueError:
        got = None
    assert got == want
