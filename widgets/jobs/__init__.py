"""The Jobs screen: the maintenance jobs, how each last ran, run and cancel them, their live output.

A run is a worker thread calling `console.jobs.runner.run_job` (the dispatcher: read-only refuses it,
the audit log has it, an flock keeps it one at a time). The thread never touches a widget: it puts
lines in the job's buffer and posts `OutputReady` only when the buffer was empty, so while the screen
is busy lines pile up and the next handler takes them all at once; `JobFinished` brings the record.

Another screen that offers "run the job" (a health fix) calls `app.run_job(NAME)`: the Jobs screen
opens, asks, and runs it with its output on show. (`app.request_action("job.run", NAME)` runs it too,
through the same dispatcher, with only the outcome as a notification; this screen then re-reads the
history.)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Static

from console.errors import ReadOnlyRefused, UserError
from console.jobs.history import RunRecord, load_history
from console.jobs.process import KEEP_LINES, Cancel, OutputLine
from console.settings import Settings
from console.text import count, printable
from widgets.common.dialogs import ConfirmDialog
from widgets.common.entries import EntryList
from widgets.common.screen import ActionTarget
from widgets.jobs.output import OutputLog
from widgets.messages import ActionFinished

OUTCOME_STYLES = {
    "ok": "green",
    "failed": "bold red",
    "cancelled": "yellow",
    "timeout": "bold red",
    "running": "bold cyan",
}
TICK_S = 0.5
"""How often the elapsed time of running jobs is redrawn."""


@dataclass
class JobState:
    """What the screen knows of one job: its last record, and its run when one is going."""

    name: str
    record: RunRecord | None = None
    running: bool = False
    started: float = 0.0
    cancel: Cancel = field(default_factory=Cancel)
    lines: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=KEEP_LINES))
    """The output shown for the job: the live run's, else the last run's tail."""
    total: int = 0
    pending: list[OutputLine] = field(default_factory=list)
    """Lines the worker read and the screen has not taken yet (guarded by `lock`)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def state_text(self, now: float) -> tuple[str, str]:
        """The job's state as a word or two, and its style."""
        if self.running:
            return f"running {now - self.started:.0f} s", OUTCOME_STYLES["running"]
        if self.record is None:
            return "never run", "dim"
        return self.record.outcome, OUTCOME_STYLES.get(self.record.outcome, "")


def _when(record: RunRecord | None) -> str:
    """A record's start as `YYYY-MM-DD HH:MM` (UTC), or nothing."""
    return record.started[:16].replace("T", " ") if record else ""


class JobList(EntryList):
    """One line per job: name, state (live while running), when it last started, how long it took."""

    DEFAULT_CSS = """
    JobList { height: auto; max-height: 10; background: $surface; }
    JobList > .job-list--header { text-style: bold; background: $panel-lighten-1; }
    """
    COMPONENT_CLASSES = {"job-list--header"}

    class Moved(Message):
        """The cursor is on another job."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs: list[JobState] = []

    def move_to(self, index: int) -> None:
        moved = index != self.highlighted
        super().move_to(index)
        if moved:
            self.post_message(self.Moved())

    def show(self, jobs: list[JobState]) -> None:
        """Draw these jobs again (the cursor stays on its index)."""
        self.jobs = jobs
        self.changed([True] * len(jobs))

    @property
    def selected(self) -> JobState | None:
        """The job under the cursor."""
        return self.jobs[self.highlighted] if self.highlighted is not None and self.jobs else None

    def lay_out(self, width: int) -> tuple[list[Strip], list[list[Strip]]]:
        now = time.monotonic()
        name_width = max([3, *(len(job.name) for job in self.jobs)])
        header = self._line(
            [
                ("Job", name_width, ""),
                ("State", 12, ""),
                ("Last start (UTC)", 16, ""),
                ("Took", 8, ""),
            ],
            width,
        )
        header = header.apply_style(self.get_component_rich_style("job-list--header"))
        rows = []
        for job in self.jobs:
            state, style = job.state_text(now)
            took = f"{job.record.duration_s:.1f} s" if job.record and not job.running else ""
            rows.append(
                [
                    self._line(
                        [
                            (job.name, name_width, "bold"),
                            (state, 12, style),
                            (_when(job.record), 16, ""),
                            (took, 8, ""),
                        ],
                        width,
                    )
                ]
            )
        return [header], rows

    @staticmethod
    def _line(cells: list[tuple[str, int, str]], width: int) -> Strip:
        segments = []
        for text, size, style in cells:
            shown = printable(text)[:size].ljust(size)
            segments += [Segment(" "), Segment(shown, Style.parse(style) if style else Style())]
        return Strip(segments).crop_extend(0, width, None)


class HistoryList(EntryList):
    """The kept runs of one job, newest first; enter shows a run's output tail."""

    DEFAULT_CSS = "HistoryList { height: 1fr; background: $surface; }"

    class RunChosen(Message):
        """Enter on a kept run."""

        def __init__(self, record: RunRecord) -> None:
            super().__init__()
            self.record = record

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records: list[RunRecord] = []

    def action_select(self) -> None:
        if self.highlighted is not None and self.highlighted < len(self.records):
            self.post_message(self.RunChosen(self.records[self.highlighted]))

    def show(self, records: list[RunRecord]) -> None:
        self.records = list(reversed(records))
        self.changed([True] * len(self.records), keep=0)

    def lay_out(self, width: int) -> tuple[list[Strip], list[list[Strip]]]:
        rows = []
        for record in self.records:
            code = "-" if record.exit_code is None else str(record.exit_code)
            text = Text.assemble(
                f" {_when(record)}  ",
                (f"{record.outcome:<9}", OUTCOME_STYLES.get(record.outcome, "")),
                f" exit {code:<3} {record.duration_s:6.1f} s  ",
                printable(record.sentence),
                no_wrap=True,
                overflow="ellipsis",
                end="",
            )
            rows.append([Strip(text.render(self.app.console)).crop_extend(0, width, None)])
        if not rows:
            rows.append(
                [Strip([Segment(" no runs kept yet", Style(dim=True))]).crop_extend(0, width, None)]
            )
        return [], rows


class JobsScreen(Vertical):
    """The Jobs screen."""

    DEFAULT_CSS = """
    JobsScreen { height: 1fr; }
    #jobs-detail { height: 2; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    #jobs-output-title { height: 1; padding: 0 1; text-style: bold; text-wrap: nowrap;
                         text-overflow: ellipsis; }
    OutputLog { height: 1fr; }
    """

    BINDINGS = [
        Binding("r", "run", "Run", id="job.run"),
        Binding("c", "cancel", "Cancel run", id="jobs.cancel"),
        Binding("h", "history", "History", id="jobs.history"),
        Binding("o", "output", "Output", id="jobs.output"),
        Binding("tab", "switch_pane", "Switch pane", show=False, id="jobs.switch_pane"),
    ]
    MUTATING = {"run": "job.run", "cancel": ""}
    """The mutating keys' actions and the dispatcher's action each stands for (a cancel in read-only
    mode has no run of this console to stop: it is said, not audited)."""

    class OutputReady(Message):
        """The worker put lines in a job's buffer (posted only when it was empty)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class JobFinished(Message):
        """A run ended: its record, or the one sentence saying why it did not run."""

        def __init__(
            self, name: str, record: RunRecord | None, error: str = "", refused: bool = False
        ) -> None:
            super().__init__()
            self.name = name
            self.record = record
            self.error = error
            self.refused = refused

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.jobs = {name: JobState(name) for name in settings.jobs}
        self._ticker: Timer | None = None

    def compose(self) -> ComposeResult:
        yield JobList(id="jobs-list")
        yield Static(id="jobs-detail")
        yield Static(id="jobs-output-title")
        yield OutputLog(id="jobs-output")
        yield HistoryList(id="jobs-history")

    def on_mount(self) -> None:
        self.query_one(HistoryList).display = False
        self.load_history()

    def on_show(self) -> None:
        if self.app.focused is None or self not in self.app.focused.ancestors:
            self.query_one(JobList).focus()

    # ------------------------------------------------------------------ what is shown

    def load_history(self) -> None:
        """Read the history file: each job's last run (its tail is the output shown while idle)."""
        records = load_history(self.settings)
        for record in records:
            job = self.jobs.get(record.job)
            if job is not None and not job.running:
                job.record = record
        for job in self.jobs.values():
            if not job.running and job.record is not None:
                job.lines = deque((tuple(pair) for pair in job.record.tail), maxlen=KEEP_LINES)  # type: ignore[misc]
                job.total = job.record.lines
        self.query_one(JobList).show(list(self.jobs.values()))
        self.show_selected()

    @property
    def selected(self) -> JobState | None:
        """The job under the list's cursor."""
        return self.query_one(JobList).selected

    def refusal_target(self) -> str:
        """The job a refused key was aimed at (read-only)."""
        job = self.selected
        return job.name if job is not None else ""

    def show_selected(self) -> None:
        """The detail lines, the output title and the output of the job under the cursor."""
        job = self.selected
        if job is None:
            self.query_one("#jobs-detail", Static).update(Text("No jobs in the settings ([jobs])."))
            return
        spec = self.settings.jobs[job.name]
        detail = Text(no_wrap=True, overflow="ellipsis")
        detail.append(f"{job.name}: ", "bold")
        detail.append(printable(spec.description or "(no description)"))
        detail.append("\n")
        detail.append(printable("$ " + " ".join(spec.argv)), "dim")
        self.query_one("#jobs-detail", Static).update(detail)
        self.query_one(OutputLog).set_lines(job.lines)
        self.update_output_title()
        if self.query_one(HistoryList).display:
            self.query_one(HistoryList).show(load_history(self.settings, job.name))

    def update_output_title(self) -> None:
        job = self.selected
        if job is None:
            return
        title = Text(no_wrap=True, overflow="ellipsis")
        if job.running:
            title.append(f"{job.name} running {time.monotonic() - job.started:.1f} s", "bold cyan")
            kept = len(job.lines)
            title.append(
                f"  {count(job.total, 'line')}"
                + (f", {count(job.total - kept, 'line')} not kept" if job.total > kept else "")
            )
        elif job.record is not None:
            title.append(f"last run {_when(job.record)}: ", "bold")
            title.append(
                printable(job.record.sentence),
                "" if job.record.ok else OUTCOME_STYLES.get(job.record.outcome, ""),
            )
        else:
            title.append("never run", "dim")
        self.query_one("#jobs-output-title", Static).update(title)

    def on_history_list_run_chosen(self, event: HistoryList.RunChosen) -> None:
        """Enter on a kept run: its output tail, with its sentence as the title."""
        record = event.record
        self._output_pane()
        self.query_one(OutputLog).set_lines(tuple(pair) for pair in record.tail)  # type: ignore[misc]
        title = Text(f"run of {_when(record)}: ", style="bold", no_wrap=True, overflow="ellipsis")
        title.append(printable(record.sentence))
        self.query_one("#jobs-output-title", Static).update(title)

    def on_job_list_moved(self, event: JobList.Moved) -> None:
        self.show_selected()

    def _tick(self) -> None:
        """Redraw the running jobs' elapsed time; stop ticking when none runs."""
        if not any(job.running for job in self.jobs.values()):
            if self._ticker is not None:
                self._ticker.stop()
                self._ticker = None
        self.query_one(JobList).changed([True] * len(self.jobs))
        self.update_output_title()

    # ------------------------------------------------------------------ running

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Run and cancel do not exist in read-only mode (hidden from the key bar and help)."""
        if action in self.MUTATING and self.settings.read_only:
            return False
        return True

    def action_run(self) -> None:
        """Run the job under the cursor, after a yes."""
        job = self.selected
        if job is not None:
            self.start_job(job.name)

    def start_job(self, name: str, confirmed: bool = False) -> None:
        """Run job `name` with its output on this screen (asks first unless `confirmed`)."""
        job = self.jobs.get(name)
        if job is None:
            self.notify(
                f"There is no job named {printable(name)!r}.", severity="error", markup=False
            )
            return
        if job.running:
            self.notify(f"{name} is already running.", severity="warning", markup=False)
            return
        if self.settings.read_only or confirmed:
            self._start(job)  # in read-only mode the dispatcher refuses it and audits the refusal
            return
        spec = self.settings.jobs[name]

        def answered(yes: bool | None) -> None:
            if yes:
                self._start(job)

        question = f"Run {name} now? ({' '.join(spec.argv)})"
        self.app.push_screen(ConfirmDialog(printable(question), yes_label="Run"), answered)

    def _start(self, job: JobState) -> None:
        job.running = True
        job.started = time.monotonic()
        job.cancel = Cancel()
        job.lines = deque(maxlen=KEEP_LINES)
        job.total = 0
        with job.lock:
            job.pending = []
        self.query_one(JobList).changed([True] * len(self.jobs))
        if self.selected is job:
            self.show_selected()
        if self._ticker is None:
            self._ticker = self.set_interval(TICK_S, self._tick)
        self.run_worker(
            partial(self._run_in_thread, job),
            thread=True,
            exit_on_error=False,
            group=f"job-{job.name}",
            description=f"run job {job.name}",
        )

    def _run_in_thread(self, job: JobState) -> None:
        """In a worker thread: the run itself; lines go to the job's buffer, never to a widget."""
        from console.jobs.runner import run_job

        def on_output(batch: list[OutputLine]) -> None:
            with job.lock:
                was_empty = not job.pending
                job.pending.extend(batch)
                if len(job.pending) > KEEP_LINES:  # the screen is far behind: keep the newest
                    job.total += len(job.pending) - KEEP_LINES
                    del job.pending[:-KEEP_LINES]
            if was_empty:
                self.post_message(self.OutputReady(job.name))

        try:
            record = run_job(self.settings, job.name, on_output=on_output, cancel=job.cancel)
        except ReadOnlyRefused as exc:
            self.post_message(self.JobFinished(job.name, None, str(exc), refused=True))
        except UserError as exc:
            self.post_message(self.JobFinished(job.name, None, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a failed run never crashes the console
            self.post_message(self.JobFinished(job.name, None, f"{job.name} failed: {exc}"))
        else:
            self.post_message(self.JobFinished(job.name, record))

    def on_jobs_screen_output_ready(self, message: OutputReady) -> None:
        job = self.jobs[message.name]
        with job.lock:
            batch, job.pending = job.pending, []
            job.total += len(batch)
        pairs = [(line.stream, line.text) for line in batch]
        job.lines.extend(pairs)
        if self.selected is job and not self.query_one(HistoryList).display:
            self.query_one(OutputLog).add_lines(pairs)

    def on_jobs_screen_job_finished(self, message: JobFinished) -> None:
        job = self.jobs[message.name]
        self.on_jobs_screen_output_ready(self.OutputReady(message.name))  # the last lines first
        job.running = False
        if message.record is not None:
            job.record = message.record
            job.total = message.record.lines
            severity: SeverityLevel = "information" if message.record.ok else "error"
            self.notify(printable(message.record.sentence), severity=severity, markup=False)
        else:
            self.notify(printable(message.error), severity="error", markup=False)
        self.query_one(JobList).changed([True] * len(self.jobs))
        if self.selected is job:
            self.update_output_title()
            if self.query_one(HistoryList).display:
                self.query_one(HistoryList).show(load_history(self.settings, job.name))

    def action_cancel(self) -> None:
        """Cancel the selected job's run: SIGTERM to its process group, SIGKILL after a grace."""
        job = self.selected
        if job is None or not job.running:
            self.notify("The job under the cursor is not running.", severity="warning")
            return
        job.cancel.cancel()
        self.notify(f"Cancelling {job.name}…", markup=False)

    def handle_action_result(self, message: ActionFinished) -> None:
        """A run started elsewhere (a health fix through the dispatcher) ended: show its outcome."""
        if message.name == "job.run":
            self.load_history()

    def unsaved_changes(self) -> bool:
        """Nothing here is lost by quitting (a running job is cancelled with the console's exit)."""
        return False

    # ------------------------------------------------------------------ panes

    def action_history(self) -> None:
        """Show the kept runs of the job under the cursor (enter shows a run's output)."""
        job = self.selected
        if job is None:
            return
        history = self.query_one(HistoryList)
        history.show(load_history(self.settings, job.name))
        history.display = True
        self.query_one(OutputLog).display = False
        title = Text(
            f"history of {job.name}: the last {count(len(history.records), 'run')} kept",
            style="bold",
        )
        self.query_one("#jobs-output-title", Static).update(title)
        history.focus()

    def action_output(self) -> None:
        """Back to the output of the job under the cursor."""
        self._output_pane()
        self.show_selected()

    def _output_pane(self) -> None:
        """The output in place of the history; the keyboard back to the job list."""
        self.query_one(HistoryList).display = False
        self.query_one(OutputLog).display = True
        if isinstance(self.app.focused, HistoryList):
            self.query_one(JobList).focus()

    def action_switch_pane(self) -> None:
        """Move the keyboard between the job list and the output (or history)."""
        job_list = self.query_one(JobList)
        if self.app.focused is job_list:
            other = (
                self.query_one(HistoryList)
                if self.query_one(HistoryList).display
                else self.query_one(OutputLog)
            )
            other.focus()
        else:
            job_list.focus()

    def action_targets(self, name: str) -> Iterator[ActionTarget]:
        """Every job, for `job.run`."""
        return job_targets(self.settings, name)

    def start_action(self, name: str, target: str) -> None:
        """Run a job from the palette: this screen opens, asks, and shows its output."""
        self.app.run_job(target)  # type: ignore[attr-defined]

    def palette_commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        """Palette entries: cancel a running job (running one is the registry's `job.run`)."""
        if self.settings.read_only:
            return
        for name, job in self.jobs.items():
            if job.running:
                yield (
                    f"Cancel job {printable(name)}",
                    "SIGTERM to its process group, then SIGKILL",
                    job.cancel.cancel,
                )


def job_targets(settings: Settings, name: str) -> Iterator[ActionTarget]:
    """Every job of the settings, with what it does, for `job.run` (offered from any screen)."""
    if name == "job.run":
        for job, spec in settings.jobs.items():
            yield job, printable(spec.description or " ".join(spec.argv))
