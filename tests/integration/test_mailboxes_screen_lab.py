"""The Mailboxes screen on the lab's real Dovecot: the counts IMAP gives, the newest messages with
their spam headers, no \\Seen flag changed; a wrong password, a refused certificate and a silent server
each one line with `r` to retry; the Maildir fallback saying so; a folder Dovecot lists but will not
count. No password ever on the screen."""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import uuid
from typing import Any

import pytest

from console.lab.render import LAB_MASTER_PASSWORD
from console.mailbox.imap import list_folders
from console.settings import Settings, load_settings
from tests.helpers import drawn, drawn_lines, until, wait_for
from tests.integration.conftest import RunningLab
from tests.integration.test_mailbox_lab import imap, seen_flags, send, subjects_in, tagged
from widgets.app import ConsoleApp
from widgets.mailboxes import MailboxesScreen
from widgets.mailboxes.lists import Entry, FolderList, MessageList
from widgets.mailboxes.probe import ProbeForm, ProbeRun

pytestmark = pytest.mark.lab


def lab_settings(lab: RunningLab, **changes: Any) -> Settings:
    settings = load_settings(config=str(lab.settings_path)).settings
    return dataclasses.replace(settings, **changes)


def screen_text(app: ConsoleApp) -> str:
    """Everything the screen shows, as the terminal would get it."""
    return app.export_screenshot()


def assert_no_password(lab: RunningLab, app: ConsoleApp) -> None:
    shown = screen_text(app)
    for secret in [*lab.users.values(), LAB_MASTER_PASSWORD]:
        assert secret not in shown


async def opened(pilot: Any, accounts: int = 2) -> MailboxesScreen:
    """The screen once every account is listed (or failed) and the first fetch answered."""
    app = pilot.app
    await until(pilot, lambda: app.query(MailboxesScreen))
    view = app.query_one(MailboxesScreen)
    await until(
        pilot,
        lambda: (
            len(view.states) == accounts
            and all(s.box or s.error for s in view.states.values())
            and view.shown is not None
            and not view.loading
        ),
        what="every account listed and the first messages",
    )
    return view


def mailboxes_app(settings: Settings) -> ConsoleApp:
    return ConsoleApp(settings, initial_screen="mailboxes", hostname="lab")


async def test_lab_folders_and_newest_messages_leave_seen_flags(lab: RunningLab) -> None:
    tag = uuid.uuid4().hex[:8]
    send(lab, "bob@example.com", f"screen {tag} [bold]not markup[/bold]")
    wait_for(lambda: len(tagged(lab, tag)) == 1, timeout=60, what="the mail in bob's INBOX")
    seen_before = seen_flags(lab)
    with imap(lab) as client:
        counted = {f.name: (f.messages, f.unseen, f.size) for f in list_folders(client)}
    app = mailboxes_app(lab_settings(lab))
    async with app.run_test(size=(120, 40)) as pilot:
        view = await opened(pilot)
        box = view.states["bob"].box
        assert box is not None and box.source == "imap"
        assert {f.name: (f.messages, f.unseen, f.size) for f in box.folders} == counted
        assert view.shown == Entry("bob", "INBOX") and view.total == counted["INBOX"][0]
        newest = view.messages[0]
        assert newest.subject == f"screen {tag} [bold]not markup[/bold]" and not newest.seen
        await drawn(pilot, app.query_one(MessageList), f"screen {tag}")
        rows = [app.query_one(MessageList).render_line(y).text for y in range(3)]
        assert f"screen {tag} [bold]not markup[/bold]" in rows[1]
        assert "newest" in str(app.query_one("#mailboxes-title").render())
        assert_no_password(lab, app)
    assert seen_flags(lab) == seen_before  # BODY.PEEK from a folder opened read-only


async def test_spam_folder_shows_the_verdict_headers(lab: RunningLab) -> None:
    tag = uuid.uuid4().hex[:8]
    send(lab, "bob@example.com", f"flagged {tag}", spam=True)
    wait_for(lambda: f"flagged {tag}" in subjects_in(lab, "Spam"), timeout=60, what="the spam")
    app = mailboxes_app(lab_settings(lab))
    async with app.run_test(size=(100, 30)) as pilot:
        view = await opened(pilot)
        folders = app.query_one(FolderList)
        folders.move_to(folders.entries.index(Entry("bob", "Spam")))
        await pilot.press("enter")
        await until(pilot, lambda: view.shown == Entry("bob", "Spam") and view.messages)
        assert view.messages[0].subject == f"flagged {tag}"
        detail = str(app.query_one("#mailboxes-detail").render())
        assert "X-Spam-Flag: YES" in detail and "X-Spam-Status: Yes, score=9.9" in detail
        await drawn(pilot, app.query_one(MessageList), f"flagged {tag}")
        row = app.query_one(MessageList).render_line(1).text
        assert "spam 9.9" in row


async def test_wrong_password_is_one_line_and_r_retries(
    lab: RunningLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILCONSOLE_PASSWORD_BOB", "not-the-password")
    app = mailboxes_app(lab_settings(lab))
    async with app.run_test(size=(80, 24)) as pilot:
        view = await opened(pilot)
        error = view.states["bob"].error
        assert "login as bob refused (password from env MAILCONSOLE_PASSWORD_BOB)" in error
        assert "\n" not in error and view.states["sysmail"].box is not None
        await drawn(pilot, app.query_one(FolderList), "login as bob refused")
        heading = app.query_one(FolderList).render_line(1).text
        assert heading.startswith("bob IMAP 127.0.0.1:")
        assert "login as bob refused" in str(app.query_one("#mailboxes-title").render())
        assert "(r retries)" in str(app.query_one("#mailboxes-status").render())
        assert "not-the-password" not in screen_text(app)
        monkeypatch.delenv("MAILCONSOLE_PASSWORD_BOB")  # the password fixed: r tries again
        await pilot.press("r")
        await until(pilot, lambda: view.states["bob"].box is not None and view.total is not None)
        assert view.states["bob"].error == "" and view.messages_error == ""
        assert app.is_running
        assert_no_password(lab, app)


async def test_refused_certificate_and_silent_server_are_one_line(lab: RunningLab) -> None:
    app = mailboxes_app(lab_settings(lab, imap_self_signed=False))
    async with app.run_test(size=(80, 24)) as pilot:
        view = await opened(pilot)
        for account in ("bob", "sysmail"):
            assert "TLS failed: the certificate was not accepted" in view.states[account].error
        assert "TLS failed" in view.messages_error
    with socket.socket() as silent:  # accepts connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        app = mailboxes_app(lab_settings(lab, imap_port=port, imap_timeout=1.0))
        async with app.run_test(size=(80, 24)) as pilot:
            view = await opened(pilot)
            assert "no answer in time" in view.states["bob"].error
            assert "no answer in time" in str(app.query_one("#mailboxes-title").render())
            assert app.is_running


async def test_without_passwords_the_maildirs_are_counted_and_the_screen_says_so(
    lab: RunningLab,
) -> None:
    with imap(lab) as client:
        counted = {f.name: (f.messages, f.unseen) for f in list_folders(client)}
    app = mailboxes_app(lab_settings(lab, imap_password_file=""))
    async with app.run_test(size=(80, 24)) as pilot:
        view = await opened(pilot)
        box = view.states["bob"].box
        assert box is not None and box.source == "maildir"
        assert {f.name: (f.messages, f.unseen) for f in box.folders} == counted
        folders = app.query_one(FolderList)
        await drawn(pilot, folders, "counted from the Maildir on disk (no IMAP password)")
        heading = folders.render_line(1).text
        assert "counted from the Maildir on disk (no IMAP password)" in heading
        status = str(app.query_one("#mailboxes-status").render())
        assert "counted from the Maildir on disk" in status
        assert "listing messages needs IMAP" in view.messages_error


async def test_a_folder_dovecot_will_not_count_is_one_line(lab: RunningLab) -> None:
    # Made on disk by hand, not valid modified UTF-7: Dovecot lists it (escaped) and refuses STATUS.
    bad = lab.dir / "spool" / "bob" / "Mail" / ".&Zm9v"
    inbox = bad.parent / "cur"
    for sub in ("cur", "new", "tmp"):
        (bad / sub).mkdir(parents=True)
    stat = inbox.stat()
    for path in [bad, *bad.iterdir()]:
        shutil.chown(path, stat.st_uid, stat.st_gid)
    try:
        app = mailboxes_app(lab_settings(lab))
        async with app.run_test(size=(100, 30)) as pilot:
            view = await opened(pilot)
            box = view.states["bob"].box
            assert box is not None and view.states["bob"].error == ""
            [odd] = [f for f in box.folders if f.problem]
            assert odd.name == "&Zm9v" and "Mailbox doesn't exist" in odd.problem
            assert any(f.name == "INBOX" and not f.problem for f in box.folders)
            await drawn(pilot, app.query_one(FolderList), "Mailbox doesn't exist: &Zm9v")
            text = "\n".join(app.query_one(FolderList).render_line(y).text for y in range(2, 8))
            assert "&Zm9v" in text and "Mailbox doesn't exist: &Zm9v" in text
    finally:
        shutil.rmtree(bad)


async def test_probe_from_the_screen_shows_each_hop_and_the_verdict(lab: RunningLab) -> None:
    settings = lab_settings(lab)
    app = mailboxes_app(settings)
    async with app.run_test(size=(100, 40)) as pilot:
        view = await opened(pilot)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ProbeForm))
        await pilot.press(*"bob@example.com", "enter")
        await until(pilot, lambda: isinstance(app.screen, ProbeRun))
        dialog = app.screen
        assert isinstance(dialog, ProbeRun)
        await until(pilot, lambda: dialog.result is not None or dialog.error, timeout=90)
        assert dialog.error == "" and dialog.result is not None
        assert dialog.result.outcome == "delivered" and dialog.result.as_predicted
        names = [hop.name for hop in dialog.hops]
        assert names[:2] == ["sent", "accepted"] and "imap" in names and names[-1] == "removed"
        hops = dialog.query_one("#probe-hops")
        # The hops' Static grows as hops come: its last lines are drawn once the layout caught up.
        seen = "visible over IMAP in bob's folder INBOX"

        def hops_drawn() -> list[str]:
            lines = drawn_lines(hops)
            return lines if seen in " ".join(" ".join(lines).split()) else []

        shown = await until(pilot, hops_drawn, what="the IMAP hop drawn")
        assert seen in " ".join(" ".join(shown).split())
        detail_starts = {len(line) - len(line.lstrip()) for line in shown if line.startswith(" ")}
        assert len(detail_starts) == 1, shown  # a hop's wrapped lines start under its first
        assert "delivered: as predicted" in str(dialog.query_one("#probe-verdict").render())
        assert view.probe_dialog is None  # the next probe may start
        await pilot.press("escape")
        await until(pilot, lambda: len(app.screen_stack) == 1)
    audit = [json.loads(line) for line in settings.audit_log.read_text().splitlines()]
    probes = [
        r for r in audit if r["action"] == "mailbox.probe" and r["target"] == "bob@example.com"
    ]
    assert [r["outcome"] for r in probes][-2:] == ["started", "ok"]
