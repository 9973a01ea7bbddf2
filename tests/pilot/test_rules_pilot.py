"""The Rules screen: live route as you type, findings at their lines, test messages, the corpus check,
the save flow (blocked, reviewed, written with a backup, audited), read-only, disk changes, revert."""

from __future__ import annotations

import json
import os
import sys
from functools import partial
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, OptionList, Select, Static, TabbedContent, TextArea

from console.settings import Settings
from tests.helpers import keys_handled, top_screen, until
from widgets.app import SCREENS, ConsoleApp
from widgets.common.dialogs import ConfirmDialog
from widgets.rules.dialogs import BackupDialog, CorpusDialog, MessageSourceDialog, ReviewDialog
from widgets.rules.editor import FdmEditor
from widgets.rules.view import RulesScreen, render_route

CORPUS = Path(__file__).parent.parent / "fdm_corpus"
ARTICLE = (CORPUS / "configs" / "article.conf").read_text()
FIXED = (CORPUS / "configs" / "01_article_fixed.conf").read_text()
NOTICE = "To: notifications@example.com\nSubject: x\n\nb\n"


def make_settings(tmp_path: Path, read_only: bool = False) -> Settings:
    conf = tmp_path / "fdm.conf"
    conf.write_text(ARTICLE)
    conf.chmod(0o600)
    tests = tmp_path / "fdm-tests"
    tests.mkdir()
    (tests / "inbox.eml").write_text("To: bob@example.com\nSubject: a\n\nb\n")
    (tests / "notices.eml").write_text(NOTICE)
    (tests / "stranger.eml").write_text("To: someone@else.org\nSubject: a\n\nb\n")
    tables = CORPUS / "tables"
    return Settings(
        fdm_config=conf,
        table_addrs=tables / "addrs",
        table_vusers=tables / "vusers",
        table_vdomains=tables / "vdomains",
        table_userdb=tables / "userdb",
        audit_log=tmp_path / "audit.log",
        read_only=read_only,
        fdm_test_messages=tests,
        spool_dir=tmp_path / "spool",
        supervisor_url="unix:///nonexistent/supervisor.sock",
    )


def text_of(app: ConsoleApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def screen_of(app: ConsoleApp) -> RulesScreen:
    return app.query_one(RulesScreen)


def settled(app: ConsoleApp) -> bool:
    """The file is loaded and the route shown is the one for the current text."""
    screens = app.query(RulesScreen)
    return (
        bool(screens)
        and screens.first().loaded is not None
        and screens.first().shown_generation == screens.first().generation
    )


def audit(tmp_path: Path) -> list[dict[str, object]]:
    log = tmp_path / "audit.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


async def test_typing_in_the_editor_changes_the_route(tmp_path: Path) -> None:
    app = ConsoleApp(make_settings(tmp_path), initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        assert "bob / INBOX" in text_of(app, "#rules-route")
        app.query_one("#rules-message", TextArea).load_text(
            "To: someone@else.org\nSubject: s\n\nb\n"
        )
        await until(pilot, lambda: settled(app) and "KEPT" in text_of(app, "#rules-route"))
        editor = app.query_one(FdmEditor)
        editor.focus()
        editor.move_cursor((editor.document.line_count - 1, 0))
        await pilot.press(*'match all action "bob_spam"')
        await until(pilot, lambda: settled(app) and "DELIVERED" in text_of(app, "#rules-route"))
        route = text_of(app, "#rules-route")
        assert "bob / Spam" in route and f"rule at line {editor.document.line_count}" in route


@pytest.mark.parametrize("focus", ["#rules-editor", "#rules-message"])
async def test_every_screen_key_leaves_the_rules_screen_from_its_text_areas(
    tmp_path: Path, focus: str
) -> None:
    """F6 and F7 are TextArea's "select line" and "select all": in the editor they must still switch
    screens, and leave the text as it was."""
    app = ConsoleApp(make_settings(tmp_path), initial_screen="rules")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: settled(app))
        for spec in SCREENS:
            if spec.id == "rules":
                continue
            area = app.query_one(focus, TextArea)
            area.focus()
            before = area.text
            await pilot.press(spec.key)

            def switched(screen_id: str = spec.id) -> bool:
                return app.active_screen == screen_id

            await until(pilot, switched)
            assert area.text == before and area.selected_text == ""
            await pilot.press("f5")
            await until(pilot, lambda: app.active_screen == "rules")


async def test_undefined_action_is_an_error_and_findings_mark_their_lines(tmp_path: Path) -> None:
    app = ConsoleApp(make_settings(tmp_path), initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        app.query_one("#rules-message", TextArea).load_text(NOTICE)
        await until(pilot, lambda: settled(app) and "ERROR" in text_of(app, "#rules-route"))
        rendered = render_route(screen_of(app).route, NOTICE)
        assert rendered.plain == text_of(app, "#rules-route")
        error_styles = [
            str(span.style)
            for span in rendered.spans
            if "bob_notices" in rendered.plain[span.start : span.end]
        ]
        assert any("red" in style for style in error_styles), "the lost mail does not stand out"
        view = screen_of(app)
        editor = app.query_one(FdmEditor)
        assert editor.marks[16] == "error"  # line 17: action "bob_notices" is not defined
        assert 0 not in editor.marks
        findings = app.query_one("#rules-findings", OptionList)
        index = next(i for i, f in enumerate(view.findings) if f.line == 17)
        findings.focus()
        findings.highlighted = index
        await pilot.press("enter")
        assert editor.cursor_location == (16, 0) and editor.has_focus
        # The status follows the editor's cursor message, which bubbles up after the key.
        await until(pilot, lambda: "bob_notices" in text_of(app, "#rules-status"))


async def test_save_with_an_error_is_blocked_at_its_line(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    app = ConsoleApp(settings, initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        editor = app.query_one(FdmEditor)
        editor.load_text(ARTICLE + 'match "x" in headers frobnicate\n')
        editor.move_cursor((0, 0))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not screen_of(app).saving)
        await pilot.pause()
        assert not isinstance(app.screen, ReviewDialog)
        bad_line = ARTICLE.count("\n") + 1
        assert editor.cursor_location[0] == bad_line - 1
        assert editor.marks[bad_line - 1] == "error"
        assert settings.fdm_config.read_text() == ARTICLE
        assert audit(tmp_path) == []
        assert not list(tmp_path.glob("fdm.conf.*.bak"))


async def test_save_reviews_warnings_and_route_changes_then_writes_a_backup_twice(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    app = ConsoleApp(settings, initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        editor = app.query_one(FdmEditor)
        warned = FIXED + 'action "spare" drop\n'
        editor.load_text(warned)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ReviewDialog))
        body = str(top_screen(app, ReviewDialog).body)
        assert (
            '1 warning(s):\n  line 19: action "spare" is never used' in body
            and "notices.eml" in body
            and "stranger.eml" in body
        )
        assert "inbox.eml" not in body
        await pilot.press("n")
        await until(pilot, lambda: not screen_of(app).saving)
        assert settings.fdm_config.read_text() == ARTICLE and audit(tmp_path) == []
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ReviewDialog))
        await pilot.press("y")
        await until(
            pilot,
            lambda: (
                settings.fdm_config.read_text() == warned
                and settled(app)
                and not screen_of(app).saving
            ),
        )
        assert [p.read_text() for p in tmp_path.glob("fdm.conf.*.bak")] == [ARTICLE]
        assert (settings.fdm_config.stat().st_mode & 0o777) == 0o600
        assert [(r["action"], r["outcome"]) for r in audit(tmp_path)] == [
            ("fdm.save", "started"),
            ("fdm.save", "ok"),
        ]
        assert "modified" not in text_of(app, "#rules-title")
        second = warned + "# second save\n"
        editor.load_text(second)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ReviewDialog))
        await pilot.press("y")
        await until(
            pilot, lambda: settings.fdm_config.read_text() == second and len(audit(tmp_path)) == 4
        )
        assert len(list(tmp_path.glob("fdm.conf.*.bak"))) == 2
        assert [r["outcome"] for r in audit(tmp_path)] == ["started", "ok", "started", "ok"]


async def test_read_only_save_key_says_no_and_is_audited(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, read_only=True)
    app = ConsoleApp(settings, initial_screen="rules")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: settled(app))
        app.query_one(FdmEditor).load_text(FIXED)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: len(audit(tmp_path)) == 1)
        assert [n.message for n in app._notifications] == ["read-only: save is not available"]
        [record] = audit(tmp_path)
        assert (record["action"], record["target"], record["outcome"]) == (
            "fdm.save",
            str(settings.fdm_config),
            "refused",
        )
        assert not isinstance(app.screen, ReviewDialog)
    assert settings.fdm_config.read_text() == ARTICLE


async def test_reload_with_unsaved_edits_asks_first(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    app = ConsoleApp(settings, initial_screen="rules")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: settled(app))
        editor = app.query_one(FdmEditor)
        editor.load_text(ARTICLE + "# my edit\n")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert (
            top_screen(app, ConfirmDialog).question
            == "fdm.conf has unsaved edits. Reload it from disk and lose them?"
        )
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await keys_handled(pilot)
        assert editor.text == ARTICLE + "# my edit\n"  # kept
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: editor.text == ARTICLE)

        def reloads() -> set[str]:
            return {
                n.identity
                for n in app._notifications
                if n.message == "fdm.conf reloaded from disk."
            }

        before = reloads()
        await pilot.press("ctrl+r")  # nothing to lose: reloads without asking
        await until(pilot, lambda: reloads() - before, what="a second reload")
        assert not isinstance(app.screen, ConfirmDialog)


async def test_read_only_hides_and_refuses_save_and_revert(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, read_only=True)
    app = ConsoleApp(settings, initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        editor = app.query_one(FdmEditor)
        editor.focus()
        await pilot.pause()
        offered = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert "reload" in offered and "save" not in offered and "revert" not in offered
        assert "read-only" in text_of(app, "#rules-title")
        editor.load_text(FIXED)
        screen_of(app).action_save()
        screen_of(app).action_revert()
        await until(pilot, lambda: len(audit(tmp_path)) == 2)
        assert sorted((r["action"], r["outcome"]) for r in audit(tmp_path)) == [
            ("fdm.revert", "refused"),
            ("fdm.save", "refused"),
        ]
    assert settings.fdm_config.read_text() == ARTICLE
    assert not list(tmp_path.glob("fdm.conf.*.bak"))


async def test_corpus_view_lists_the_messages_whose_route_changes(tmp_path: Path) -> None:
    app = ConsoleApp(make_settings(tmp_path), initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, CorpusDialog))
        assert top_screen(app, CorpusDialog).changes == []
        await pilot.press("escape")
        app.query_one(FdmEditor).load_text(FIXED)
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, CorpusDialog))
        table = app.screen.query_one(DataTable)
        rows = {
            str(table.get_row_at(i)[0]): str(table.get_row_at(i)[2]) for i in range(table.row_count)
        }
        assert rows == {
            "notices.eml": "delivered: bob_notifications -> bob/Notifications",
            "stranger.eml": "delivered: bob_inbox -> bob/INBOX",
        }


async def test_file_changed_on_disk_reloads_or_asks_before_overwriting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    app = ConsoleApp(settings, initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        view = screen_of(app)
        editor = app.query_one(FdmEditor)
        settings.fdm_config.write_text(ARTICLE + "# changed by someone else\n")
        view.check_disk()
        await until(pilot, lambda: editor.text.endswith("# changed by someone else\n"))
        assert not view.disk_changed
        editor.load_text(FIXED)
        settings.fdm_config.write_text(ARTICLE + "# changed again\n")
        os.utime(settings.fdm_config, ns=(1, 1))
        view.check_disk()
        await until(pilot, lambda: view.disk_changed)
        assert editor.text == FIXED
        assert "changed on disk" in text_of(app, "#rules-title")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ReviewDialog))
        assert "changed on disk" in top_screen(app, ConfirmDialog).question
        await pilot.press("y")
        await until(pilot, lambda: settings.fdm_config.read_text() == FIXED)
        backup = next(tmp_path.glob("fdm.conf.*.bak"))
        assert backup.read_text() == ARTICLE + "# changed again\n"


async def test_revert_puts_a_backup_back_into_file_and_editor(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    backup = tmp_path / "fdm.conf.20240101-000000.bak"
    backup.write_text(FIXED)
    app = ConsoleApp(settings, initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        await pilot.press("ctrl+b")
        await until(pilot, lambda: isinstance(app.screen, BackupDialog))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReviewDialog))
        await pilot.press("y")
        await until(pilot, lambda: app.query_one(FdmEditor).text == FIXED)
        assert settings.fdm_config.read_text() == FIXED
        assert [(r["action"], r["outcome"]) for r in audit(tmp_path)] == [
            ("fdm.revert", "started"),
            ("fdm.revert", "ok"),
        ]


async def test_test_message_from_a_maildir_and_composed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    cur = settings.spool_dir / "bob" / "Mail" / ".Lists" / "cur"
    cur.mkdir(parents=True)
    (cur.parent / "new").mkdir()
    stored = cur / "1.host:2,S"
    stored.write_bytes(
        b"From: [bold red]evil[/] <e@x>\nTo: notifications@example.com\nSubject: \x1b[31mred\n\n"
        b"caf\xe9 \x1b]0;title\x07\n"
    )
    app = ConsoleApp(settings, initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, MessageSourceDialog))
        screen = top_screen(app, MessageSourceDialog)
        screen.query_one("#source-tabs", TabbedContent).active = "source-maildir"
        await until(pilot, lambda: screen.shown == ("bob", "INBOX"))
        screen.query_one("#maildir-folder", Select).value = "Lists"
        await until(pilot, lambda: screen.messages and screen.messages[0].path == stored)
        screen.query_one("#maildir-messages", OptionList).focus()
        await pilot.press("down", "enter")
        await until(pilot, lambda: "bob/Mail/.Lists" in text_of(app, "#rules-message-title"))
        await until(pilot, lambda: settled(app) and "ERROR" in text_of(app, "#rules-route"))
        route = text_of(app, "#rules-route")
        assert "[bold red]evil[/]" in route and "\\x1b[31mred" in route and "\x1b" not in route
        # The pane shows the escapes as text: the terminal never gets them, nor the byte 0xe9.
        shown = app.query_one("#rules-message", TextArea).text
        assert shown.endswith("\n\ncaf\\xe9 \\x1b]0;title\\x07\n") and "\x1b" not in shown
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, MessageSourceDialog))
        app.screen.query_one("#compose-to", Input).value = "dmarc@example.com"
        app.screen.query_one("#compose-subject", Input).value = "report"
        app.screen.query_one("#compose-extra", TextArea).load_text("X-Spam-Status: No\n")
        await pilot.pause()
        await pilot.click("#use")
        await until(pilot, lambda: "composed" in text_of(app, "#rules-message-title"))
        message = app.query_one("#rules-message", TextArea).text
        assert "To: dmarc@example.com\n" in message and "X-Spam-Status: No\n" in message
        await until(pilot, lambda: settled(app) and "bob / DMARC" in text_of(app, "#rules-route"))


def said_cannot_show(app: ConsoleApp) -> bool:
    return any("cannot show it" in n.message for n in app._notifications)


async def test_an_fdm_conf_with_escapes_or_bytes_not_utf8_is_not_opened(tmp_path: Path) -> None:
    """Shown in the editor, `ESC [2J` cleared the real terminal and a byte that is not UTF-8 crashed
    the console; a lone CR made the file look modified at once. Now: one notification naming the
    line, an empty editor, and nothing that could be saved over the file."""
    settings = make_settings(tmp_path)
    for hostile in (
        b"# \x1b[2J\x1b]0;title\x07\n",
        b"# caf\xe9\n",
        b"# a\rb\n",
        b"# \xe2\x80\xaeevil\n",
    ):
        data = ARTICLE.encode() + hostile + b"match all action drop\n"
        settings.fdm_config.write_bytes(data)
        app = ConsoleApp(settings, initial_screen="rules")
        async with app.run_test(size=(160, 50)) as pilot:
            await until(pilot, partial(said_cannot_show, app))
            [said] = [n.message for n in app._notifications]
            line = ARTICLE.count("\n") + 1
            assert said.startswith(f"{settings.fdm_config} line {line} holds a control character")
            assert screen_of(app).loaded is None and app.query_one(FdmEditor).text == ""
            await pilot.press("ctrl+s")
            await pilot.pause()
        assert settings.fdm_config.read_bytes() == data and audit(tmp_path) == []


async def test_a_bad_message_source_is_a_notification_not_a_crash(tmp_path: Path) -> None:
    app = ConsoleApp(make_settings(tmp_path), initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        before = app.query_one("#rules-message", TextArea).text
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, MessageSourceDialog))
        app.screen.query_one("#source-tabs", TabbedContent).active = "source-file"
        app.screen.query_one("#file-path", Input).value = str(tmp_path / "absent.eml")
        await pilot.pause()
        await pilot.click("#use")
        await until(pilot, lambda: any("no such file" in n.message for n in app._notifications))
        assert app.query_one("#rules-message", TextArea).text == before


async def test_test_message_from_the_queue_runs_smtpctl_show_message(tmp_path: Path) -> None:
    """The queue source through console.queue's real subprocess path, on recorded smtpctl output."""
    replay = str(Path(__file__).resolve().parent.parent / "unit" / "smtpctl_replay.py")
    table = {
        "show message 99c1e639": "show-message-tempfail",
        "show message deadbeef": "show-message-unknown",
    }
    settings = make_settings(tmp_path)
    settings.smtpctl = [sys.executable, replay, json.dumps(table)]
    app = ConsoleApp(settings, initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        # One pick at a time: a second pick supersedes a load still under way (an exclusive worker).
        for queued in ("deadbeef", "99C1E639ABCDEF01"):
            await pilot.press("ctrl+o")
            await until(pilot, lambda: isinstance(app.screen, MessageSourceDialog))
            app.screen.query_one("#source-tabs", TabbedContent).active = "source-queue"
            app.screen.query_one("#queue-id", Input).value = queued
            await pilot.pause()
            await pilot.click("#use")
            if queued == "deadbeef":
                await until(pilot, lambda: any("deadbeef" in n.message for n in app._notifications))
        await until(
            pilot, lambda: "queued message 99c1e639" in text_of(app, "#rules-message-title")
        )
        assert "Subject: tempfail" in app.query_one("#rules-message", TextArea).text
        await until(
            pilot, lambda: settled(app) and "tim@tempfail.test" in text_of(app, "#rules-route")
        )


async def test_a_second_change_on_disk_while_the_overwrite_question_is_open_is_not_overwritten(
    tmp_path: Path,
) -> None:
    """The question was about one version on disk; another one appears before the answer: the save
    is refused with a new warning, and the next save asks about the new version."""
    settings = make_settings(tmp_path)
    app = ConsoleApp(settings, initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        view = screen_of(app)
        editor = app.query_one(FdmEditor)
        editor.load_text(FIXED)
        settings.fdm_config.write_text(ARTICLE + "# first change\n")
        view.check_disk()
        await until(pilot, lambda: view.disk_changed)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ReviewDialog))
        assert "changed on disk" in top_screen(app, ConfirmDialog).question
        settings.fdm_config.write_text(
            ARTICLE + "# second change, made while the question is open\n"
        )
        await pilot.press("y")
        await until(pilot, lambda: not view.saving)
        await until(pilot, lambda: [n for n in app._notifications if n.severity == "error"])
        [refusal] = [n for n in app._notifications if n.severity == "error"]
        assert "changed on disk since it was opened" in refusal.message
        assert settings.fdm_config.read_text().endswith(
            "# second change, made while the question is open\n"
        )
        assert editor.text == FIXED
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ReviewDialog))
        assert "changed on disk" in top_screen(app, ConfirmDialog).question
        await pilot.press("y")
        await until(pilot, lambda: settings.fdm_config.read_text() == FIXED)
        kept = sorted(p.read_text() for p in tmp_path.glob("fdm.conf.*.bak"))
        assert kept == [ARTICLE + "# second change, made while the question is open\n"]


async def test_revert_to_a_backup_with_errors_is_blocked(tmp_path: Path) -> None:
    """An empty backup (no account: every message lost) is not put back; the file stays."""
    settings = make_settings(tmp_path)
    (tmp_path / "fdm.conf.20240101-000000.bak").write_bytes(b"")
    app = ConsoleApp(settings, initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        await pilot.press("ctrl+b")
        await until(pilot, lambda: isinstance(app.screen, BackupDialog))
        await pilot.press("enter")
        await until(pilot, lambda: list(app._notifications))
        [note] = list(app._notifications)
        assert note.severity == "error"
        assert note.message.startswith("Not reverted to fdm.conf.20240101-000000.bak: ")
        assert "no account matches 'stdin'" in note.message
        assert not isinstance(app.screen, ReviewDialog) and not screen_of(app).saving
    assert settings.fdm_config.read_text() == ARTICLE
    assert audit(tmp_path) == []


async def test_revert_to_a_backup_with_warnings_asks_with_them(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    backup = tmp_path / "fdm.conf.20240101-000000.bak"
    backup.write_text(FIXED + 'action "unused" drop\n')
    app = ConsoleApp(settings, initial_screen="rules")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: settled(app))
        await pilot.press("ctrl+b")
        await until(pilot, lambda: isinstance(app.screen, BackupDialog))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReviewDialog))
        assert (
            top_screen(app, ReviewDialog).question
            == "Revert fdm.conf to fdm.conf.20240101-000000.bak?"
        )
        assert 'action "unused" is never used' in top_screen(app, ReviewDialog).body.plain
        await pilot.press("y")
        await until(pilot, lambda: app.query_one(FdmEditor).text == backup.read_text())
    assert settings.fdm_config.read_text() == backup.read_text()


async def test_at_80x24_the_editor_is_one_tab_away_and_a_route_change_reads_whole(
    tmp_path: Path,
) -> None:
    app = ConsoleApp(make_settings(tmp_path), initial_screen="rules")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: settled(app))
        assert app.focused is app.query_one(FdmEditor)
        order = []
        for _ in range(3):
            await pilot.press("tab")
            await pilot.pause()
            order.append(app.focused.id if app.focused else None)
        assert order == ["rules-findings", "rules-message", "rules-editor"]
        app.query_one(FdmEditor).load_text(FIXED)
        await pilot.press("ctrl+t")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, CorpusDialog)
                and "edited:" in str(app.screen.query_one("#corpus-change", Static).render())
            ),
        )
        shown = str(app.screen.query_one("#corpus-change", Static).render())
        assert "edited:  delivered: bob_notifications -> bob/Notifications" in shown
