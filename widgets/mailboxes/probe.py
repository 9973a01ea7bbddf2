"""The delivery probe from the Mailboxes screen: a form for the address and the kind, then a dialog
that shows each hop as the probe sees it and the verdict at the end.

The Mailboxes screen runs the probe through the dispatcher (`console.mailbox.probe.dispatch_probe`:
refused in read-only mode, audited before anything is sent) in a worker thread; each hop comes back
as a message, which the screen hands to the dialog.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from console.mailbox.probe import KINDS, Hop, ProbeResult, render
from console.text import printable
from widgets.common.dialogs import Dialog

KIND_HELP = {
    "clean": "a plain message: it should land where fdm.conf routes it",
    "spam": "GTUBE in the body: spampd should score it as spam",
    "virus": "EICAR in the body: clamsmtpd should refuse or quarantine it",
}
HOP_STYLES = {"ok": "green", "stopped": "yellow", "deferred": "yellow", "failed": "bold red"}


class ProbeForm(Dialog["tuple[str, str] | None"]):
    """Ask for the address and the kind; dismisses with (address, kind) or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, address: str = "") -> None:
        super().__init__()
        self.address = address

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text("Send a probe message", style="bold"), classes="question")
            yield Label(
                Text(
                    "It goes to the local smtpd, is followed through every hop to its folder, and "
                    "is removed from the folder afterwards."
                ),
                classes="question",
            )
            yield Input(
                value=self.address, placeholder="address, e.g. bob@example.com", id="probe-address"
            )
            yield Select(
                [(kind, kind) for kind in KINDS], value="clean", allow_blank=False, id="probe-kind"
            )
            yield Label(
                Text(KIND_HELP["clean"], style="dim"), id="probe-kind-help", classes="question"
            )
            yield Label("", id="probe-error")
            with Horizontal(classes="buttons"):
                yield Button("Send", variant="primary", id="send")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#probe-address", Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        help_text = KIND_HELP.get(str(event.value), "")
        self.query_one("#probe-kind-help", Label).update(Text(help_text, style="dim"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._send()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self._send()
        else:
            self.dismiss(None)

    def _send(self) -> None:
        address = self.query_one("#probe-address", Input).value.strip()
        if "@" not in address:
            self.query_one("#probe-error", Label).update(
                Text("an address: user@domain", style="bold red")
            )
            return
        self.dismiss((address, str(self.query_one("#probe-kind", Select).value)))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ProbeRun(Dialog[None]):
    """The probe under way: its hops as they come, then the verdict. The screen that started the
    probe runs it and hands each hop here; closing this early leaves the probe running to its end
    (it removes its message), and its verdict is then a notification."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, address: str, kind: str) -> None:
        super().__init__()
        self.address = address
        self.kind = kind
        self.hops: list[Hop] = []
        self.result: ProbeResult | None = None
        self.error = ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(
                Text(f"Probe ({self.kind}) to {printable(self.address)}", style="bold"),
                classes="question",
            )
            with VerticalScroll(classes="question-box"):
                yield Static(Text("sending…", style="dim"), id="probe-hops")
            yield Static("", id="probe-verdict", classes="question")
            with Horizontal(classes="buttons"):
                yield Button("Close", variant="primary", id="close")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def add_hop(self, hop: Hop) -> None:
        """One more hop, shown under the others."""
        self.hops.append(hop)
        self._draw()

    def finish(self, result: ProbeResult | None, error: str = "") -> None:
        """The probe ended: its verdict, or the one sentence why it could not run."""
        self.result, self.error = result, error
        self._draw()

    def _draw(self) -> None:
        self.query_one("#probe-hops", Static).update(
            hops_table(self.hops) if self.hops else Text("sending…", style="dim")
        )
        verdict = self.query_one("#probe-verdict", Static)
        if self.error:
            verdict.update(Text(printable(self.error), style="bold red"))
        elif self.result is not None:
            verdict.update(verdict_text(self.result))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_close()

    def action_close(self) -> None:
        self.dismiss(None)


def hops_table(hops: list[Hop]) -> Table:
    """One row a hop: when, which, how it went, and what happened, which wraps in a column of its
    own (under the others it would hide where the next hop starts)."""
    table = Table.grid(padding=(0, 1, 0, 0))
    table.add_column(no_wrap=True, style="dim")
    table.add_column(no_wrap=True, style="bold")
    table.add_column(no_wrap=True)
    table.add_column(ratio=1)
    for hop in hops:
        table.add_row(
            f"+{hop.at:6.3f} s",
            Text(printable(hop.name)),
            Text(printable(hop.status), HOP_STYLES.get(hop.status, "")),
            Text(printable(hop.detail)),
        )
    return table


def verdict_text(result: ProbeResult) -> Text:
    """The prediction, the verdict (green when as predicted, else red) and the total."""
    lines = render(result)
    text = Text()
    for number, line in enumerate(lines):
        if number:
            text.append("\n")
        verdict = line.startswith(f"{result.outcome}:")
        style = ("bold green" if result.as_predicted else "bold red") if verdict else "dim"
        text.append(printable(line), style)
    return text
