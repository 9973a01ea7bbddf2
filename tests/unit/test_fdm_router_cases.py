"""The router prints what the real fdm printed for each case of tests/fdm_cases.py."""

from __future__ import annotations

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
    assert printed == case.printed
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
