"""The linter's every check, word for word, on one config with one of each problem and smtpd tables
with one of each table mistake (addrs without vusers and back, a domain outside vdomains, a user
outside userdb, an address nobody accepts, comments, "key: value" lines and an 8-bit byte)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.fdm.lint import Finding, exit_code, lint_text, load_tables, tables_in

KITCHEN_SINK = r"""account "stdin" stdin
$box = "/mail"
action "bob_inbox" pipe "/usr/libexec/dovecot/deliver -d bob -m Mailing Lists"
action "bob_spam" pipe "/usr/libexec/dovecot/deliver -d carol -m Spam"
action "unused_one" maildir "${box}/x"
action "rw" rewrite "sed s/a\ b/c/"
action "acct_stdin" maildir "/tmp/a"
match "^To:.*bob@example\.com" action "bob_inbox"
match "^To:.*carol@example\\.com" action "bob_spam"
match "^X: (?=a)" action "bob_inbox"
match "^Subject: 100%" action "unused_on"
match "^Subject: ${nothere}" action "rw" continue
match "^Subject: tag" action "acct_%[account]"
match attachment count > 0 action drop
match all {
  match all action "bob_inbox"
  match "^To: x" action drop
}
match all action drop
match "^To: late" action drop
"""

EXPECTED = {
    "pcre2": [
        (
            "warning",
            0,
            "tables",
            "caf�@example.com is in addrs but not in vusers: smtpd accepts it and cannot map it to a user",
            "add caf�@example.com to vusers or remove it from addrs",
        ),
        (
            "warning",
            0,
            "tables",
            "only@example.com is in addrs but not in vusers: smtpd accepts it and cannot map it to a user",
            "add only@example.com to vusers or remove it from addrs",
        ),
        (
            "warning",
            0,
            "tables",
            "ghost@example.com is in vusers but not in addrs: smtpd rejects mail for it",
            "add ghost@example.com to addrs",
        ),
        (
            "warning",
            3,
            "lda-args",
            "action 'bob_inbox' passes unexpected arguments 'Lists' to the delivery agent (folder 'Mailing')",
            "quote a folder name that contains spaces",
        ),
        (
            "warning",
            5,
            "unused-action",
            'action "unused_one" is never used',
            'the rule naming "unused_on" probably means this one',
        ),
        (
            "warning",
            6,
            "lost-escape",
            '"\\ " in a "…" string is just a space: the command of action \'rw\' does not get the backslash',
            "quote the argument inside the command (-m 'Mailing Lists')",
        ),
        (
            "warning",
            6,
            "not-modelled",
            "action 'rw' rewrites the message with a command the live test does not run: after a `continue` rule, where later rules see the new message, the route is not modelled",
            "check it with `mailconsole fdm test --run-rewrites`",
        ),
        (
            "warning",
            8,
            "lost-escape",
            '"\\." in a "…" string loses its backslash: the regex gets "." (any character)',
            "write \"\\\\.\" or use a '…' string",
        ),
        (
            "warning",
            8,
            "unknown-user",
            "mail to bob@example.com goes to user 'bob', who is not in userdb",
            "add the user to userdb or fix the action",
        ),
        (
            "warning",
            9,
            "unaccepted-address",
            "carol@example.com is in this rule but smtpd does not accept it",
            "did you mean only@example.com?",
        ),
        (
            "warning",
            10,
            "bad-regex",
            'the regex "^X: (?=a)" does not compile for Debian\'s fdm 1.9 (POSIX): Invalid preceding regular expression',
            "fix the regex",
        ),
        (
            "error",
            11,
            "undefined-action",
            'action "unused_on" is not defined: fdm -n accepts it, but mail reaching this rule is not delivered (fdm 1.9 exits 0 and it is lost; 2.x bounces it)',
            'use "unused_one", or define action "unused_on"',
        ),
        (
            "warning",
            11,
            "percent",
            "% in a regex starts a tag that fdm substitutes when it reads the file (an unknown one disappears)",
            "write %% for a literal %",
        ),
        (
            "warning",
            12,
            "undefined-macro",
            "macro $nothere is not defined here: it expands to nothing",
            "define $nothere above this line",
        ),
        (
            "info",
            13,
            "tagged-name",
            "action 'acct_%[account]' depends on tags at run time",
            "test it with a message (the live test expands it)",
        ),
        (
            "warning",
            14,
            "unsupported",
            "the console does not evaluate this: attachment condition is not evaluated by the console",
            "check this part of the route by hand",
        ),
        (
            "warning",
            16,
            "unknown-user",
            "mail to caf�@example.com goes to user 'bob', who is not in userdb",
            "add the user to userdb or fix the action",
        ),
        (
            "warning",
            16,
            "unknown-user",
            "mail to only@example.com goes to user 'bob', who is not in userdb",
            "add the user to userdb or fix the action",
        ),
        (
            "warning",
            17,
            "unreachable",
            "this rule can never match: the rule at line 16 matches all mail and stops",
            "move it above the catch-all or add `continue` there",
        ),
        (
            "warning",
            20,
            "unreachable",
            "this rule can never match: the rule at line 19 matches all mail and stops",
            "move it above the catch-all or add `continue` there",
        ),
    ],
    "posix": [
        (
            "error",
            0,
            "lost-address",
            "mail to bob@example.com is not delivered: fdm refuses the whole file at load (exit 1): regex does not compile: line 10: ^X: (?=a): Invalid preceding regular expression",
            "define the missing action or fix the rule",
        ),
        (
            "error",
            0,
            "lost-address",
            "mail to caf�@example.com is not delivered: fdm refuses the whole file at load (exit 1): regex does not compile: line 10: ^X: (?=a): Invalid preceding regular expression",
            "define the missing action or fix the rule",
        ),
        (
            "error",
            0,
            "lost-address",
            "mail to only@example.com is not delivered: fdm refuses the whole file at load (exit 1): regex does not compile: line 10: ^X: (?=a): Invalid preceding regular expression",
            "define the missing action or fix the rule",
        ),
        (
            "warning",
            0,
            "tables",
            "caf�@example.com is in addrs but not in vusers: smtpd accepts it and cannot map it to a user",
            "add caf�@example.com to vusers or remove it from addrs",
        ),
        (
            "warning",
            0,
            "tables",
            "only@example.com is in addrs but not in vusers: smtpd accepts it and cannot map it to a user",
            "add only@example.com to vusers or remove it from addrs",
        ),
        (
            "warning",
            0,
            "tables",
            "ghost@example.com is in vusers but not in addrs: smtpd rejects mail for it",
            "add ghost@example.com to addrs",
        ),
        (
            "warning",
            3,
            "lda-args",
            "action 'bob_inbox' passes unexpected arguments 'Lists' to the delivery agent (folder 'Mailing')",
            "quote a folder name that contains spaces",
        ),
        (
            "warning",
            5,
            "unused-action",
            'action "unused_one" is never used',
            'the rule naming "unused_on" probably means this one',
        ),
        (
            "warning",
            6,
            "lost-escape",
            '"\\ " in a "…" string is just a space: the command of action \'rw\' does not get the backslash',
            "quote the argument inside the command (-m 'Mailing Lists')",
        ),
        (
            "warning",
            6,
            "not-modelled",
            "action 'rw' rewrites the message with a command the live test does not run: after a `continue` rule, where later rules see the new message, the route is not modelled",
            "check it with `mailconsole fdm test --run-rewrites`",
        ),
        (
            "warning",
            8,
            "lost-escape",
            '"\\." in a "…" string loses its backslash: the regex gets "." (any character)',
            "write \"\\\\.\" or use a '…' string",
        ),
        (
            "warning",
            9,
            "unaccepted-address",
            "carol@example.com is in this rule but smtpd does not accept it",
            "did you mean only@example.com?",
        ),
        (
            "error",
            10,
            "bad-regex",
            'the regex "^X: (?=a)" does not compile for Debian\'s fdm 1.9 (POSIX): Invalid preceding regular expression',
            "fix the regex",
        ),
        (
            "error",
            11,
            "undefined-action",
            'action "unused_on" is not defined: fdm -n accepts it, but mail reaching this rule is not delivered (fdm 1.9 exits 0 and it is lost; 2.x bounces it)',
            'use "unused_one", or define action "unused_on"',
        ),
        (
            "warning",
            11,
            "percent",
            "% in a regex starts a tag that fdm substitutes when it reads the file (an unknown one disappears)",
            "write %% for a literal %",
        ),
        (
            "warning",
            12,
            "undefined-macro",
            "macro $nothere is not defined here: it expands to nothing",
            "define $nothere above this line",
        ),
        (
            "info",
            13,
            "tagged-name",
            "action 'acct_%[account]' depends on tags at run time",
            "test it with a message (the live test expands it)",
        ),
        (
            "warning",
            14,
            "unsupported",
            "the console does not evaluate this: attachment condition is not evaluated by the console",
            "check this part of the route by hand",
        ),
        (
            "warning",
            17,
            "unreachable",
            "this rule can never match: the rule at line 16 matches all mail and stops",
            "move it above the catch-all or add `continue` there",
        ),
        (
            "warning",
            20,
            "unreachable",
            "this rule can never match: the rule at line 19 matches all mail and stops",
            "move it above the catch-all or add `continue` there",
        ),
    ],
}


@pytest.fixture
def tables(tmp_path: Path):
    (tmp_path / "addrs").write_bytes(
        b"# accepted\n  bob@example.com \nonly@example.com\n\ncaf\xe9@example.com\n"
    )
    (tmp_path / "vusers").write_text("bob@example.com: vmail extra\nghost@example.com vmail\n")
    (tmp_path / "vdomains").write_text("example.com\n")
    (tmp_path / "userdb").write_text("vmail:{PLAIN}x:1000:1000::/mail::\n")
    return tables_in(tmp_path)


def test_tables_are_read_as_smtpd_and_dovecot_read_them(tables) -> None:
    assert tables.addrs == {"bob@example.com", "only@example.com", "caf\ufffd@example.com"}
    assert tables.vusers == {"bob@example.com": "vmail extra", "ghost@example.com": "vmail"}
    assert tables.vdomains == {"example.com"} and tables.users == {"vmail"}
    assert tables.present == {"addrs", "vusers", "vdomains", "userdb"}
    assert tables.accepted == tables.addrs


def test_a_hash_inside_a_line_is_part_of_the_entry(tmp_path: Path) -> None:
    # smtpd (parse_table_line) and Dovecot's passwd-file take `#` as a comment only where a
    # line starts with it (smtpd: after leading white space); the linter reads them the same.
    (tmp_path / "addrs").write_text(
        "# accepted\nbob@example.com\n  # ann@example.com\nzed@x.org # old\n"
    )
    (tmp_path / "vusers").write_text("bob@example.com vmail # the boss\n#ann@example.com vmail\n")
    (tmp_path / "userdb").write_text("#x:y:1:1::/h::\nvmail:y:1:1::/h::\n #ann:y:1:1::/h::\n")
    tables = tables_in(tmp_path)
    assert tables.addrs == {"bob@example.com", "zed@x.org # old"}
    assert tables.vusers == {"bob@example.com": "vmail # the boss"}
    assert tables.users == {"vmail", " #ann"}
    # A space in the first entry makes a map, where only the first word is the key.
    (tmp_path / "addrs").write_text("bob@example.com # bob\nzed@x.org zed\n")
    assert tables_in(tmp_path).addrs == {"bob@example.com", "zed@x.org"}


def test_missing_tables_are_not_cross_checked(tmp_path: Path) -> None:
    (tmp_path / "vusers").write_text("Bob@Example.com vmail\n")
    tables = load_tables(tmp_path / "addrs", tmp_path / "vusers", None, tmp_path / "userdb")
    assert tables.present == {"vusers"} and tables.accepted == {"bob@example.com"}


@pytest.mark.parametrize("dialect", ["pcre2", "posix"])
def test_every_check_word_for_word(dialect: str, tables) -> None:
    _config, findings = lint_text(KITCHEN_SINK, "k.conf", tables, dialect)
    got = [(f.severity, f.line, f.code, f.message, f.fix) for f in findings]
    assert got == EXPECTED[dialect]


def test_a_syntax_error_is_the_one_finding() -> None:
    config, findings = lint_text('account "stdin" stdin\nmatch all action drop\n}\n')
    assert config is None
    assert findings == [
        Finding(
            "error",
            3,
            "fdm refuses the file: syntax error",
            "fix the syntax at this line",
            "syntax",
        )
    ]
    assert exit_code(findings) == 2


def test_the_account_checked_is_the_one_given() -> None:
    text = 'account "stdin" stdin\nmatch all action drop\n'
    assert lint_text(text)[1] == []
    assert lint_text(text, account="other")[1] == [
        Finding(
            "error",
            1,
            "no account is named 'other': `fdm -a other fetch` does nothing and every "
            "message is lost",
            'add `account "other" disabled stdin`',
            "no-account",
        )
    ]
    assert lint_text(text, account="std*")[1] == []


def test_exit_codes_and_json() -> None:
    warning = Finding("warning", 2, "m", "f", "c")
    info = Finding("info", 0, "m", "f", "c")
    assert exit_code([]) == 0 and exit_code([info]) == 0 and exit_code([info, warning]) == 1
    assert warning.to_json() == {
        "severity": "warning",
        "line": 2,
        "message": "m",
        "fix": "f",
        "code": "c",
    }


def test_domains_outside_vdomains_and_unaccepted_addresses(tmp_path: Path) -> None:
    (tmp_path / "addrs").write_text("bob@example.com\nann@other.org\n")
    (tmp_path / "vusers").write_text("bob@example.com vmail\nann@other.org vmail\n")
    (tmp_path / "vdomains").write_text("example.com\n")
    text = (
        'account "stdin" stdin\naction "d" maildir "/m"\n'
        'match "^To:.*(bob@example\\\\.com|zed@nowhere\\\\.test|bob@exampl\\\\.com)" action "d"\n'
        'match all action "d"\n'
    )
    _config, findings = lint_text(text, "f.conf", tables_in(tmp_path))
    got = [(f.line, f.code, f.message, f.fix) for f in findings]
    assert got == [
        (
            0,
            "tables",
            "ann@other.org is accepted but its domain is not in vdomains",
            "add the domain to vdomains",
        ),
        (
            3,
            "unaccepted-address",
            "zed@nowhere.test is in this rule but smtpd does not accept it",
            "add zed@nowhere.test to addrs and vusers, or drop the rule",
        ),
        (
            3,
            "unaccepted-address",
            "bob@exampl.com is in this rule but smtpd does not accept it",
            "did you mean bob@example.com?",
        ),
    ]


def test_escapes_at_the_start_and_action_items_in_inline_rules() -> None:
    text = 'account "stdin" stdin\naction "a" exec "true"\nmatch "\\.x" action { action "a" }\n'
    _config, findings = lint_text(text)
    assert [(f.line, f.code) for f in findings] == [(3, "lost-escape")]
    assert "not defined" not in " ".join(f.message for f in findings)


def test_table_values_keep_their_colons(tmp_path: Path) -> None:
    (tmp_path / "vusers").write_text("a@x.org: b:c\n")
    assert load_tables(vusers=tmp_path / "vusers").vusers == {"a@x.org": "b:c"}


MORE = r"""account "stdin" stdin
action "in" maildir "/m"
action "used" maildir "/u"
action "lonely" maildir "/l"
action "cmd" exec "/usr/lib/dovecot/deliver -d bob -m Mail\.Lists x y"
match string "%[account]" to "(" action "used"
match size > 1K and "(" action "used"
match "x\.\-" action "used"
match "^To: a" action "cmd"
match "q" action { action "used" }
match "b1" {
  match all action "used"
  match "n1" action "used"
  match "n2" action "used"
}
match "b2" {
  match all action "used"
  match "n3" action "used"
}
match all action "inbox"
"""
"""More of each check: a near miss between an undefined and an unused action, an unused action with
no near miss, an `exec` delivery with a lost escape and extra arguments, a bad regex in a `string`
condition and after a condition that is not a regex, two different lost escapes ending a regex, an
action named only before an inline rule, and two nested blocks each with rules after a catch-all."""


def test_more_checks_word_for_word() -> None:
    _config, findings = lint_text(MORE, "m.conf")
    assert [(f.severity, f.line, f.code, f.message, f.fix) for f in findings] == [
        (
            "warning",
            2,
            "unused-action",
            'action "in" is never used',
            'the rule naming "inbox" probably means this one',
        ),
        (
            "warning",
            4,
            "unused-action",
            'action "lonely" is never used',
            "name it in a rule or remove it",
        ),
        (
            "warning",
            5,
            "lda-args",
            "action 'cmd' passes unexpected arguments 'x y' to the delivery agent (folder 'Mail.Lists')",
            "quote a folder name that contains spaces",
        ),
        (
            "warning",
            5,
            "lost-escape",
            '"\\." in a "…" string is just ".": the command of action \'cmd\' does not get the backslash',
            "quote the argument inside the command (-m 'Mailing Lists')",
        ),
        (
            "error",
            6,
            "bad-regex",
            'the regex "(" does not compile for fdm 2.x (PCRE2): missing ), unterminated subpattern at position 0',
            "fix the regex",
        ),
        (
            "warning",
            6,
            "bad-regex",
            'the regex "(" does not compile for Debian\'s fdm 1.9 (POSIX): Unmatched ( or \\(',
            "fix the regex",
        ),
        (
            "error",
            7,
            "bad-regex",
            'the regex "(" does not compile for fdm 2.x (PCRE2): missing ), unterminated subpattern at position 0',
            "fix the regex",
        ),
        (
            "warning",
            7,
            "bad-regex",
            'the regex "(" does not compile for Debian\'s fdm 1.9 (POSIX): Unmatched ( or \\(',
            "fix the regex",
        ),
        (
            "warning",
            8,
            "lost-escape",
            '"\\-" in a "…" string loses its backslash: the regex gets "-"',
            "write \"\\\\-\" or use a '…' string",
        ),
        (
            "warning",
            8,
            "lost-escape",
            '"\\." in a "…" string loses its backslash: the regex gets "." (any character)',
            "write \"\\\\.\" or use a '…' string",
        ),
        (
            "warning",
            13,
            "unreachable",
            "this rule can never match: the rule at line 12 matches all mail and stops",
            "move it above the catch-all or add `continue` there",
        ),
        (
            "warning",
            14,
            "unreachable",
            "this rule can never match: the rule at line 12 matches all mail and stops",
            "move it above the catch-all or add `continue` there",
        ),
        (
            "warning",
            18,
            "unreachable",
            "this rule can never match: the rule at line 17 matches all mail and stops",
            "move it above the catch-all or add `continue` there",
        ),
        (
            "error",
            20,
            "undefined-action",
            'action "inbox" is not defined: fdm -n accepts it, but mail reaching this rule is not delivered (fdm 1.9 exits 0 and it is lost; 2.x bounces it)',
            'use "in", or define action "inbox"',
        ),
    ]


def test_an_undefined_action_is_compared_with_every_action_when_all_are_used() -> None:
    text = 'account "stdin" stdin\naction "in" maildir "/m"\nmatch "a" action "in"\n'
    _config, findings = lint_text(text + 'match all action "inn"\n')
    assert [(f.code, f.fix) for f in findings] == [
        ("undefined-action", 'use "in", or define action "inn"')
    ]


def test_the_tables_are_checked_for_the_account_given(tmp_path: Path) -> None:
    (tmp_path / "addrs").write_text("bob@example.com\n")
    (tmp_path / "vusers").write_text("bob@example.com vmail\n")
    text = (
        'account "a" stdin\naccount "b" stdin\naction "in" maildir "/m"\n'
        'match account "b" action "in"\n'
    )
    tables = tables_in(tmp_path)
    assert lint_text(text, "x.conf", tables, account="b")[1] == []
    assert [
        (f.line, f.code, f.message) for f in lint_text(text, "x.conf", tables, account="a")[1]
    ] == [(0, "lost-address", "mail to bob@example.com reaches no mailbox (outcome: kept)")]


def test_a_group_of_a_match_in_body_is_flagged() -> None:
    text = (
        'account "stdin" stdin\n'
        'action "keep_order" maildir "/m/orders/%1"\n'
        'action "plain" maildir "/m/plain"\n'
        'match "^Order: (.*)" in body action "keep_order"\n'
        'match "^Ref: (.*)" in body action exec "echo %%1 100%%"\n'
        'match "^Order: (.*)" action "keep_order"\n'
        'match "^Id: (.*)" in headers action "keep_order"\n'
        'match "^Mark: (.*)" in body action "plain"\n'
        'match "^Sort: (.*)" in body action "to_%1"\n'
        'match "^To: x" and "^Tag: (.*)" in body action { maildir "/m/%0" }\n'
        'action "to_a" maildir "/m/a"\n'
        'match "^Two: (.*)" in body actions { "keep_order" "plain" }\n'
        'match "^Esc: (.*)" in body action exec "echo 50%%%1"\n'
    )
    _config, findings = lint_text(text)
    flagged = [(f.line, f.severity, f.message, f.fix) for f in findings if f.code == "body-group"]
    message = (
        "a match group (%0-%9) of a match in body is not the text matched: fdm reads the "
        "group's offsets in the body from the start of the message, so the action gets bytes "
        "of the headers"
    )
    fix = "drop `in body`: a match anywhere gives the text matched (the headers are searched too)"
    # Line 5's %% are a literal percent sign, lines 6 and 7 match elsewhere, line 8's action
    # uses no group.
    assert flagged == [(line, "warning", message, fix) for line in (4, 9, 10, 12, 13)]
