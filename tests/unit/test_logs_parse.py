"""Log discovery, timestamps, highlighting and OpenSMTPD ids on lines the stack's programs write."""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.errors import UserError
from console.logs.discovery import discover, rotation_base, supervisord_logfile
from console.logs.parse import (
    _RULES,
    STYLES,
    highlight,
    merge_by_time,
    opensmtpd_ids,
    parse_timestamp,
    parse_when,
    timestamps_parse,
)
from console.text import printable


def styled(line: str) -> list[tuple[str, str]]:
    return [(line[s.start : s.end], s.style) for s in highlight(line)]


def test_rotated_siblings_are_grouped_under_their_file_newest_first(tmp_path):
    for name, age in [
        ("smtpd.log", 0),
        ("smtpd.log.1", 10),
        ("smtpd.log.2.gz", 20),
        ("dovecot.log", 0),
        ("fdm.log-20251123", 5),
        ("orphan.log.1", 3),
    ]:
        (tmp_path / name).write_text("x" * len(name))
        os.utime(tmp_path / name, (1_000_000 - age, 1_000_000 - age))
    (tmp_path / "subdir").mkdir()
    found = {info.path.name: info for info in discover(tmp_path)}
    assert sorted(found) == ["dovecot.log", "fdm.log-20251123", "orphan.log.1", "smtpd.log"]
    assert [r.path.name for r in found["smtpd.log"].rotated] == ["smtpd.log.1", "smtpd.log.2.gz"]
    assert found["smtpd.log"].rotated[1].compressed
    assert found["smtpd.log"].size == len("smtpd.log")


def test_extra_files_such_as_supervisords_own_log_are_listed(tmp_path):
    (tmp_path / "log").mkdir()
    own = tmp_path / "supervisord.log"
    own.write_text("x")
    assert [i.path for i in discover(tmp_path / "log", [own, tmp_path / "missing.log"])] == [own]


def test_a_missing_log_directory_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="the log directory .*/nope does not exist"):
        discover(tmp_path / "nope")


def test_rotation_base_knows_supervisord_and_logrotate_names():
    assert rotation_base("smtpd.log") == ("smtpd.log", 0)
    assert rotation_base("smtpd.log.3") == ("smtpd.log", 3)
    assert rotation_base("smtpd.log.2.gz") == ("smtpd.log", 2)
    assert rotation_base("smtpd.log-20251124.gz")[0] == "smtpd.log"


def test_supervisord_logfile_comes_from_its_config(tmp_path):
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[supervisord]\nlogfile=%(here)s/log/supervisord.log\n")
    assert supervisord_logfile(conf) == tmp_path / "log" / "supervisord.log"
    conf.write_text("[supervisord]\nnodaemon=true\n")
    assert supervisord_logfile(conf) is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "2025-11-24T10:00:00.500000+01:00 mail smtpd[1]: x",
            datetime(2025, 11, 24, 9, 0, 0, 500000, timezone.utc),
        ),
        (
            "2025-11-24 10:00:00,123 INFO spawned: 'smtpd' with pid 12",
            datetime(2025, 11, 24, 10, 0, 0, 123000),
        ),
        ("Nov 24 10:00:00 imap-login: Info: Login: user=<bob>", datetime(2025, 11, 24, 10, 0, 0)),
        (
            "Nov  4 10:00:00 lda(bob)<12><abc>: Info: saved mail to INBOX",
            datetime(2025, 11, 4, 10, 0, 0),
        ),
        (
            "Mon Nov 24 10:00:00 2025 -> /tmp/x: Eicar-Signature FOUND",
            datetime(2025, 11, 24, 10, 0, 0),
        ),
    ],
)
def test_timestamps_of_the_stack(line, expected):
    stamp, length = parse_timestamp(line, year=2025)
    assert stamp == expected.timestamp()
    assert line[length] == " "


def test_smtpd_debug_output_has_no_timestamp():
    assert parse_timestamp("info: OpenSMTPD 6.8.0p2 starting") == (None, 0)
    assert not timestamps_parse(
        ["info: OpenSMTPD 6.8.0p2 starting", "smtp-in: New session 0123456789abcdef"]
    )
    assert timestamps_parse(["Nov 24 10:00:00 a", "Nov 24 10:00:01 b", ""])


def test_opensmtpd_lines_show_outcome_and_ids():
    line = (
        "2025-11-24T00:00:00.1+00:00 mail smtpd[814]: delivery: TempFail for 89b39333a1b2c3d4: "
        'from=<a@b.c>, to=<bob@x.y>, result="TempFail" stat="Connection refused"'
    )
    spans = styled(line)
    assert ("mail", "host") in spans and ("smtpd[814]", "program") in spans
    assert ("TempFail", "warning") in spans and ("<bob@x.y>", "address") in spans
    assert ("89b39333a1b2c3d4", "envelope") in spans
    assert opensmtpd_ids(line) == {"envelope": ["89b39333a1b2c3d4"]}
    accepted = "smtp-in: Accepted message 0a1b2c3d on session 89b3933313d7cda1: from=<x@y>, size=12"
    assert opensmtpd_ids(accepted) == {"session": ["89b3933313d7cda1"], "message": ["0a1b2c3d"]}
    assert ('result="Ok"', "success") in styled(
        'delivery: Ok for 0a1b2c3d00000001: result="Ok" stat="Delivered"'
    )


@pytest.mark.parametrize(
    ("line", "fragment", "style"),
    [
        ("2025-11-24 10:00:00,123 CRIT Supervisor is running as root.", "CRIT", "error"),
        (
            "2025-11-24 10:00:01,000 WARN received SIGTERM indicating exit request",
            "WARN",
            "warning",
        ),
        (
            "Nov 24 10:00:00 imap-login: Info: Disconnected (auth failed, 1 attempts)",
            "auth failed",
            "error",
        ),
        (
            "Nov 24 10:00:00 lda(bob)<7><x>: Info: msgid=<a@b>: saved mail to Spam",
            "saved mail to Spam",
            "success",
        ),
        (
            "Mon Nov 24 10:00:00 2025 -> /tmp/clamsmtpd.x: Eicar-Signature FOUND",
            "Eicar-Signature FOUND",
            "virus",
        ),
        (
            "clamsmtpd: 100001: from=a@b, to=c@d, status=VIRUS:Eicar-Signature",
            "status=VIRUS:Eicar-Signature",
            "virus",
        ),
        (
            "spampd[9]: identified spam <m@x> (1000.00/5.00) from <a@b> for <c@d>",
            "identified spam",
            "spam",
        ),
        (
            "spampd[9]: clean message <m@x> (-1.00/5.00) from <a@b> for <c@d>",
            "clean message",
            "success",
        ),
        (
            "dkimproxy.out[3]: DKIM signing - signed; message-id=<a@b>",
            "DKIM signing - signed",
            "success",
        ),
        ("dkimproxy.in[3]: DKIM verify - fail (bad signature)", "DKIM verify - fail", "error"),
    ],
)
def test_each_program_outcome_stands_out(line, fragment, style):
    assert (fragment, style) in styled(line)
    assert all(s.style in STYLES for s in highlight(line))


def test_hostile_text_is_escaped_before_it_is_highlighted():
    line = printable(
        "Nov 24 10:00:00 x: from=<\x1b[31mevil@x\x1b[0m> [bold]hi[/bold] [link=http://x]"
    )
    assert "\x1b" not in line and "\\x1b[31m" in line
    assert "[bold]hi[/bold] [link=http://x]" in line
    for span in highlight(line):
        assert 0 <= span.start <= span.end <= len(line)


def test_merge_by_time_interleaves_and_keeps_unstamped_lines_in_place():
    a = ["Nov 24 10:00:00 a1", "  a1 continued", "Nov 24 10:00:05 a2"]
    b = ["Nov 24 10:00:02 b1", "Nov 24 10:00:09 b2"]
    assert [line for _, line in merge_by_time([a, b])] == [
        "Nov 24 10:00:00 a1",
        "  a1 continued",
        "Nov 24 10:00:02 b1",
        "Nov 24 10:00:05 a2",
        "Nov 24 10:00:09 b2",
    ]


def test_a_typed_time_is_read_on_the_logs_day():
    reference = datetime(2025, 11, 24, 18, 0).timestamp()
    assert parse_when("10:30", reference) == datetime(2025, 11, 24, 10, 30).timestamp()
    assert (
        parse_when("2025-11-23 09:00:05", reference) == datetime(2025, 11, 23, 9, 0, 5).timestamp()
    )
    assert (
        parse_when("2025-11-24T10:00:00+00:00", reference)
        == datetime(2025, 11, 24, 10, tzinfo=timezone.utc).timestamp()
    )
    with pytest.raises(ValueError, match="cannot read 'noon' as a time"):
        parse_when("noon", reference)


# Recorded from the lab (smtpd 6.8.0p2 -d under supervisord, dovecot 2.3.19.1, supervisor 4.3.0).
REAL = {
    "smtpd_envelope": "7e4bca40e0e3b9d2 smtp envelope evpid=6fdcc55f46e429b1 from=<alice@lab.test> to=<bob@example.com>",
    "smtpd_message": "7e4bca40e0e3b9d2 smtp message msgid=6fdcc55f size=405 nrcpt=1 proto=ESMTP",
    "smtpd_ok": (
        "7e4bca422ad81b5a mda delivery evpid=6fdcc55f46e429b1 from=<alice@lab.test> to=<bob@example.com> "
        "rcpt=<bob@example.com> user=vmail delay=0s result=Ok stat=Delivered"
    ),
    "smtpd_tempfail": (
        "0000000000000000 mta delivery evpid=ca34480cfc70ac98 from=<alice@lab.test> to=<carol@unreachable.test> "
        'rcpt=<-> source="-" relay="127.0.0.1" delay=11s result="TempFail" stat="Network error on destination MXs"'
    ),
    "smtpd_error": "7e4bca4d49c11a17 mta error reason=IO Error: Connection refused",
    "lda": "Nov 24 18:02:21 lda(bob)<19199><7um4LS3RBWv/SgAAg+zDdQ>: Info: msgid=<7e4bca40174cdb0f@vm>: saved mail to INBOX",
    "supervisord": "2026-11-24 18:02:14,549 INFO spawned: 'opensmtpd' with pid 19019",
}


def test_real_smtpd_debug_lines_carry_ids_and_outcomes():
    assert opensmtpd_ids(REAL["smtpd_envelope"]) == {
        "session": ["7e4bca40e0e3b9d2"],
        "envelope": ["6fdcc55f46e429b1"],
    }
    assert opensmtpd_ids(REAL["smtpd_message"]) == {
        "session": ["7e4bca40e0e3b9d2"],
        "message": ["6fdcc55f"],
    }
    assert ("result=Ok", "success") in styled(REAL["smtpd_ok"])
    assert ("stat=Delivered", "success") in styled(REAL["smtpd_ok"])
    assert ("TempFail", "warning") in styled(REAL["smtpd_tempfail"])
    assert {("error", "error"), ("Error:", "error")} <= set(styled(REAL["smtpd_error"]))
    assert parse_timestamp(REAL["smtpd_ok"]) == (
        None,
        0,
    )  # smtpd -d writes no time: no merge, no jump


def test_real_dovecot_and_supervisord_lines_have_stamps():
    assert parse_timestamp(REAL["lda"], year=2026)[1] == len("Nov 24 18:02:21")
    assert ("saved mail to INBOX", "success") in styled(REAL["lda"])
    assert ("lda(bob)<19199><7um4LS3RBWv/SgAAg+zDdQ>", "program") in styled(REAL["lda"])
    assert parse_timestamp(REAL["supervisord"])[1] == len("2026-11-24 18:02:14,549")
    assert ("INFO", "level") in styled(REAL["supervisord"])


# Pieces of the words the highlighting rules look for, so that generated lines often match them.
_PIECES = [
    "FOUND",
    "VIRUS",
    "status=",
    "CLEAN",
    "clean",
    " message",
    "msgid=",
    "evpid=",
    "for ",
    "envelope ",
    "warn",
    "Warn",
    "WARN",
    "ING",
    "ing",
    "TempFail",
    "deferred",
    "Deferred",
    "result=",
    '"',
    "Ok",
    "stat=",
    "Delivered",
    "250 ",
    "Login:",
    "saved mail to ",
    "spam",
    "identified ",
    "DKIM ",
    "verify - ",
    "fail",
    "pass",
    "signing - signed",
    "<",
    ">",
    "@",
    "=",
    " ",
    "a",
    "0123456789abcdef",
    "x",
    ":",
    "-",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_a_rule_is_skipped_only_on_lines_it_cannot_match(line: str) -> None:
    """The needles that let highlight() skip a rule are in every line the rule matches."""
    for source, style, _, needles in _RULES:
        if needles and re.search(source, line):
            assert any(needle in line for needle in needles), (style, line)
