"""The lines around every screen: the header (host, supervisord's state, READ-ONLY), the screen bar and
the key bar."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.events import Click
from textual.widgets import Input, Static, TextArea

from console.settings import Settings
from console.text import printable

if TYPE_CHECKING:
    pass


class AppHeader(Static):
    """Host name, supervisord URL and connection state, and a READ-ONLY badge."""

    DEFAULT_CSS = (
        "AppHeader { height: 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }"
    )

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
        # The URL comes last: on a narrow terminal it is what gets cut, never the state or the badge.
        text = Text.assemble(
            (" mailconsole ", "bold reverse"),
            " ",
            (printable(self.hostname), "bold"),
            "  ",
            ("● " + self.state, style),
        )
        if self.settings.read_only:
            text.append("  ")
            text.append(" READ-ONLY ", style="bold white on red")
        text.append("  " + printable(self.settings.supervisor_url))
        self.update(text)


class ScreenBar(Static):
    """One line naming every screen with its key, the current one highlighted; a click switches.
    When the keys do not fit (nine screens at 80 columns), the titles alone (`?` lists the keys).

    Not Textual's TabbedContent: its tabs, underline and panes cost a sixth of the start-up.
    """

    DEFAULT_CSS = """
    ScreenBar { height: 1; background: $panel; }
    ScreenBar > .screen-bar--active { background: $accent; color: $text; text-style: bold; }
    ScreenBar > .screen-bar--key { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"screen-bar--active", "screen-bar--key"}

    def __init__(self, active: str, screens: Sequence[tuple[str, str, str]]) -> None:
        """`screens`: (id, title, key) of every screen, in order."""
        super().__init__(id="screen-bar")
        self.active = active
        self.screens = list(screens)
        self._spans: list[tuple[int, int, str]] = []
        self._shown: tuple[str, list[tuple[int, int, str]]] | None = None

    def on_mount(self) -> None:
        self.show(self.active)

    def on_resize(self) -> None:
        self.show(self.active)

    def show(self, screen_id: str) -> None:
        """Highlight `screen_id`."""
        self.active = screen_id
        text, spans = self._line(keys=True)
        if text.cell_len > (self.size.width or 80):
            text, spans = self._line(keys=False)
        if (
            screen_id,
            spans,
        ) != self._shown:  # updating lays out again: a resize, if allowed, loops
            self._shown = (screen_id, spans)
            self._spans = spans
            self.update(text)

    def _line(self, keys: bool) -> tuple[Text, list[tuple[int, int, str]]]:
        """The bar's text, with or without each screen's key, and where each screen is on it."""
        active_style = self.get_component_rich_style("screen-bar--active")
        key_style = self.get_component_rich_style("screen-bar--key")
        text = Text(no_wrap=True, overflow="ellipsis")
        spans = []
        for this_id, title, key in self.screens:
            start = len(text)
            text.append(f" {title} ", style=active_style if this_id == self.active else "")
            if keys:
                text.append(key.upper(), style=key_style)
            spans.append((start, len(text), this_id))
            text.append(" ")
        return text, spans

    def on_click(self, event: Click) -> None:
        for start, end, screen_id in self._spans:
            if start <= event.x < end:
                self.app.show_screen(screen_id)  # type: ignore[attr-defined]


class KeyBar(Static):
    """The current screen's keys on one line, as Textual's Footer shows them but as one widget.

    Only enabled keys are listed: in read-only mode the mutating ones are not offered.
    """

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; }
    KeyBar > .key-bar--key { color: $accent; text-style: bold; }
    """
    COMPONENT_CLASSES = {"key-bar--key"}

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Any) -> None:
        if screen is self.screen:
            self.refresh()

    def on_resize(self) -> None:
        self.refresh()

    def render(self) -> Text:
        return self.keys_text(self.size.width or 80)

    def keys_text(self, width: int) -> Text:
        """`key description` for every shown, enabled binding, one per action, then the palette. When
        they do not fit, the screen's last keys give way to "…": help (which lists them all), quit and
        the palette always stay."""
        screen_keys: list[tuple[str, str]] = []
        app_keys: list[tuple[str, str]] = []
        actions: set[str] = set()
        palette: tuple[str, str] | None = None
        # In a text field `q` types a q: the key bar then names the key that quits from there.
        typing = isinstance(self.app.focused, (Input, TextArea))
        for node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.action == "command_palette":
                palette = (self.app.get_key_display(binding), "palette")
                continue
            if not binding.show or not enabled or binding.action in actions:
                continue
            actions.add(binding.action)
            item = (self.app.get_key_display(binding), binding.description)
            if binding.action == "quit" and typing:
                item = ("^q", binding.description)
            (app_keys if node is self.app else screen_keys).append(item)
        if typing and not any(description == "Quit" for _, description in app_keys):
            app_keys.insert(0, ("^q", "Quit"))  # the field took `q` out of the bindings
        pinned = app_keys + ([palette] if palette else [])
        cut = False
        while (
            screen_keys
            and sum(len(k) + len(d) + 3 for k, d in screen_keys + pinned) + 3 * cut > width
        ):
            screen_keys.pop()
            cut = True
        key_style = self.get_component_rich_style("key-bar--key")
        text = Text(no_wrap=True, overflow="ellipsis")
        for key, description in screen_keys:
            text.append(f" {key}", style=key_style)
            text.append(f" {description} ")
        if cut:
            text.append(" … ")
        for key, description in pinned:
            text.append(f" {key}", style=key_style)
            text.append(f" {description} ")
        return text
