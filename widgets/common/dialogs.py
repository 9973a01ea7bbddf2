"""Modal dialogs shared by every screen: confirm, choose a signal, and the key help."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, ScreenResultType
from textual.widgets import Button, DataTable, Label, Select

from console.text import printable

# Signals an operator sends to mail daemons; HUP first: the certbot deploy hook HUPs smtpd and dovecot.
SIGNALS = ("HUP", "USR1", "USR2", "TERM", "INT", "QUIT", "KILL")


class Dialog(ModalScreen[ScreenResultType]):
    """A modal dialog in the middle of the screen: its content sits in a Vertical with class `dialog`
    (`wide` for a wider one), its question in a `question` label, its buttons in a `buttons` row."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    .dialog {
        width: 70; max-width: 95%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 1 2;
    }
    .dialog.wide { width: 110; }
    .dialog .question { width: 100%; margin-bottom: 1; }
    .dialog .question-box { height: auto; max-height: 50vh; }
    .dialog .buttons { height: auto; align-horizontal: right; }
    .dialog Button { margin-left: 2; }
    .dialog .fields { grid-size: 2; grid-columns: 9 1fr; grid-rows: 1; grid-gutter: 0 1; height: auto; }
    .dialog #compose-extra { height: 4; }
    .dialog .pickers { height: 1; }
    .dialog .pickers Select { width: 1fr; }
    .dialog TabbedContent { height: auto; }
    /* Long content scrolls inside the dialog, the buttons stay on screen: at 80x24 a dialog has
       24 rows, of which its frame, question and buttons take about 10. */
    .dialog DataTable { height: auto; max-height: 50vh; }
    .dialog #maildir-messages, .dialog #backup-list { height: auto; max-height: 40vh; }
    .dialog .review { height: auto; max-height: 50vh; }
    """


class ConfirmDialog(Dialog[bool]):
    """Ask a yes/no question; dismisses with True only on an explicit yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes_label: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            with VerticalScroll(classes="question-box"):
                yield Label(Text(self.question), classes="question")
            yield from self.buttons()

    def buttons(self) -> ComposeResult:
        """Yes and No, No focused: a stray Enter never confirms."""
        with Horizontal(classes="buttons"):
            yield Button(f"{self.yes_label} (y)", variant="error", id="yes")
            yield Button("No (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


SIGNAL_EFFECTS = {
    "HUP": "reload: the program re-reads its configuration and reopens its logs, and keeps running",
    "USR1": "depends on the program (dovecot reopens its logs)",
    "USR2": "depends on the program",
    "TERM": "stop: the program exits, cutting off connections in progress; supervisord starts it "
    "again only if autorestart is set",
    "INT": "interrupt: most daemons exit as for TERM",
    "QUIT": "quit: most daemons exit, some writing a core dump",
    "KILL": "kill at once: no clean-up, mail being received or delivered is cut off; supervisord "
    "starts it again only if autorestart is set",
}
"""What each signal of SIGNALS does to a mail daemon, shown under the choice."""

ASK_AGAIN = ("TERM", "KILL")
"""Signals that stop the program: sending one asks a second time."""


class SignalDialog(Dialog["str | None"]):
    """Choose a signal for a program (HUP preselected, Cancel focused: a stray Enter sends nothing);
    says what the chosen signal does, and asks again before TERM or KILL. Dismisses with the
    signal's name or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, program: str) -> None:
        super().__init__()
        self.program = program

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(f"Send a signal to {printable(self.program)}"), classes="question")
            yield Select(
                [(f"SIG{s}", s) for s in SIGNALS], value="HUP", allow_blank=False, id="signal"
            )
            yield Label(self.effect("HUP"), id="signal-effect", classes="question")
            with Horizontal(classes="buttons"):
                yield Button("Send", variant="error", id="send")
                yield Button("Cancel", variant="primary", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @staticmethod
    def effect(signal_name: str) -> Text:
        """One line on what the signal does (in red for the ones that stop the program)."""
        style = "bold red" if signal_name in ASK_AGAIN else "dim"
        return Text.assemble((f"SIG{signal_name}: ", "bold"), (SIGNAL_EFFECTS[signal_name], style))

    def on_select_changed(self, event: Select.Changed) -> None:
        self.query_one("#signal-effect", Label).update(self.effect(str(event.value)))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "send":
            self.dismiss(None)
            return
        signal_name = str(self.query_one("#signal", Select).value)
        if signal_name not in ASK_AGAIN:
            self.dismiss(signal_name)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(signal_name)

        question = (
            f"Really send SIG{signal_name} to {printable(self.program)}? "
            f"{SIGNAL_EFFECTS[signal_name].capitalize()}."
        )
        self.app.push_screen(ConfirmDialog(question, f"Send SIG{signal_name}"), answered)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpDialog(Dialog[None]):
    """Every key of the current screen, with what it does."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]
    DEFAULT_CSS = "HelpDialog .dialog DataTable { max-height: 70vh; }"

    def __init__(self, title: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.help_title = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label(
                Text.assemble(self.help_title, ("   escape closes", "dim")), classes="question"
            )
            table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_column(Text("Key"), key="key")
            table.add_column(Text("Action"), key="action")
            for key, description in self.keys:
                table.add_row(Text(key, style="bold"), Text(description))
            yield table

    def action_close(self) -> None:
        self.dismiss(None)
