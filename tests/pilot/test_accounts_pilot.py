"""The Accounts screen in a virtual terminal, on copies of the article's files: the views, the forms
(passwords never shown), confirmations, read-only, untrusted text, and the snapshot at 80x24."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widget import Widget
from textual.widgets._toast import Toast

from console.lab.render import dkim_key
from console.settings import Settings
from tests.helpers import drawn, on_screen, palette_answered, until
from tests.recorded import URL, RecordedSupervisor, supervisor_answered
from tests.unit.test_accounts_check import article_stack
from widgets.accounts import AccountsList, AccountsScreen, FormDialog
from widgets.app import ActionCommands, ConsoleApp
from widgets.common.dialogs import ConfirmDialog

SECRET = "pilot-secret-password"
SNAPSHOT_DIR = Path("/tmp/mailconsole-accounts-snapshot")


def accounts_settings(tmp_path: Path, read_only: bool = False) -> Settings:
    """The article's files, an address with markup and an escape in it, no smtpd (smtpctl missing:
    a reload fails, as when smtpd is down), and a DNS server that is not there."""
    tmp_path.mkdir(exist_ok=True)
    settings = article_stack(tmp_path)
    with settings.table_vusers.open("a") as vusers:
        vusers.write("evil[red]x\x1b[31m@example.com vmail\n")
    settings.supervisor_url = URL
    settings.refresh_interval = 3600
    settings.smtpctl = [str(tmp_path / "no-smtpctl")]
    settings.dns_resolver = "127.0.0.1:9"
    settings.read_only = read_only
    return settings


def accounts_app(settings: Settings) -> ConsoleApp:
    return ConsoleApp(
        settings,
        supervisor=RecordedSupervisor(),
        hostname="mail.example.com",
        initial_screen="accounts",
    )


def screen_of(app: ConsoleApp) -> AccountsScreen:
    return app.query_one(AccountsScreen)


def lines(app: ConsoleApp) -> list[str]:
    listing = app.query_one(AccountsList)
    return [listing.render_line(y).text for y in range(listing.size.height)]


async def loaded(pilot: Any) -> None:
    await supervisor_answered(pilot)
    await until(pilot, lambda: screen_of(pilot.app).overview is not None)
    await pilot.pause()


async def test_views_show_routes_findings_and_untrusted_text_as_text(tmp_path: Path) -> None:
    app = accounts_app(accounts_settings(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        listing = app.query_one(AccountsList)
        shown = await drawn(pilot, listing, "Delivered to (fdm.conf)")  # the addresses' titles
        assert "bob@example.com" in shown and "bob/INBOX" in shown
        assert "nowhere (kept)" in shown  # networking@: the article's network@ rule misses it
        assert "evil[red]x\\x1b[31m@example.com" in shown  # escaped, never styled
        await pilot.press("4")
        shown = await drawn(pilot, listing, "Finding")  # the findings' titles
        assert "mail to networking@example.net reaches no mailbox" in shown
        await pilot.press("2")
        shown = await drawn(pilot, listing, " msg ")  # the users' mail counts
        assert [line.split()[0] for line in shown.split("\n")[1:3]] == ["bob", "sysmail"]


async def test_add_a_domain_through_the_form_and_a_failed_reload_says_so(tmp_path: Path) -> None:
    settings = accounts_settings(tmp_path)
    app = accounts_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, FormDialog))
        await pilot.press(*"example.org", "enter")
        await until(pilot, lambda: "example.org" in settings.table_vdomains.read_text())
        await until(
            pilot,
            lambda: any(
                "smtpd did not take the new vdoms" in str(n.message) for n in app._notifications
            ),
        )
        await pilot.press("3")
        await until(pilot, lambda: any("example.org" in line for line in lines(app)))


async def test_passwords_are_never_shown_and_must_match(tmp_path: Path) -> None:
    settings = accounts_settings(tmp_path)
    app = accounts_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("2", "p")
        await until(pilot, lambda: isinstance(app.screen, FormDialog))
        await pilot.press(*SECRET, "enter", *"something-else", "enter")
        exported = await on_screen(pilot, "the two passwords differ")
        assert isinstance(app.screen, FormDialog)  # refused: the two differ
        assert SECRET not in exported and "something-else" not in exported
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, FormDialog)
    assert not settings.audit_log.exists()


async def test_removing_a_user_with_mail_asks_and_keeps_the_maildir(tmp_path: Path) -> None:
    settings = accounts_settings(tmp_path)
    maildir = settings.spool_dir / "sysmail" / "Mail"
    (maildir / "new" / "1.mail").write_text("Subject: kept\n\nhello\n")
    app = accounts_app(settings)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("2", "down", "d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        confirm = app.screen
        assert isinstance(confirm, ConfirmDialog)
        assert "Remove user sysmail" in confirm.question
        assert f"Their Maildir (1 message(s)) is kept at {maildir}" in confirm.question
        await pilot.press("n")
        await pilot.pause()
        assert "sysmail:" in settings.table_userdb.read_text()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: "sysmail:" not in settings.table_userdb.read_text())
    assert (maildir / "new" / "1.mail").exists()
    records = [json.loads(line) for line in settings.audit_log.read_text().splitlines()]
    assert [r["action"] for r in records][-1] == "accounts.del_user"


async def test_read_only_offers_no_change(tmp_path: Path) -> None:
    settings = accounts_settings(tmp_path, read_only=True)
    before = settings.table_userdb.read_bytes()
    app = accounts_app(settings)
    async with app.run_test(size=(160, 24)) as pilot:
        await loaded(pilot)
        bar = str(app.key_bar.render())
        assert "View" in bar and "New user" not in bar and "Delete" not in bar
        # Pressed anyway: each says so in one line and is audited as refused, nothing is asked.
        await pilot.press("u", "o", "a", "d", "p")
        await until(
            pilot,
            lambda: settings.audit_log.exists() and settings.audit_log.read_text().count("\n") == 5,
        )
        assert not isinstance(app.screen, (FormDialog, ConfirmDialog))
        said = [n.message for n in app._notifications]
        assert "read-only: new user is not available" in said
        assert "read-only: delete is not available" in said
    assert settings.table_userdb.read_bytes() == before
    records = [json.loads(line) for line in settings.audit_log.read_text().splitlines()]
    assert {r["outcome"] for r in records} == {"refused"}
    assert sorted(r["action"] for r in records) == [
        "accounts.add_address",
        "accounts.add_domain",
        "accounts.add_user",
        "accounts.del_address",
        "accounts.passwd",
    ]


@pytest.mark.parametrize(
    ("keys", "size"),
    [((), (80, 24)), (("4",), (80, 24)), (("2",), (160, 50))],
    ids=["addresses", "check", "users-160x50"],
)
def test_accounts_snapshot(snap_compare: Any, keys: tuple[str, ...], size: tuple[int, int]) -> None:
    # A fixed directory: the screen shows paths, and the snapshot must not depend on a temp name.
    shutil.rmtree(SNAPSHOT_DIR, ignore_errors=True)
    SNAPSHOT_DIR.mkdir()
    settings = accounts_settings(SNAPSHOT_DIR)

    async def run_before(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press(*keys)
        await pilot.pause()

    assert snap_compare(accounts_app(settings), terminal_size=size, run_before=run_before)


async def test_the_palette_offers_the_views_and_in_read_write_mode_the_changes(
    tmp_path: Path,
) -> None:
    for read_only in (False, True):
        app = accounts_app(accounts_settings(tmp_path / str(read_only), read_only=read_only))
        async with app.run_test(size=(100, 30)) as pilot:
            await loaded(pilot)
            titles = [title for title, _help, _call in ActionCommands(app.screen)._commands()]
            assert "Accounts: DNS" in titles and "Accounts: check DNS" in titles
            assert ("Accounts: set the password of bob" in titles) is not read_only
            assert ("Accounts: add a user" in titles) is not read_only
            if not read_only:
                await pilot.press("ctrl+p")
                await pilot.pause()
                await pilot.press(*"password of sysmail")
                await palette_answered(pilot, "Accounts: set the password of sysmail")
                await pilot.press("enter")
                await until(pilot, lambda: isinstance(pilot.app.screen, FormDialog))
                form = pilot.app.screen
                assert isinstance(form, FormDialog)
                assert form.form_title == "New password for sysmail"


async def test_a_dkim_record_is_shown_whole_at_80x24(tmp_path: Path) -> None:
    """The DNS view's detail is the record to publish: a DKIM key (about 450 characters) is shown
    to its last character at 80x24, where the three lines it had cut it after 200."""
    settings = accounts_settings(tmp_path)
    (tmp_path / "dkim.key").write_bytes(dkim_key())
    settings.dkimproxy_config = tmp_path / "dkimproxy_out.conf"
    settings.dkimproxy_config.write_text(
        f"domain example.com,example.net\nkeyfile {tmp_path}/dkim.key\nselector dkim1\n"
    )
    app = accounts_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("5")
        screen = screen_of(app)
        await until(pilot, lambda: screen.view == "dns" and screen.records)
        dkim = next(r for r in screen.records if r.kind == "DKIM")
        assert len(dkim.zone_line()) > 400
        await pilot.press("down", "down")  # MX, SPF, then example.com's DKIM record
        detail = app.query_one("#accounts-detail")

        def shown() -> str:
            return "".join(detail.render_line(y).text for y in range(detail.size.height))

        await until(pilot, lambda: "dkim1._domainkey" in shown())
        assert dkim.zone_line().replace(" ", "") in shown().replace(" ", "")


class PaintedApp(ConsoleApp):
    """The console, noting which cells each screen update paints while no notification is shown
    (the terminal keeps every cell not painted again)."""

    NOTIFICATION_TIMEOUT = 3600  # a notification goes when the test says

    painted: list[tuple[int, int, int]]

    def _display(self, screen: Any, renderable: Any) -> None:
        if not screen.query(Toast):
            spans = getattr(renderable, "spans", None) or []
            region = getattr(renderable, "region", None)
            if region is not None:
                spans = [(y, region.x, region.right) for y in range(region.y, region.bottom)]
            self.painted.extend(spans)
        super()._display(screen, renderable)


async def test_an_expired_notification_is_painted_over(tmp_path: Path) -> None:
    """When a notification times out, the cells it covered are painted again. Textual repaints them
    from its layout map, which a hidden screen's refresh rebuilds without the removed toast (the
    Services screen polls every second): over the Accounts, Jobs and Mailboxes screens the
    terminal kept showing the notification for good. Here the hidden refresh comes at that moment."""
    app = PaintedApp(
        accounts_settings(tmp_path, read_only=True),
        supervisor=RecordedSupervisor(),
        hostname="mail.example.com",
        initial_screen="accounts",
    )
    app.painted = []
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("u")  # refused in read-only mode: one notification
        await until(pilot, lambda: app.screen.query(Toast))
        toast = app.screen.query_one(Toast)
        covered, holder = toast.region, toast.parent
        assert isinstance(holder, Widget)
        await pilot.pause()
        app.painted.clear()
        app._unnotify(toast._notification, refresh=False)  # what the toast's timer does
        await holder.remove()
        app.screen._compositor._full_map_invalidated = True  # a hidden widget was refreshed
        app.screen_widgets["services"].refresh()
        await until(
            pilot,
            lambda: all(
                any(
                    y == row and x <= covered.x and covered.right <= end
                    for y, x, end in app.painted
                )
                for row in range(covered.y, covered.bottom)
            ),
            what="the cells of the expired notification painted again",
        )


def first_row_says(app: ConsoleApp, text: str) -> Callable[[], bool]:
    return lambda: text in lines(app)[1]


@pytest.mark.parametrize("read_only", [False, True])
async def test_an_empty_view_says_so_and_which_key_adds_one(
    tmp_path: Path, read_only: bool
) -> None:
    """No tables yet: each list says it is empty (and, read-write, which key adds one) instead of
    column titles over nothing; a delete there removes nothing."""
    settings = Settings(
        supervisor_url=URL,
        refresh_interval=3600,
        read_only=read_only,
        table_vdomains=tmp_path / "vdomains",
        table_vusers=tmp_path / "vusers",
        table_addrs=tmp_path / "addrs",
        table_userdb=tmp_path / "userdb",
        fdm_config=tmp_path / "fdm.conf",
        smtpd_config=tmp_path / "smtpd.conf",
        audit_log=tmp_path / "audit.log",
        dns_resolver="127.0.0.1:9",
    )
    app = accounts_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        for view, text in (
            ("1", "no addresses yet"),
            ("2", "no users yet"),
            ("3", "no domains yet"),
        ):
            await pilot.press(view)
            await until(pilot, first_row_says(app, text))
            assert ("adds one" in lines(app)[1]) is not read_only
        if not read_only:
            await pilot.press("d")
            await until(
                pilot, lambda: any("choose a user" in str(n.message) for n in app._notifications)
            )
