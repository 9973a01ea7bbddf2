"""The router prints what the real fdm printed for each case of tests/fdm_cases.py."""

from __future__ import annotations

import socket

import pytest

from console.fdm.parser import parse
from console.fdm.regex import PCRE2, POSIX
from console.fdm.router import Router
from tests.fdm_cases import CASES, Case


@pytest.mark.parametrize("dialect", [PCRE2, POSIX])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_router_prints_what_fdm_printed(dialect: str, case: Case) -> None:
    config = parse('account "stdin" stdin\n' + case.config)
    result = Router(config, dialect, home="/root", user="root").route(case.message)
    assert result.error == ""
    printed = [command.removeprefix("echo ").removesuffix(" >> OUT") for command in result.commands]
    assert printed == [line.format(hostname=socket.gethostname()) for line in case.printed]
    assert (result.outcome == "kept") is case.kept


def test_what_each_run_shows_the_operator() -> None:
    result = Router(
        parse(
            'account "stdin" stdin\naction "m" users { "bob" } maildir "/m/%[user]"\n'
            'action "d" drop\nmatch all action "m" continue\nmatch all action "d"\n'
        )
    ).route(b"S: x\n\nb\n")
    # The maildir is bob's (the action's users), and an item without an argument shows none.
    assert [(d.action, d.user, d.path) for d in result.deliveries] == [("m", "bob", "/m/bob")]
    assert [(r.action, r.kind, r.argument, r.user) for r in result.runs] == [
        ("m", "maildir", "/m/bob", "bob"),
        ("d", "drop", "", ""),
    ]


def test_a_group_that_is_not_utf8_is_shown_with_replacement_characters() -> None:
    result = Router(
        parse('account "stdin" stdin\nmatch "^Subject: (.*)" action exec "echo %1"\n')
    ).route(b"Subject: caf\xe9\n\nb\n")
    assert result.commands == ["echo caf\ufffd"]


def test_the_received_header_and_clock_tags_follow_the_routers_clock() -> None:
    now = [1_700_000_000.0]  # Tue, 14 Nov 2023 22:13:20 UTC
    config = parse(
        'account "stdin" stdin\n'
        'match "^Received: by mx.test .*unencrypted\\\\)[[:space:]]+(.*)$" '
        'action exec "echo %1 / %[hour]:%[minute]:%[second] %[day] %[mail_hour]"\n'
    )
    # Without a host name given, the Received header names the machine's (fdm's host_fqdn).
    fqdn = socket.getfqdn()
    plain = Router(parse(f'account "stdin" stdin\nmatch "^Received: by {fqdn} " action drop\n'))
    assert plain.route(b"S: x\n\nb\n").rules == [2]
    assert plain.hostname == socket.getfqdn()
    router = Router(config, hostname="mx.test", clock=lambda: now[0])
    first = router.route(b"S: x\n\nb\n")
    assert first.commands == ["echo Tue, 14 Nov 2023 22:13:20 +0000 / 22:13:20 14 22"]
    now[0] += 3661  # the clock moves: so does everything made from it
    assert router.route(b"S: x\n\nb\n").commands == [
        "echo Tue, 14 Nov 2023 23:14:21 +0000 / 23:14:21 14 23"
    ]


def test_conditions_the_router_cannot_evaluate_are_named_with_why() -> None:
    config = parse(
        'account "stdin" stdin\n'
        'match exec "true" returns (0, ) action drop\n'
        'match pipe "true" returns (0, ) action drop\n'
        "match attachment count > 0 action drop\n"
        'match in-cache "/tmp/c" key "%[message_id]" action drop\n'
    )
    assert Router(config).route(b"S: x\n\nb\n").not_modelled == [
        "line 2: exec condition (it runs a command): taken as false here",
        "line 3: pipe condition (it runs a command): taken as false here",
        "line 4: attachment condition (it needs fdm's MIME parsing): taken as false here",
        "line 5: in-cache condition (it depends on the cache file): taken as false here",
    ]


def test_a_message_id_that_is_not_utf8_is_shown_with_replacement_characters() -> None:
    config = parse('account "stdin" stdin\nmatch all action exec "echo %[message_id]"\n')
    result = Router(config).route(b"Message-ID: <caf\xe9@x>\n\nb\n")
    assert result.commands == ["echo caf\ufffd@x"]


class _CountingRegex:
    """A compiled regex that counts its searches (everything else is the real one's)."""

    def __init__(self, regex: object, calls: list[int]) -> None:
        self._regex = regex
        self._calls = calls

    def __getattr__(self, name: str) -> object:
        return getattr(self._regex, name)

    def search(self, *args: object) -> object:
        self._calls.append(1)
        return self._regex.search(*args)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("rule", "message", "searches"),
    [
        # The literal is looked for in the rule's area only, in the message's case when the
        # regex is case-sensitive and in lower case otherwise.
        ('match "needle" in headers', b"S: x\n\nneedle\n", 0),
        ('match "needle" in headers', b"S: needle\n\nb\n", 1),
        ('match "needle" in body', b"S: needle\n\nb\n", 0),
        ('match "needle" in body', b"S: x\n\nneedle\n", 1),
        ('match "needle"', b"S: x\n\nb\n", 0),
        ('match "needle"', b"S: x\n\nNeEdLe\n", 1),
        ('match case "needle"', b"S: x\n\nNeEdLe\n", 0),
        ('match case "NeEdLe"', b"S: x\n\nNeEdLe\n", 1),
        # Not for a rule of more than one condition, a negated one or a string condition; a
        # later rule still is.
        ('match "needle" or "other"', b"S: x\n\nb\n", 2),
        ('match not "needle"', b"S: x\n\nb\n", 1),
        ('match string "needle" to "needle"', b"S: x\n\nb\n", 1),
        ('match "zz1" and "zz2" action keep\nmatch "needle"', b"S: x\n\nb\n", 1),
    ],
)
def test_a_rule_one_literal_rejects_is_not_evaluated(
    rule: str, message: bytes, searches: int
) -> None:
    router = Router(parse(f'account "stdin" stdin\n{rule} action drop\n'))
    calls: list[int] = []
    for key, regex in list(router.regexes.items()):
        router.regexes[key] = _CountingRegex(regex, calls)  # type: ignore[assignment]
    router.route(message)
    assert len(calls) == searches


def test_a_block_whose_inner_rules_all_fail_is_no_match() -> None:
    config = parse('account "stdin" stdin\nmatch "^S:" {\n  match "zzz" action drop\n}\n')
    result = Router(config).route(b"S: x\n\nb\n")
    assert result.rules == [2] and result.outcome == "kept"
    assert result.notes[0] == "no rule matched: unmatched-mail keep"


def test_an_inline_action_is_named_by_its_rule_and_chains() -> None:
    config = parse(
        'account "stdin" stdin\naction "a" exec "A"\naction "b" { action "a" }\n'
        'match all action { action "b" exec "I" }\n'
    )
    result = Router(config).route(b"S: x\n\nb\n")
    assert result.actions == ["<rule 0>", "b", "a"]
    assert [(run.action, run.rule_line) for run in result.runs] == [("a", 4), ("<rule 0>", 4)]
