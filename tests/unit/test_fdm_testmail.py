"""Test messages (Maildir, file, composed) and the corpus regression check of the Rules screen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from console.errors import UserError
from console.fdm.parser import parse
from console.fdm.router import Router
from console.fdm.testmail import (
    compose_message,
    corpus_messages,
    folder_messages,
    mail_folders,
    mail_users,
    message_summary,
    read_message_file,
    route_changes,
    route_summary,
)

CORPUS = Path(__file__).parent.parent / "fdm_corpus"
ARTICLE = (CORPUS / "configs" / "article.conf").read_text()
FIXED = (CORPUS / "configs" / "01_article_fixed.conf").read_text()


def store(folder: Path, name: str, text: str, mtime: int, sub: str = "cur") -> Path:
    (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "new").mkdir(exist_ok=True)
    path = folder / sub / name
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


def test_maildir_users_folders_and_messages_newest_first(tmp_path: Path) -> None:
    root = tmp_path / "bob" / "Mail"
    store(root, "1.host:2,S", "From: a@x\nSubject: old\n\nb\n", 1000)
    store(root, "2.host", "From: b@x\nSubject: new\n\tfolded\n\nb\n", 2000, sub="new")
    store(root / ".Mailing Lists", "3.host:2,", "Subject: list\n\nb\n", 1500)
    store(root / ".Archive.2023", "4.host:2,", "Subject: arch\n\nb\n", 1500)
    (tmp_path / "nobody").mkdir()  # no Mail: not a mail user
    assert mail_users(tmp_path) == ["bob"]
    assert mail_folders(tmp_path, "bob") == ["INBOX", "Archive/2023", "Mailing Lists"]
    inbox = folder_messages(tmp_path, "bob", "INBOX")
    assert [(m.subject, m.sender) for m in inbox] == [("new folded", "b@x"), ("old", "a@x")]
    assert [m.subject for m in folder_messages(tmp_path, "bob", "Archive/2023")] == ["arch"]
    with pytest.raises(UserError):
        folder_messages(tmp_path, "../etc", "INBOX")


def test_read_message_file_normalises_crlf_and_reports_missing(tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(b"Subject: x\r\n\r\nbody \xff\r\n")
    assert read_message_file(path) == "Subject: x\n\nbody \udcff\n"
    with pytest.raises(UserError, match="no such file"):
        read_message_file(tmp_path / "absent")
    with pytest.raises(UserError, match="directory"):
        read_message_file(tmp_path)


def test_a_named_pipe_as_the_test_message_is_refused_not_waited_on(tmp_path: Path) -> None:
    """The Rules screen's File source: opening a named pipe blocked its reader until a writer came."""
    fifo = tmp_path / "pipe.eml"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="is not a regular file"):
        read_message_file(fifo)
    with pytest.raises(UserError, match="is not a regular file"):
        read_message_file(Path("/dev/zero"))


def test_compose_message_keeps_each_field_on_its_own_header() -> None:
    text = compose_message(
        "a@x",
        "bob@example.com",
        cc="c@x",
        subject="hi\nBcc: evil@x",
        extra="X-Spam-Status: Yes\n\nList-Id: <l.x>",
        date="Mon, 1 Jan 2001 00:00:00 +0000",
    )
    head = text.split("\n\n")[0].splitlines()
    assert head == [
        "From: a@x",
        "To: bob@example.com",
        "Cc: c@x",
        "Subject: hi Bcc: evil@x",
        "Date: Mon, 1 Jan 2001 00:00:00 +0000",
        "X-Spam-Status: Yes",
        "List-Id: <l.x>",
    ]
    route = Router(parse(FIXED), hostname="h").route(text)
    assert route.actions == ["bob_spam"]
    with pytest.raises(UserError, match="line 1"):
        compose_message("a", "b", extra="no colon here")


def test_route_summary_ignores_line_numbers_of_errors() -> None:
    message = "To: notifications@example.com\nSubject: x\n\nb\n"
    before = Router(parse(ARTICLE), hostname="h").route(message)
    after = Router(parse("\n\n" + ARTICLE), hostname="h").route(message)
    assert before.error != after.error
    assert (
        route_summary(before) == route_summary(after) == "error: no actions matching: bob_notices"
    )


def test_corpus_lists_exactly_the_messages_whose_route_changes(tmp_path: Path) -> None:
    (tmp_path / "inbox.eml").write_text("To: bob@example.com\nSubject: a\n\nb\n")
    (tmp_path / "notices.eml").write_text("To: notifications@example.com\nSubject: a\n\nb\n")
    (tmp_path / "stranger.eml").write_text("To: someone@else.org\nSubject: a\n\nb\n")
    messages = corpus_messages(tmp_path)
    assert route_changes(ARTICLE, ARTICLE, messages) == []
    changes = {c.message: c for c in route_changes(ARTICLE, FIXED, messages)}
    assert set(changes) == {"notices.eml", "stranger.eml"}
    assert changes["notices.eml"].before == "error: no actions matching: bob_notices"
    assert changes["notices.eml"].after == "delivered: bob_notifications -> bob/Notifications"
    assert changes["stranger.eml"].before == "kept"
    broken = route_changes(ARTICLE, 'match "x" action', messages)
    assert {c.after for c in broken} == {"config does not parse"}
    with pytest.raises(UserError, match="does not exist"):
        corpus_messages(tmp_path / "absent")


def test_message_summary_unfolds_and_keeps_hostile_text_as_is() -> None:
    text = "From: [bold]x[/bold] <a@x>\nSubject: one\n\ttwo\x1b[31m\nX-Other: y\n\nbody\n"
    assert message_summary(text) == [
        ("From", "[bold]x[/bold] <a@x>"),
        ("Subject", "one two\x1b[31m"),
    ]
