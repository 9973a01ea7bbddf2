"""The Logs screen: every log file, at any size, followed through rotation, searchable and safe.

`LogLines` draws only the visible lines (the Line API) from a `FollowedLog`, whose index is built
in the background; a `FollowThread` posts new lines in batches. Search, count, filter and jump to
time run in thread workers that post messages; threads never touch widgets. Every line is
`printable` text in a `rich.text.Text`, never markup.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import regex
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import var
from textual.widgets import Input, Static

from console.errors import UserError
from console.logs.discovery import LogFileInfo, discover, stamped, supervisord_logfile
from console.logs.follow import FollowedLog, FollowEvent, NewLines, Rotation, Unavailable
from console.logs.merge import MergedLogs
from console.logs.parse import parse_timestamp, parse_when
from console.logs.search import (
    Cancelled,
    FilteredLines,
    Hit,
    PatternTooSlow,
    compile_line_pattern,
    compile_pattern,
    count_matches,
    filter_lines,
    find,
    find_time,
    line_matches,
)
from console.logs.watch import DirectoryWatch, FollowThread
from console.settings import Settings
from console.text import count, printable
from widgets.common.screen import PaletteCommand
from widgets.logs.files import FileEntry, FileList, file_entry
from widgets.logs.lines import FilteredSource, LogLines
from widgets.messages import ActionFinished
from widgets.startup import start_in_background

PROGRESS_EVERY_S = 0.1
"""Workers report progress at most this often (each report redraws the status line)."""
MERGED = "merged"
"""The file list's entry for the merged view of `tail`'s files."""


FOLLOW_BATCH_S = 0.1
"""Under a steady stream of lines, the view takes them in at most ten times a second: each batch redraws
the screen, and no one reads faster (an idle log's new line still shows at once)."""


FILES_SHOWN_FROM = 120
"""Narrower terminals open the Logs screen with the file list hidden: at 80 columns it would leave
the log about 50."""


class StatusLine(Static):
    """One line of state; changing it redraws the line only, never the screen's layout."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._text = Text()

    def set(self, text: Text) -> None:
        """Show `text` (a no-op when it did not change)."""
        if text != self._text:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return self._text


class LogsScreen(Vertical):
    """Log files on the left; the chosen one on the right, followed, searchable and filterable."""

    DEFAULT_CSS = """
    LogsScreen { height: 1fr; }
    LogsScreen #log-files { split: left; max-width: 35%; height: 1fr; border-right: solid $panel-lighten-2; }
    LogsScreen #log-status { height: 1; background: $panel; }
    LogsScreen #log-input { dock: bottom; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="logs.search"),
        Binding("n", "older_match", "Older match", id="logs.older"),
        Binding("N", "newer_match", "Newer match", id="logs.newer"),
        Binding("f", "filter", "Filter", id="logs.filter"),
        Binding("i", "invert", "Invert filter", id="logs.invert", show=False),
        Binding("plus", "context(1)", "More context", id="logs.context_more", show=False),
        Binding("minus", "context(-1)", "Less context", id="logs.context_less", show=False),
        Binding("t", "jump_time", "Jump to time", id="logs.time"),
        Binding("F,G", "follow", "Follow", id="logs.follow"),
        Binding("escape", "clear", "Clear search/filter", id="logs.clear", show=False),
        Binding("o", "files", "Files", id="logs.files", show=False),
        Binding("b", "toggle_files", "Hide/show files", id="logs.toggle_files", show=False),
    ]

    # What the status line shows, as reactive attributes: any change recomputes `status`, whose
    # watcher redraws the line. Counts that grow by themselves (the log's lines, the index's progress
    # from the background scan, the filter's kept lines) are measured where they grow (`_measure`).
    followed: var[FollowedLog | None] = var(None)
    """The one file shown and followed."""
    merged: var[MergedLogs | None] = var(None)
    """The files of `tail` shown as one, by time."""
    following: var[bool] = var(True)
    new_lines: var[int] = var(0)
    """Lines that arrived while paused (the "+N new lines" pill)."""
    line_count: var[int] = var(0)
    indexing: var[int | None] = var(None)
    """How far the background index has got (percent) while it scans; None when done."""
    unavailable: var[str] = var("")
    """Why the file cannot be read now ("" when it can)."""
    progress: var[str] = var("")
    """A worker's progress ("searching 40%"), or what is being done."""
    nothing_open: var[str] = var("no file open")
    """What the status line says while no file is open (there may be none to open)."""
    search_text: var[str] = var("")
    match_count: var[int | None] = var(None)
    filter_text: var[str] = var("")
    filter_invert: var[bool] = var(False)
    filter_context: var[int] = var(0)
    filter_kept: var[FilteredLines | None] = var(None)
    """The filter's kept lines (filled by its worker); None without a filter."""
    kept_count: var[int] = var(0)
    column: var[int] = var(0)
    """The first column shown when the log is scrolled sideways."""
    status: var[Text] = var(Text)

    class LinesArrived(Message):
        """The follower read something from `log`: new lines, a rotation, or that it is gone."""

        def __init__(self, log: FollowedLog, events: list[FollowEvent]) -> None:
            super().__init__()
            self.followed = log
            self.events = events

    class FilesChanged(Message):
        """Something changed in the log directory (a file appeared, grew or went away)."""

    class SearchProgress(Message):
        """A search, count or filter worker got this far (0..1)."""

        def __init__(self, what: str, fraction: float) -> None:
            super().__init__()
            self.what = what
            self.fraction = fraction

        def can_replace(self, message: Message) -> bool:
            """Newer progress of the same work waiting behind this report supersedes it."""
            return isinstance(message, LogsScreen.SearchProgress) and message.what == self.what

    class SearchFinished(Message):
        """A search ended: the hit, or None when nothing matched that way."""

        def __init__(self, log: FollowedLog, hit: Hit | None, backwards: bool) -> None:
            super().__init__()
            self.followed = log
            self.hit = hit
            self.backwards = backwards

    class MatchesCounted(Message):
        """How many lines match the current search."""

        def __init__(self, log: FollowedLog, pattern: str, count: int) -> None:
            super().__init__()
            self.followed = log
            self.pattern = pattern
            self.count = count

    class FilterFinished(Message):
        """A filter worker is done: the lines it covered (later ones are tested as they arrive)."""

        def __init__(self, kept: FilteredLines, covered: int) -> None:
            super().__init__()
            self.kept = kept
            self.covered = covered

    class MergeReady(Message):
        """The merged view of several files is built."""

        def __init__(self, merged: MergedLogs) -> None:
            super().__init__()
            self.merged = merged

    class PatternTimedOut(Message):
        """A search, count or filter stopped: its pattern took too long on one block of the log.

        `cancel` is the event of the run it belongs to (a run since replaced is ignored)."""

        def __init__(self, cancel: threading.Event, text: str) -> None:
            super().__init__()
            self.cancel = cancel
            self.text = text

    class WorkFailed(Message):
        """A worker stopped with an error a person must read."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, settings: Settings, files: list[Path] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.files = [Path(f) for f in files] if files else None
        self.follower: FollowThread | None = None
        self.dir_watch: DirectoryWatch | None = None
        self.files_stale = False
        self._listed: Sequence[object] = ()
        self.input_mode = ""
        self.search_pattern: regex.Pattern[bytes] | None = None
        self.counting = False
        self.filter_tested = 0
        self._cancel = threading.Event()
        self._filter_cancel = threading.Event()
        self._entries: list[Path | str | None] = []
        self._status_line = StatusLine(id="log-status")
        self.mergeable = bool(
            self.files and len(self.files) > 1 and all(stamped(p) for p in self.files)
        )

    def palette_commands(self) -> list[PaletteCommand]:
        """The Logs screen's keys are its commands: nothing more in the palette."""
        return []

    def handle_action_result(self, message: ActionFinished) -> None:
        """No action changes what a log shows (its file is followed anyway)."""

    def unsaved_changes(self) -> bool:
        """Nothing on this screen is edited in place."""
        return False

    def compose(self) -> ComposeResult:
        # No container for the right-hand side: the file list is split off to the left, the input line
        # docks at the bottom of what remains. The log comes first so that it, not the file list, gets
        # the keyboard when the screen opens. The input line (search, filter, time) is made on first use.
        yield self._status_line
        yield LogLines(id="log-lines")
        yield FileList(id="log-files")

    def on_mount(self) -> None:
        if self.app.size.width < FILES_SHOWN_FROM:
            self.query_one("#log-files", FileList).display = False  # `o` or `b` shows it
        self.refresh_files()
        first = next((p for p in self._entries if p is not None), None)
        if first == MERGED:
            self.open_merged()
        elif isinstance(first, Path):
            self.open(first)
        directories = {p.parent for p in self.files} if self.files else {self.settings.log_dir}
        self.dir_watch = DirectoryWatch(
            directories, lambda _: self.post_message(self.FilesChanged())
        )
        start_in_background(self, self.dir_watch.start)
        self.set_interval(5.0, self.refresh_files)
        self.set_interval(1.0, self._files_tick)
        self.set_interval(0.25, self._tick)
        lines = self.query_one(LogLines)
        self.watch(lines, "scroll_x", self._scrolled_sideways, init=False)
        self.watch(lines, "following", self._follow_changed)

    def on_unmount(self) -> None:
        self._cancel.set()
        self._filter_cancel.set()
        if self.dir_watch is not None:
            self.dir_watch.stop()
        self._close_log()

    # ------------------------------------------------------------------ files

    def _infos(self) -> list[LogFileInfo]:
        if self.files is not None:
            infos = []
            for path in self.files:
                try:
                    st = path.stat()
                except OSError:
                    continue
                infos.append(LogFileInfo(path, st.st_size, st.st_mtime))
            return infos
        extra = [p for p in [supervisord_logfile(self.settings.supervisor_config)] if p is not None]
        return discover(self.settings.log_dir, extra)

    def refresh_files(self) -> None:
        """List the log files again (new ones appear, sizes change)."""
        prompts: list[Text | FileEntry] = []
        entries: list[Path | str | None] = []  # what each entry opens; None: nothing
        if self.mergeable:
            prompts.append(Text(f"all {len(self.files or [])} files, by time", style="bold"))
            entries.append(MERGED)
        try:
            infos = self._infos()
        except UserError as exc:
            infos = []
            prompts.append(Text(exc.message, style="red"))
            entries.append(None)
            if self.followed is None and self.merged is None:
                # Below 120 columns the file list starts hidden: the status line says it too.
                self.unavailable = exc.message
        for info in infos:
            prompts.append(file_entry(info))
            entries.append(info.path)
            for old in info.rotated:
                prompts.append(file_entry(old, rotated=True))
                entries.append(None if old.compressed else old.path)
        if not prompts:
            prompts.append(Text("no log files", style="dim"))
            entries.append(None)
        where = ", ".join(sorted({str(p.parent) for p in self.files or []})) or str(
            self.settings.log_dir
        )
        self.nothing_open = (
            "no file open" if any(e is not None for e in entries) else f"no log files in {where}"
        )
        if prompts == self._listed:
            return
        self._listed = prompts
        self.query_one("#log-files", FileList).set_options(
            prompts, [e is not None for e in entries]
        )
        self._entries = entries

    def on_logs_screen_files_changed(self, message: FilesChanged) -> None:
        self.files_stale = (
            True  # listed again by the next _files_tick: a busy log changes constantly
        )

    def _files_tick(self) -> None:
        if self.files_stale:
            self.files_stale = False
            self.refresh_files()

    @on(FileList.Selected)
    def _file_chosen(self, event: FileList.Selected) -> None:
        path = self._entries[event.index] if event.index < len(self._entries) else None
        if path == MERGED:
            self.open_merged()
        elif isinstance(path, Path):
            self.open(path)
        self.query_one(LogLines).focus()

    def open(self, path: Path) -> None:
        """Show and follow one log file; a file that cannot be opened is one line on the screen."""
        self._close_log()
        self.clear_search()
        self.clear_filter()
        lines = self.query_one(LogLines)
        try:
            self.followed = FollowedLog(path, scan=False)
        except UserError as exc:
            self.unavailable = exc.message
            lines.set_source(None)
            return
        self.unavailable = ""
        self.new_lines = 0
        lines.set_source(self.followed)
        log = self.followed
        self.follower = FollowThread(
            [log],
            lambda _, events: self.post_message(self.LinesArrived(log, events)),
            poll_interval=1.0,
            batch_interval=FOLLOW_BATCH_S,
        )
        # The last screenful is indexed already; the threads start once it is on the terminal, so the
        # first frame does not share the interpreter with them. Lines appended meanwhile are read then.
        start_in_background(self, partial(self._start_following, log, self.follower))

    def _start_following(self, log: FollowedLog, follower: FollowThread) -> None:
        if follower is self.follower:  # not closed meanwhile
            log.start_scan()
            follower.start()

    def open_merged(self) -> None:
        """Show every file of `tail` in one time-ordered view (built in a worker)."""
        self._close_log()
        self.clear_search()
        self.clear_filter()
        self.query_one(LogLines).set_source(None)
        self.unavailable = ""
        self.progress = "merging by time"
        self._merge(list(self.files or []))

    @work(thread=True, exclusive=True, group="logs-merge", exit_on_error=False)
    def _merge(self, paths: list[Path]) -> None:
        logs: list[FollowedLog] = []
        try:
            logs = [FollowedLog(path) for path in paths]
            merged = MergedLogs(logs)
        except (UserError, OSError) as exc:
            for log in logs:
                log.close()
            self.post_message(self.WorkFailed(str(exc)))
            return
        self.post_message(self.MergeReady(merged))

    def on_logs_screen_merge_ready(self, message: MergeReady) -> None:
        self.progress = ""
        self._close_log()
        self.merged = message.merged
        merged = message.merged
        self.new_lines = 0
        self.query_one(LogLines).set_source(merged)
        self.follower = FollowThread(
            merged.logs,
            lambda log, events: self.post_message(self.LinesArrived(log, events)),
            poll_interval=1.0,
            batch_interval=FOLLOW_BATCH_S,
        )
        self.follower.start()

    def _close_log(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower = None
        if self.followed is not None:
            self.followed.close()
            self.followed = None
        if self.merged is not None:
            for log in self.merged.logs:
                log.close()
            self.merged = None

    # ------------------------------------------------------------------ following

    def on_logs_screen_lines_arrived(self, message: LinesArrived) -> None:
        lines = self.query_one(LogLines)
        if self.merged is not None and message.followed in self.merged.logs:
            self.merged.catch_up(message.followed)
            appended = lines.sync()
            if not lines.following:
                self.new_lines += appended
            self._measure()
            return
        if message.followed is not self.followed:
            return
        for event in message.events:
            if isinstance(event, Unavailable):
                self.unavailable = event.text
            elif isinstance(event, (NewLines, Rotation)):
                self.unavailable = ""
        if self.filter_kept is None:
            lines.invalidate(lines.virtual_size.height - 1)  # a partial last line may have grown
            appended = lines.sync()
            if not lines.following:
                self.new_lines += appended
        else:
            self._filter_new_lines()
        self._measure()

    def _tick(self) -> None:
        """While the index grows at the top, keep the view in place; measure what grew meanwhile."""
        lines = self.query_one(LogLines)
        if self.followed is not None and self.filter_kept is None and lines.behind():
            lines.sync()
        self._measure()

    def _measure(self) -> None:
        """Read the counts that grow by themselves into the status's reactive attributes."""
        log = self.followed
        source = self.merged if self.merged is not None else log
        self.line_count = len(source) if source is not None else 0
        index = log.segments[0].index if log is not None else None
        self.indexing = (
            round(100 * (1 - index.low / index.end))
            if index is not None and index.scanning and index.end
            else None
        )
        self.kept_count = len(self.filter_kept) if self.filter_kept is not None else 0

    def watch_followed(self) -> None:
        self._measure()

    def watch_merged(self) -> None:
        self._measure()

    def watch_filter_kept(self) -> None:
        self._measure()

    def _follow_changed(self, following: bool) -> None:
        """The log followed its end again, or stopped (scrolled up, a search landed)."""
        self.following = following
        if following:
            self.new_lines = 0

    def _scrolled_sideways(self, scroll_x: float) -> None:
        self.column = int(scroll_x)

    def action_follow(self) -> None:
        """Back to the end, following new lines."""
        self.query_one(LogLines).follow()

    def _follow_state(self) -> list[tuple[str, str]]:
        """Following, or paused with the count of lines that arrived since ("+N new lines")."""
        if self.following:
            return [("● following", "green")]
        if not self.new_lines:
            return [("⏸ paused", "yellow")]
        return [
            ("⏸ paused ", "yellow"),
            (f" +{count(self.new_lines, 'new line')} · End to follow ", "bold reverse"),
        ]

    def compute_status(self) -> Text:
        """The line above the log: file, follow state (and new lines while paused), size, indexing,
        search, filter, progress, column."""
        parts: list[tuple[str, str] | str] = []
        if self.merged is not None:
            names = " + ".join(printable(log.path.name) for log in self.merged.logs)
            parts += [(names, "bold"), "  ", *self._follow_state()]
            parts.append(f"  {count(self.line_count, 'line')} by time")
            return Text.assemble(*parts)
        if self.followed is None:
            parts.append(
                (
                    self.unavailable or self.progress or printable(self.nothing_open),
                    "bold red" if self.unavailable else "dim",
                )
            )
            return Text.assemble(*parts)
        parts += [(printable(self.followed.path.name), "bold"), "  ", *self._follow_state()]
        parts.append(f"  {count(self.line_count, 'line')}")
        if self.indexing is not None:
            parts.append((f"  indexing {self.indexing}%", "dim"))
        if self.unavailable:
            parts.append((f"  {self.unavailable}", "bold red"))
        if self.search_text:
            found = (
                "" if self.match_count is None else f" {count(self.match_count, 'matching line')}"
            )
            parts.append((f"  /{printable(self.search_text)}{found}", "cyan"))
        if self.filter_kept is not None:
            how = "not " if self.filter_invert else ""
            context = f" ±{self.filter_context}" if self.filter_context else ""
            kept = count(self.kept_count, "line")
            parts.append(
                (f"  filter {how}{printable(self.filter_text)}{context}: {kept}", "magenta")
            )
        if self.progress:
            parts.append((f"  {self.progress}", "dim"))
        if self.column:
            parts.append((f"  ◂ col {self.column + 1}", "dim"))
        return Text.assemble(*parts)

    def watch_status(self, status: Text) -> None:
        self._status_line.set(status)

    # ------------------------------------------------------------------ the input line

    def _ask(self, mode: str, placeholder: str, value: str = "") -> None:
        self.input_mode = mode
        box = next(self.query("#log-input").results(Input), None)
        if box is None:
            box = Input(value, placeholder=placeholder, id="log-input")
            self.mount(box)
        else:
            box.placeholder = placeholder
            box.value = value
            box.display = True
        self.call_after_refresh(box.focus)

    def action_search(self) -> None:
        """Ask for a regex and look for it upwards from the bottom of the screen."""
        self._ask("search", "search (regex, searched upwards; n older, N newer)", self.search_text)

    def action_filter(self) -> None:
        """Ask for a regex and show only the lines that match (i inverts, +/- context)."""
        self._ask(
            "filter", "filter (regex; i inverts, + and - change context lines)", self.filter_text
        )

    def action_jump_time(self) -> None:
        """Ask for a time and show the first line at or after it."""
        self._ask("time", "jump to time (HH:MM, HH:MM:SS or YYYY-MM-DD HH:MM)")

    def action_files(self) -> None:
        """Put the keyboard in the file list (showing it if it was hidden)."""
        files = self.query_one("#log-files", FileList)
        files.display = True
        # At once, not by `focus()` (a callback after the keys already queued): keys typed right
        # after `o` are meant for the list.
        self.screen.set_focus(files)

    def action_toggle_files(self) -> None:
        """Hide the file list to give the log the whole width, or show it again."""
        files = self.query_one("#log-files", FileList)
        files.display = not files.display
        if not files.display:
            self.query_one(LogLines).focus()

    @on(Input.Submitted, "#log-input")
    def _submitted(self, event: Input.Submitted) -> None:
        box = self.query_one("#log-input", Input)
        box.display = False
        self.query_one(LogLines).focus()
        value, mode = event.value, self.input_mode
        self.input_mode = ""
        if not value.strip():
            return
        if self.merged is not None:
            self.app.notify(
                "search, filter and jump work on one file: pick it in the file list (o)",
                severity="warning",
                markup=False,
            )
            return
        if mode == "search":
            self.start_search(value)
        elif mode == "filter":
            self.start_filter(value)
        elif mode == "time":
            self.start_jump(value)

    def on_key(self, event: Any) -> None:
        if event.key == "escape" and self.input_mode:
            self.query_one("#log-input", Input).display = False
            self.input_mode = ""
            self.query_one(LogLines).focus()
            event.stop()

    def action_clear(self) -> None:
        """Drop the search and the filter."""
        self.clear_search()
        if self.filter_kept is not None:
            self.drop_filter()

    # ------------------------------------------------------------------ search

    def clear_search(self) -> None:
        """Cancel the search workers and forget the pattern."""
        self._cancel.set()
        self.search_text = ""
        self.search_pattern = None
        self.match_count = None
        self.counting = False
        self.progress = ""
        self.query_one(LogLines).set_pattern(None)

    def start_search(self, text: str) -> None:
        """Search for `text` upwards from the bottom line on screen, and count its lines."""
        if self.followed is None:
            return
        try:
            pattern = compile_pattern(text)
            shown = compile_line_pattern(text)
        except UserError as exc:
            self.app.notify(exc.message, severity="error", markup=False)
            return
        self.clear_search()
        self.search_text, self.search_pattern = text, pattern
        self.query_one(LogLines).set_pattern(shown)
        self._cancel = threading.Event()
        self._search(
            self.followed,
            pattern,
            self._origin(self.query_one(LogLines).bottom_line() + 1),
            True,
            self._cancel,
        )

    def _origin(self, line: int) -> Hit:
        """A search origin for a line of what is shown (filtered or not)."""
        assert self.followed is not None
        kept = self.filter_kept
        if kept is not None:
            line = kept[line] if line < len(kept) else len(self.followed)
        return Hit(*self.followed.locate(line))

    def action_older_match(self) -> None:
        """Go to the previous match, above the current one."""
        self._repeat(backwards=True)

    def action_newer_match(self) -> None:
        """Go to the next match, below the current one."""
        self._repeat(backwards=False)

    def _repeat(self, backwards: bool) -> None:
        if self.followed is None or self.search_pattern is None:
            self.action_search()
            return
        lines = self.query_one(LogLines)
        if lines.current is not None:
            here = lines.current
        else:
            here = lines.bottom_line() + 1 if backwards else lines.top_line()
        self._cancel.set()
        self._cancel = threading.Event()
        self._search(
            self.followed, self.search_pattern, self._origin(here), backwards, self._cancel
        )

    @work(thread=True, exclusive=True, group="logs-search", exit_on_error=False)
    def _search(
        self,
        log: FollowedLog,
        pattern: regex.Pattern[bytes],
        origin: Hit,
        backwards: bool,
        cancel: threading.Event,
    ) -> None:
        try:
            hit = find(
                log,
                pattern,
                origin,
                backwards=backwards,
                cancel=cancel,
                progress=self._progress_poster("searching"),
            )
        except Cancelled:
            return
        except PatternTooSlow as exc:
            self.post_message(self.PatternTimedOut(cancel, exc.message))
            return
        except OSError as exc:
            self.post_message(self.WorkFailed(f"search failed: {exc.strerror or exc}"))
            return
        self.post_message(self.SearchFinished(log, hit, backwards))

    @work(thread=True, exclusive=True, group="logs-count", exit_on_error=False)
    def _count(
        self, log: FollowedLog, text: str, pattern: regex.Pattern[bytes], cancel: threading.Event
    ) -> None:
        try:
            count = count_matches(log, pattern, cancel=cancel)
        except PatternTooSlow as exc:
            self.post_message(self.PatternTimedOut(cancel, exc.message))
            return
        except (Cancelled, OSError):
            return
        self.post_message(self.MatchesCounted(log, text, count))

    def _progress_poster(self, what: str) -> Any:
        last = [0.0]

        def post(fraction: float) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                self.post_message(self.SearchProgress(what, fraction))

        return post

    def on_logs_screen_search_progress(self, message: SearchProgress) -> None:
        self.progress = f"{message.what} {100 * message.fraction:.0f}%"

    def on_logs_screen_search_finished(self, message: SearchFinished) -> None:
        self.progress = ""
        if message.followed is not self.followed:
            return
        if self.search_pattern is not None and self.match_count is None and not self.counting:
            # Counted after the first hit is shown, so the two scans never compete for the CPU.
            self.counting = True
            self._count(self.followed, self.search_text, self.search_pattern, self._cancel)
        if message.hit is None:
            where = "above" if message.backwards else "below"
            self.app.notify(f"no match {where}", severity="warning", markup=False)
        else:
            line = self.followed.view_line(message.hit.segment, message.hit.offset)
            if line is not None:
                if self.filter_kept is not None:
                    line = self.filter_kept.position_of(line)
                self.query_one(LogLines).go_to(line)

    def on_logs_screen_matches_counted(self, message: MatchesCounted) -> None:
        self.counting = False
        if message.followed is self.followed and message.pattern == self.search_text:
            self.match_count = message.count

    def on_logs_screen_pattern_timed_out(self, message: PatternTimedOut) -> None:
        if message.cancel is self._cancel:
            self.clear_search()
        elif message.cancel is self._filter_cancel:
            self.drop_filter()
        else:
            return
        self.app.notify(message.text, severity="error", markup=False)

    def on_logs_screen_work_failed(self, message: WorkFailed) -> None:
        self.progress = ""
        self.app.notify(message.text, severity="error", markup=False)

    # ------------------------------------------------------------------ filter

    def clear_filter(self) -> None:
        """Cancel the filter worker and forget the filter (the caller shows the log again)."""
        self._filter_cancel.set()
        self.filter_kept = None
        self.filter_text = ""

    def drop_filter(self) -> None:
        """Forget the filter and show the whole log again."""
        self.clear_filter()
        self.progress = ""
        if self.followed is not None:
            self.query_one(LogLines).set_source(self.followed)

    def start_filter(self, text: str) -> None:
        """Show only the lines matching `text` (with the current invert and context settings)."""
        if self.followed is None:
            return
        try:
            pattern = compile_pattern(text)
            compile_line_pattern(text)  # the filter tests followed lines with it
        except UserError as exc:
            self.app.notify(exc.message, severity="error", markup=False)
            return
        self.clear_filter()
        self.filter_text = text
        self.filter_kept = FilteredLines()
        self.filter_tested = len(self.followed)
        self._filter_cancel = threading.Event()
        self.query_one(LogLines).set_source(
            FilteredSource(self.followed, self.filter_kept), follow=True
        )
        self._filter(
            self.followed,
            pattern,
            self.filter_kept,
            self.filter_invert,
            self.filter_context,
            self._filter_cancel,
        )

    def action_invert(self) -> None:
        """Show the lines that do not match the filter (or that do, again)."""
        self.filter_invert = not self.filter_invert
        if self.filter_text:
            self.start_filter(self.filter_text)

    def action_context(self, delta: int) -> None:
        """Show more or fewer lines around each filter match."""
        self.filter_context = max(0, min(50, self.filter_context + delta))
        if self.filter_text:
            self.start_filter(self.filter_text)

    @work(thread=True, exclusive=True, group="logs-filter", exit_on_error=False)
    def _filter(
        self,
        log: FollowedLog,
        pattern: regex.Pattern[bytes],
        kept: FilteredLines,
        invert: bool,
        context: int,
        cancel: threading.Event,
    ) -> None:
        poster = self._progress_poster("filtering")
        try:
            covered = filter_lines(
                log, pattern, kept, invert=invert, context=context, cancel=cancel, progress=poster
            )
        except Cancelled:
            return
        except PatternTooSlow as exc:
            self.post_message(self.PatternTimedOut(cancel, exc.message))
            return
        except OSError as exc:
            self.post_message(self.WorkFailed(f"filter failed: {exc.strerror or exc}"))
            return
        self.post_message(self.FilterFinished(kept, covered))

    def on_logs_screen_filter_finished(self, message: FilterFinished) -> None:
        if message.kept is not self.filter_kept:
            return
        self.progress = ""
        self.filter_tested = message.covered
        if message.kept.capped:
            self.app.notify(
                "the filter matched too many separate places; showing the first ones",
                severity="warning",
                markup=False,
            )
        self._filter_new_lines()

    def _filter_new_lines(self) -> None:
        """Test the lines that arrived after the filter's scan, and show the view's growth."""
        lines = self.query_one(LogLines)
        kept = self.filter_kept
        if self.followed is None or kept is None:
            return
        if kept.complete:
            pattern = compile_line_pattern(self.filter_text)
            count = len(self.followed)
            try:
                for n in range(self.filter_tested, count):
                    line = self.followed.line(n)
                    if line.marker or line_matches(pattern, line.text) != self.filter_invert:
                        kept.add(n, n + 1)
            except PatternTooSlow as exc:
                self.drop_filter()
                self.app.notify(exc.message, severity="error", markup=False)
                return
            self.filter_tested = count
        before = lines.virtual_size.height
        lines.sync()
        if not lines.following:
            self.new_lines += max(0, len(kept) - before)
        self._measure()

    # ------------------------------------------------------------------ jump to time

    def start_jump(self, text: str) -> None:
        """Show the first line stamped at or after the typed time."""
        if self.followed is None:
            return
        reference = self._last_stamp()
        try:
            when = parse_when(text, reference)
        except ValueError as exc:
            self.app.notify(str(exc), severity="error", markup=False)
            return
        self._jump(self.followed, when)

    def _last_stamp(self) -> float:
        assert self.followed is not None
        for n in range(len(self.followed) - 1, max(-1, len(self.followed) - 50), -1):
            stamp, _ = parse_timestamp(self.followed.line(n).text)
            if stamp is not None:
                return stamp
        return time.time()

    @work(thread=True, exclusive=True, group="logs-search", exit_on_error=False)
    def _jump(self, log: FollowedLog, when: float) -> None:
        try:
            hit = find_time(log, when)
            if hit is not None:
                log.segments[hit.segment].index.wait_scanned(hit.offset)
        except OSError as exc:
            self.post_message(self.WorkFailed(f"jump failed: {exc.strerror or exc}"))
            return
        if hit is None:
            self.post_message(self.WorkFailed("no line is stamped that late"))
            return
        self.post_message(self.SearchFinished(log, hit, False))
