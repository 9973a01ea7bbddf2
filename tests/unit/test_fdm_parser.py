"""fdm.conf parsing: fdm's lexer rules, the grammar, lines, fdm-style errors, unsupported constructs."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.fdm.parser import FdmSyntaxError, parse, parse_file, replace_tags

ARTICLE = Path(__file__).parent.parent / "fdm_corpus" / "configs" / "article.conf"


def test_article_config_parses_with_lines_and_macros() -> None:
    config = parse_file(ARTICLE)
    assert [a.name for a in config.actions][:2] == ["bob_spam", "bob_inbox"]
    assert config.actions[0].items[0].args == ["/usr/libexec/dovecot/deliver -d bob -m Spam"]
    assert config.actions[0].line == 6
    rules = config.all_rules()
    assert [r.line for r in rules] == [15, 16, 17, 18, 19, 20, 22]
    assert rules[2].action_names == ["bob_notices"]
    assert rules[1].conditions[0].regex == r"^(To|Cc|Received):.+bob@example\.com"
    assert rules[1].conditions[0].area == "headers"
    assert config.accounts[0].name == "stdin" and config.accounts[0].disabled


def test_double_quoted_escapes_eat_the_backslash_single_quotes_are_literal() -> None:
    config = parse(
        'account "stdin" stdin\nmatch "a\\.b" action drop\n'
        "match 'a\\.b' action drop\nmatch \"a\\\\.b\\tc\" action drop\n"
    )
    regexes = [r.conditions[0].regex for r in config.rules]
    assert regexes == ["a.b", "a\\.b", "a\\.b\tc"]


def test_macros_expand_at_parse_time_and_concatenate() -> None:
    config = parse(
        '$a = "x"\n$b = $a + \'-y\' + "${a}"\n%n = 7\naccount "stdin" stdin\n'
        'action "t" exec "echo ${b} %{n} ${nope}"\nmatch size > %n action "t"\n'
    )
    assert config.actions[0].items[0].args == ["echo x-yx 7 "]
    assert config.rules[0].conditions[0].number == 7
    assert [(u.name, u.defined) for u in config.macro_uses] == [
        ("$a", True),
        ("$b", True),
        ("%n", True),
        ("$nope", False),
    ]


def test_undefined_bare_macro_is_an_fdm_error() -> None:
    with pytest.raises(FdmSyntaxError) as caught:
        parse('account "stdin" stdin\naction "a" exec $missing\n', "/x/fdm.conf")
    assert str(caught.value) == "/x/fdm.conf: undefined macro: $missing at line 2"


@pytest.mark.parametrize(
    "text,message,line",
    [
        ('account "stdin" stdin\nmatch all actoin drop\n', "unknown token: actoin", 2),
        ('match "x" {\n match all action drop\n', "missing }", 3),
        ('action "a" exec "unterminated\n', 'missing "', 2),
        ("match all action drop\n}\n", "syntax error", 2),
    ],
)
def test_errors_read_like_fdms(text: str, message: str, line: int) -> None:
    with pytest.raises(FdmSyntaxError) as caught:
        parse(text, "f.conf")
    assert caught.value.reason == message and caught.value.line == line


def test_and_or_not_and_nested_rules_keep_structure_and_numbering() -> None:
    config = parse(
        'account "stdin" stdin\n'
        'match "a" or not "b" and all {\n'
        '  match matched action "x" continue\n'
        "}\n"
        'match unmatched actions { "y" "z*" }\n'
    )
    outer, inner, last = config.all_rules()
    assert [(c.op, c.negated, c.kind) for c in outer.conditions] == [
        (None, False, "regexp"),
        ("or", True, "regexp"),
        ("and", False, "all"),
    ]
    assert outer.children == [inner] and inner.cont and inner.index == 1
    assert last.index == 2 and last.action_names == ["y", "z*"]


def test_inline_actions_and_action_lists() -> None:
    config = parse(
        'account "stdin" stdin\n'
        'action "l" { exec "a" drop tag "t" value "v" add-header "X-A" value "1" }\n'
        'match all action { maildir "/m" keep }\n'
    )
    assert [i.kind for i in config.actions[0].items] == ["exec", "drop", "tag", "add-header"]
    assert config.actions[0].items[2].args == ["t", "v"]
    assert [i.kind for i in config.rules[0].inline or []] == ["maildir", "keep"]


def test_unsupported_constructs_are_reported_not_ignored() -> None:
    config = parse('$h = $(hostname)\naccount "p" pop3 server "x"\nmatch all action drop\n')
    whats = [(u.line, u.what.split()[0]) for u in config.unsupported]
    assert whats == [(1, "$(…)"), (2, "account")]


def test_include_after_an_account_is_read_not_taken_as_account_options(tmp_path: Path) -> None:
    (tmp_path / "actions.conf").write_text(
        '$box = "/tmp/inc"\naction "inc_a" maildir "${box}"\nmatch "^Subject: inc" action "inc_a"\n'
    )
    main = tmp_path / "fdm.conf"
    main.write_text(
        'account "stdin" stdin\ninclude "actions.conf"\nmatch all action "inc_a"\n'
        'cache "/tmp/c" expire 1 day\nmatch all action drop\n'
    )
    config = parse_file(main)
    assert [a.name for a in config.actions] == ["inc_a"]
    assert config.actions[0].items[0].args == ["/tmp/inc"]
    assert [r.index for r in config.rules] == [0, 1, 2]
    assert config.includes == [(2, str(tmp_path / "actions.conf"))]
    assert config.caches == ["/tmp/c"] and not config.accounts[0].keep
    assert config.unsupported == []


def test_a_missing_included_file_is_refused_like_fdm(tmp_path: Path) -> None:
    main = tmp_path / "fdm.conf"
    main.write_text('account "stdin" stdin\ninclude "missing.conf"\nmatch all action drop\n')
    with pytest.raises(FdmSyntaxError) as caught:
        parse_file(main)
    assert caught.value.line == 2 and "missing.conf: No such file or directory" in str(caught.value)


def test_ifdef_skips_what_is_not_defined() -> None:
    config = parse(
        '$m = "1"\naccount "stdin" stdin\nifdef $m\naction "a" drop\nendif\n'
        'ifndef $m\naction "b" drop\nendif\n'
    )
    assert [a.name for a in config.actions] == ["a"]


def test_ifdef_right_after_the_definition_sees_it_undefined_like_fdm() -> None:
    # Measured on fdm 1.9: yacc's lookahead lexes the ifdef before the definition is reduced, so
    # neither "a" nor "b" is defined.
    config = parse(
        '$m = "1"\nifdef $m\naction "a" drop\nendif\nifndef $m\naction "b" drop\nendif\n'
        'account "stdin" stdin\n'
    )
    assert config.actions == []


def test_percent_tags_in_regexes_are_substituted_at_parse_time() -> None:
    config = parse(
        'account "stdin" stdin\nmatch "100%%" action drop\nmatch "100%$" action drop\n'
        'match "a%[account]b%1c" action drop\n'
    )
    assert [r.conditions[0].regex for r in config.rules] == ["100%", "100", "abc"]


def test_replace_tags_strips_shell_characters_from_values_only() -> None:
    tags = {"account": "stdin", "message_id": "<a;b@c>", "1": "x$(id)"}
    assert (
        replace_tags("echo %a %[message_id] %1 100%%", tags, "<>;$") == "echo stdin ab@c x(id) 100%"
    )
    assert replace_tags("%[:message_id] %[account]", tags, "<>;$") == "<a;b@c> stdin"
    assert replace_tags("%:1 %[nope] %[x", tags, "<>;$") == "x$(id)  %[x"
