"""The console's App: a header with the host and supervisord's state, one tab per screen, help, palette.

Every mutating action from a key or the palette goes through `request_action`, which confirms dangerous
actions and runs `console.actions.dispatch` in a thread (the only path; it enforces read-only).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Footer, Static, TabbedContent, TabPane

from console.actions import ACTIONS, dispatch
from console.errors import ReadOnlyRefused, UserError
from console.settings import Settings
from console.supervisor import client_for
from console.text import printable
from widgets.services import ServicesView


@dataclass(frozen=True)
class Tab:
    """One screen of the console: its id, its tab title, and how to build its widget."""

    id: str
    title: str
    build: Callable[[ConsoleApp], Widget]


def _services(app: ConsoleApp) -> Widget:
    return ServicesView(app.supervisor, app.settings.refresh_interval, app.settings.read_only,
                        prefetch=app.tab_options.get("prefetch"), id="services-view")


def _rules(app: ConsoleApp) -> Widget:
    from widgets.rules import RulesView

    return RulesView(app.settings, id="rules-view")


def _logs(app: ConsoleApp) -> Widget:
    from widgets.logs import LogsView

    return LogsView(app.settings, files=app.tab_options.get("log_files"), id="logs-view")


def _queue(app: ConsoleApp) -> Widget:
    from widgets.queue import QueueView

    return QueueView(app.settings, id="queue-view", **app.tab_options.get("queue", {}))


# The screens in tab order. Each is built (and its module imported) only when first shown, so
# start-up costs what the first screen costs.
TABS: list[Tab] = [Tab("services", "Services", _services), Tab("queue", "Queue", _queue),
                   Tab("logs", "Logs", _logs), Tab("rules", "Rules", _rules)]


class AppHeader(Static):
    """Host name, supervisord URL and connection state, and a READ-ONLY badge."""

    def __init__(self, settings: Settings, hostname: str) -> None:
        super().__init__(id="app-header")
        self.settings = settings
        self.hostname = hostname
        self.state = "connecting"

    def on_mount(self) -> None:
        self.refresh_header()

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.refresh_header()

    def refresh_header(self) -> None:
        style = {"connected": "green", "connecting": "yellow"}.get(self.state.split(" ")[0], "red")
        text = Text.assemble(
            (" mailconsole ", "bold reverse"),
            " ",
            (printable(self.hostname), "bold"),
            "  ",
            printable(self.settings.supervisor_url),
            "  ",
            ("● " + self.state, style),
        )
        if self.settings.read_only:
            text.append("  ")
            text.append(" READ-ONLY ", style="bold white on red")
        self.update(text)


class ActionCommands(Provider):
    """The command palette: switch screens, help, and every action the current mode offers."""

    def _commands(self) -> Iterable[tuple[str, str, Callable[[], Any]]]:
        app = self.app
        assert isinstance(app, ConsoleApp)
        for tab in TABS:
            yield f"Go to {tab.title}", f"Show the {tab.title} screen", partial(app.show_tab, tab.id)
        yield "Help: keys of this screen", "List every key of the current screen", app.action_help
        for widget in app.tabs.query("*"):
            commands = getattr(widget, "palette_commands", None)
            if commands is not None:
                yield from commands()

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)


class ConsoleApp(App[None]):
    """mailconsole: the operator's console for the mail container."""

    TITLE = "mailconsole"
    CSS_PATH = "app.tcss"
    COMMANDS = {ActionCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
    ]

    class ActionFinished(Message):
        """A dispatched action ended: `ok` with its outcome, or its one-sentence error."""

        def __init__(self, name: str, target: str, ok: bool, text: str) -> None:
            super().__init__()
            self.name = name
            self.target = target
            self.ok = ok
            self.text = text

    def __init__(self, settings: Settings, supervisor: Any = None, initial_tab: str | None = None,
                 hostname: str | None = None, **tab_options: Any) -> None:
        super().__init__()
        self.settings = settings
        self.supervisor = supervisor or client_for(settings)
        self.initial_tab = initial_tab or TABS[0].id
        self.hostname = hostname or socket.gethostname()
        # Kept by reference: App.query looks only at the top screen, which may be a dialog.
        self.header = AppHeader(settings, self.hostname)
        self.tabs = TabbedContent(initial=self.initial_tab, id="tabs")
        self.tab_options = tab_options

    def compose(self) -> ComposeResult:
        yield self.header
        with self.tabs:
            for tab in TABS:
                with TabPane(tab.title, id=tab.id):
                    # Services is always built: its poll drives the header's supervisord state.
                    if tab.id in (self.initial_tab, "services"):
                        yield tab.build(self)
        yield Footer()

    def show_tab(self, tab_id: str) -> None:
        """Switch to a screen by its tab id."""
        self.tabs.active = tab_id

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Build the screen on first use, then put the keyboard in it (its keys show in the footer)."""
        pane = event.pane
        if not pane.children:
            tab = next(t for t in TABS if t.id == pane.id)
            await pane.mount(tab.build(self))
        self._focus_first(pane)

    def _focus_first(self, pane: Widget) -> None:
        if self.tabs.active != pane.id:
            return  # focusing inside a hidden pane would switch back to it
        if self.focused is not None and pane in self.focused.ancestors:
            return  # the screen already has the keyboard (e.g. a field the user opened)
        for widget in pane.query("*"):
            if widget.focusable:
                widget.focus()
                break

    # ------------------------------------------------------------------ header state

    def on_services_view_programs_refreshed(self, message: ServicesView.ProgramsRefreshed) -> None:
        self.header.set_state(f"connected ({message.snapshot.state.lower()})")

    def on_services_view_supervisor_down(self, message: ServicesView.SupervisorDown) -> None:
        self.header.set_state("disconnected, retrying")

    # ------------------------------------------------------------------ actions

    def request_action(self, name: str, target: str, params: dict[str, str] | None = None,
                   confirmed: bool = False) -> None:
        """Confirm (when dangerous) and dispatch an action in a thread; the outcome is a notification."""
        action = ACTIONS[name]
        if self.settings.read_only:
            # Not offered in read-only mode; reached anyway, the dispatcher refuses and audits it.
            self._dispatch(name, target, dict(params or {}))
            return
        if action.dangerous and not confirmed:
            question = f"{action.description}: {target}?"

            def answered(yes: bool | None) -> None:
                if yes:
                    self._dispatch(name, target, dict(params or {}))

            from widgets.dialogs import ConfirmScreen

            self.push_screen(ConfirmScreen(printable(question)), answered)
            return
        self._dispatch(name, target, dict(params or {}))

    @work(thread=True, exit_on_error=False, group="actions")
    def _dispatch(self, name: str, target: str, params: dict[str, str]) -> None:
        try:
            text = dispatch(self.settings, name, target, params)
        except ReadOnlyRefused as exc:
            self.post_message(self.ActionFinished(name, target, False, str(exc)))
        except UserError as exc:
            self.post_message(self.ActionFinished(name, target, False, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a failed action never crashes the console
            self.post_message(self.ActionFinished(name, target, False, f"{name} failed: {exc}"))
        else:
            self.post_message(self.ActionFinished(name, target, True, text))

    def on_console_app_action_finished(self, message: ActionFinished) -> None:
        self.notify(printable(message.text), severity="information" if message.ok else "error",
                    markup=False)
        for widget in self.tabs.query("*"):
            # Screens that care (the one that asked, or one showing the changed thing) refresh.
            handle = getattr(widget, "handle_action_result", None)
            if handle is not None:
                handle(message)

    # ------------------------------------------------------------------ quitting

    async def action_quit(self) -> None:
        """Quit; when a screen holds unsaved edits (the Rules editor), ask first."""
        unsaved = [w for w in self.tabs.query("*") if getattr(w, "unsaved_changes", lambda: False)()]
        if not unsaved:
            self.exit()
            return
        from widgets.dialogs import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen("fdm.conf has unsaved edits. Quit and lose them?",
                                       yes_label="Quit"), answered)

    # ------------------------------------------------------------------ help

    def action_help(self) -> None:
        """List every key active on the current screen: its own keys first, then the generic ones.

        Mutating keys are disabled in read-only mode, so they are not listed either.
        """
        own: list[tuple[str, str]] = []
        generic: list[tuple[str, str]] = []
        seen: set[str] = set()
        for active in self.active_bindings.values():
            binding = active.binding
            key = self.get_key_display(binding)
            if not active.enabled or not binding.description or key in seen:
                continue
            seen.add(key)
            entry = (key, binding.description)
            (own if binding.id else generic).append(entry)
        pane = self.tabs.active_pane
        title = next((t.title for t in TABS if pane is not None and t.id == pane.id), "")
        from widgets.dialogs import HelpScreen

        self.push_screen(HelpScreen(f"Keys of the {title} screen", own + generic))


def run_console(settings: Settings, **options: Any) -> None:
    """Open the console (the CLI calls this lazily, so `mailconsole status` never imports Textual)."""
    ConsoleApp(settings, **options).run()
