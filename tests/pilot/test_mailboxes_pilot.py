"""The Mailboxes screen in a virtual terminal, on a recording of what the lab answered
(tests/recordings/mailboxes-lab.json): strangers' headers stay text, the messages follow the cursor,
the Maildir account says where its counts come from, a refused login is one line with a retry;
snapshots at 80x24 and 160x50. tests/integration/test_mailboxes_screen_lab.py runs it on the lab."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from console.settings import Settings
from tests.helpers import drawn, until
from tests.recorded import URL, RecordedMailboxes, RecordedSupervisor, supervisor_answered
from widgets.app import ConsoleApp
from widgets.mailboxes import MailboxesScreen
from widgets.mailboxes.lists import Entry, FolderList, MessageList, short_date, spam_verdict

SIZES = [(80, 24), (160, 50)]


def mailboxes_app(tmp_path: Path, source: RecordedMailboxes | None = None) -> ConsoleApp:
    settings = Settings(
        supervisor_url=URL,
        refresh_interval=3600,
        log_dir=tmp_path,
        audit_log=tmp_path / "audit.log",
        supervisor_config=tmp_path / "none.conf",
    )
    return ConsoleApp(
        settings,
        supervisor=RecordedSupervisor(),
        initial_screen="mailboxes",
        hostname="mail.example.com",
        mailboxes={"source": source or RecordedMailboxes()},
    )


def view(app: ConsoleApp) -> MailboxesScreen:
    return app.query_one(MailboxesScreen)


async def listed(pilot: Any) -> MailboxesScreen:
    """Wait until both accounts are listed and the first page of messages is drawn."""
    app = pilot.app
    await until(pilot, lambda: app.query(MailboxesScreen))
    mailboxes = view(app)
    await until(
        pilot,
        lambda: (
            len(mailboxes.states) == 2
            and all(s.box or s.error for s in mailboxes.states.values())
            and not mailboxes.loading
        ),
        what="both accounts and the first page of messages",
    )
    await pilot.pause()
    return mailboxes


async def test_folders_and_messages_with_strangers_text_escaped(tmp_path: Path) -> None:
    app = mailboxes_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        mailboxes = await listed(pilot)
        folders = app.query_one(FolderList)
        assert folders.entries == [
            Entry("bob", None),
            Entry("bob", "INBOX"),
            Entry("bob", "Spam"),
            Entry("sysmail", None),
            Entry("sysmail", "INBOX"),
            Entry("sysmail", "Network"),
        ]
        assert folders.current() == Entry("bob", "INBOX")  # the folder shown, under the cursor
        text = await drawn(pilot, folders, "sysmail 2 folders")
        assert "bob 2 folders over IMAP" in text
        assert "sysmail 2 folders, counted from the Maildir on disk (no IMAP password)" in text
        assert any(line.split()[:4] == ["INBOX", "3", "3", "1.8"] for line in text.splitlines())
        assert mailboxes.total == 3 and [m.uid for m in mailboxes.messages] == [3, 2, 1]
        title = str(app.query_one("#mailboxes-title").render())
        assert title == "bob / INBOX: newest 3 of 3 messages"

        await pilot.press("down")  # Spam: its one message, whose From and Subject are hostile
        await until(pilot, lambda: mailboxes.shown == Entry("bob", "Spam") and mailboxes.messages)
        rows = await drawn(pilot, app.query_one(MessageList), "support@phish.example")
        assert "[link=http://evil]click[/link] \\x1b[31mred\\x1b[0m" in rows
        assert "support@phish.example" in rows  # the address alone: the whole From is too wide
        assert "spam 9.8" in rows and "\x1b" not in rows
        detail = str(app.query_one("#mailboxes-detail").render())
        assert "X-Spam-Flag: YES" in detail
        assert "X-Spam-Status: Yes, score=9.8 required=5.0 tests=GTUBE,HTML_MESSAGE" in detail
        assert "X-Virus-Scanned: ClamAV using ClamSMTP" in detail
        assert "Subject: [link=http://evil]click[/link] \\x1b[31mred\\x1b[0m" in detail
        assert 'From: "Support [bold]Team[/bold]" <support@phish.example>' in detail


async def test_maildir_account_says_what_it_shows(tmp_path: Path) -> None:
    app = mailboxes_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        mailboxes = await listed(pilot)
        folders = app.query_one(FolderList)
        folders.move_to(folders.entries.index(Entry("sysmail", "Network")))
        await until(pilot, lambda: mailboxes.shown == Entry("sysmail", "Network"))
        await until(pilot, lambda: mailboxes.messages_error)
        status = str(app.query_one("#mailboxes-status").render())
        assert "counted from the Maildir on disk" in status and "listed over IMAP only" in status
        title = str(app.query_one("#mailboxes-title").render())
        assert "listing messages needs IMAP" in title and "\n" not in title
        assert mailboxes.messages == [] and app.is_running


async def test_cursor_moves_drop_the_answers_for_folders_it_left(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr("widgets.mailboxes.FOLLOW_S", 3600.0)  # the cursor never rests long enough
    asked: list[str] = []

    class Counting(RecordedMailboxes):
        def messages(self, account: str, folder: str, limit: int, skip: int) -> Any:
            asked.append(f"{account}/{folder}")
            return super().messages(account, folder, limit, skip)

    app = mailboxes_app(tmp_path, Counting())
    async with app.run_test(size=(100, 30)) as pilot:
        mailboxes = await listed(pilot)
        assert asked == ["bob/INBOX"]
        # The cursor crosses folders without resting on them: nothing is fetched for those, and the
        # title says which folder is coming; enter fetches the one under the cursor at once.
        await pilot.press("down", "down", "down", "up", "up")
        await until(pilot, lambda: mailboxes.shown == Entry("bob", "Spam"))
        assert asked == ["bob/INBOX"] and mailboxes.messages == []
        assert str(app.query_one("#mailboxes-title").render()) == "bob / Spam: fetching…"
        await pilot.press("enter")
        await until(pilot, lambda: mailboxes.messages)
        assert asked == ["bob/INBOX", "bob/Spam"]
        assert app.focused is app.query_one(MessageList)
        # An answer for a request that was replaced is dropped.
        stale = MailboxesScreen.MessagesListed(mailboxes.generation - 1, 0, 99, [])
        mailboxes.post_message(stale)
        await pilot.pause()
        assert mailboxes.total == 1 and [m.uid for m in mailboxes.messages] == [1]


async def test_refused_login_is_one_line_and_r_retries(tmp_path: Path) -> None:
    source = RecordedMailboxes(refused=("bob",))
    app = mailboxes_app(tmp_path, source)
    async with app.run_test(size=(80, 24)) as pilot:
        mailboxes = await listed(pilot)
        assert mailboxes.states["bob"].error.endswith(
            "login as bob refused (password from env MAILCONSOLE_PASSWORD_BOB)"
        )
        text = await drawn(pilot, app.query_one(FolderList), "login as bob refused")
        heading = text.split("\n")[1]
        assert heading.startswith("bob IMAP 127.0.0.1:23204 (implicit): login as bob refused")
        assert "login as bob refused" in str(app.query_one("#mailboxes-title").render())
        assert "(r retries)" in str(app.query_one("#mailboxes-status").render())
        source.refused = ()  # the password is fixed
        await pilot.press("r")
        await until(pilot, lambda: mailboxes.states["bob"].box and mailboxes.messages)
        assert mailboxes.states["bob"].error == "" and mailboxes.total == 3


async def test_more_fetches_the_next_older_page(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr("widgets.mailboxes.PAGE", 2)
    app = mailboxes_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        mailboxes = await listed(pilot)
        assert [m.uid for m in mailboxes.messages] == [3, 2]
        assert "newest 2 of 3 messages  (m: older)" in str(
            app.query_one("#mailboxes-title").render()
        )
        await pilot.press("m")
        await until(pilot, lambda: len(mailboxes.messages) == 3)
        assert [m.uid for m in mailboxes.messages] == [3, 2, 1]
        await pilot.press("m")
        await until(pilot, lambda: app._notifications)
        assert [n.message for n in app._notifications] == ["No older messages in this folder."]


def test_verdicts_and_dates() -> None:
    from console.mailbox.model import MessageSummary

    def summary(spam_flag: str = "", spam_status: str = "") -> MessageSummary:
        return MessageSummary(1, "", "", "", spam_status=spam_status, spam_flag=spam_flag)

    assert spam_verdict(summary(spam_flag="YES", spam_status="Yes, score=9.8")) == (
        "spam 9.8",
        "bold red",
    )
    assert spam_verdict(summary(spam_status="No, score=-1.9 required=5.0")) == ("ham -1.9", "green")
    assert spam_verdict(summary()) == ("", "")
    assert short_date("Tue, 01 Dec 2026 22:01:44 +0100", wide=True) == "2026-12-01 21:01"  # TZ=UTC0
    assert short_date("Tue, 01 Dec 2026 22:01:44 +0100", wide=False) == "Dec 01 21:01"
    assert short_date("yesterday", wide=False) == "yesterday"


@pytest.mark.parametrize("size", SIZES)
def test_mailboxes_snapshot(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def settle(pilot: Any) -> None:
        await listed(pilot)
        await supervisor_answered(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(mailboxes_app(tmp_path), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", [(80, 24)])
def test_mailboxes_refused_snapshot(
    snap_compare: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    async def settle(pilot: Any) -> None:
        await listed(pilot)
        await supervisor_answered(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    app = mailboxes_app(tmp_path, RecordedMailboxes(refused=("bob",)))
    assert snap_compare(app, terminal_size=size, run_before=settle)


async def test_read_only_probe_key_says_no_and_is_audited(tmp_path: Path) -> None:
    """The probe sends mail: not offered read-only; pressed anyway, one line and an audited refusal,
    and no form is opened."""
    app = mailboxes_app(tmp_path)
    app.settings.read_only = True
    async with app.run_test(size=(100, 30)) as pilot:
        await listed(pilot)
        keys = {b.binding.action for b in app.active_bindings.values()}
        assert "probe" not in keys and "more" in keys
        assert "Probe" not in str(app.query_one("#key-bar").render())
        await pilot.press("p")
        audit = app.settings.audit_log
        await until(pilot, lambda: audit.exists() and audit.read_text().count("\n") == 1)
        assert [n.message for n in app._notifications] == ["read-only: probe is not available"]
        [record] = [json.loads(line) for line in audit.read_text().splitlines()]
        assert (record["action"], record["outcome"], record["refused"]) == (
            "mailbox.probe",
            "refused",
            True,
        )
        assert len(app.screen_stack) == 1
