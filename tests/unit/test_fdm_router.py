"""The live test: routes, outcomes, tags and the PCRE2/POSIX differences, each on a small config."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.fdm.parser import parse, parse_file
from console.fdm.regex import PCRE2, POSIX
from console.fdm.router import Router, mailbox_of, split_message

CORPUS = Path(__file__).parent.parent / "fdm_corpus"
HEAD = 'account "stdin" stdin\n'


def route(config_text: str, message: bytes, dialect: str = PCRE2):
    return Router(parse(HEAD + config_text), dialect, hostname="mx.test").route(message)


def test_article_bob_goes_to_bobs_inbox() -> None:
    config = parse_file(CORPUS / "configs" / "article.conf")
    result = Router(config).route(b"To: bob@example.com\nSubject: hi\n\nx\n")
    assert result.rules == [16] and result.actions == ["bob_inbox"]
    assert result.commands == ["/usr/libexec/dovecot/deliver -d bob -m INBOX"]
    assert [(d.user, d.folder) for d in result.deliveries] == [("bob", "INBOX")]
    assert result.outcome == "delivered"


def test_article_undefined_action_is_an_error_with_the_rule() -> None:
    config = parse_file(CORPUS / "configs" / "article.conf")
    result = Router(config).route(b"To: notifications@example.com\nSubject: hi\n\nx\n")
    assert result.outcome == "error" and result.rules == [17]
    assert "bob_notices" in result.error and result.deliveries == []


def test_nothing_matching_is_kept_stored_nowhere() -> None:
    result = route('match "^Subject: no" action drop\n', b"Subject: yes\n\nx\n")
    assert result.outcome == "kept" and result.decision == "keep" and result.rules == []


def test_unmatched_mail_drop_and_drop_action() -> None:
    assert (
        route('set unmatched-mail drop\nmatch "zz" action drop\n', b"S: x\n\nb\n").outcome
        == "dropped"
    )
    assert route("match all action drop\n", b"S: x\n\nb\n").outcome == "dropped"


def test_first_match_is_final_unless_continue() -> None:
    text = (
        'action "a" exec "A"\naction "b" exec "B"\n'
        'match all action "a" continue\nmatch all action "b"\nmatch all action "a"\n'
    )
    result = route(text, b"S: x\n\nb\n")
    assert result.actions == ["a", "b"] and result.rules == [4, 5]
    assert result.decision == "drop"


def test_and_or_are_left_to_right_without_precedence() -> None:
    # T or F and F is (T or F) and F: false.
    text = 'match "^A:" or "^B:" and "^C:" action drop\n'
    assert route(text, b"A: 1\n\nb\n").outcome == "kept"
    assert route(text, b"A: 1\nC: 1\n\nb\n").outcome == "dropped"


def test_action_patterns_expand_in_definition_order() -> None:
    text = (
        'action "x_2" exec "2"\naction "x_1" exec "1"\naction "y" exec "y"\n'
        'match all action "x_*"\n'
    )
    assert route(text, b"S: x\n\nb\n").actions == ["x_2", "x_1"]


def test_commands_expand_tags_and_captures_with_shell_characters_stripped() -> None:
    text = 'match "^Subject: (.*)" action exec "echo %a %1 %[message_id] %[action] 100%%"\n'
    result = route(text, b"Message-Id: <a;b@c>\nSubject: he;llo $(id)\n\nb\n")
    assert result.commands == ["echo stdin hello (id) ab@c rule 0 100%"]


def test_fdm_received_header_is_matched_and_no_received_removes_it() -> None:
    text = 'match "^Received: by mx.test \\\\(fdm 2" in headers action drop\n'
    assert route(text, b"S: x\n\nb\n").outcome == "dropped"
    assert route("set no-received\n" + text, b"S: x\n\nb\n").outcome == "kept"


def test_folded_headers_are_unfolded_only_in_the_headers() -> None:
    data, body = split_message(b"To: a\n b\n\nbody1\n body2\n")
    assert data == b"To: a  b\n\nbody1\n body2\n" and body == 10


def test_without_a_blank_line_the_whole_message_is_body() -> None:
    text = 'match "^Subject: x" in headers action drop\nmatch "^Subject: x" in body action keep\n'
    result = route(text, b"From: y\nSubject: x\n")
    assert result.rules == [3] and result.decision == "keep"


def test_crlf_dollar_does_not_match_before_cr() -> None:
    text = 'match "^Subject: x$" action drop\n'
    assert route(text, b"Subject: x\r\n\r\nb\r\n").outcome == "kept"
    assert route(text, b"Subject: x\n\nb\n").outcome == "dropped"


def test_nested_block_falls_through_and_inner_continue() -> None:
    text = (
        'action "a" exec "a"\naction "b" exec "b"\n'
        'match "^S: x" {\n match "^T:" action "a"\n match all action "a" continue\n}\n'
        'match all action "b"\n'
    )
    result = route(text, b"S: x\n\nb\n")
    assert result.actions == ["a", "b"] and result.rules == [4, 6, 8]


def test_tags_add_header_and_size() -> None:
    text = (
        'action "t" tag "spam" value "yes"\naction "h" add-header "X-Seen" value "1"\n'
        'match "^S: x" action "t" continue\nmatch all action "h" continue\n'
        'match string "%[spam]" to "^yes$" and "^X-Seen: 1" and size < 1K action drop\n'
    )
    assert route(text, b"S: x\n\nb\n").rules == [4, 5, 6]


def test_no_stdin_account_is_an_error() -> None:
    result = Router(parse("match all action drop\n")).route(b"S: x\n\nb\n")
    assert result.outcome == "error" and "no account" in result.error


def test_mailbox_of_reads_dovecot_deliver_and_paths() -> None:
    assert (
        mailbox_of("a", "pipe", "/usr/libexec/dovecot/deliver -d bob -m 'Mailing Lists'").folder
        == "Mailing Lists"
    )
    lost = mailbox_of("a", "pipe", "/usr/lib/dovecot/dovecot-lda -d bob -m Mailing Lists")
    assert (lost.user, lost.folder, lost.extra_args) == ("bob", "Mailing", ["Lists"])
    assert mailbox_of("a", "maildir", "/mail/x").path == "/mail/x"


# ---- where Debian's POSIX fdm 1.9 and PCRE2 fdm 2.x disagree (measured on 1.9 for POSIX)


@pytest.mark.parametrize(
    "regex,message,pcre2,posix",
    [
        ("^Subject: 1\\\\d", b"Subject: 15\n\nb\n", True, False),  # \d is not a digit in POSIX
        ("^Subject: [[:digit:]]", b"Subject: 15\n\nb\n", True, True),  # classes work in both
        ("^A: x[^y]z", b"A: x\nz\n\nb\n", True, False),  # [^y] crosses lines in PCRE2
        ("^Subject: (?=a)a", b"Subject: a\n\nb\n", True, None),  # lookahead: POSIX refuses
    ],
)
def test_posix_and_pcre2_differ(
    regex: str, message: bytes, pcre2: bool, posix: bool | None
) -> None:
    text = f'match "{regex}" action drop\n'
    assert (route(text, message, PCRE2).outcome == "dropped") is pcre2
    result = route(text, message, POSIX)
    if posix is None:
        assert result.outcome == "error" and "does not compile" in result.error
    else:
        assert (result.outcome == "dropped") is posix


def test_literal_prefilter_never_changes_a_match() -> None:
    from console.fdm.regex import PcreRegex, required_literal

    assert required_literal(rb"^(To|Cc):.+bob@example\.com", 0) == b"bob@example.com"
    assert required_literal(rb"a(bcd)?efg|xyz", 0) == b""
    messages = [p.read_bytes() for p in sorted((CORPUS / "messages").glob("*.eml"))]
    for path in sorted((CORPUS / "configs").glob("*.conf")):
        for rule in parse_file(path).all_rules():
            for cond in rule.conditions:
                if cond.kind != "regexp":
                    continue
                fast, slow = (
                    PcreRegex(cond.regex, cond.case),
                    PcreRegex(cond.regex, cond.case, False),
                )
                for data in messages:
                    assert fast.search(data, 0, len(data)) == slow.search(data, 0, len(data)), (
                        path.name,
                        cond.regex,
                    )


# ---- fdm's reading of the message (mail.c, fetch-stdin.c, child-fetch.c), measured on both binaries


def test_a_lone_newline_goes_through_the_rules_and_only_no_bytes_is_empty() -> None:
    assert route("match all action drop\n", b"\n").outcome == "dropped"
    assert route("match all action drop\n", b"   \n").outcome == "dropped"
    empty = route("match all action drop\n", b"")
    assert empty.outcome == "error" and "empty message" in empty.error
    assert (
        route("match all action drop\n", b"From x Mon Jan  1 10:00:00 2024\n\n").outcome
        == "dropped"
    )


def test_a_missing_final_newline_counts_as_if_it_were_there() -> None:
    text = "set no-received\nmatch size < 10 action drop\nmatch size > 9 action keep\n"
    assert route(text, b"S: x\n\nabc").outcome == "kept"  # 10 bytes once the newline is added
    assert route(text, b"S: x\n\nab").outcome == "dropped"
    data, _ = split_message(b"S: x\n\nabc")
    assert data == b"S: x\n\nabc\n"


def test_a_nul_byte_ends_its_line() -> None:
    data, _ = split_message(b"S: a\x00hidden\n\nb\n")
    assert data == b"S: a\n\nb\n"


def test_from_line_is_trimmed_only_when_there_is_a_body() -> None:
    assert split_message(b"From a b\nS: x\n\nb\n")[0] == b"S: x\n\nb\n"
    assert split_message(b"From a b\nS: x\n")[0] == b"From a b\nS: x\n"


@pytest.mark.parametrize(
    "message,before",
    [
        (b"Return-Path: <a@b>\nReceived: from mx\nS: x\n\nb\n", b"Return-Path: <a@b>\n"),
        (b"S: x\nT: y\nReceived: from mx\nReceived: from c\n\nb\n", b"S: x\nT: y\n"),
        (b"Return-Path: <a@b>\nS: x\n\nb\n", b""),  # no Received: at the top
        (b"S: x\n\nReceived: from body\n", b""),  # a Received in the body is not one
        (b"received: from mx\nS: x\n\nb\n", b""),  # any case
        (b"Received : from mx\nS: x\n\nb\n", b""),  # "Received :" is not the header
    ],
)
def test_fdm_received_header_goes_before_the_first_received_header(
    message: bytes, before: bytes
) -> None:
    data, body = split_message(message, b"Received: by me\n")
    assert data.startswith(before + b"Received: by me\n")
    assert body == message.find(b"\n\n") + 2 + len(b"Received: by me\n")


def test_received_position_decides_multiline_header_regexes() -> None:
    text = 'match "^Return-Path:[^\\n]*\\nReceived: by mx.test" action drop\n'
    late = b"Return-Path: <a@b>\nReceived: from mx\nS: x\n\nb\n"
    assert route(text, late).outcome == "dropped"
    assert route(text, late, POSIX).outcome == "dropped"
    assert route(text, b"Return-Path: <a@b>\nS: x\n\nb\n").outcome == "kept"


def test_a_regex_that_does_not_compile_refuses_the_whole_file() -> None:
    text = 'match "^S: x" action drop\nmatch "(" action keep\n'
    for dialect in (PCRE2, POSIX):
        result = route(text, b"S: x\n\nb\n", dialect)
        assert result.outcome == "error" and result.rules == []
        assert "line 3" in result.error and "refuses the whole file" in result.error


def test_rewrite_output_is_what_later_rules_see() -> None:
    text = (
        'action "rw" rewrite "sed s/^S:.*/S:\\\\ new/"\n'
        'match "^S: old" action "rw" continue\n'
        'match "^S: new$" in headers action drop\nmatch all action keep\n'
    )
    config = parse(HEAD + text)
    ran: list[bytes] = []

    def fake_sed(command: str, message: bytes) -> bytes:
        ran.append(message)
        return message.replace(b"S: old", b"S: new").replace(b"\n", b"\r\n")

    result = Router(config, hostname="mx.test", rewrite=fake_sed).route(b"S: old\n\nb\n")
    assert result.rules == [3, 4] and result.outcome == "dropped"
    assert ran[0].startswith(b"Received: by mx.test") and ran[0].endswith(b"S: old\n\nb\n")
    declined = Router(config, hostname="mx.test").route(b"S: old\n\nb\n")
    assert declined.not_modelled and "rewrite" in declined.not_modelled[0]


def test_a_failing_or_empty_rewrite_is_an_error() -> None:
    from console.fdm.router import run_rewrite

    for command in ("exit 3", "cat >/dev/null"):
        text = f'action "rw" rewrite "{command}"\nmatch all action "rw" continue\nmatch all action drop\n'
        result = Router(parse(HEAD + text), rewrite=run_rewrite).route(b"S: x\n\nb\n")
        assert result.outcome == "error" and result.runs[0].kind == "rewrite"
    assert run_rewrite("tr a-z A-Z", b"S: x\n") == b"S: X\n"


def test_header_edits_follow_fdm() -> None:
    text = (
        'action "rm" remove-headers { "x-*" "to" }\naction "add" add-header "X-New" "v"\n'
        'match all action "rm" continue\nmatch all action "add" continue\n'
        'match "^X-Old" or "^To:" or "^Cc: c  d$" action keep\n'
        'match "^Cc: c  d\\nX-New: v\\n\\nb" action drop\n'
    )
    result = route(text, b"To: a\nX-Old: 1\n  folded\nCc: c\n d\nTo: b\n\nb\n")
    assert result.outcome == "kept" and result.rules == [4, 5, 6]
    nobody = route(
        'set no-received\naction "add" add-header "X-New" "v"\n'
        'match all action "add" continue\nmatch "^X-New: v\\n\\nS: x" action drop\n',
        b"S: x\n",
    )
    assert nobody.outcome == "dropped"


@pytest.mark.parametrize(
    "date,valid",
    [
        ("Sat, 01 Mar 2025 10:00:00 +0000", True),
        ("1 Mar 2025 10:00:00 -0530", True),
        ("Sat, 01 Mar 2025 10:00:00 GMT", True),
        ("Mon, 1 Jan 2024 10:00:00", False),  # no zone
        ("1 Jan 99 10:00 GMT", False),  # no seconds
        ("Sat, 01 Mar 2025 10:00:00 +9999", False),  # zone out of range
        ("Foo, 01 Mar 2025 10:00:00 +0000", False),  # not a day name
        ("yesterday", False),
    ],
)
def test_age_reads_the_date_as_fdm_does(date: str, valid: bool) -> None:
    text = "match age invalid action drop\nmatch all action keep\n"
    result = route(text, f"Date: {date}\nS: x\n\nb\n".encode())
    assert (result.outcome == "kept") is valid


def test_a_date_in_the_future_is_age_zero() -> None:
    text = "match age < 1 seconds action drop\nmatch all action keep\n"
    assert route(text, b"Date: Fri, 01 Jan 2100 10:00:00 +0000\n\nb\n").outcome == "dropped"


def test_maximum_size_is_an_error_or_a_drop() -> None:
    big = b"S: x\n\n" + b"y" * 2000 + b"\n"
    result = route("set maximum-size 1K\nmatch all action keep\n", big)
    assert result.outcome == "error" and "too big" in result.error
    dropped = route("set maximum-size 1K\nset delete-oversized\nmatch all action keep\n", big)
    assert dropped.outcome == "dropped" and dropped.rules == []


def test_posix_dialect_matches_8bit_bytes_like_fdm_1_9() -> None:
    text = 'match "^From:.*@example\\\\.org" action drop\n'
    assert route(text, b"From: caf\xe9@example.org\n\nb\n", POSIX).outcome == "dropped"


def test_conditions_the_router_declines_say_so() -> None:
    text = "match attachment count > 0 action drop\nmatch all action keep\n"
    result = route(text, b"S: x\n\nb\n")
    assert result.not_modelled and "attachment" in result.not_modelled[0]
    assert result.outcome == "kept"


def test_exec_of_a_plain_command_is_not_a_delivery() -> None:
    assert route('match all action exec "true"\n', b"S: x\n\nb\n").outcome == "dropped"
    lda = route('match all action exec "/usr/lib/dovecot/deliver -d bob"\n', b"S: x\n\nb\n")
    assert lda.outcome == "delivered" and lda.deliveries[0].user == "bob"


def test_circumflex_after_the_final_newline_differs_between_the_dialects() -> None:
    # Measured: fdm 1.9 (POSIX) finds an empty line after the final newline, fdm 2.x (PCRE2) not.
    text = 'set no-received\nmatch "^$" action drop\n'
    assert route(text, b"Subject: a note", PCRE2).outcome == "kept"
    assert route(text, b"Subject: a note", POSIX).outcome == "dropped"
    assert route(text, b"S: x\n\nb\n", PCRE2).outcome == "dropped"  # the blank line itself


def test_an_empty_block_is_a_matched_rule_without_actions() -> None:
    text = "set no-received\nmatch all {\n}\nmatch matched action drop\n"
    result = route(text, b"S: x\n\nb\n")
    assert result.rules == [3, 5] and result.outcome == "dropped"


def test_in_headers_never_matches_without_a_header_section() -> None:
    text = 'set no-received\nmatch "^$" in headers action drop\n'
    assert route(text, b"From: a note").outcome == "kept"


# ---- details each route shows: tags, users, chains, notes, JSON


def _tags_of(text: str, message: bytes) -> dict[str, str]:
    """The tags as an action sees them, read back through a tag + string condition per name."""
    config = parse(HEAD + text)
    router = Router(config, hostname="mx.test")
    return router._prepare(message).tags


def test_default_tags_count_lines_and_read_message_id_and_date() -> None:
    tags = _tags_of(
        "match all action drop\n",
        b"From x y\nMessage-Id:  <m@x>\r\nDate: Sat, 01 Mar 2025 10:00:00 +0000\nS: x\n\nb1\nb2\n",
    )
    assert tags["account"] == "stdin" and tags["message_id"] == "<m@x>\r"
    assert (tags["lines"], tags["header_lines"], tags["body_lines"]) == ("6", "3", "2")
    assert tags["mail_year"] == "2025" and tags["mail_month"] == "03" and tags["mail_day"] == "01"
    assert tags["mail_dayofweek"] == "6" and tags["mail_quarter"] == "1"
    assert tags["mail_dayofyear"] == "60" and tags["mail_year2"] == "25"
    headless = _tags_of("match all action drop\n", b"S: x\nT: y\n")
    # fdm's count_lines: without a blank line one line is still taken as the separator.
    assert (headless["lines"], headless["header_lines"], headless["body_lines"]) == ("2", "1", "0")
    assert "message_id" not in _tags_of("match all action drop\n", b"Message-Id:\nS: x\n\nb\n")


def test_actions_see_action_rule_user_and_home_tags() -> None:
    text = (
        'action "a" users { "alice" "bob" } exec "echo %[action] %[rule] %[user] %[home]"\n'
        'match "^S: x" action "a"\n'
    )
    result = route(text, b"S: x\n\nb\n")
    assert result.commands == ["echo a 0 alice /root", "echo a 0 bob /root"]
    assert [(r.user, r.rule_line, r.rule_index) for r in result.runs] == [
        ("alice", 3, 0),
        ("bob", 3, 0),
    ]
    by_rule = route(
        'action "a" users { "x" } exec "echo %[user]"\nmatch all user "carol" action "a"\n',
        b"S: x\n\nb\n",
    )
    assert by_rule.commands == ["echo carol"]
    default = route('action "a" exec "echo %[user]"\nmatch all action "a"\n', b"S: x\n\nb\n")
    assert default.commands == ["echo root"]


def test_chained_actions_run_in_order_and_stop_at_five() -> None:
    text = (
        'action "a" { exec "A" action "b" exec "A2" }\naction "b" exec "B"\nmatch all action "a"\n'
    )
    assert route(text, b"S: x\n\nb\n").commands == ["A", "B", "A2"]
    loop = route('action "a" action "a"\nmatch all action "a"\n', b"S: x\n\nb\n")
    assert loop.outcome == "error" and loop.error == "too many chained actions (fdm allows five)"
    four = (
        'action "a1" action "a2"\naction "a2" action "a3"\naction "a3" action "a4"\n'
        'action "a4" exec "end"\nmatch all action "a1"\n'
    )
    assert route(four, b"S: x\n\nb\n").commands == ["end"]


def test_undefined_action_error_and_the_dialect_notes() -> None:
    text = 'match "^S: x" action "nope_%[account]"\n'
    pcre = route(text, b"S: x\n\nb\n")
    assert pcre.error == "no actions matching: nope_stdin (rule at line 2)"
    assert pcre.notes == [
        "fdm 2.x exits 1 and smtpd bounces the mail; Debian's fdm 1.9 exits 0 and the mail is lost"
    ]
    assert route(text, b"S: x\n\nb\n", POSIX).notes == [
        "Debian's fdm 1.9 exits 0 here: smtpd logs the mail as delivered and it is lost"
    ]


def test_end_of_rules_notes_and_keep_outcomes() -> None:
    none = route('match "^S: y" action drop\n', b"S: x\n\nb\n")
    assert none.notes == [
        "no rule matched: unmatched-mail keep",
        "kept: for a stdin account this means stored nowhere (smtpd sees success)",
    ]
    passed = route('action "t" tag "x"\nmatch all action "t" continue\n', b"S: x\n\nb\n")
    assert passed.notes[0] == "reached the end of the rules: unmatched-mail keep"
    assert passed.decision == "keep" and passed.outcome == "kept"
    keep_account = Router(parse('account "stdin" stdin keep\nmatch all action drop\n')).route(
        b"S: x\n\nb\n"
    )
    assert keep_account.decision == "keep" and keep_account.outcome == "kept"
    other = Router(
        parse('account "other" stdin keep\naccount "stdin" stdin\nmatch all action drop\n')
    ).route(b"S: x\n\nb\n")
    assert other.outcome == "dropped"
    assert route("match all action keep\n", b"S: x\n\nb\n").decision == "keep"


def test_account_tagged_string_and_case_conditions() -> None:
    text = (
        'action "t" tag "colour" value "%1"\n'
        'match "^S: (red|blue)" action "t" continue\n'
        'match account "st?in" and tagged "col*" and string "%[colour]" to "^RED$" '
        "action drop\n"
        'match string "%[colour]" to case "^BLUE$" action drop\n'
        'match case "^S: Blue" action keep\n'
    )
    assert route(text, b"S: red\n\nb\n").rules == [3, 4]
    assert route(text, b"S: blue\n\nb\n").rules == [3]
    assert route(text, b"S: Blue\n\nb\n").rules == [3, 6]
    assert (
        Router(parse(HEAD + 'match account "x*" action drop\n'), account="stdin")
        .route(b"S: x\n\nb\n")
        .outcome
        == "kept"
    )


def test_areas_and_captures() -> None:
    text = (
        'match "^b1$" in headers action keep\n'
        'match "^S: (x+)(y*)" in headers and "^(b1)$" in body action exec "echo %1 %2 %0"\n'
    )
    result = route(text, b"S: xx\n\nb1\n")
    # The body's match is at 0-2 of the body, and fdm reads %1 there from the start of the
    # message: "Re" of its Received header (both real binaries print "Re Re").
    assert result.rules == [3] and result.commands == ["echo Re  Re"]
    anywhere = route('match "^S: x$" action exec "echo %0"\n', b"S: x\n\nb\n")
    assert anywhere.commands == ["echo S: x"]


def test_to_json_carries_everything_the_cli_prints() -> None:
    result = route(
        'match "^S: x" action "d"\naction "d" pipe "/usr/lib/dovecot/deliver -d b"\n',
        b"S: x\n\nb\n",
    )
    assert result.to_json("m") == {
        "message": "m",
        "rules": [2],
        "actions": ["d"],
        "commands": ["/usr/lib/dovecot/deliver -d b"],
        "deliveries": [{"action": "d", "user": "b", "folder": "INBOX"}],
        "outcome": "delivered",
        "error": None,
        "not_modelled": [],
    }
    boxed = route('match all action maildir "/m/%[account]"\n', b"S: x\n\nb\n")
    assert boxed.to_json("m")["deliveries"] == [
        {"action": "<rule 0>", "user": "", "folder": "", "path": "/m/stdin"}
    ]


@pytest.mark.parametrize(
    "kind,argument,delivered",
    [
        ("maildir", "/m", True),
        ("mbox", "/m", True),
        ("write", "/m", True),
        ("append", "/m", True),
        ("pipe", "cat", True),
        ("stdout", "", True),
        ("exec", "true", False),
        ("exec", "/usr/lib/dovecot/dovecot-lda -d bob", True),
        ("drop", "", False),
        ("tag", "t", False),
    ],
)
def test_which_items_deliver(kind: str, argument: str, delivered: bool) -> None:
    from console.fdm.router import delivers

    assert delivers(kind, argument) is delivered


def test_mailbox_of_skips_options_with_values_and_bad_quoting() -> None:
    delivery = mailbox_of(
        "a", "pipe", "/x/deliver -a addr -f from -d u -p p -c c -o k=v -r r -e -k -m Box -z"
    )
    assert (delivery.user, delivery.folder) == ("u", "Box")
    assert delivery.extra_args == ["-z"]
    assert mailbox_of("a", "pipe", "deliver 'unclosed").folder == ""
    assert mailbox_of("a", "pipe", "procmail -d u").folder == ""
    assert mailbox_of("a", "tag", "x", "u").user == "u"
    assert mailbox_of("a", "pipe", "sudo deliver -d u", "v").user == "u"


def test_rewrite_runner_reports_failures() -> None:
    from console.fdm.router import RewriteError, run_rewrite

    with pytest.raises(RewriteError, match="command returned 4"):
        run_rewrite("exit 4", b"")
    with pytest.raises(RewriteError):
        run_rewrite("sleep 5", b"", timeout=0.2)


def test_named_zones_and_offsets() -> None:
    text = "match age invalid action drop\nmatch all action keep\n"
    for date, valid in (
        ("Sat, 01 Mar 2025 10:00:00 EST", True),
        ("Sat, 01 Mar 2025 10:00:00 Nowhere/Land", False),
        ("Sat, 01 Mar 2025 10:00:00 Europe/Paris", False),
        ("Sat, 01 Mar 2025 10:00:00 +2360", False),
        ("Sat, 01 Mar 2025 25:00:00 +0000", False),
        ("Sat, 32 Mar 2025 10:00:00 +0000", False),
        ("Sat, 01 Foo 2025 10:00:00 +0000", False),
        ("saturday, 01 march 2025 10:00:00 -0000", True),
    ):
        assert (route(text, f"Date: {date}\n\nb\n".encode()).outcome == "kept") is valid, date


def _seen_by_rewrite(text: str, message: bytes) -> bytes:
    """The exact message a rewrite at the end of `text` is handed (fdm's real text, folds back)."""
    seen: list[bytes] = []

    def capture(command: str, data: bytes) -> bytes:
        seen.append(data)
        return data

    config = parse(
        HEAD + "set no-received\n" + text + 'action "cap" rewrite "cat"\nmatch all action "cap"\n'
    )
    Router(config, rewrite=capture).route(message)
    return seen[0]


def test_the_message_after_header_edits_byte_for_byte() -> None:
    add = 'action "add" add-header "X-New" "v"\nmatch all action "add" continue\n'
    assert _seen_by_rewrite(add, b"S: x\n") == b"X-New: v\n\nS: x\n"
    assert _seen_by_rewrite(add, b"S: x\n T\n\nb\n") == b"S: x\n T\nX-New: v\n\nb\n"
    rm = 'action "rm" remove-header "x-*"\nmatch all action "rm" continue\n'
    assert (
        _seen_by_rewrite(rm, b"X-A: 1\n 2\nS: x\n\tfold\nX-B: 3\n\nX-C: body\n")
        == b"S: x\n\tfold\n\nX-C: body\n"
    )
    rm2 = 'action "rm" remove-headers { "x-a" "nothing" }\nmatch all action "rm" continue\n'
    assert _seen_by_rewrite(rm2, b"S: x\n\tfold\nX-A: 1\n\nb\n") == b"S: x \tfold\n\nb\n"


def test_rewrite_and_header_errors_say_what_failed() -> None:
    from console.fdm.router import RewriteError

    def failing(command: str, data: bytes) -> bytes:
        raise RewriteError("command returned 3")

    def empty(command: str, data: bytes) -> bytes:
        return b""

    text = (
        'action "rw" rewrite "%[nothing]"\naction "rw2" rewrite "x"\n'
        'match "^S: a" action "rw" continue\nmatch "^S: b" action "rw2" continue\n'
        'match "^S: c" action remove-header "%[nothing]"\n'
        'match "^S: d" action add-header "%[nothing]" "v"\n'
    )
    config = parse(HEAD + text)
    assert (
        Router(config, rewrite=failing).route(b"S: a\n\nb\n").error
        == "line 2: rewrite: empty command"
    )
    assert (
        Router(config, rewrite=failing).route(b"S: b\n\nb\n").error
        == 'line 3: rewrite "x": command returned 3'
    )
    assert (
        Router(config, rewrite=empty).route(b"S: b\n\nb\n").error
        == 'line 3: rewrite "x": empty mail returned'
    )
    assert Router(config).route(b"S: c\n\nb\n").error == "remove-header: empty header"
    assert Router(config).route(b"S: d\n\nb\n").error == "line 7: add-header: empty header"
    declined = Router(config).route(b"S: b\n\nb\n")
    assert declined.not_modelled == [
        'line 3: rewrite "x" is not run here, and later rules see the message it writes '
        "(fdm test --run-rewrites runs it)"
    ]
    assert declined.outcome == "kept"


def test_run_rewrite_timeout_and_errors_are_one_sentence() -> None:
    from console.fdm.router import RewriteError, run_rewrite

    with pytest.raises(RewriteError, match="timed out after 0.2 seconds"):
        run_rewrite("sleep 5", b"", timeout=0.2)
    assert run_rewrite("exit 0", b"x") == b""


def test_zone_offsets_move_the_date_like_fdm() -> None:
    from console.fdm.router import _date_of

    def at(zone: str) -> float | None:
        head = f"Date: Sat, 01 Mar 2025 10:00:00 {zone}\n".encode()
        return _date_of(head, len(head))

    utc = at("+0000")
    assert utc is not None
    assert at("+0130") == utc - 5400 and at("-0530") == utc + 19800
    assert at("+2359") == utc - 86340 and at("-2359") == utc + 86340
    assert at("+2360") is None and at("-2360") is None
    assert at("UTC") == utc and at("GMT") == utc and at("0") == utc
    # A zone name's offset is in seconds, and fdm reads it as +HHMM: EST (-18000) is -180 hours.
    assert at("EST") == utc + 180 * 3600 and at("XYZ") == utc
    assert at("\xe9") is None and at("") is None
    assert _date_of(b"Date: 01 Mar 2025 10:00:00 +0000\n", 33) == utc
    assert _date_of(b"Subject: x\n", 11) is None and _date_of(b"Date:\n", 6) is None
    # Only the headers count: the same line in the body is no Date.
    assert _date_of(b"S: x\n\nDate: 01 Mar 2025 10:00:00 +0000\n", 6) is None


def test_age_boundaries_on_a_fixed_clock() -> None:
    from console.fdm.router import _date_of

    message = b"Date: Sat, 01 Mar 2025 10:00:00 +0000\n\nb\n"
    when = _date_of(message, message.index(b"\n\n") + 2)
    assert when is not None
    text = (
        'match age < 100 seconds action "young"\nmatch age > 100 seconds action "old"\n'
        'match all action "exact"\n'
        'action "young" exec "y"\naction "old" exec "o"\naction "exact" exec "e"\n'
    )
    config = parse(HEAD + text)

    def routed(now: float) -> list[str]:
        return Router(config, clock=lambda: now).route(message).actions

    assert routed(when + 99) == ["young"]
    assert routed(when + 100) == ["exact"]
    assert routed(when + 101) == ["old"]
    assert routed(when - 500) == ["young"]  # the future is age 0


@pytest.mark.parametrize("kind", ["maildir", "mbox", "write", "append"])
def test_mailbox_of_paths(kind: str) -> None:
    from console.fdm.router import Delivery

    assert mailbox_of("a", kind, "/m/x", "u") == Delivery("a", kind, user="u", path="/m/x")
    assert mailbox_of("a", kind, "/m/x") == Delivery("a", kind, path="/m/x")


def test_mailbox_of_whole_deliveries() -> None:
    from console.fdm.router import Delivery

    assert mailbox_of("a", "smtp", "host", "u") == Delivery("a", "smtp", user="u")
    assert mailbox_of("a", "pipe", "cat", "u") == Delivery("a", "pipe", user="u")
    assert mailbox_of("a", "exec", "x 'y", "u") == Delivery("a", "exec", user="u")
    assert mailbox_of("a", "pipe", "deliver", "u") == Delivery(
        "a", "pipe", user="u", folder="INBOX"
    )
    assert mailbox_of("a", "pipe", "deliver -d") == Delivery(
        "a", "pipe", folder="INBOX", extra_args=["-d"]
    )
    assert mailbox_of("a", "pipe", "cat") == Delivery("a", "pipe")


def test_remove_header_names_are_what_precedes_the_colon() -> None:
    every = 'action "rm" remove-header "*"\nmatch all action "rm" continue\n'
    assert (
        _seen_by_rewrite(every, b"S: x\nno colon line\nT: y\n\nb: 1\n")
        == b"no colon line\n\nb: 1\n"
    )
    # A config file with the byte 0xE9 in it reads as "\udce9", like the message's byte.
    eight = 'action "rm" remove-header "x-\udce9"\nmatch all action "rm" continue\n'
    assert _seen_by_rewrite(eight, "X-\xe9: 1\nS: x\n\nb\n".encode("latin-1")) == b"S: x\n\nb\n"
    spaced = 'action "rm" remove-header "s "\nmatch all action "rm" continue\n'
    assert _seen_by_rewrite(spaced, b"S : x\nS: y\n\nb\n") == b"S: y\n\nb\n"


def test_a_message_given_as_text_routes_as_its_bytes() -> None:
    """Text holding bytes that were not UTF-8 (surrogate escapes, as a file read as text gives them)
    is routed exactly as the bytes are."""
    config = 'action "in" maildir "/m"\nmatch "^Subject: caf.$" action "in"\n'
    as_bytes = route(config, b"Subject: caf\xe9\n\nx\n")
    as_text = route(config, "Subject: caf\udce9\n\nx\n")  # type: ignore[arg-type]
    assert as_text == as_bytes and as_text.outcome == "delivered" and as_text.actions == ["in"]


@pytest.mark.parametrize(
    ("date", "tags"),
    [
        (
            "Sun, 05 Jan 2025 09:07:03 +0000",
            "09|07|03|05|01|2025|25|0|05|1|Sun, 05 Jan 2025 09:07:03 +0000",
        ),
        (
            "Wed, 31 Dec 2003 23:59:58 +0000",
            "23|59|58|31|12|2003|03|3|365|4|Wed, 31 Dec 2003 23:59:58 +0000",
        ),
    ],
)
def test_every_clock_tag_of_the_date_header(date: str, tags: str) -> None:
    """As the real fdm fills them (the tests' zone is UTC): two digits, the day of the week from
    Sunday = 0, the day of the year from 1, the quarter, and the RFC 822 date."""
    names = "hour minute second day month year year2 dayofweek dayofyear quarter rfc822date"
    path = "/m/" + "|".join(f"%[mail_{name}]" for name in names.split())
    result = route(
        f'action "in" maildir "{path}"\nmatch all action "in"\n',
        f"Date: {date}\nSubject: x\n\nbody\n".encode(),
    )
    assert [d.path for d in result.deliveries] == ["/m/" + tags]


def test_parse_time_tags_count_the_day_of_the_year_from_one_as_fdm_does() -> None:
    """fdm's parse-time tags are its default tags (replace.c: tm_yday + 1), the same clock tags as a
    mail's Date gives, without the prefix."""
    from console.fdm.parser import parse_tags_now

    tags = parse_tags_now(1072915198.0, home="/root")  # Wed, 31 Dec 2003 23:59:58 UTC
    assert tags["home"] == "/root"
    assert tags["dayofyear"] == "365" and tags["dayofweek"] == "3" and tags["quarter"] == "4"
    assert tags["rfc822date"] == "Wed, 31 Dec 2003 23:59:58 +0000"
