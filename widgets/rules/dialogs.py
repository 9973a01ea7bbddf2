"""The Rules screen's dialogs: pick a test message, review a save, list route changes, pick a backup.

Every text that comes from a message, a file name or a program is shown as `Text` (never markup).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import (
    Button,
    DataTable,
    Input,
    Label,
    OptionList,
    Select,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)
from textual.widgets.option_list import Option

from console.errors import UserError
from console.fdm.testmail import (
    RouteChange,
    StoredMessage,
    folder_messages,
    mail_folders,
    mail_users,
)
from console.text import printable
from widgets.common.dialogs import ConfirmDialog, Dialog


@dataclass
class MessageRequest:
    """Where the test message should come from: kind is compose, maildir, queue or file."""

    kind: str
    fields: dict[str, str] = field(default_factory=dict)


class MessageSourceDialog(Dialog["MessageRequest | None"]):
    """Choose a test message: composed from fields, from a Maildir, from the queue, or from a file."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    class Scanned(Message):
        """The Maildir users, the user's folders and the folder's messages (user/folder as shown)."""

        def __init__(
            self,
            user: str,
            folder: str,
            users: list[str],
            folders: list[str],
            messages: list[StoredMessage],
            error: str = "",
        ) -> None:
            super().__init__()
            self.user = user
            self.folder = folder
            self.users = users
            self.folders = folders
            self.messages = messages
            self.error = error

    def __init__(self, spool_dir: Path, compose: dict[str, str] | None = None) -> None:
        super().__init__()
        self.spool_dir = spool_dir
        self.compose_fields = compose or {}
        self.messages: list[StoredMessage] = []
        self.shown: tuple[str, str] | None = None
        """The user and folder whose messages are listed (None: not scanned yet)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(Text("Test message", style="bold"), classes="question")
            with TabbedContent(id="source-tabs"):
                with TabPane("Compose", id="source-compose"):
                    with Grid(classes="fields"):
                        for name, label in (
                            ("from", "From"),
                            ("to", "To"),
                            ("cc", "Cc"),
                            ("subject", "Subject"),
                        ):
                            yield Label(label)
                            yield Input(
                                self.compose_fields.get(name, ""),
                                id=f"compose-{name}",
                                compact=True,
                            )
                    yield Label(Text("Extra headers, one `Name: value` a line:", style="dim"))
                    yield TextArea(self.compose_fields.get("extra", ""), id="compose-extra")
                with TabPane("Maildir", id="source-maildir"):
                    with Horizontal(classes="pickers"):
                        yield Select[str]([], prompt="user", id="maildir-user", compact=True)
                        yield Select[str]([], prompt="folder", id="maildir-folder", compact=True)
                    yield OptionList(id="maildir-messages")
                with TabPane("Queue", id="source-queue"):
                    yield Label(Text("Message id (8 hex digits) or envelope id (16):"))
                    yield Input(id="queue-id", compact=True)
                with TabPane("File", id="source-file"):
                    yield Label(Text("Path of a message file:"))
                    yield Input(id="file-path", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Use", variant="primary", id="use")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.scan("", "")

    @work(thread=True, exclusive=True, exit_on_error=False, group="maildir-scan")
    def scan(self, user: str, folder: str) -> None:
        """List users, then the user's folders, then the folder's messages (off the UI thread)."""
        users: list[str] = []
        folders: list[str] = []
        messages: list[StoredMessage] = []
        try:
            users = mail_users(self.spool_dir)
            user = user or (users[0] if users else "")
            if user:
                folders = mail_folders(self.spool_dir, user)
                folder = folder if folder in folders else folders[0]
                messages = folder_messages(self.spool_dir, user, folder)
        except UserError as exc:
            self.post_message(self.Scanned(user, folder, users, folders, messages, str(exc)))
            return
        self.post_message(self.Scanned(user, folder, users, folders, messages))

    def on_message_source_dialog_scanned(self, message: Scanned) -> None:
        first = self.shown is None
        self.shown = (message.user, message.folder)
        if first:
            self.query_one("#maildir-user", Select).set_options(
                (printable(u), u) for u in message.users
            )
        folders = self.query_one("#maildir-folder", Select)
        folders.set_options((printable(f), f) for f in message.folders)
        for select, value in (
            (self.query_one("#maildir-user", Select), message.user),
            (folders, message.folder),
        ):
            if value:
                select.value = value
        self.messages = message.messages
        options = self.query_one("#maildir-messages", OptionList)
        options.clear_options()
        for stored in message.messages:
            line = Text(printable(stored.subject or "(no subject)"), style="bold")
            line.append("  " + printable(stored.sender), style="dim")
            options.add_option(Option(line))
        if message.messages:
            options.highlighted = 0
        if message.error:
            options.add_option(Option(Text(printable(message.error), style="red"), disabled=True))
        elif not message.messages:
            where = str(self.spool_dir) if not message.users else "this folder"
            options.add_option(
                Option(Text(f"no messages in {printable(where)}", style="dim"), disabled=True)
            )

    def on_select_changed(self, event: Select.Changed) -> None:
        """A different user or folder: list it (changes made by filling the lists are ignored)."""
        user = self.query_one("#maildir-user", Select).value
        folder = self.query_one("#maildir-folder", Select).value
        wanted = (
            str(user) if user is not Select.BLANK else "",
            str(folder) if folder is not Select.BLANK else "",
        )
        if self.shown is None or wanted == self.shown:
            return
        if wanted[0] != self.shown[0]:
            wanted = (wanted[0], "")
        self.scan(*wanted)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_use()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "use":
            self.action_use()
        else:
            self.dismiss(None)

    def action_use(self) -> None:
        """Dismiss with a request for the message the active tab describes."""
        active = self.query_one("#source-tabs", TabbedContent).active
        if active == "source-compose":
            fields = {
                name: self.query_one(f"#compose-{name}", Input).value
                for name in ("from", "to", "cc", "subject")
            }
            fields["extra"] = self.query_one("#compose-extra", TextArea).text
            self.dismiss(MessageRequest("compose", fields))
        elif active == "source-maildir":
            highlighted = self.query_one("#maildir-messages", OptionList).highlighted
            if highlighted is None or highlighted >= len(self.messages):
                self.notify("Pick a message first.", severity="warning")
                return
            self.dismiss(MessageRequest("maildir", {"path": str(self.messages[highlighted].path)}))
        elif active == "source-queue":
            self.dismiss(MessageRequest("queue", {"id": self.query_one("#queue-id", Input).value}))
        else:
            self.dismiss(
                MessageRequest("file", {"path": self.query_one("#file-path", Input).value})
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_use()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReviewDialog(ConfirmDialog):
    """A yes/no question with a scrollable body (the warnings and route changes a save brings)."""

    def __init__(self, question: str, body: Text, yes_label: str = "Yes") -> None:
        super().__init__(question, yes_label)
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(Text(self.question, style="bold"), classes="question")
            with VerticalScroll(classes="review"):
                yield Static(self.body)
            yield from self.buttons()


def changes_table(changes: list[RouteChange]) -> DataTable[Text]:
    """The messages whose route changes: name, route with the file on disk, route with the edits."""
    table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True, id="corpus-changes")
    table.add_column(Text("Message"), key="message")
    table.add_column(Text("On disk"), key="before")
    table.add_column(Text("Edited"), key="after")
    for change in changes:
        after_style = "bold red" if change.after.startswith(("error", "config")) else "green"
        table.add_row(
            Text(printable(change.message)),
            Text(printable(change.before), style="dim"),
            Text(printable(change.after), style=after_style),
        )
    return table


class CorpusDialog(Dialog[None]):
    """The regression check: every saved test message whose route the edits change."""

    BINDINGS = [Binding("escape,q", "close", "Close")]
    DEFAULT_CSS = """
    CorpusDialog .dialog DataTable { max-height: 35vh; }
    CorpusDialog #corpus-change { height: auto; margin-top: 1; }
    """

    def __init__(self, summary: Text, changes: list[RouteChange]) -> None:
        super().__init__()
        self.summary = summary
        self.changes = changes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide corpus"):
            yield Label(self.summary, classes="question")
            if self.changes:
                yield changes_table(self.changes)
                # The highlighted row in full: a narrow terminal cuts the table's last column.
                yield Static(id="corpus-change")
            yield Label(Text("escape closes", style="dim"))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        change = self.changes[event.cursor_row]
        self.query_one("#corpus-change", Static).update(
            Text.assemble(
                (printable(change.message), "bold"),
                "\n",
                ("on disk: ", "dim"),
                printable(change.before),
                "\n",
                ("edited:  ", "dim"),
                printable(change.after),
            )
        )

    def action_close(self) -> None:
        self.dismiss(None)


class BackupDialog(Dialog["Path | None"]):
    """Pick one of fdm.conf's backups (newest first) to revert to."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, backups: list[Path]) -> None:
        super().__init__()
        self.backups = backups

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                Text(
                    "Revert to which backup? (newest first; enter picks, escape cancels)",
                    style="bold",
                ),
                classes="question",
            )
            yield OptionList(
                *(Option(Text(printable(p.name))) for p in self.backups), id="backup-list"
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.backups[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
