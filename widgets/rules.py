"""The Rules screen: edit fdm.conf with the linter's findings and a live test route as you type.

Linting and routing run in a worker after a short pause in typing (typing never waits); the results
come back as a `RouteComputed` message. Saving goes through the `fdm.save` action (confirmation,
read-only refusal and audit are the dispatcher's). Message and config text are shown as `Text`.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static, TextArea

from console.fdm.lint import Finding, Tables, lint_text, load_tables
from console.fdm.router import Route, Router
from console.fdm.save import Loaded, load
from console.settings import Settings
from console.text import printable

SAMPLE_MESSAGE = "From: alice@example.org\nTo: bob@example.com\nSubject: test\n\nhello\n"
DEBOUNCE_SECONDS = 0.3


class RulesView(Widget):
    """fdm.conf in an editor, its findings, and the route of a test message."""

    DEFAULT_CSS = """
    RulesView { height: 1fr; }
    RulesView #rules-left { width: 3fr; }
    RulesView #rules-right { width: 2fr; }
    RulesView #rules-editor { height: 2fr; }
    RulesView #rules-findings { height: 1fr; overflow-y: auto; border-top: solid $primary; }
    RulesView #rules-message { height: 1fr; }
    RulesView #rules-route { height: 1fr; overflow-y: auto; border-top: solid $primary; }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="rules.save"),
        Binding("ctrl+r", "reload", "Reload from disk", id="rules.reload"),
    ]

    class RouteComputed(Message):
        """Findings and the test route for one version of the text."""

        def __init__(self, generation: int, findings: list[Finding], route: Route | None) -> None:
            super().__init__()
            self.generation = generation
            self.findings = findings
            self.route = route

    class Loaded(Message):
        """The config file was read from disk."""

        def __init__(self, loaded: Loaded) -> None:
            super().__init__()
            self.loaded = loaded

    def __init__(self, settings: Settings, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.settings = settings
        self.loaded: Loaded | None = None
        self.generation = 0
        self.shown_generation = -1
        self.timer: Timer | None = None
        self.findings: list[Finding] = []
        self.route: Route | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="rules-left"):
                yield TextArea("", show_line_numbers=True, id="rules-editor")
                yield Static(id="rules-findings")
            with Vertical(id="rules-right"):
                yield TextArea(SAMPLE_MESSAGE, id="rules-message")
                yield Static(id="rules-route")

    def on_mount(self) -> None:
        self.load_file()

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules-load")
    def load_file(self) -> None:
        """Read the config off the UI thread."""
        self.post_message(self.Loaded(load(self.settings.fdm_config)))

    def on_rules_view_loaded(self, message: Loaded) -> None:
        self.loaded = message.loaded
        self.query_one("#rules-editor", TextArea).load_text(message.loaded.text)
        self.schedule()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.schedule()

    def schedule(self) -> None:
        """Re-lint and re-route once typing pauses."""
        self.generation += 1
        if self.timer is not None:
            self.timer.stop()
        self.timer = self.set_timer(DEBOUNCE_SECONDS, self.start_compute)

    def start_compute(self) -> None:
        config_text = self.query_one("#rules-editor", TextArea).text
        message_text = self.query_one("#rules-message", TextArea).text
        self.compute(self.generation, config_text, message_text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules-route")
    def compute(self, generation: int, config_text: str, message_text: str) -> None:
        """Lint and route in a thread; the answer comes back as a message."""
        tables: Tables = load_tables(self.settings.table_addrs, self.settings.table_vusers,
                                     self.settings.table_vdomains, self.settings.table_userdb)
        config, findings = lint_text(config_text, str(self.settings.fdm_config), tables)
        route = Router(config).route(message_text.encode("utf-8", "surrogateescape")) \
            if config is not None else None
        self.post_message(self.RouteComputed(generation, findings, route))

    def on_rules_view_route_computed(self, message: RouteComputed) -> None:
        if message.generation != self.generation:
            return
        self.findings = message.findings
        self.route = message.route
        self.shown_generation = message.generation
        self.query_one("#rules-findings", Static).update(render_findings(message.findings))
        self.query_one("#rules-route", Static).update(render_route(message.route))

    def action_save(self) -> None:
        """Save through the dispatcher (it asks, refuses in read-only mode, audits)."""
        text = self.query_one("#rules-editor", TextArea).text
        token = str(self.loaded.token) if self.loaded and self.loaded.token else "none"
        self.app.request_action(  # type: ignore[attr-defined]
            "fdm.save", str(self.settings.fdm_config),
            {"text": text, "token": token, "allow_warnings": "yes"})

    def action_reload(self) -> None:
        """Throw away edits and read the file again."""
        self.load_file()


def render_findings(findings: list[Finding]) -> Text:
    """Findings as plain Text, one per line, errors in red."""
    text = Text()
    if not findings:
        text.append("no findings", style="green")
    for finding in findings:
        style = {"error": "bold red", "warning": "yellow"}.get(finding.severity, "dim")
        text.append(f"{finding.line:>4} {finding.severity}: ", style=style)
        text.append(printable(f"{finding.message} (fix: {finding.fix})") + "\n")
    return text


def render_route(route: Route | None) -> Text:
    """The test message's route as plain Text (untrusted command text escaped)."""
    text = Text()
    if route is None:
        return Text("the config does not parse: no route", style="red")
    text.append(f"outcome: {route.outcome}\n", style="bold")
    if route.error:
        text.append(printable(route.error) + "\n", style="red")
    text.append(f"rules at lines: {', '.join(map(str, route.rules)) or 'none'}\n")
    for run in route.runs:
        text.append(printable(f"{run.action}:{run.item} {run.kind} {run.argument}") + "\n")
    for delivery in route.deliveries:
        where = delivery.path or f"user {delivery.user or '?'}, folder {delivery.folder}"
        text.append(printable(f"-> {where}") + "\n", style="green")
    for note in route.notes:
        text.append(printable(f"note: {note}") + "\n", style="dim")
    return text
