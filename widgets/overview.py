"""The Overview screen: every health finding, worst first, with the fix the console can run, and the
mail flow of the last hour per minute beside it.

A thread of its own counts new smtpd log lines every few seconds and runs the health checks every
`health_interval` seconds (or at once on `c`, or after a fix ran); it posts what it found and never
touches a widget. Fixes go through the app's `request_action` (the dispatcher: read-only, audit).
"""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Static

from console.health.flow import EVENTS, WINDOW_MINUTES, MailFlow
from console.health.model import SEVERITY, Check, State
from console.health.run import HealthReport, run_checks
from console.settings import Settings
from console.text import printable
from widgets.common.entries import EntryList
from widgets.messages import ActionFinished

STATE_LABELS = {
    State.OK: "OK",
    State.WARNING: "WARN",
    State.CRITICAL: "CRIT",
    State.UNKNOWN: "UNKN",
}
STATE_STYLES = {
    State.OK: "green",
    State.WARNING: "bold yellow",
    State.CRITICAL: "bold red",
    State.UNKNOWN: "bold magenta",
}
EVENT_STYLES = {
    "accepted": "cyan",
    "delivered": "green",
    "deferred": "yellow",
    "bounced": "red",
    "rejected": "magenta",
}
BARS = "·▁▂▃▄▅▆▇█"
FLOW_INTERVAL = 2.0
"""Seconds between two counts of new log lines."""
FLOW_LABELS = 14
"""Cells of a flow line that are not the sparkline: the event's name and its count."""
GROUP_LABELS = {"certificates": "cert", "programs": "program", "spamassassin": "spam"}
"""Shorter names of the checks for the list (the detail line says them in full)."""


def sparkline(values: list[int], width: int) -> str:
    """`values` as `width` bar characters, each the largest value of its share, scaled to the
    largest of all (an empty minute is a blank, one event is at least the lowest bar)."""
    if not values or width <= 0:
        return ""
    top = max(values)
    cells = []
    for i in range(width):
        share = values[
            i * len(values) // width : max(
                (i + 1) * len(values) // width, i * len(values) // width + 1
            )
        ]
        peak = max(share)
        cells.append(BARS[0] if peak == 0 else BARS[max(1, round(peak / top * (len(BARS) - 1)))])
    return "".join(cells)


def ordered(checks: list[Check]) -> list[Check]:
    """Findings worst first (critical, warning, unknown, OK), in check order within a state."""
    return sorted(checks, key=lambda c: -SEVERITY[c.state])


class FindingList(EntryList):
    """One line per finding: its state, its check, what it checked and the sentence, cut to fit."""

    DEFAULT_CSS = "FindingList { height: 1fr; background: $surface; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checks: list[Check] = []

    def set_checks(self, checks: list[Check]) -> None:
        """Show these findings; the cursor stays on the same finding when it is still there."""
        keep = self.selected
        self.checks = checks
        names = [(c.group, c.name) for c in checks]
        at = (
            names.index((keep.group, keep.name))
            if keep and (keep.group, keep.name) in names
            else None
        )
        self.changed([True] * len(checks), at)

    @property
    def selected(self) -> Check | None:
        """The finding under the cursor."""
        if self.highlighted is None or self.highlighted >= len(self.checks):
            return None
        return self.checks[self.highlighted]

    class Moved(Message):
        """The cursor is on another finding."""

    def move_to(self, index: int) -> None:
        super().move_to(index)
        self.post_message(self.Moved())

    def lay_out(self, width: int) -> tuple[list[Strip], list[list[Strip]]]:
        group_width = max((len(GROUP_LABELS.get(c.group, c.group)) for c in self.checks), default=0)
        entries = []
        for check in self.checks:
            segments = [
                Segment(f" {STATE_LABELS[check.state]:<4} ", _style(STATE_STYLES[check.state])),
                Segment(
                    f"{GROUP_LABELS.get(check.group, check.group):<{group_width}} ", _style("dim")
                ),
                Segment(printable(check.name), _style("bold")),
                Segment(": " + printable(check.summary)),
            ]
            if check.fix is not None:
                segments.append(Segment("  [fix]", _style("bold")))
            line = Strip(segments)
            if line.cell_length > width:
                line = Strip([*line.crop(0, max(0, width - 1)), Segment("…")])
            entries.append([line.crop_extend(0, width, None)])
        return [], entries


def _style(name: str) -> Style:
    return Style.parse(name) if name else Style()


class OverviewScreen(Vertical):
    """Health findings and the mail flow; `f` or enter runs the selected finding's fix."""

    DEFAULT_CSS = """
    OverviewScreen { height: 1fr; }
    #overview-status { height: 1; padding: 0 1; background: $panel-lighten-1; }
    #overview-body { height: 1fr; }
    #findings { width: 1fr; }
    #flow { width: 30%; min-width: 34; max-width: 78; height: 100%; padding: 0 1;
            border-left: vkey $panel-lighten-2; }
    #finding-detail { height: auto; max-height: 7; padding: 0 1; background: $panel; }
    """

    BINDINGS: ClassVar[list[Any]] = [
        Binding("f", "fix", "Fix", id="health.fix"),
        Binding("c", "check_now", "Check now", id="health.check"),
    ]

    class HealthChecked(Message):
        """A run of the health checks finished."""

        def __init__(self, report: HealthReport) -> None:
            super().__init__()
            self.report = report

    class FlowCounted(Message):
        """The mail flow was counted again: per event the last hour's minutes, and where from."""

        def __init__(self, series: dict[str, list[int]], source: str) -> None:
            super().__init__()
            self.series = series
            self.source = source

    def __init__(
        self,
        settings: Settings,
        run: Callable[[Settings], HealthReport] | None = None,
        flow: Callable[[], MailFlow] | None = None,
        clock: Callable[[], float] = time.time,
        flow_interval: float = FLOW_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.run = run or (lambda s: run_checks(s))
        self.make_flow = flow or (lambda: MailFlow(settings.log_dir))
        self.clock = clock
        self.flow_interval = flow_interval
        self.report: HealthReport | None = None
        self._wake = threading.Event()
        self._check_now = True
        self._flow: OverviewScreen.FlowCounted | None = None

    def compose(self) -> ComposeResult:
        yield Static("Checking the stack…", id="overview-status")
        with Horizontal(id="overview-body"):
            yield FindingList(id="findings")
            yield Static("Mail flow: reading the logs…", id="flow")
        yield Static("", id="finding-detail")

    def on_mount(self) -> None:
        # A daemon thread, not a worker: it sleeps between rounds, and the app's exit would wait for it.
        self.worker_thread = threading.Thread(target=self._loop, name="overview", daemon=True)
        self.worker_thread.start()

    def on_unmount(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ the thread

    def _loop(self) -> None:
        """Count the flow every flow_interval seconds, run the checks when due; post, never draw."""
        try:
            flow: MailFlow | None = self.make_flow()
        except Exception:  # noqa: BLE001 - no flow is shown as such, the checks still run
            flow = None
        next_check = 0.0
        try:
            while self.is_running:
                now = self.clock()
                if flow is not None:
                    flow.poll(now)
                    self.post_message(self.FlowCounted(flow.series(now), flow.describe()))
                if self._check_now or time.monotonic() >= next_check:
                    self._check_now = False
                    try:
                        report = self.run(self.settings)
                    except Exception as exc:  # noqa: BLE001 - shown as an UNKNOWN finding
                        report = HealthReport(
                            [
                                Check(
                                    "health",
                                    "checks",
                                    State.UNKNOWN,
                                    f"the checks could not run: {exc}",
                                )
                            ],
                            now,
                        )
                    self.post_message(self.HealthChecked(report))
                    next_check = time.monotonic() + self.settings.health_interval
                if self._wake.wait(self.flow_interval):
                    self._wake.clear()
        finally:
            if flow is not None:
                flow.close()

    def check_now(self) -> None:
        """Run the health checks at once (after a fix, or on `c`)."""
        self._check_now = True
        self._wake.set()

    # ------------------------------------------------------------------ what the thread found

    def on_overview_screen_health_checked(self, message: HealthChecked) -> None:
        report = message.report
        self.report = report
        self._draw_status()
        findings = self.query_one(FindingList)
        findings.set_checks(ordered(report.checks))
        self._show_detail()

    def on_overview_screen_flow_counted(self, message: FlowCounted) -> None:
        self._flow = message
        self._draw_flow()

    def on_resize(self) -> None:
        self.call_after_refresh(self._draw_flow)
        self.call_after_refresh(self._draw_status)

    def _draw_status(self) -> None:
        """The status line at its width: the state and the counts always; when the check ran, in
        full, shorter, or not at all, so that nothing is cut in the middle of a figure."""
        report = self.report
        if report is None:
            return
        status = self.query_one("#overview-status", Static)
        counts = report.counts()
        text = Text(no_wrap=True)
        text.append(f"● {report.state.name}", style=STATE_STYLES[report.state])
        parts = [
            f"{counts[s.name]} {s.name.lower()}"
            for s in (State.CRITICAL, State.WARNING, State.UNKNOWN, State.OK)
            if counts[s.name]
        ]
        text.append("  " + " · ".join(parts))
        checked = time.strftime("%H:%M:%S", time.localtime(report.checked_at))
        room = (status.content_region.width or 80) - text.cell_len
        for when in (f"  checked {checked} in {report.duration_s:.1f} s", f"  checked {checked}"):
            if len(when) <= room:
                text.append(when, style="dim")
                break
        status.update(text)

    def _draw_flow(self) -> None:
        """The flow panel at its width: one bar per minute when there is room for the hour."""
        message = self._flow
        if message is None:
            return
        panel = self.query_one("#flow", Static)
        width = max(20, panel.content_region.width or 32)
        spark = max(6, min(WINDOW_MINUTES, width - FLOW_LABELS))
        text = Text(no_wrap=True)
        text.append("Mail per minute, last hour\n", style="bold")
        for event in EVENTS:
            values = message.series.get(event, [0] * WINDOW_MINUTES)
            text.append(f"{event:<9} ", style=EVENT_STYLES[event])
            text.append(sparkline(values, spark), style=EVENT_STYLES[event])
            text.append(f"{sum(values):>4}\n")
        text.append("\n")
        text.append(Text("\n".join(textwrap.wrap(printable(message.source), width)), style="dim"))
        panel.update(text)

    def on_entry_list_selected(self, message: EntryList.Selected) -> None:
        message.stop()
        self.action_fix()

    def on_finding_list_moved(self, message: FindingList.Moved) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The selected finding in full: its sentence, cause, what fixes it."""
        check = self.query_one(FindingList).selected
        detail = self.query_one("#finding-detail", Static)
        if check is None:
            detail.update("")
            return
        text = Text()
        text.append(f"{STATE_LABELS[check.state]} ", style=STATE_STYLES[check.state])
        text.append(f"{check.group} {printable(check.name)}: ", style="bold")
        text.append(printable(check.summary))
        if check.cause:
            text.append("\nCause: ", style="bold")
            text.append(printable(check.cause))
        if check.remedy:
            text.append("\nFix by hand: ", style="bold")
            text.append(printable(check.remedy))
        if check.fix is not None and not self.settings.read_only:
            text.append("\nf or enter: ", style="bold")
            text.append(printable(check.fix.label))
        detail.update(text)

    # ------------------------------------------------------------------ keys

    @property
    def MUTATING(self) -> dict[str, str]:  # noqa: N802 - the name every screen's key map has
        """The fix key and the dispatcher action the selected finding's fix is ("" for none)."""
        check = self.query_one(FindingList).selected if self.is_mounted else None
        return {"fix": check.fix.action if check is not None and check.fix is not None else ""}

    def refusal_target(self) -> str:
        """The target of the selected finding's fix (read-only refusals are audited with it)."""
        check = self.query_one(FindingList).selected
        return check.fix.target if check is not None and check.fix is not None else ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The fix key does not exist in read-only mode."""
        if action == "fix" and self.settings.read_only:
            return False
        return True

    def action_fix(self) -> None:
        """Run the selected finding's fix through the dispatcher (confirmed when dangerous)."""
        check = self.query_one(FindingList).selected
        if self.settings.read_only:
            self.app.notify("Read-only: fixes are not offered.", markup=False)
            return
        if check is None or check.fix is None:
            self.app.notify("This finding has no fix the console can run.", markup=False)
            return
        self.app.request_action(  # type: ignore[attr-defined]
            check.fix.action,
            check.fix.target,
            dict(check.fix.params),
        )

    def action_check_now(self) -> None:
        self.query_one("#overview-status", Static).update(Text("Checking the stack…", style="dim"))
        self.check_now()

    def handle_action_result(self, message: ActionFinished) -> None:
        """Any action that ran may have fixed something: check again."""
        if message.ok:
            self.check_now()

    def unsaved_changes(self) -> bool:
        """Nothing on this screen is edited in place."""
        return False

    def palette_commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        """Palette entries of this screen."""
        return [("Health: check now", "Run every health check again", self.action_check_now)]
