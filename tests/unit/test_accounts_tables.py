"""The account files read as OpenSMTPD (table_static) and Dovecot/table-passwd read them, and edited
without touching a byte of the lines an edit does not change."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.accounts.tables import (
    LIST,
    MAP,
    append_line,
    join_lines,
    parse_table,
    parse_userdb,
    remove_lines,
    user_line,
    with_password,
)

SAMPLES = Path(__file__).resolve().parents[2] / "config_samples" / "db"

# The article's tables as a person keeps them: comments, blank lines, tabs, trailing spaces, CRLF,
# a last line without its newline.
VUSERS_EDITED = (
    "# who gets mail\n"
    "\n"
    "bob@example.com vmail\n"
    "notifications@example.com\tvmail   \n"
    "   mailinglists@example.com    vmail\n"
    "system@example.com: vmail\n"
    "dmarc@example.com:vmail\r\n"
    "  # networking moved below\n"
    "team@example.com bob@example.com, sysmail@example.net,\tdmarc@example.com\n"
    "networking@example.net vmail # the inline hash is part of the value"
)
ADDRS_EDITED = "# rcpt-to\nbob@example.com\n\n  notifications@example.com  \n\tsystem@example.com\n"
USERDB_EDITED = (
    "# mail users\n"
    "bob:$6$xx$abc:vmail:2000:2000:/mail/spool/bob::userdb_mail=maildir:/mail/spool/bob/Mail"
    " userdb_quota_rule=*:storage=1G\n"
    "\n"
    "sysmail:$6$xx$def:vmail:2000:2000:/mail/spool/sysmail::userdb_mail=maildir:/mail/spool/sysmail/Mail\n"
)


@pytest.mark.parametrize("name", ["vdomains", "vusers", "addrs"])
def test_the_articles_tables_round_trip(name: str) -> None:
    text = (SAMPLES / name).read_text()
    table = parse_table(name, SAMPLES / name, text)
    assert table.text == text
    assert len(table.entries) == len([line for line in text.splitlines() if line.strip()])


def test_the_articles_tables_have_their_kinds() -> None:
    read = {
        name: parse_table(name, SAMPLES / name, (SAMPLES / name).read_text())
        for name in ("vdomains", "vusers", "addrs")
    }
    assert read["vdomains"].kind == LIST and read["addrs"].kind == LIST
    assert read["vusers"].kind == MAP
    assert [e.key for e in read["vdomains"].entries] == ["example.com", "example.net"]
    assert read["vusers"].find("NETWORKING@example.NET")[0].value == "vmail"


def test_the_articles_userdb_round_trips_with_its_extra_fields() -> None:
    text = (SAMPLES / "userdb").read_text()
    userdb = parse_userdb(SAMPLES / "userdb", text)
    assert userdb.text == text
    bob = userdb.find("bob")[0]
    assert (bob.uid, bob.gid, bob.gecos, bob.home, bob.shell) == (
        "vmail",
        "2000",
        "2000",
        "/mail/spool/bob",
        "",
    )
    assert bob.extra == "userdb_mail=maildir:/mail/spool/bob/Mail"
    assert bob.maildir() == Path("/mail/spool/bob/Mail")
    assert userdb.refused == []


def test_comments_blank_lines_and_odd_whitespace_survive() -> None:
    table = parse_table("vusers", Path("vusers"), VUSERS_EDITED)
    assert table.text == VUSERS_EDITED
    assert [(e.line, e.key, e.value) for e in table.entries] == [
        (3, "bob@example.com", "vmail"),
        (4, "notifications@example.com", "vmail"),
        (5, "mailinglists@example.com", "vmail"),
        (6, "system@example.com", "vmail"),
        (7, "dmarc@example.com", "vmail"),
        (9, "team@example.com", "bob@example.com, sysmail@example.net,\tdmarc@example.com"),
        # smtpd has no inline comments: the rest of the line is the value
        (10, "networking@example.net", "vmail # the inline hash is part of the value"),
    ]
    assert table.find("team@example.com")[0].values == [
        "bob@example.com",
        "sysmail@example.net",
        "dmarc@example.com",
    ]
    addrs = parse_table("addrs", Path("addrs"), ADDRS_EDITED)
    assert addrs.text == ADDRS_EDITED
    assert [e.key for e in addrs.entries] == [
        "bob@example.com",
        "notifications@example.com",
        "system@example.com",
    ]


def test_the_first_entry_decides_the_kind_and_list_keys_keep_spaces() -> None:
    table = parse_table("addrs", Path("addrs"), "a@x.org\nb@x.org vmail\n")
    assert table.kind == LIST
    assert [e.key for e in table.entries] == ["a@x.org", "b@x.org vmail"]
    forced = parse_table("addrs", Path("addrs"), "# @list\na@x.org vmail\n")
    assert forced.kind == LIST and forced.entries[0].key == "a@x.org vmail"
    mapped = parse_table("vdomains", Path("vdomains"), "example.com ok\nexample.net\n")
    assert mapped.kind == MAP and mapped.refused == [2]


def test_a_map_line_without_value_is_what_smtpd_refuses() -> None:
    # measured on the lab: `invalid map entry line 7`, `Failed to update table "vusers"`
    text = (SAMPLES / "vusers").read_text() + "broken@example.com\n"
    table = parse_table("vusers", Path("vusers"), text)
    assert table.refused == [7]
    assert parse_table("vusers", Path("v"), "a@x.org:   \n").refused == [1]
    assert parse_table("vusers", Path("v"), "a@x.org : vmail\n").entries[0].value == "vmail"


def test_userdb_lines_as_dovecot_and_table_passwd_read_them() -> None:
    text = (
        "# comment:with:colons\n\n  # indented:x:1:1:g:/h::\n"
        "carol:$6$x:2000:2000\n"
        "dave:$6$x:2000:2000:g:/h::a=b:c d=e:f\n"
    )
    userdb = parse_userdb(Path("userdb"), text)
    assert userdb.text == text
    assert [u.name for u in userdb.users] == ["  # indented", "carol", "dave"]
    assert userdb.refused == [4]  # fewer than six fields: table-passwd refuses the table
    dave = userdb.find("dave")[0]
    assert dave.extra == "a=b:c d=e:f" and dave.extra_value("d") == "e:f"


def test_userdb_extra_fields_are_kept_byte_for_byte_by_a_password_change() -> None:
    userdb = parse_userdb(Path("userdb"), USERDB_EDITED)
    bob = userdb.find("bob")[0]
    raw = userdb.lines[bob.line - 1]
    changed = with_password(bob, raw, "$6$new$hash")
    assert changed == raw.replace("$6$xx$abc", "$6$new$hash")
    assert changed.endswith(
        ":userdb_mail=maildir:/mail/spool/bob/Mail userdb_quota_rule=*:storage=1G"
    )


def test_a_new_user_line_copies_the_first_users_layout() -> None:
    userdb = parse_userdb(Path("userdb"), (SAMPLES / "userdb").read_text())
    line = user_line("alice", "$6$s$h", userdb.users[0], userdb.users[0])
    assert line == (
        "alice:$6$s$h:vmail:2000:2000:/mail/spool/alice::userdb_mail=maildir:/mail/spool/alice/Mail"
    )


def test_edits_touch_only_their_lines() -> None:
    table = parse_table("vusers", Path("vusers"), VUSERS_EDITED)
    added = join_lines(append_line(table.lines, "new@example.com vmail"))
    assert added == VUSERS_EDITED + "\nnew@example.com vmail\n"
    removed = join_lines(remove_lines(table.lines, {table.find("system@example.com")[0].line}))
    assert removed == VUSERS_EDITED.replace("system@example.com: vmail\n", "")
    text = (SAMPLES / "addrs").read_text()
    addrs = parse_table("addrs", Path("addrs"), text)
    assert join_lines(append_line(addrs.lines, "x@example.com")) == text + "x@example.com\n"
    assert join_lines(append_line([], "x@example.com")) == "x@example.com\n"


def test_a_new_map_line_uses_the_tables_separator() -> None:
    assert parse_table("v", Path("v"), "a@x.org\tvmail\n").separator() == "\t"
    assert parse_table("v", Path("v"), "a@x.org: vmail\n").separator() == ": "
    assert parse_table("v", Path("v"), "").separator() == " "
