"""The Queue screen: OpenSMTPD's queue, live, grouped by message, with the story of each message.

The table is a Line-API ScrollView that renders only the visible rows, so 100,000 envelopes cost
what 40 do; a refresh swaps the row list, it never rebuilds widgets. smtpctl runs in threads whose
results come back as messages; the next refresh is armed only when the last one finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Input, Static

from console.errors import UserError
from console.queue.parse import SUBSYSTEMS, Envelope, QueueSnapshot, collector_paused, split_message
from console.queue.smtpctl import read_envelope, read_message, read_queue, read_status
from console.queue.story import message_id_header, message_story
from console.queue.summary import (
    SORT_KEYS,
    BadRow,
    MessageRow,
    QueueRow,
    QueueSummary,
    counted,
    envelope_field,
    human_age,
    next_try,
    summarise,
    table_rows,
)
from console.settings import Settings
from console.text import printable
from widgets.common.dialogs import ConfirmDialog
from widgets.common.entries import CURSOR_KEYS, fit_cell
from widgets.common.repaint import RepaintOnResize
from widgets.common.screen import ActionTarget
from widgets.messages import ActionFinished

REFRESH_S = 2.0
"""Seconds between two reads of the queue (armed after the previous read finished)."""
BUSY_FACTOR = 5.0
"""The next read waits at least this many times as long as the last read took (a huge queue is
read less often, so polling stays under about a fifth of a core)."""
MARK_S = 10.0
"""How long new envelopes stay marked `+` and vanished ones stay listed, marked `-`."""

# (key, title, width); the error column takes the rest of the line. Below WIDE_AT columns the
# sender, type, tries and next-try columns give their room to the error (the details have them).
COLUMNS = (
    ("mark", "", 1),
    ("evpid", "Envelope", 16),
    ("type", "Type", 6),
    ("sender", "Sender", 22),
    ("rcpt", "Recipient", 26),
    ("age", "Age", 5),
    ("retry", "Try", 4),
    ("state", "State", 8),
    ("next", "Next", 10),
    ("error", "Error", 0),
)
NARROW = ("mark", "evpid", "rcpt", "age", "state", "error")
WIDE_AT = 120
STATE_STYLES = {
    "pending": "yellow",
    "inflight": "cyan",
    "paused": "bold magenta",
    "offline": "dim",
    "invalid": "bold red",
}
MARK_STYLES = {"+": "bold green", "-": "bold red", "*": "bold reverse"}
SHORT_BELOW = 36
"""Below this many rows (the screen's own height) open details push the summary aside."""


def columns(width: int) -> list[tuple[str, str, int]]:
    """The columns shown at a table width."""
    return [c for c in COLUMNS if width >= WIDE_AT or c[0] in NARROW]


def _cells(cells: list[tuple[str, int, str]], width: int) -> Text:
    """Fixed-width cells of untrusted text (never markup) a space apart, cut values ending in "…";
    the cell of width 0 takes the rest of the table's width."""
    rest = max(0, width - sum(size + 1 for _, size, _ in cells if size))
    return Text(" ").join(
        Text(fit_cell(value, size or rest), style=style, no_wrap=True, end="")
        for value, size, style in cells
    )


def header_text(width: int) -> Text:
    """The column titles for a table width."""
    return _cells([(title, size, "bold") for _, title, size in columns(width)], width)


def row_text(row: QueueRow, now: float, mark: str, width: int) -> Text:
    """One table row as Text: a message heading, an envelope, or an unparsed line."""
    if isinstance(row, BadRow):
        return Text.assemble(("! unparsed: ", "bold red"), (printable(row.text), ""))
    if isinstance(row, MessageRow):
        plural = "" if row.count == 1 else "s"
        return Text.assemble(
            ("▾ ", "dim"), (row.msgid, "bold"), (f"  {row.count} envelope{plural}", "dim")
        )
    e = row
    values = {
        "mark": (mark, MARK_STYLES.get(mark, "")),
        "evpid": (e.evpid, "dim"),
        "type": (e.type, ""),
        "sender": (e.sender, ""),
        "rcpt": (e.rcpt, ""),
        "age": (human_age(e.age(now)), ""),
        "retry": (str(e.retry), ""),
        "state": (e.state, STATE_STYLES.get(e.state, "")),
        "next": (next_try(e), ""),
        "error": (e.error, "red" if e.error else ""),
    }
    text = _cells(
        [(values[key][0], size, values[key][1]) for key, _, size in columns(width)], width
    )
    if mark == "-":
        text.stylize("strike dim")
    return text


class QueueTable(RepaintOnResize, ScrollView, can_focus=True):
    """Virtualised queue rows with a cursor: only the visible lines are ever rendered."""

    COMPONENT_CLASSES = {"queue-table--cursor"}
    DEFAULT_CSS = """
    QueueTable > .queue-table--cursor { background: $accent 40%; }
    QueueTable:focus > .queue-table--cursor { background: $accent; }
    """
    BINDINGS = CURSOR_KEYS

    cursor: reactive[int] = reactive(0, always_update=True)

    class CursorMoved(Message):
        """The cursor is on another row."""

        def __init__(self, row: QueueRow | None) -> None:
            super().__init__()
            self.row = row

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[QueueRow] = []
        self.marks: Callable[[QueueRow], str] = lambda row: ""
        self.now = time.time()
        self.empty = ""
        """What the table says when it has no rows (why: an empty queue, or a filter)."""

    def set_rows(
        self, rows: list[QueueRow], now: float, marks: Callable[[QueueRow], str], keep: str | None
    ) -> None:
        """Show new rows; the cursor stays on the envelope or message `keep` when it is still there."""
        self.rows = rows
        self.now = now
        self.marks = marks
        self.virtual_size = Size(self.size.width, len(rows))
        index = self.cursor
        if keep is not None:
            index = next((i for i, r in enumerate(rows) if self._key(r) == keep), index)
        self.cursor = max(0, min(index, len(rows) - 1))
        self.refresh()

    @staticmethod
    def _key(row: QueueRow) -> str:
        """What identifies a row across refreshes: evpid, msgid, or the unparsed text."""
        if isinstance(row, Envelope):
            return row.evpid
        return row.msgid if isinstance(row, MessageRow) else row.text

    def current(self) -> QueueRow | None:
        """The row under the cursor."""
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def current_key(self) -> str | None:
        """The key (see _key) of the row under the cursor."""
        row = self.current()
        return self._key(row) if row is not None else None

    def watch_cursor(self, old: int, new: int) -> None:
        self.scroll_to_region(Region(0, new, 1, 1), animate=False, immediate=True)
        self.refresh()
        self.post_message(self.CursorMoved(self.current()))

    def action_move(self, step: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + step))

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(1, self.size.height - 1))

    def on_click(self, event: Any) -> None:
        index = int(self.scroll_offset.y) + event.y
        if 0 <= index < len(self.rows):
            self.cursor = index

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.size.width
        if index >= len(self.rows):
            if index == 0 and self.empty:
                text = Text(f"  {self.empty}", style="dim italic", no_wrap=True)
                return Strip(list(text.render(self.app.console))).adjust_cell_length(
                    width, self.rich_style
                )
            return Strip.blank(width, self.rich_style)
        row = self.rows[index]
        text = row_text(row, self.now, self.marks(row), width)
        segments = list(text.render(self.app.console))
        strip = Strip(segments).adjust_cell_length(width, self.rich_style)
        base = self.rich_style
        if index == self.cursor:
            base = base + self.get_component_rich_style("queue-table--cursor")
        return strip.apply_style(base)


class QueueScreen(Vertical):
    """The queue: summary strip, filter, table, details; actions through the app's dispatcher."""

    DEFAULT_CSS = """
    QueueScreen { height: 1fr; }
    #queue-banner { background: $error 40%; padding: 0 1; height: auto; }
    #queue-summary { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    #queue-filter { height: 3; }
    #queue-header { height: 1; }
    QueueTable { height: 1fr; min-height: 5; overflow-x: hidden; }
    QueueTable.stale { opacity: 50%; }
    #queue-details { height: 1fr; border-top: solid $accent; padding: 0 1; }
    /* With the details open on a short terminal the table keeps a few rows around the cursor
       and the summary steps aside: the details get the room. */
    QueueScreen.details.short #queue-summary { display: none; }
    QueueScreen.details.short QueueTable { height: 5; min-height: 5; }
    QueueScreen.details.short #queue-details { height: 1fr; }
    """

    BINDINGS = [
        Binding("r", "retry", "Retry now", id="queue.schedule"),
        Binding("R", "retry_all('all')", "Retry all", id="queue.schedule_all"),
        Binding("d", "remove", "Remove", id="queue.remove"),
        Binding("p", "pause", "Pause", id="queue.pause"),
        Binding("u", "resume", "Resume", id="queue.resume"),
        Binding("space", "select", "Select", id="queue.select"),
        Binding("1", "toggle_subsystem('mda')", "mda on/off", id="queue.subsystem_mda"),
        Binding("2", "toggle_subsystem('mta')", "mta on/off", id="queue.subsystem_mta"),
        Binding("3", "toggle_subsystem('smtp')", "smtp on/off", id="queue.subsystem_smtp"),
        Binding("slash", "filter", "Filter", id="queue.filter"),
        Binding("s", "sort", "Sort", id="queue.sort"),
        Binding("o", "order", "Reverse", id="queue.order"),
        Binding("g", "group", "Group", id="queue.group"),
        Binding("enter", "details", "Details", id="queue.details"),
        Binding("b", "body", "Body", id="queue.body"),
        Binding("escape", "close", "Close", show=False, id="queue.close"),
    ]
    MUTATING = {
        "retry": "queue.schedule",
        "retry_all": "queue.schedule",
        "remove": "queue.remove",
        "pause": "queue.pause",
        "resume": "queue.resume",
        "toggle_subsystem": "queue.pause_subsystem",
    }
    """The mutating keys' actions and the dispatcher's action each stands for."""

    class QueueLoaded(Message):
        """A read of the queue finished: the snapshot, smtpd's agents, or one sentence of error."""

        def __init__(
            self,
            snapshot: QueueSnapshot | None,
            status: dict[str, str],
            error: str = "",
            seconds: float = 0.0,
            rows: list[QueueRow] | None = None,
            summary: QueueSummary | None = None,
            view: tuple[str, bool, str, bool] | None = None,
        ) -> None:
            super().__init__()
            self.snapshot = snapshot
            self.status = status
            self.error = error
            self.seconds = seconds
            self.rows = rows
            self.summary = summary
            self.view = view

    class RowsReady(Message):
        """The table rows for a snapshot, sorted and filtered."""

        def __init__(self, generation: int, rows: list[QueueRow], summary: QueueSummary) -> None:
            super().__init__()
            self.generation = generation
            self.rows = rows
            self.summary = summary

    class DetailsLoaded(Message):
        """What `show envelope`, `show message` and the logs say about one envelope or message."""

        def __init__(self, key: str, text: Text) -> None:
            super().__init__()
            self.key = key
            self.text = text

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        refresh_s: float = REFRESH_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.clock = clock
        self.refresh_s = refresh_s
        self.snapshot: QueueSnapshot | None = None
        self.status: dict[str, str] = {}
        self.error = ""
        self.sort = "age"
        self.reverse = False
        self.query_text = ""
        self.grouped = True
        self.selected: set[str] = set()
        self.first_seen: dict[str, float] = {}
        self.vanished: dict[str, tuple[Envelope, float]] = {}
        self.loads = 0
        self.generation = 0
        self.details_key: str | None = None
        self.summary: QueueSummary | None = None
        self.details_body = False
        self._timer: Timer | None = None
        self._reading = False
        self._read_again_soon = False

    def compose(self) -> ComposeResult:
        yield Static("", id="queue-banner")
        yield Static(Text("reading the queue…"), id="queue-summary")
        yield Input(
            placeholder="filter: text, sender:, rcpt:, domain:, state:, error:  (Esc clears)",
            id="queue-filter",
            disabled=True,
            select_on_focus=False,
        )
        yield Static(header_text(WIDE_AT), id="queue-header")
        yield QueueTable(id="queue-table")
        with VerticalScroll(id="queue-details"):
            yield Static("", id="queue-details-text")

    def on_resize(self) -> None:
        self.query_one("#queue-header", Static).update(header_text(self.size.width))
        self.set_class(self.size.height < SHORT_BELOW, "short")
        if self.summary is not None:
            self.query_one("#queue-summary", Static).update(self.summary_text(self.summary))

    def on_mount(self) -> None:
        self.query_one("#queue-banner").display = False
        self.query_one("#queue-filter").display = False
        self.query_one("#queue-details").display = False
        self._start_read()

    def on_show(self) -> None:
        """Shown (its screen opened): the keyboard goes to the table, unless a field has it."""
        if not isinstance(self.app.focused, Input) or self.app.focused.parent is not self:
            self.query_one(QueueTable).focus()

    # ------------------------------------------------------------------ reading the queue

    def refresh_soon(self, delay: float = 0.3) -> None:
        """Read the queue again shortly (after an action); never two reads at once."""
        if self._reading:
            self._read_again_soon = True
        else:
            self._arm(delay)

    def handle_action_result(self, message: ActionFinished) -> None:
        """A queue action (or any other) finished: see its effect now."""
        if message.name.startswith("queue."):
            self.refresh_soon(0.05)

    def unsaved_changes(self) -> bool:
        """Nothing on this screen is edited in place."""
        return False

    def _arm(self, delay: float) -> None:
        """The one timer that starts the next read."""
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(delay, self._start_read)

    def _start_read(self) -> None:
        self._timer = None
        if not self._reading:
            self._reading = True
            self.poll()

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-poll")
    def poll(self) -> None:
        """Read the queue (and smtpd's agents) once; the handler arms the next read."""
        started = time.monotonic()
        try:
            snapshot = read_queue(self.settings, now=self.clock())
        except UserError as exc:
            self.post_message(self.QueueLoaded(None, {}, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - the console never dies on a backend error
            self.post_message(self.QueueLoaded(None, {}, f"reading the queue failed: {exc}"))
            return
        status: dict[str, str] = {}
        if snapshot.smtpd_running:
            try:
                status = read_status(self.settings)
            except UserError:
                status = {}
        view = self.view_settings()
        with collector_paused():
            rows = table_rows(snapshot.envelopes, snapshot.bad_lines, *view)
            summary = summarise(snapshot.envelopes, snapshot.taken_at)
        self.post_message(
            self.QueueLoaded(
                snapshot,
                status,
                seconds=time.monotonic() - started,
                rows=rows,
                summary=summary,
                view=view,
            )
        )

    def view_settings(self) -> tuple[str, bool, str, bool]:
        """How the rows are made: sort key, reversed, filter text, grouped by message."""
        return (self.sort, self.reverse, self.query_text, self.grouped)

    def on_queue_screen_queue_loaded(self, message: QueueLoaded) -> None:
        self._reading = False
        soon = self._read_again_soon
        self._read_again_soon = False
        self._arm(0.1 if soon else max(self.refresh_s, BUSY_FACTOR * message.seconds))
        banner = self.query_one("#queue-banner", Static)
        problem = message.error or (message.snapshot.problem if message.snapshot else "")
        banner.update(Text(printable(problem), style="bold"))
        banner.display = bool(problem)
        if message.snapshot is None:
            self.query_one(QueueTable).add_class("stale")
            return
        self.query_one(QueueTable).remove_class("stale")
        self._track_changes(message.snapshot)
        self.snapshot = message.snapshot
        self.status = message.status
        self.loads += 1
        if (
            self.vanished
            or message.view != self.view_settings()
            or message.rows is None
            or message.summary is None
        ):
            self.rebuild()  # the rows must include the vanished ones, or the view changed meanwhile
        else:
            self.generation += 1
            self.show_rows(message.rows, message.summary)

    def _track_changes(self, snapshot: QueueSnapshot) -> None:
        """Remember when each envelope was first seen and keep vanished ones for MARK_S seconds."""
        now = snapshot.taken_at
        current = {e.evpid: e for e in snapshot.envelopes}
        if self.snapshot is not None:
            for envelope in self.snapshot.envelopes:
                if envelope.evpid not in current:
                    self.vanished[envelope.evpid] = (envelope, now)
        first_load = self.snapshot is None
        for evpid in current:
            if evpid not in self.first_seen:
                self.first_seen[evpid] = 0.0 if first_load else now
            self.vanished.pop(evpid, None)
        for evpid in [k for k, (_, gone) in self.vanished.items() if now - gone > MARK_S]:
            del self.vanished[evpid]
        for evpid in [k for k in self.first_seen if k not in current]:
            del self.first_seen[evpid]
        self.selected &= set(current)

    def mark(self, row: QueueRow) -> str:
        """`*` selected, `+` new, `-` vanished, else nothing."""
        if not isinstance(row, Envelope) or self.snapshot is None:
            return ""
        evpid = row.evpid
        if evpid in self.vanished:
            return "-"
        if evpid in self.selected:
            return "*"
        if self.snapshot.taken_at - self.first_seen.get(evpid, 0.0) < MARK_S:
            return "+"
        return ""

    def rebuild(self) -> None:
        """Recompute the rows (filter, sort, group) in a thread for the current snapshot."""
        if self.snapshot is None:
            return
        self.generation += 1
        envelopes = self.snapshot.envelopes + [e for e, _ in self.vanished.values()]
        # run_worker with a fixed description: @work would repr() 100,000 envelopes to name the job.
        self.run_worker(
            partial(
                self._build_rows,
                self.generation,
                envelopes,
                self.snapshot.bad_lines,
                self.snapshot.taken_at,
                self.view_settings(),
            ),
            thread=True,
            exclusive=True,
            exit_on_error=False,
            group="queue-rows",
            description="sort and filter the queue",
        )

    def _build_rows(
        self,
        generation: int,
        envelopes: list[Envelope],
        bad: list[str],
        now: float,
        view: tuple[str, bool, str, bool],
    ) -> None:
        """In a thread: the table rows and the summary for one snapshot and view settings."""
        with collector_paused():
            rows = table_rows(envelopes, bad, *view)
            summary = summarise(envelopes, now)
        self.post_message(self.RowsReady(generation, rows, summary))

    def on_queue_screen_rows_ready(self, message: RowsReady) -> None:
        if message.generation == self.generation:
            self.show_rows(message.rows, message.summary)

    def show_rows(self, rows: list[QueueRow], summary: QueueSummary) -> None:
        """Swap the table's rows (the cursor stays on its envelope) and the summary strip."""
        if self.snapshot is None:
            return
        table = self.query_one(QueueTable)
        table.empty = (
            ""
            if rows
            else "no envelope matches the filter (escape clears it)"
            if self.query_text
            else "the queue is empty"
        )
        table.set_rows(rows, self.snapshot.taken_at, self.mark, table.current_key())
        self.summary = summary
        self.query_one("#queue-summary", Static).update(self.summary_text(summary))

    def summary_text(self, summary: QueueSummary) -> Text:
        """The strip above the table: smtpd's agents, counts by state, age bands, top domains; each
        phrase kept whole on a line (a narrow terminal moves a phrase down, never cuts it)."""
        phrases: list[Text] = []
        if self.status:
            agent_states = [self.status.get(name, "?") for name in SUBSYSTEMS]
            if all(state == "running" for state in agent_states):
                phrases.append(
                    Text.assemble((" ".join(SUBSYSTEMS), "bold"), " ", ("running", "green"))
                )
            else:
                agents = Text()
                for name, state in zip(SUBSYSTEMS, agent_states, strict=True):
                    agents.append(f"{name} ", "bold")
                    agents.append(state, "green" if state == "running" else "bold red reverse")
                    agents.append(" ")
                agents.rstrip()
                phrases.append(agents)
        elif self.snapshot is not None and self.snapshot.smtpd_running is False:
            phrases.append(Text("smtpd down", "bold red reverse"))
        states = ", ".join(f"{n} {state}" for state, n in summary.by_state.items()) or "empty"
        phrases.append(
            Text(
                f"{counted(summary.total, 'envelope')}, "
                f"{counted(summary.messages, 'message')}: {states}"
            )
        )
        if summary.oldest is not None:
            phrases.append(Text(f"oldest {human_age(summary.oldest_age)} ({summary.oldest.evpid})"))
        if self.snapshot is not None and self.snapshot.bad_lines:
            phrases.append(Text(f"{len(self.snapshot.bad_lines)} unparsed lines", "bold red"))
        ages = "  ".join(f"{label} {n}" for label, n in summary.by_age.items() if n)
        phrases.append(Text.assemble(("age: ", "bold"), ages or "-"))
        domains = printable(
            ", ".join(f"{d or '?'} {n}" for d, n in list(summary.by_domain.items())[:4])
        )
        phrases.append(Text.assemble(("domains: ", "bold"), domains or "-"))
        order = "↓" if self.reverse else "↑"
        view = Text(f"sort {self.sort} {order}, {'by message' if self.grouped else 'flat'}", "dim")
        if self.query_text:
            view.append("   filter: ", "dim")
            view.append(printable(self.query_text))
        phrases.append(view)
        return lay_out(phrases, max(20, self.size.width - 2))

    # ------------------------------------------------------------------ sort, filter, group

    def action_sort(self) -> None:
        """Sort by the next column (age, sender, rcpt, domain, state, retry, next, error)."""
        index = SORT_KEYS.index(self.sort)
        self.sort = SORT_KEYS[(index + 1) % len(SORT_KEYS)]
        self.rebuild()

    def action_order(self) -> None:
        self.reverse = not self.reverse
        self.rebuild()

    def action_group(self) -> None:
        self.grouped = not self.grouped
        self.rebuild()

    def action_filter(self) -> None:
        field = self.query_one("#queue-filter", Input)
        field.disabled = False
        field.display = True
        # At once, not by `focus()` (a callback after the keys already queued): keys typed right
        # after `/` are the filter's, never the table's (where `r` would retry, `d` remove).
        self.screen.set_focus(field)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value.strip()
        self.rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(QueueTable).focus()

    def action_close(self) -> None:
        """Esc: close the details, else clear and hide the filter."""
        details = self.query_one("#queue-details")
        if details.display:
            details.display = False
            self.details_key = None
            self.remove_class("details")
        else:
            field = self.query_one("#queue-filter", Input)
            field.value = ""
            field.display = False
            field.disabled = True
        self.query_one(QueueTable).focus()

    # ------------------------------------------------------------------ selection and targets

    def _row_envelopes(self, row: QueueRow | None) -> list[Envelope]:
        """The envelopes a row stands for: itself, or all of its message."""
        if row is None or self.snapshot is None:
            return []
        if isinstance(row, Envelope):
            return [row]
        if isinstance(row, MessageRow):
            return [e for e in self.snapshot.envelopes if e.msgid == row.msgid]
        return []

    def action_select(self) -> None:
        """Mark or unmark the envelope (or the whole message) under the cursor."""
        table = self.query_one(QueueTable)
        evpids = {e.evpid for e in self._row_envelopes(table.current())}
        if evpids and evpids <= self.selected:
            self.selected -= evpids
        else:
            self.selected |= evpids
        table.action_move(1)
        table.refresh()

    def targets(self) -> tuple[list[str], int]:
        """The smtpctl targets of the next action and how many envelopes they cover: the selection
        (a whole selected message by its msgid), else the row under the cursor."""
        if self.snapshot is None:
            return [], 0
        if self.selected:
            by_message: dict[str, list[str]] = {}
            for envelope in self.snapshot.envelopes:
                by_message.setdefault(envelope.msgid, []).append(envelope.evpid)
            targets: list[str] = []
            for msgid, evpids in by_message.items():
                chosen = [e for e in evpids if e in self.selected]
                if chosen and len(chosen) == len(evpids):
                    targets.append(msgid)
                else:
                    targets.extend(chosen)
            return targets, len(self.selected)
        row = self.query_one(QueueTable).current()
        envelopes = self._row_envelopes(row)
        if row is None or not envelopes:
            return [], 0
        if isinstance(row, MessageRow):
            return [row.msgid], len(envelopes)
        return [envelopes[0].evpid], 1

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Mutating keys do not exist in read-only mode (hidden from footer and help)."""
        if action in self.MUTATING and self.settings.read_only:
            return False
        return True

    def refusal_target(self) -> str:
        """What a refused key would have acted on (for the audit log)."""
        return ",".join(self.targets()[0])

    def _run(self, name: str, targets: list[str]) -> None:
        for target in targets:
            self.app.request_action(name, target, confirmed=True)  # type: ignore[attr-defined]
        self.selected.clear()  # handle_action_result re-reads the queue as each one finishes

    def _act(self, name: str, verb: str, dangerous: bool = False) -> None:
        targets, count = self.targets()
        if not targets:
            self.notify("No envelope under the cursor or selected.", severity="warning")
            return
        if not dangerous:
            self._run(name, targets)
            return
        question = f"{verb} {counted(count, 'envelope')} ({', '.join(targets[:4])}{'…' if len(targets) > 4 else ''})?"

        def answered(yes: bool | None) -> None:
            if yes:
                self._run(name, targets)

        self.app.push_screen(ConfirmDialog(printable(question), yes_label=verb), answered)

    def action_retry(self) -> None:
        self._act("queue.schedule", "Retry")

    def action_retry_all(self, target: str = "all") -> None:
        """Retry every envelope (the binding names its target, so a read-only refusal audits "all")."""
        self._run("queue.schedule", [target])

    def action_remove(self) -> None:
        self._act("queue.remove", "Remove for good", dangerous=True)

    def action_pause(self) -> None:
        self._act("queue.pause", "Pause")

    def action_resume(self) -> None:
        self._act("queue.resume", "Resume")

    def action_toggle_subsystem(self, name: str) -> None:
        """Pause a running agent (with confirmation), resume a paused one."""
        state = self.status.get(name)
        if state is None:
            self.notify(f"{name}: state unknown (is smtpd running?)", severity="warning")
            return
        if state == "paused":
            self._run("queue.resume_subsystem", [name])
            return
        self._pause_subsystem(name, state)

    def _pause_subsystem(self, name: str, state: str) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._run("queue.pause_subsystem", [name])

        self.app.push_screen(
            ConfirmDialog(f"Pause {name} (now {state})?", yes_label="Pause"), answered
        )

    def palette_commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        """Queue entries for the command palette; its actions come from the registry."""
        yield "Queue: sort by next column", "Cycle the queue's sort column", self.action_sort

    def action_targets(self, name: str) -> Iterator[ActionTarget]:
        """Retry all; pause each running agent, resume each paused one (none while smtpd's state is
        unknown)."""
        if name == "queue.schedule":
            yield "all", "smtpctl schedule all"
        for agent in SUBSYSTEMS:
            state = self.status.get(agent)
            if state is not None and name == (
                "queue.resume_subsystem" if state == "paused" else "queue.pause_subsystem"
            ):
                yield agent, ""

    def start_action(self, name: str, target: str) -> None:
        """As the keys do: pausing an agent asks first."""
        if name == "queue.pause_subsystem":
            self._pause_subsystem(target, self.status.get(target, "unknown"))
        else:
            self._run(name, [target])

    # ------------------------------------------------------------------ details

    def action_details(self) -> None:
        """Show the story of the envelope or message under the cursor (headers only)."""
        self.details_body = False
        self._open_details(self.query_one(QueueTable).current())

    def action_body(self) -> None:
        """Show the story with the whole message, body included."""
        self.details_body = True
        self._open_details(self.query_one(QueueTable).current())

    def _open_details(self, row: QueueRow | None) -> None:
        if isinstance(row, Envelope):
            key = row.evpid
        elif isinstance(row, MessageRow):
            key = row.msgid
        else:
            return
        self.details_key = key
        details = self.query_one("#queue-details")
        details.display = True
        self.add_class("details")
        self.query_one("#queue-details-text", Static).update(Text(f"loading {key}…", style="dim"))
        self.load_details(key, self.details_body)

    def on_queue_table_cursor_moved(self, message: QueueTable.CursorMoved) -> None:
        """While the details are open they follow the cursor."""
        row = message.row
        if self.details_key is None or isinstance(row, BadRow) or row is None:
            return
        if QueueTable._key(row) != self.details_key:
            self._open_details(row)

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-details")
    def load_details(self, key: str, body: bool) -> None:
        """Fetch `show envelope`, `show message` and the log lines of one envelope or message."""
        self.post_message(self.DetailsLoaded(key, details_text(self.settings, key, body)))

    def on_queue_screen_details_loaded(self, message: DetailsLoaded) -> None:
        if message.key == self.details_key:
            self.query_one("#queue-details-text", Static).update(message.text)


def lay_out(phrases: list[Text], width: int, gap: str = "   ") -> Text:
    """Phrases on lines of at most `width` cells, each phrase whole (one longer than a line gets
    a line of its own and wraps there)."""
    text = Text()
    used = 0
    for phrase in phrases:
        size = phrase.cell_len
        if used and used + len(gap) + size > width:
            text.append("\n")
            used = 0
        elif used:
            text.append(gap)
            used += len(gap)
        text.append_text(phrase)
        used += size
    return text


MESSAGE_SHOWN_LINES = 2000
MESSAGE_SHOWN_CHARS = 256 * 1024
"""The most of a queued message the details show: anyone may queue a 35 MB message, and drawing
10 MB of it froze the console for half a minute (the command line prints it whole)."""


def details_text(settings: Settings, key: str, body: bool) -> Text:
    """The story of an envelope or a message: its fields, its headers (or whole message), and every
    log line mentioning it, time-ordered. Errors are shown in place, never raised."""
    text = Text()
    msgid = key[:8]
    if len(key) == 16:
        text.append(f"Envelope {key}\n", "bold underline")
        try:
            for name, value in read_envelope(settings, key):
                text.append(f"{name}: ", "bold")
                text.append(printable(envelope_field(name, value)) + "\n")
        except UserError as exc:
            text.append(printable(str(exc)) + "\n", "red")
    message = ""
    text.append(
        f"\nMessage {msgid} ({'whole message' if body else 'headers; b for the body'})\n",
        "bold underline",
    )
    try:
        message = read_message(settings, msgid)
        shown = message if body else split_message(message)[0]
        kept = shown[:MESSAGE_SHOWN_CHARS].split("\n")[:MESSAGE_SHOWN_LINES]
        for part in kept:
            text.append(printable(part) + "\n")
        left = len(shown[len("\n".join(kept)) :].strip("\n"))
        if left:
            text.append(
                f"… {left:,} more characters, not shown here: "
                f"mailconsole queue show {msgid}{' --body' if body else ''}\n",
                "dim",
            )
    except UserError as exc:
        text.append(printable(str(exc)) + "\n", "red")
    needles = [msgid, message_id_header(message)]
    lines = message_story(settings.log_dir, needles)
    text.append(
        f"\nLog lines of {msgid} and its smtpd sessions in {settings.log_dir} ({len(lines)})\n",
        "bold underline",
    )
    for line in lines:
        text.append(f"{line.origin}:{line.lineno} ", "dim")
        text.append(printable(line.text) + "\n")
    return text
