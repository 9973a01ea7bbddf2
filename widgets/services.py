"""The Services screen: supervisord's programs, live, with start/stop/restart/signal and their logs."""

from __future__ import annotations

import functools
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Log, Static

from console.errors import UserError
from console.supervisor.client import Prefetch, Program, Snapshot
from console.text import printable, printable_lines
from widgets.common.entries import EntryList
from widgets.common.screen import ActionTarget, PaletteCommand
from widgets.messages import ActionFinished

STATE_STYLES = {
    "RUNNING": "bold green",
    "STARTING": "yellow",
    "BACKOFF": "bold yellow",
    "STOPPING": "yellow",
    "STOPPED": "dim",
    "EXITED": "bold red",
    "FATAL": "bold red reverse",
    "UNKNOWN": "bold red",
}
# (key, title, right-aligned); the description takes the rest of the line and wraps there.
COLUMNS = (
    ("name", "Program", False),
    ("state", "State", False),
    ("pid", "PID", True),
    ("uptime", "Uptime", True),
    ("exit", "Exit", True),
    ("description", "Description", False),
)
MAX_BACKOFF_S = 5.0
LOG_CHUNK = 64 * 1024
LOG_POLL_S = 0.5


def format_uptime(seconds: int | None) -> str:
    """`2d 03:04:05`-style uptime, or empty when not running."""
    if seconds is None:
        return ""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def program_cells(program: Program) -> tuple[tuple[str, str], ...]:
    """A program's row: (text, style) per column, the text printable (names come from a config file)."""
    stopped = program.state in ("STOPPED", "EXITED", "FATAL", "BACKOFF")
    return (
        (printable(program.fullname), ""),
        (program.state, STATE_STYLES.get(program.state, "")),
        (str(program.pid) if program.pid else "", ""),
        (format_uptime(program.uptime_s), ""),
        (str(program.exitstatus) if stopped and program.stop else "", ""),
        (printable(program.spawnerr or program.description), ""),
    )


class ProgramTable(EntryList):
    """One row per program under column titles, the description wrapped in the last column.

    Redrawing a row is putting a few segments together: the uptime changes every second, and
    Textual's DataTable rendered every cell through Rich again for that (most of the idle CPU).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"program-table--header", "program-table--stripe"}
    DEFAULT_CSS = """
    ProgramTable { height: auto; background: $surface; }
    ProgramTable:focus { background-tint: $foreground 5%; }
    ProgramTable > .program-table--header { text-style: bold; background: $panel-lighten-1; }
    ProgramTable > .program-table--stripe { background: $surface-lighten-1 50%; }
    ProgramTable:dark > .program-table--stripe { background: $surface-darken-1 40%; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.names: list[str] = []
        """The programs' API names (group:name), in the order shown."""
        self.rows: list[tuple[tuple[str, str], ...]] = []
        """Each program's cells (see program_cells)."""

    def set_programs(self, programs: Sequence[Program]) -> None:
        """Show these programs; the cursor stays on the same program. Nothing is drawn if nothing changed."""
        names, rows = [p.fullname for p in programs], [program_cells(p) for p in programs]
        if names == self.names and rows == self.rows:
            return
        keep = self.selected
        self.names, self.rows = names, rows
        self.changed([True] * len(names), names.index(keep) if keep in names else None)

    @property
    def selected(self) -> str | None:
        """The program under the cursor (its API name), if any."""
        return self.names[self.highlighted] if self.highlighted is not None and self.names else None

    def select(self, name: str) -> None:
        """Put the cursor on a program."""
        self.move_to(self.names.index(name))

    def cell(self, name: str, key: str) -> str:
        """The text of one cell."""
        column = [k for k, _, _ in COLUMNS].index(key)
        return self.rows[self.names.index(name)][column][0]

    def line_style(self, entry: int) -> Style:
        return self.get_component_rich_style("program-table--stripe") if entry % 2 else Style()

    def lay_out(self, width: int) -> tuple[list[Strip], list[list[Strip]]]:
        titles = tuple((title, "") for _, title, _ in COLUMNS)
        widths = [
            max(cell_len(row[i][0]) for row in (titles, *self.rows))
            for i in range(len(COLUMNS) - 1)
        ]
        rest = max(12, width - sum(widths) - 2 * len(COLUMNS))
        header = self._line(titles, [*widths, rest], width).apply_style(
            self.get_component_rich_style("program-table--header")
        )
        entries = []
        for row in self.rows:
            text, style = row[-1]
            wrapped = textwrap.wrap(text, rest, break_on_hyphens=False) or [""]
            lines = [self._line((*row[:-1], (wrapped[0], style)), [*widths, rest], width)]
            blank = tuple(("", "") for _ in row[:-1])
            lines += [
                self._line((*blank, (more, style)), [*widths, rest], width) for more in wrapped[1:]
            ]
            entries.append(lines)
        return [header], entries

    @staticmethod
    def _line(cells: tuple[tuple[str, str], ...], widths: list[int], width: int) -> Strip:
        segments = []
        for (text, style), (_, _, right), size in zip(cells, COLUMNS, widths, strict=True):
            pad = " " * max(0, size - cell_len(text))
            segments += [
                Segment(" " + pad if right else " "),
                Segment(text, _style(style)),
                Segment(" " if right else pad + " "),
            ]
        return Strip(segments).crop_extend(0, width, None)


@functools.cache
def _style(name: str) -> Style:
    return Style.parse(name) if name else Style()


class ServicesScreen(Vertical):
    """All supervisord programs, polled without overlap; actions go through the app's dispatcher."""

    DEFAULT_CSS = """
    ServicesScreen { height: 1fr; }
    #services-banner { background: $error 40%; padding: 0 1; height: auto; }
    #programs { max-height: 60%; }
    #programs.stale { opacity: 50%; text-style: dim; }
    #log-title { height: 1; }
    #program-log { height: 1fr; border: none; scrollbar-size-horizontal: 0; }
    """

    BINDINGS = [
        Binding("s", "start", "Start", id="program.start"),
        Binding("x", "stop", "Stop", id="program.stop"),
        Binding("r", "restart", "Restart", id="program.restart"),
        Binding("k", "signal", "Signal", id="program.signal"),
        Binding("l", "show_log", "Output", id="services.log"),
        Binding("e", "toggle_stream", "stdout/stderr", id="services.stream", show=False),
        Binding("m", "main_log", "supervisord log", id="services.mainlog", show=False),
        Binding("c", "clear_log", "Hide output", id="services.hidelog", show=False),
        Binding("left", "scroll_log(-1)", "Output to the left", id="services.log_left", show=False),
        Binding(
            "right", "scroll_log(1)", "Output to the right", id="services.log_right", show=False
        ),
    ]
    MUTATING = {
        "start": "program.start",
        "stop": "program.stop",
        "restart": "program.restart",
        "signal": "program.signal",
    }

    class ProgramsRefreshed(Message):
        """A poll of supervisord succeeded."""

        def __init__(self, snapshot: Snapshot) -> None:
            super().__init__()
            self.snapshot = snapshot

        def can_replace(self, message: Message) -> bool:
            """A newer snapshot waiting behind this one makes it pointless to draw."""
            return isinstance(message, ServicesScreen.ProgramsRefreshed)

    class SupervisorDown(Message):
        """A poll of supervisord failed; `reason` is one sentence."""

        def __init__(self, reason: str, retry_in: float) -> None:
            super().__init__()
            self.reason = reason
            self.retry_in = retry_in

    class LogFetched(Message):
        """New output of the followed log (a program's stream, or supervisord's own log), read for
        the `follow`-th time a log was chosen (an answer for an earlier choice is dropped)."""

        def __init__(self, follow: int, text: str, offset: int, error: str = "") -> None:
            super().__init__()
            self.follow = follow
            self.text = text
            self.offset = offset
            self.error = error

    def __init__(
        self,
        supervisor: Any,
        refresh_interval: float,
        read_only: bool,
        prefetch: Prefetch | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prefetch = prefetch
        self.supervisor = supervisor
        self.refresh_interval = refresh_interval
        self.read_only = read_only
        self.snapshot: Snapshot | None = None
        self.connected: bool | None = None
        self._wake = threading.Event()  # set: poll now (or stop, once the view has stopped running)
        self._log_source: tuple[str, str] | None = None  # (program or "", "stdout"/"stderr"/"main")
        self._log_follow = 0  # how many times a log was chosen or hidden: only the last one reads
        self._log_offset = 0
        self._log_tail = ""
        self._log_error = (
            ""  # the read error last written to the output pane ("" after a good read)
        )
        self._log_delay = LOG_POLL_S  # seconds until the next read: doubled while reads fail
        self._first: Snapshot | None = None

    def compose(self) -> ComposeResult:
        banner = Static("", id="services-banner")
        banner.display = False
        yield banner
        table = ProgramTable(id="programs")
        self._first = self.prefetch.take(timeout=1.0) if self.prefetch else None
        if self._first is not None:
            table.set_programs(self._first.programs)  # in the very first frame, no second layout
        yield table
        # The output pane (title and log) is made when first asked for: start-up does not pay for it.

    def on_mount(self) -> None:
        if self.app.initial_screen == "services":  # type: ignore[attr-defined]
            self.query_one("#programs").focus()
        if self._first is not None:
            self.post_message(self.ProgramsRefreshed(self._first))
        # A daemon thread, not a thread worker: the app's exit joins its workers' threads, and this one
        # sleeps between polls. It ends by itself once the view has stopped running.
        self.poller = threading.Thread(
            target=self._poll_loop,
            args=(self._first is not None,),
            name="supervisor-poll",
            daemon=True,
        )
        self.poller.start()

    def on_unmount(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ polling

    def poll(self) -> None:
        """Poll now rather than at the end of the interval (an action may have changed a program)."""
        self._wake.set()

    def _poll_loop(self, wait_first: bool) -> None:
        """Read supervisord, post what it said, wait; in a thread of its own, so polls never overlap.
        It waits the refresh interval after each answer (doubling it while supervisord is away, up to
        MAX_BACKOFF_S), or less when `poll()` asks; it never touches a widget."""
        delay = self.refresh_interval if wait_first else 0.0
        while True:
            if self._wake.wait(delay):
                self._wake.clear()
            if not self.is_running:
                return
            try:
                message: Message = self.ProgramsRefreshed(self.supervisor.snapshot())
                delay = self.refresh_interval
            except Exception as exc:  # noqa: BLE001 - the console never dies on a backend error
                delay = min(MAX_BACKOFF_S, max(delay, self.refresh_interval) * 2)
                reason = (
                    str(exc) if isinstance(exc, UserError) else f"supervisord poll failed: {exc}"
                )
                message = self.SupervisorDown(reason, delay)
            self.post_message(message)

    def _torn_down(self) -> bool:
        """The table or banner is gone: the console is closing while a poll's answer was in flight."""
        return not self.query("#programs") or not self.query("#services-banner")

    def on_services_screen_programs_refreshed(self, message: ProgramsRefreshed) -> None:
        if self._torn_down():
            return
        self.snapshot = message.snapshot
        self.connected = True
        self._update_table(message.snapshot)
        self.query_one("#services-banner").display = False
        self.query_one("#programs").remove_class("stale")

    def on_services_screen_supervisor_down(self, message: SupervisorDown) -> None:
        if self._torn_down():
            return
        self.connected = False
        banner = self.query_one("#services-banner", Static)
        seen = ""
        if self.snapshot is not None:
            seen = (
                f"; table as of {time.strftime('%H:%M:%S', time.localtime(self.snapshot.taken_at))}"
            )
        banner.update(
            Text(
                f"Disconnected: {printable(message.reason)}. Retrying every {message.retry_in:g} s{seen}.",
                style="bold",
            )
        )
        banner.display = True
        self.query_one("#programs").add_class("stale")

    def _update_table(self, snapshot: Snapshot) -> None:
        self.query_one("#programs", ProgramTable).set_programs(snapshot.programs)

    # ------------------------------------------------------------------ actions

    def selected(self) -> str | None:
        """The program under the cursor (its API name), if any."""
        return self.query_one("#programs", ProgramTable).selected

    def refusal_target(self) -> str:
        """What a refused key would have acted on (for the audit log)."""
        return self.selected() or ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Mutating keys do not exist in read-only mode (hidden from footer and help)."""
        if action in self.MUTATING and self.read_only:
            return False
        return True

    def _act(self, action: str, **params: str) -> None:
        name = self.selected()
        if name is None:
            self.app.notify("No program selected.", severity="warning")
            return
        self.app.request_action(action, name, params)  # type: ignore[attr-defined]

    def action_start(self) -> None:
        self._act("program.start")

    def action_stop(self) -> None:
        self._act("program.stop")

    def action_restart(self) -> None:
        self._act("program.restart")

    def action_signal(self) -> None:
        name = self.selected()
        if name is not None:
            self._signal_dialog(name)

    def _signal_dialog(self, name: str) -> None:
        """Ask which signal (HUP preselected), then dispatch it; the dialog is the confirmation."""

        def chosen(signal_name: str | None) -> None:
            if signal_name:
                self.app.request_action(  # type: ignore[attr-defined]
                    "program.signal",
                    name,
                    {"signal": signal_name},
                    confirmed=True,
                )

        from widgets.common.dialogs import SignalDialog

        self.app.push_screen(SignalDialog(name), chosen)

    def palette_commands(self) -> Iterator[PaletteCommand]:
        """No entries of its own: the program actions come from the registry (`action_targets`)."""
        return iter(())

    def action_targets(self, name: str) -> Iterator[ActionTarget]:
        """Every program of the last poll, for each program action."""
        if self.snapshot is not None and name.startswith("program."):
            for program in self.snapshot.programs:
                yield program.fullname, ""

    def start_action(self, name: str, target: str) -> None:
        """Signal asks which signal first (the dialog is the confirmation); the others go to the app."""
        if name == "program.signal":
            self._signal_dialog(target)
        else:
            self.app.request_action(name, target)  # type: ignore[attr-defined]

    def handle_action_result(self, message: ActionFinished) -> None:
        """Any finished action may have changed a program: poll now rather than in a moment."""
        self.poll()

    def unsaved_changes(self) -> bool:
        """Nothing on this screen is edited in place."""
        return False

    # ------------------------------------------------------------------ logs

    @on(ProgramTable.Selected)
    def _program_chosen(self, event: ProgramTable.Selected) -> None:
        self.action_show_log()

    def action_show_log(self, stream: str = "stdout") -> None:
        name = self.selected()
        if name is not None:
            self._follow((name, stream))

    def action_toggle_stream(self) -> None:
        if self._log_source and self._log_source[1] in ("stdout", "stderr"):
            other = "stderr" if self._log_source[1] == "stdout" else "stdout"
            self._follow((self._log_source[0], other))

    def action_main_log(self) -> None:
        self._follow(("", "main"))

    def action_scroll_log(self, direction: int) -> None:
        """Scroll the output sideways (a long line is read in steps of a third of the width)."""
        log = next(self.query("#program-log").results(Log), None)
        if log is None or not log.display:
            return
        step = max(10, log.size.width // 3)
        column = max(0, min(log.max_scroll_x, log.scroll_x + direction * step))
        log.scroll_to(x=column, animate=False, immediate=True)
        self._log_title(column)

    def _log_title(self, column: float = 0) -> None:
        """The output's title line: what is followed, and the column shown first when scrolled."""
        if self._log_source is None:
            return
        name, stream = self._log_source
        shown = "supervisord main log" if stream == "main" else f"{name} {stream}"
        where = f"  ◂ col {int(column) + 1}" if column > 0 else ""
        self.query_one("#log-title", Static).update(
            Text(
                f" {printable(shown)} (following; ←→ long lines, c hides){where}",
                style="bold reverse",
            )
        )

    def action_clear_log(self) -> None:
        self._log_source = None
        self._log_follow += 1
        self.query("#log-title, #program-log").set(display=False)

    def _follow(self, source: tuple[str, str]) -> None:
        """Show and follow a log; the fetch re-arms itself, one at a time."""
        self._log_source = source
        self._log_follow += 1  # the reads of an earlier choice, in flight or armed, now stop
        self._log_offset = 0
        self._log_tail = ""
        self._log_error = ""
        self._log_delay = LOG_POLL_S
        log = next(self.query("#program-log").results(Log), None)
        if log is not None:
            title = self.query_one("#log-title", Static)
            log.clear()
        else:
            log, title = (
                Log(id="program-log", max_lines=5000, auto_scroll=True),
                Static(id="log-title"),
            )
            self.mount(title, log)
        self._log_title()
        title.display = log.display = True
        self.fetch_log(source, 0, self._log_follow)

    @work(thread=True, exclusive=True, exit_on_error=False, group="program-log")
    def fetch_log(self, source: tuple[str, str], offset: int, follow: int) -> None:
        """Read what is new in the followed log through supervisord's log API."""
        name, stream = source
        try:
            if stream == "main":
                self.post_message(
                    self.LogFetched(follow, self.supervisor.main_log(-LOG_CHUNK, 0), 0)
                )
            else:
                chunk = self.supervisor.tail(name, offset, LOG_CHUNK, stream)
                self.post_message(self.LogFetched(follow, chunk.text, chunk.offset))
        except UserError as exc:
            self.post_message(self.LogFetched(follow, "", offset, str(exc)))
        except Exception as exc:  # noqa: BLE001 - never crash on a backend error
            self.post_message(self.LogFetched(follow, "", offset, f"log read failed: {exc}"))

    def on_services_screen_log_fetched(self, message: LogFetched) -> None:
        if message.follow != self._log_follow or self._log_source is None:
            return  # a late answer for an earlier choice: its text is shown already, or not wanted
        log = self.query_one("#program-log", Log)
        if message.error:
            # Said once, not at every retry (it would push the output away); retried less and less often.
            if message.error != self._log_error:
                _note(log, printable(f"-- {message.error}; retrying --"))
            self._log_error = message.error
            self._log_delay = min(MAX_BACKOFF_S, self._log_delay * 2)
        else:
            if self._log_error:
                _note(log, "-- reading the output again --")
            self._log_error, self._log_delay = "", LOG_POLL_S
            if self._log_source[1] == "main":
                log.write(self._new_main_text(message.text))
            else:
                log.write(printable_lines(message.text))
                self._log_offset = message.offset
        self.set_timer(self._log_delay, lambda: self._refetch(message.follow))

    def _refetch(self, follow: int) -> None:
        """The next read of the log chosen `follow`-th, unless another was chosen (or none) since."""
        if follow == self._log_follow and self._log_source is not None:
            self.fetch_log(self._log_source, self._log_offset, follow)

    def _new_main_text(self, text: str) -> str:
        """The part of supervisord's main-log tail not shown yet (readLog gives only the last bytes)."""
        previous, self._log_tail = self._log_tail, text
        if previous:
            anchor = previous[-200:]
            at = text.rfind(anchor)
            text = text[at + len(anchor) :] if at >= 0 else text
        return printable_lines(text)


def _note(log: Log, text: str) -> None:
    """Write a line of the console's own on a line of its own (the output may end mid-line)."""
    log.write(("\n" if log.lines and log.lines[-1] else "") + text + "\n")
