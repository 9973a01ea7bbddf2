"""The Mailboxes screen: each account's folders with messages, unseen and size, and the newest
messages of the folder under the cursor with their spam and virus verdicts.

Over IMAP for accounts the console has a password for (read-only: EXAMINE and BODY.PEEK, so nothing
is marked seen), else counted from the Maildirs on disk, which the account's heading says. Every fetch
runs in a worker thread and comes back as a message; the messages follow the cursor, and a fetch for a
folder the cursor has left is dropped. A failure is one line on the screen; `r` tries again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import get_current_worker

from console.errors import UserError
from console.mailbox.model import Mailbox, MessageSummary, human_size
from console.settings import Settings
from console.text import count, printable
from widgets.mailboxes.lists import AccountState, Entry, FolderList, MessageList
from widgets.mailboxes.source import LiveSource, MailSource
from widgets.messages import ActionFinished

if TYPE_CHECKING:
    from console.mailbox.probe import Hop, ProbeResult
    from widgets.mailboxes.probe import ProbeRun

PAGE = 50
"""Messages fetched at a time: the newest page, then `m` for the next older one."""
FOLLOW_S = 0.15
"""The messages follow the cursor once it rests this long (holding a key fetches nothing)."""
REDRAW_S = 0.2
"""Folder listings arriving faster than this are drawn together (many accounts)."""


class MailboxesScreen(Vertical):
    """The Mailboxes screen."""

    DEFAULT_CSS = """
    MailboxesScreen { height: 1fr; }
    MailboxesScreen FolderList { height: auto; max-height: 35%; min-height: 3; overflow-x: hidden; }
    MailboxesScreen #mailboxes-status { height: auto; max-height: 2; padding: 0 1; background: $panel; }
    MailboxesScreen #mailboxes-title {
        height: 1; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis;
    }
    MailboxesScreen MessageList { height: 1fr; min-height: 3; overflow-x: hidden; }
    MailboxesScreen #mailboxes-detail {
        height: 4; padding: 0 1; border-top: solid $accent; text-wrap: nowrap; text-overflow: ellipsis;
    }
    MailboxesScreen EntryList { scrollbar-size-vertical: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Reload", id="mailboxes.reload"),
        Binding("m", "more", "Older", id="mailboxes.more"),
        Binding("p", "probe", "Probe", id="mailboxes.probe"),
        Binding("escape", "folders", "Folders", show=False, id="mailboxes.folders"),
    ]
    MUTATING: ClassVar[dict[str, str]] = {"probe": "mailbox.probe"}
    """The mutating keys' actions and the dispatcher's action each stands for."""

    class AccountsKnown(Message):
        """The userdb was read: the accounts, and when the first login began (monotonic)."""

        def __init__(self, accounts: list[str], error: str = "", started: float = 0.0) -> None:
            super().__init__()
            self.accounts = accounts
            self.error = error
            self.started = started

    class AccountListed(Message):
        """One account's folders, or the one sentence why not."""

        def __init__(self, account: str, box: Mailbox | None, error: str = "") -> None:
            super().__init__()
            self.account = account
            self.box = box
            self.error = error

    class MessagesListed(Message):
        """A page of a folder's newest messages (`generation` says which request it answers)."""

        def __init__(
            self,
            generation: int,
            skip: int,
            total: int,
            messages: list[MessageSummary],
            error: str = "",
        ) -> None:
            super().__init__()
            self.generation = generation
            self.skip = skip
            self.total = total
            self.messages = messages
            self.error = error

    class ProbeHop(Message):
        """The running probe saw one more hop."""

        def __init__(self, hop: Hop) -> None:
            super().__init__()
            self.hop = hop

    class ProbeFinished(Message):
        """The probe ended: its result, or the one sentence why it could not run."""

        def __init__(self, result: ProbeResult | None, error: str = "") -> None:
            super().__init__()
            self.result = result
            self.error = error

    def __init__(self, settings: Settings, source: MailSource | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.source: MailSource = source or LiveSource(settings)
        self.accounts: list[str] = []
        self.states: dict[str, AccountState] = {}
        self.error = ""
        """Why no account could be listed (the userdb unreadable), else empty."""
        self.shown: Entry | None = None
        """The folder whose messages are shown (or being fetched)."""
        self.generation = 0
        self.messages: list[MessageSummary] = []
        self.total: int | None = None
        self.messages_error = ""
        self.loading = False
        self.figures: dict[str, float] = {}
        """When things happened (time.monotonic()): `login` (the first login began), `folders` (the
        first account's folders drawn), `messages` (the first page of messages drawn); for bench/."""
        self._follow: Timer | None = None
        self._redraw: Timer | None = None
        self.probe_dialog: ProbeRun | None = None
        """The dialog of the probe running, if one is (one at a time)."""
        self.probe_address = ""

    def compose(self) -> ComposeResult:
        yield FolderList(id="mailboxes-folders")
        yield Static(id="mailboxes-status")
        yield Static(id="mailboxes-title")
        yield MessageList(id="mailboxes-messages")
        yield Static(id="mailboxes-detail")

    def on_mount(self) -> None:
        self._draw_folders()
        self._draw_messages()
        self.list_accounts()

    def on_show(self) -> None:
        """Shown (its tab opened): the keyboard goes to the folder list, unless the messages have it."""
        if self.app.focused is None or self.app.focused.parent is not self:
            self.query_one(FolderList).focus()

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, exit_on_error=False, group="mailboxes-accounts")
    def list_accounts(self) -> None:
        """Read the userdb, then list every account's folders, one message per account as it comes."""
        worker = get_current_worker()
        try:
            accounts = self.source.account_names()
        except UserError as exc:
            self.post_message(self.AccountsKnown([], str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - the console never dies on a backend error
            self.post_message(self.AccountsKnown([], f"reading the accounts failed: {exc}"))
            return
        self.post_message(self.AccountsKnown(accounts, started=time.monotonic()))
        for account in accounts:
            if worker.is_cancelled:
                return
            self._list_one(account)

    @work(thread=True, exclusive=True, exit_on_error=False, group="mailboxes-account")
    def list_account(self, account: str) -> None:
        """List one account's folders again (`r` on it)."""
        self._list_one(account)

    def _list_one(self, account: str) -> None:
        """In a thread: one account's folders, posted."""
        try:
            box = self.source.folders(account)
        except UserError as exc:
            self.post_message(self.AccountListed(account, None, str(exc)))
        except Exception as exc:  # noqa: BLE001 - one account's failure is one line, never a crash
            self.post_message(self.AccountListed(account, None, f"listing failed: {exc}"))
        else:
            self.post_message(self.AccountListed(account, box))

    @work(thread=True, exclusive=True, exit_on_error=False, group="mailboxes-messages")
    def fetch_messages(self, generation: int, account: str, folder: str, skip: int) -> None:
        """One page of a folder's newest messages; dropped if another fetch replaced this one."""
        worker = get_current_worker()
        try:
            total, messages = self.source.messages(account, folder, PAGE, skip)
            answer = self.MessagesListed(generation, skip, total, messages)
        except UserError as exc:
            answer = self.MessagesListed(generation, skip, 0, [], str(exc))
        except Exception as exc:  # noqa: BLE001 - the console never dies on a backend error
            answer = self.MessagesListed(generation, skip, 0, [], f"listing failed: {exc}")
        if not worker.is_cancelled:
            self.post_message(answer)

    # ------------------------------------------------------------------ results

    def on_mailboxes_screen_accounts_known(self, message: AccountsKnown) -> None:
        self.error = message.error
        self.accounts = message.accounts
        self.states = {name: self.states.get(name, AccountState()) for name in message.accounts}
        if message.started:
            self.figures.setdefault("login", message.started)
        self._draw_folders()
        if self.accounts and self.shown is None:
            # The first account's INBOX, at once and beside its folder listing: the first screenful.
            self._want_messages(Entry(self.accounts[0], "INBOX"), delay=0)
        elif not self.accounts:
            self._draw_messages()

    def on_mailboxes_screen_account_listed(self, message: AccountListed) -> None:
        self.states[message.account] = AccountState(message.box, message.error)
        if "folders" not in self.figures:
            self._redraw_now()  # the first listing at once: it is half of the first screenful
        elif self._redraw is None:
            self._redraw = self.set_timer(REDRAW_S, self._redraw_now)

    def _redraw_now(self) -> None:
        if self._redraw is not None:
            self._redraw.stop()
            self._redraw = None
        self._draw_folders()
        if "folders" not in self.figures and any(s.box for s in self.states.values()):
            self.call_after_refresh(self.figures.setdefault, "folders", time.monotonic())

    def on_mailboxes_screen_messages_listed(self, message: MessagesListed) -> None:
        if message.generation != self.generation:
            return  # the cursor moved on: an answer for a folder no longer shown
        self.loading = False
        self.messages_error = message.error
        if not message.error:
            self.total = message.total
            keep = len(self.messages) if message.skip else 0
            self.messages = (self.messages if message.skip else []) + message.messages
            self.query_one(MessageList).show(self.messages, keep=keep)
            if "messages" not in self.figures:
                self.call_after_refresh(self.figures.setdefault, "messages", time.monotonic())
        self._draw_messages()

    # ------------------------------------------------------------------ following the cursor

    def _want_messages(self, entry: Entry, delay: float | None = None, skip: int = 0) -> None:
        """Show `entry`'s messages: a new request (an older answer is dropped), fetched once the
        cursor rests `delay` seconds (FOLLOW_S unless given)."""
        delay = FOLLOW_S if delay is None else delay
        if self._follow is not None:
            self._follow.stop()
            self._follow = None
        self.generation += 1
        generation = self.generation
        if not skip:
            self.shown = entry
            self.messages, self.total = [], None
            self.query_one(MessageList).show([])
        self.messages_error = ""
        self.loading = True
        self._draw_messages()
        assert entry.folder is not None

        def fetch() -> None:
            self._follow = None
            self.fetch_messages(generation, entry.account, str(entry.folder), skip)

        if delay:
            self._follow = self.set_timer(delay, fetch)
        else:
            fetch()

    def on_folder_list_highlighted(self, message: FolderList.Highlighted) -> None:
        entry = self.query_one(FolderList).current()
        self._draw_status()
        if entry is not None and entry.folder is not None and entry != self.shown:
            self._want_messages(entry)

    def on_folder_list_chosen(self, message: FolderList.Chosen) -> None:
        """Enter on a folder: its messages take the keyboard; on an account: list it again."""
        entry = self.query_one(FolderList).current()
        if entry is None:
            return
        if entry.folder is None:
            self.action_reload()
            return
        if entry != self.shown or self._follow is not None:  # not fetched yet: at once
            self._want_messages(entry, delay=0)
        self.query_one(MessageList).focus()

    def on_message_list_highlighted(self, message: MessageList.Highlighted) -> None:
        self._draw_detail()

    # ------------------------------------------------------------------ keys

    def action_reload(self) -> None:
        """List the account under the cursor again (after a failure: the retry), and the messages
        shown; everything when the accounts themselves could not be read."""
        entry = self.query_one(FolderList).current()
        if self.error or not self.accounts or entry is None:
            self.error = ""
            self.list_accounts()
            return
        self.states[entry.account] = AccountState()
        self._draw_folders()
        self.list_account(entry.account)
        if self.shown is not None and self.shown.account == entry.account:
            self._want_messages(self.shown, delay=0)

    def action_more(self) -> None:
        """The next page of older messages, below the ones shown."""
        if self.shown is None or self.loading or self.total is None:
            return
        if len(self.messages) >= self.total:
            self.notify("No older messages in this folder.", markup=False)
            return
        self._want_messages(self.shown, delay=0, skip=len(self.messages))

    def action_folders(self) -> None:
        self.query_one(FolderList).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The probe sends mail: not offered in read-only mode (hidden from the key bar and help)."""
        if action in self.MUTATING and self.settings.read_only:
            return False
        return True

    def refusal_target(self) -> str:
        """What a refused probe would have been sent to (read-only: nothing was asked yet)."""
        return self.probe_address

    # ------------------------------------------------------------------ the delivery probe

    def action_probe(self) -> None:
        """Ask for an address and a kind, then send the probe and show its hops as they come."""
        from widgets.mailboxes.probe import ProbeForm

        if self.probe_dialog is not None:
            self.notify("A probe is running already.", severity="warning", markup=False)
            return

        def answered(values: tuple[str, str] | None) -> None:
            if values:
                self._start_probe(*values)

        self.app.push_screen(ProbeForm(self.probe_address), answered)

    def _start_probe(self, address: str, kind: str) -> None:
        from widgets.mailboxes.probe import ProbeRun

        self.probe_address = address
        self.probe_dialog = ProbeRun(address, kind)
        self.app.push_screen(self.probe_dialog)
        self.run_probe(address, kind)

    @work(thread=True, exit_on_error=False, group="mailboxes-probe")
    def run_probe(self, address: str, kind: str) -> None:
        """The probe, through the dispatcher (refused read-only, audited first); hops posted."""
        from console.mailbox.probe import ProbeOptions, dispatch_probe

        def on_hop(hop: Hop) -> None:
            self.post_message(self.ProbeHop(hop))

        try:
            result = dispatch_probe(self.settings, address, ProbeOptions(kind=kind), on_hop)
        except UserError as exc:  # ReadOnlyRefused among them
            self.post_message(self.ProbeFinished(None, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a failed probe never crashes the console
            self.post_message(self.ProbeFinished(None, f"the probe failed: {exc}"))
        else:
            self.post_message(self.ProbeFinished(result))

    def on_mailboxes_screen_probe_hop(self, message: ProbeHop) -> None:
        if self.probe_dialog is not None and self.probe_dialog.is_attached:
            self.probe_dialog.add_hop(message.hop)

    def on_mailboxes_screen_probe_finished(self, message: ProbeFinished) -> None:
        dialog, self.probe_dialog = self.probe_dialog, None
        if dialog is not None and dialog.is_attached:
            dialog.finish(message.result, message.error)
        elif message.error:
            self.notify(printable(message.error), severity="error", markup=False)
        elif message.result is not None:
            result = message.result
            self.notify(
                printable(f"probe {result.outcome}: {result.verdict}"),
                severity="information" if result.as_predicted else "error",
                markup=False,
            )
        if message.result is not None and message.result.user in self.states:
            self.list_account(message.result.user)  # its counts may have changed (--keep)

    # ------------------------------------------------------------------ drawing

    def _draw_folders(self) -> None:
        folders = self.query_one(FolderList)
        keep = folders.current()
        if self.shown is not None and (keep is None or keep == Entry(self.shown.account, None)):
            keep = self.shown  # the account's folders came: the cursor goes to the one shown
        folders.show(self.accounts, self.states, keep)
        self._draw_status()

    def _draw_status(self) -> None:
        """The line under the folders: where the counts of the account under the cursor come from
        (IMAP, or the Maildir on disk), or why they are missing."""
        status = self.query_one("#mailboxes-status", Static)
        if self.error:
            status.update(Text(printable(self.error) + "  (r retries)", style="bold red"))
            return
        if not self.accounts:
            status.update(Text("reading the accounts…", style="dim"))
            return
        entry = self.query_one(FolderList).current()
        account = entry.account if entry else self.accounts[0]
        state = self.states.get(account, AccountState())
        text = Text(no_wrap=False)
        text.append(printable(account), "bold")
        text.append(": ")
        summary, style = state.summary
        text.append(printable(summary), style)
        if state.box is not None and state.box.source == "maildir":
            text.append("; messages are listed over IMAP only", "dim")
        status.update(text)

    def _draw_messages(self) -> None:
        """The line above the messages: which folder, how many of how many, or its one-line error."""
        title = self.query_one("#mailboxes-title", Static)
        if self.shown is None:
            title.update(Text("no folder chosen", style="dim"))
            self._draw_detail()
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(
            f"{printable(self.shown.account)} / {printable(str(self.shown.folder))}", "bold"
        )
        if self.messages_error:
            text.append(f": {printable(self.messages_error)}  (r retries)", "bold red")
        elif self.loading:
            text.append(": fetching…" if not self.messages else ": fetching older…", "dim")
        elif self.total is not None:
            if self.total == 0:
                text.append(": empty", "dim")
            else:
                text.append(f": newest {len(self.messages):,} of {count(self.total, 'message')}")
                if len(self.messages) < self.total:
                    text.append("  (m: older)", "dim")
        title.update(text)
        self._draw_detail()

    def _draw_detail(self) -> None:
        """The highlighted message's headers in full, three lines each cut at the width: From with
        Date, uid and size; Subject; the spam and virus verdict headers."""
        detail = self.query_one("#mailboxes-detail", Static)
        message = self.query_one(MessageList).current()
        if message is None:
            detail.update("")
            return
        verdicts = [
            (name, value)
            for name, value in (
                ("X-Spam-Flag: ", message.spam_flag),
                ("X-Spam-Status: ", message.spam_status),
                ("X-Virus-Scanned: ", message.virus_scanned),
            )
            if value
        ]
        lines = [
            [
                ("From: ", message.sender),
                ("   Date: ", message.date),
                ("   ", f"uid {message.uid}, {human_size(message.size)}"),
            ],
            [("Subject: ", message.subject)],
            verdicts or [("", "no X-Spam-* or X-Virus-Scanned header")],
        ]
        text = Text(no_wrap=True, overflow="ellipsis")
        for number, parts in enumerate(lines):
            if number:
                text.append("\n")
            for index, (name, value) in enumerate(parts):
                text.append(("   " if index and not name.startswith(" ") else "") + name, "bold")
                text.append(printable(value))
        detail.update(text)

    # ------------------------------------------------------------------ the App's contract

    def palette_commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        """Palette entries of this screen."""
        yield (
            "Mailboxes: reload",
            "List the account under the cursor again, and its messages",
            self.action_reload,
        )

    def handle_action_result(self, message: ActionFinished) -> None:
        """A user or a password added or removed changes the accounts: list them again."""
        if message.ok and message.name.startswith("accounts."):
            self.list_accounts()

    def unsaved_changes(self) -> bool:
        """Nothing on this screen is edited in place."""
        return False
