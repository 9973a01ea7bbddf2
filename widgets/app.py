"""The console's App: a header with the host and supervisord's state, the screens (one shown at a time), help, palette.

Every mutating action from a key or the palette goes through `request_action`, which confirms dangerous
actions and runs `console.actions.dispatch` in a thread (the only path; it enforces read-only).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.notifications import Notification, SeverityLevel
from textual.widget import Widget

from console import actions
from console.actions import Action, dispatch, offered_actions
from console.errors import AuditIncomplete, ReadOnlyRefused, UserError
from console.settings import Settings
from console.text import printable
from widgets.common.bars import AppHeader, KeyBar, ScreenBar
from widgets.common.screen import ActionScreen, ActionTarget, ConsoleScreen
from widgets.messages import ActionFinished
from widgets.startup import resume_garbage_collection, start_in_background

if TYPE_CHECKING:
    from widgets.services import ServicesScreen


class ScreenSpec(NamedTuple):
    """One screen of the console: its id, its title in the screen bar, its key, and how to build its widget."""

    id: str
    title: str
    key: str
    build: Callable[[ConsoleApp], Widget]
    targets: Callable[[Settings, str], Iterable[ActionTarget]] | None = None
    """The targets of its actions known from the settings alone: offered in the palette before the
    screen is built (the screen's own `action_targets` once it is)."""


def _services(app: ConsoleApp) -> Widget:
    from widgets.services import ServicesScreen

    if app.supervisor is None:
        from console.supervisor.client import client_for

        app.supervisor = client_for(app.settings)
    return ServicesScreen(
        app.supervisor,
        app.settings.refresh_interval,
        app.settings.read_only,
        prefetch=app.screen_options.get("prefetch"),
        id="services-screen",
    )


def _rules(app: ConsoleApp) -> Widget:
    from widgets.rules.view import RulesScreen

    return RulesScreen(app.settings, id="rules-screen")


def _logs(app: ConsoleApp) -> Widget:
    from widgets.logs.view import LogsScreen

    return LogsScreen(app.settings, files=app.screen_options.get("log_files"), id="logs-screen")


def _overview(app: ConsoleApp) -> Widget:
    from widgets.overview import OverviewScreen

    return OverviewScreen(
        app.settings, id="overview-screen", **app.screen_options.get("overview", {})
    )


def _queue(app: ConsoleApp) -> Widget:
    from widgets.queue import QueueScreen

    return QueueScreen(app.settings, id="queue-screen", **app.screen_options.get("queue", {}))


def _accounts(app: ConsoleApp) -> Widget:
    from widgets.accounts import AccountsScreen

    return AccountsScreen(app.settings, id="accounts-screen")


def _jobs(app: ConsoleApp) -> Widget:
    from widgets.jobs import JobsScreen

    return JobsScreen(app.settings, id="jobs-screen")


def _job_targets(settings: Settings, name: str) -> Iterable[ActionTarget]:
    from widgets.jobs import job_targets

    return job_targets(settings, name)


def _mailboxes(app: ConsoleApp) -> Widget:
    from widgets.mailboxes import MailboxesScreen

    return MailboxesScreen(
        app.settings, id="mailboxes-screen", **app.screen_options.get("mailboxes", {})
    )


# The screens in the order of the screen bar. Each is built (and its module imported) only when first shown, so
# start-up costs what the first screen costs.
SCREENS: list[ScreenSpec] = [
    ScreenSpec("services", "Services", "f2", _services),
    ScreenSpec("queue", "Queue", "f3", _queue),
    ScreenSpec("logs", "Logs", "f4", _logs),
    ScreenSpec("rules", "Rules", "f5", _rules),
    ScreenSpec("accounts", "Accounts", "f6", _accounts),
    ScreenSpec("overview", "Overview", "f7", _overview),
    ScreenSpec("jobs", "Jobs", "f8", _jobs, _job_targets),
    ScreenSpec("mailboxes", "Mailboxes", "f9", _mailboxes),
]


class ActionCommands(Provider):
    """The command palette: switch screens, help, each screen's own entries, and the registry's
    actions (none in read-only mode) for the targets their screens offer.

    Titles and help name programs, envelopes and files, i.e. strangers' text: they reach the palette
    as `Content`, never as a string, which the palette would parse as markup (a program named
    `[@click=app.quit]` would be a live link).
    """

    def _commands(self) -> Iterable[tuple[str, str, Callable[[], Any]]]:
        app = self.app
        assert isinstance(app, ConsoleApp)
        for spec in SCREENS:
            yield (
                f"Go to {spec.title}",
                f"Show the {spec.title} screen",
                partial(app.show_screen, spec.id),
            )
        yield "Help: keys of this screen", "List every key of the current screen", app.action_help
        yield (
            "Quit",
            "Leave mailconsole (asks first when fdm.conf has unsaved edits)",
            app.action_quit,
        )
        yield from app.registry_palette()
        for screen in app.built_screens():
            yield from screen.palette_commands()

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(Content(title), callback, text=title, help=_literal(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    literal_highlight(matcher, title),
                    callback,
                    text=title,
                    help=_literal(help_text),
                )


def literal_highlight(matcher: Matcher, title: str) -> Content:
    """`matcher.highlight`, without reading the title as markup: the matched characters marked."""
    content = Content(title)
    score, offsets = matcher.fuzzy_search.match(matcher.query, title)
    if score:
        for offset in offsets:
            if not title[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


def _literal(help_text: str) -> str:
    """Help text the palette shows as it is: it reads a `str` as markup, and takes `Content` as is."""
    return Content(help_text)  # type: ignore[return-value]


class ConsoleApp(App[None]):
    """mailconsole: the operator's console for the mail container."""

    TITLE = "mailconsole"
    COMMANDS = {ActionCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        *(
            Binding(
                spec.key,
                f"show_screen('{spec.id}')",
                f"{spec.title} screen",
                show=False,
                # Priority: a focused TextArea (the Rules editor) binds f6/f7 to select line/all.
                priority=True,
                id=f"app.screen_{spec.id}",
            )
            for spec in SCREENS
        ),
        Binding(
            "right_square_bracket",
            "next_screen(1)",
            "Next screen",
            show=False,
            id="app.next_screen",
        ),
        Binding(
            "left_square_bracket",
            "next_screen(-1)",
            "Previous screen",
            show=False,
            id="app.previous_screen",
        ),
    ]

    def __init__(
        self,
        settings: Settings,
        supervisor: Any = None,
        initial_screen: str | None = None,
        hostname: str | None = None,
        **screen_options: Any,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.supervisor = supervisor  # made when Services is built, unless given
        self.initial_screen = initial_screen or SCREENS[0].id
        self.hostname = hostname or socket.gethostname()
        # Kept by reference: App.query looks only at the top screen, which may be a dialog.
        self.header = AppHeader(settings, self.hostname)
        self.screen_bar = ScreenBar(
            self.initial_screen, [(spec.id, spec.title, spec.key) for spec in SCREENS]
        )
        self.key_bar = KeyBar(id="key-bar")
        self.screen_widgets: dict[str, Widget] = {}
        """The screens built so far, by id: children of the main screen, only the active one shown."""
        self._active = self.initial_screen
        self.screen_options = screen_options

    def compose(self) -> ComposeResult:
        # No container around the screens: every widget on the first frame costs start-up time.
        yield self.header
        yield self.screen_bar
        yield self._make_screen(self.initial_screen)
        yield self.key_bar

    def on_mount(self) -> None:
        if self.initial_screen != "services":
            # Services is always built (its poll drives the header's state), once the first frame is out.
            start_in_background(self, partial(self._build_behind, "services"))
        start_in_background(self, resume_garbage_collection)

    def _make_screen(self, screen_id: str) -> Widget:
        screen = next(t for t in SCREENS if t.id == screen_id).build(self)
        screen.display = screen_id == self._active
        self.screen_widgets[screen_id] = screen
        return screen

    def built_screens(self) -> list[ConsoleScreen]:
        """Every screen built so far, through the contract every screen implements."""
        screens: list[ConsoleScreen] = []
        for screen in self.screen_widgets.values():
            assert isinstance(screen, ConsoleScreen), (
                f"{type(screen).__name__} does not implement ConsoleScreen"
            )
            screens.append(screen)
        return screens

    @property
    def active_screen(self) -> str:
        """The id of the screen on show."""
        return self._active

    def show_screen(self, screen_id: str) -> None:
        """Switch to a screen by its id; it is built on first use, then takes the keyboard."""
        self._active = screen_id
        for other_id, screen in self.screen_widgets.items():
            screen.display = other_id == screen_id
        self.screen_bar.show(screen_id)
        self.call_later(self._build_and_focus, screen_id)

    def action_show_screen(self, screen_id: str) -> None:
        self.show_screen(screen_id)

    def action_next_screen(self, step: int) -> None:
        ids = [spec.id for spec in SCREENS]
        self.show_screen(ids[(ids.index(self.active_screen) + step) % len(ids)])

    async def _build_behind(self, screen_id: str) -> None:
        """Build a screen behind the shown one, unless the console is closing meanwhile."""
        if self.is_running and self.key_bar.is_attached:
            await self._build(screen_id)

    async def _build(self, screen_id: str) -> Widget:
        screen = self.screen_widgets.get(screen_id)
        if screen is None:
            screen = self._make_screen(screen_id)
            # On the screen the key bar is on, not self.screen: a dialog may be on top.
            await self.key_bar.screen.mount(screen, before=self.key_bar)
        return screen

    async def _build_and_focus(self, screen_id: str) -> None:
        screen = await self._build(screen_id)
        if self.active_screen != screen_id:
            return  # the user moved on meanwhile
        if self.focused is not None and screen in self.focused.ancestors_with_self:
            return  # the screen already has the keyboard (e.g. a field the user opened)
        for widget in screen.query("*"):
            if widget.focusable:
                widget.focus()
                break

    # ------------------------------------------------------------------ header state

    def on_services_screen_programs_refreshed(
        self, message: ServicesScreen.ProgramsRefreshed
    ) -> None:
        state = message.snapshot.state
        self.header.set_state("connected" if state == "RUNNING" else f"connected ({state.lower()})")

    def on_services_screen_supervisor_down(self, message: ServicesScreen.SupervisorDown) -> None:
        self.header.set_state("disconnected")  # the banner says when it retries

    # ------------------------------------------------------------------ actions

    def request_action(
        self, name: str, target: str, params: dict[str, str] | None = None, confirmed: bool = False
    ) -> None:
        """Confirm (when dangerous) and dispatch an action in a thread; the outcome is a notification."""
        action = actions.ACTIONS[name]
        if self.settings.read_only:
            # Not offered in read-only mode; reached anyway, the dispatcher refuses and audits it.
            self._dispatch(name, target, dict(params or {}))
            return
        if action.dangerous and not confirmed:
            question = action.question(target)

            def answered(yes: bool | None) -> None:
                if yes:
                    self._dispatch(name, target, dict(params or {}))

            from widgets.common.dialogs import ConfirmDialog

            self.push_screen(ConfirmDialog(printable(question)), answered)
            return
        self._dispatch(name, target, dict(params or {}))

    def registry_palette(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        """The palette's entries for the registry's actions: each one offered in this mode that has a
        palette title, for each target its screen offers."""
        for action in offered_actions(self.settings):
            if not action.palette:
                continue
            for target, help_text in self._registry_targets(action):
                yield (
                    action.palette.format(target=printable(target)),
                    help_text or action.description,
                    partial(self.start_action, action.name, target),
                )

    def _registry_targets(self, action: Action) -> Iterable[ActionTarget]:
        screen = self.screen_widgets.get(action.screen)
        if screen is None:
            spec = next((t for t in SCREENS if t.id == action.screen), None)
            return spec.targets(self.settings, action.name) if spec and spec.targets else ()
        assert isinstance(screen, ActionScreen), (
            f"{type(screen).__name__} does not implement ActionScreen"
        )
        return screen.action_targets(action.name)

    def start_action(self, name: str, target: str) -> None:
        """Start a registry action from the palette as its screen's key would (built first if need be)."""

        async def start() -> None:
            screen = await self._build(actions.ACTIONS[name].screen)
            assert isinstance(screen, ActionScreen)
            screen.start_action(name, target)

        self.call_later(start)

    def run_job(self, name: str) -> None:
        """Open the Jobs screen and run job `name` there (after a yes), its output streaming."""
        self.show_screen("jobs")

        async def start() -> None:
            screen = await self._build("jobs")
            screen.start_job(name)  # type: ignore[attr-defined]

        self.call_later(start)

    def on_key(self, event: events.Key) -> None:
        """Read-only: a mutating key the screen does not offer says so in one line, and the refused
        attempt goes through the dispatcher, which writes it to the audit log."""
        if not self.settings.read_only or len(self.screen_stack) > 1:  # a dialog has the keys
            return
        screen = self.screen_widgets.get(self.active_screen)
        mutating = getattr(screen, "MUTATING", None)
        if screen is None or not isinstance(mutating, dict):
            return
        for binding in screen.BINDINGS:
            assert isinstance(binding, Binding)
            method, _, args = binding.action.partition("(")
            if event.key not in binding.key.split(",") or method not in mutating:
                continue
            event.stop()
            target = (
                args.rstrip(")").strip("'\"") or getattr(screen, "refusal_target", lambda: "")()
            )
            self.notify(
                f"read-only: {binding.description.lower()} is not available",
                severity="warning",
                markup=False,
            )
            name = mutating[method]
            if name:
                self._refuse(name, target)
            return

    @work(thread=True, exit_on_error=False, group="actions")
    def _refuse(self, name: str, target: str) -> None:
        """Hand a refused attempt to the dispatcher: it refuses (read-only) and audits it."""
        try:
            dispatch(self.settings, name, target, {})
        except UserError:
            pass  # the refusal, expected; the key's line has said so

    @work(thread=True, exit_on_error=False, group="actions")
    def _dispatch(self, name: str, target: str, params: dict[str, str]) -> None:
        try:
            text = dispatch(self.settings, name, target, params)
        except ReadOnlyRefused as exc:
            self.post_message(ActionFinished(name, target, False, str(exc)))
        except AuditIncomplete as exc:
            self.post_message(ActionFinished(name, target, True, str(exc), audited=False))
        except UserError as exc:
            self.post_message(ActionFinished(name, target, False, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a failed action never crashes the console
            self.post_message(ActionFinished(name, target, False, f"{name} failed: {exc}"))
        else:
            self.post_message(ActionFinished(name, target, True, text))

    def on_action_finished(self, message: ActionFinished) -> None:
        severity: SeverityLevel = (
            "error" if not message.ok else "information" if message.audited else "warning"
        )
        self.notify(printable(message.text), severity=severity, markup=False)
        for screen in self.built_screens():
            # Screens that care (the one that asked, or one showing the changed thing) refresh.
            screen.handle_action_result(message)

    # ------------------------------------------------------------------ quitting

    async def action_quit(self) -> None:
        """Quit; when a screen holds unsaved edits (the Rules editor), ask first."""
        unsaved = [screen for screen in self.built_screens() if screen.unsaved_changes()]
        if not unsaved:
            self.exit()
            return
        from widgets.common.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(
            ConfirmDialog("fdm.conf has unsaved edits. Quit and lose them?", yes_label="Quit"),
            answered,
        )

    # ------------------------------------------------------------------ help

    def _unnotify(self, notification: Notification, refresh: bool = True) -> None:
        """A notification went (it timed out, or was clicked): once its toast is gone, paint the
        whole screen again. Textual repaints the cells under a removed toast from its layout map,
        and a hidden screen's refresh (the Services screen polls every second) can rebuild that map
        without the toast first: the notification then stayed on the terminal for good."""
        super()._unnotify(notification, refresh)
        self.call_after_refresh(self._repaint_when_gone, notification)

    def _repaint_when_gone(self, notification: Notification) -> None:
        """Paint the whole screen again once the toast of `notification` has left it."""
        from textual.widgets._toast import Toast

        if any(toast._notification is notification for toast in self.screen.query(Toast)):
            self.call_after_refresh(self._repaint_when_gone, notification)
        else:
            self.refresh()

    def _refresh_notifications(self) -> None:
        """Notifications wait while the help is open (toasts would cover its last rows); they show
        when it closes, unless they expired meanwhile."""
        from widgets.common.dialogs import HelpDialog

        if self.screen_stack and isinstance(self.screen_stack[-1], HelpDialog):
            return
        super()._refresh_notifications()

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
        title = next(t.title for t in SCREENS if t.id == self.active_screen)
        from widgets.common.dialogs import HelpDialog

        self.push_screen(HelpDialog(f"Keys of the {title} screen", own + generic))
