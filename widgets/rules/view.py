"""The Rules screen: edit fdm.conf with the linter's findings and a live test route as you type.

Linting and routing run in a worker after a short pause in typing (typing never waits); answers for an
older text are dropped by generation. Saving validates (fdm -n and the linter; errors block, warnings
and route changes of the saved test messages are shown for confirmation), then goes through the
`fdm.save` action (read-only refusal and audit are the dispatcher's). The file on disk is watched.
Message and config text are always shown as `Text`, never markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import OptionList, Static, TextArea
from textual.widgets.option_list import Option

from console.errors import UserError
from console.fdm.lint import ERROR, WARNING, Finding
from console.fdm.live import LiveTester
from console.fdm.router import Route
from console.fdm.save import (
    FileToken,
    Loaded,
    Validation,
    backups,
    file_token,
    load,
    read_backup,
    tables_for,
    validate,
)
from console.fdm.testmail import (
    RouteChange,
    compose_message,
    corpus_messages,
    message_summary,
    read_message_file,
    route_changes,
)
from console.queue.smtpctl import read_message
from console.settings import Settings
from console.text import editable, first_uneditable_line, printable
from widgets.common.dialogs import ConfirmDialog
from widgets.common.repaint import RepaintOnResize
from widgets.common.screen import ActionTarget
from widgets.messages import ActionFinished
from widgets.rules.dialogs import (
    BackupDialog,
    CorpusDialog,
    MessageRequest,
    MessageSourceDialog,
    ReviewDialog,
)
from widgets.rules.editor import FdmEditor

SAMPLE_FIELDS = {
    "from": "alice@example.org",
    "to": "bob@example.com",
    "cc": "",
    "subject": "test",
    "extra": "",
}
SAMPLE_MESSAGE = compose_message(
    "alice@example.org",
    "bob@example.com",
    subject="test",
    date="Mon, 01 Jan 2024 00:00:00 +0000",
    body="hello\n",
)
DEBOUNCE_SECONDS = 0.3
WATCH_SECONDS = 2.0
SEVERITY_STYLES = {ERROR: "bold red", WARNING: "yellow"}
OUTCOME_STYLES = {
    "delivered": "bold green",
    "kept": "bold yellow",
    "dropped": "bold yellow",
    "error": "bold white on red",
}


class FindingsList(RepaintOnResize, OptionList):
    """The findings, one wrapped entry each (enter goes to its line)."""


class RulesScreen(Widget):
    """fdm.conf in an editor, its findings, and the route of a test message."""

    DEFAULT_CSS = """
    RulesScreen { height: 1fr; }
    RulesScreen #rules-left { width: 3fr; }
    RulesScreen #rules-right { width: 2fr; border-left: vkey $primary 50%; }
    RulesScreen .pane-title { height: 1; background: $panel; padding: 0 1; }
    RulesScreen #rules-editor { height: 1fr; border: none; padding: 0; }
    RulesScreen #rules-status { height: 1; padding: 0 1; }
    RulesScreen #rules-findings { height: auto; max-height: 30%; border: none; padding: 0; }
    /* The pane with the keyboard has its title lit. */
    RulesScreen #rules-left:focus-within > #rules-title,
    RulesScreen #rules-right:focus-within > #rules-message-title { background: $accent; color: $text; }
    RulesScreen #rules-findings:focus { background-tint: $accent 15%; }
    RulesScreen #rules-message { height: 2fr; border: none; padding: 0 1; }
    RulesScreen #rules-route-box { height: 3fr; }
    RulesScreen #rules-route { padding: 0 1; }
    RulesScreen #rules-message-title, RulesScreen #rules-title { text-wrap: nowrap; text-overflow: ellipsis; }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="rules.save"),
        Binding("ctrl+r", "reload", "Reload", id="rules.reload"),
        Binding("ctrl+o", "pick_message", "Message", id="rules.message"),
        Binding("ctrl+t", "corpus", "Corpus", id="rules.corpus"),
        Binding("ctrl+b", "revert", "Revert", id="rules.revert"),
    ]
    MUTATING = {"save": "fdm.save", "revert": "fdm.revert"}
    """The mutating keys' actions and the dispatcher's action each stands for."""

    class RouteComputed(Message):
        """Findings and the test route for one version of the text."""

        def __init__(self, generation: int, findings: list[Finding], route: Route | None) -> None:
            super().__init__()
            self.generation = generation
            self.findings = findings
            self.route = route

    class FileLoaded(Message):
        """The config file was read from disk; `replace` puts its text in the editor."""

        def __init__(self, loaded: Loaded, replace: bool, note: str = "") -> None:
            super().__init__()
            self.loaded = loaded
            self.replace = replace
            self.note = note

    class TestMessageLoaded(Message):
        """A test message was read (label says from where), or reading it failed (error)."""

        def __init__(self, text: str, label: str, error: str = "") -> None:
            super().__init__()
            self.text = text
            self.label = label
            self.error = error

    class DiskChecked(Message):
        """The watched file's token now (None: it is gone)."""

        def __init__(
            self, known: FileToken | None, token: FileToken | None, error: str = ""
        ) -> None:
            super().__init__()
            self.known = known
            self.token = token
            self.error = error

    class SaveChecked(Message):
        """The verdict on a text about to be saved (or on the backup about to be put back), how it
        changes the saved test messages, and the token of the file on disk it would replace."""

        def __init__(
            self,
            text: str,
            validation: Validation,
            changes: list[RouteChange],
            corpus_note: str,
            disk: FileToken | None,
            backup: Path | None = None,
        ) -> None:
            super().__init__()
            self.text = text
            self.validation = validation
            self.changes = changes
            self.corpus_note = corpus_note
            self.disk = disk
            self.backup = backup

    class CorpusChecked(Message):
        """The regression check: route changes over the saved test messages."""

        def __init__(self, changes: list[RouteChange], note: str, error: str = "") -> None:
            super().__init__()
            self.changes = changes
            self.note = note
            self.error = error

    class BackupsListed(Message):
        """The backups of the config, newest first."""

        def __init__(self, found: list[Path]) -> None:
            super().__init__()
            self.found = found

    def __init__(self, settings: Settings, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.settings = settings
        self.loaded: Loaded | None = None
        self.generation = 0
        self.shown_generation = -1
        self.timer: Timer | None = None
        self.findings: list[Finding] = []
        self.route: Route | None = None
        self.message_label = "composed"
        self.compose_fields = dict(SAMPLE_FIELDS)
        self.disk_changed = False
        self.saving = False
        self._listed: list[Finding] | None = None
        self._shown: dict[str, Text] = {}
        self.tester = LiveTester()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="rules-left"):
                yield Static(id="rules-title", classes="pane-title")
                yield FdmEditor(id="rules-editor")
                yield Static(id="rules-status")
                yield FindingsList(id="rules-findings")
            with Vertical(id="rules-right"):
                yield Static(id="rules-message-title", classes="pane-title")
                yield TextArea(SAMPLE_MESSAGE, id="rules-message")
                # Not in the Tab cycle (editor, findings, message): the editor is never far.
                with VerticalScroll(id="rules-route-box", can_focus=False):
                    yield Static(id="rules-route")

    @property
    def editor(self) -> FdmEditor:
        """The fdm.conf editor."""
        return self.query_one("#rules-editor", FdmEditor)

    def on_mount(self) -> None:
        self.call_after_refresh(self.editor.focus)  # this screen is built only when it is shown
        self.update_message_title()
        self.load_file(replace=True)
        self.set_timer(WATCH_SECONDS, self.check_disk)

    def unsaved_changes(self) -> bool:
        """The app asks before quitting while this is true."""
        return self.modified()

    def modified(self) -> bool:
        """True when the editor holds something other than the file as loaded."""
        return self.loaded is not None and self.editor.text != self.loaded.text

    def show(self, selector: str, text: Text) -> None:
        """Put text in a Static only when it differs: each update costs a layout of the screen."""
        if self._shown.get(selector) != text:
            self._shown[selector] = text
            self.query_one(selector, Static).update(text)

    def update_title(self) -> None:
        """File name, modified / changed-on-disk / read-only state, and the findings count."""
        title = Text(self.settings.fdm_config.name, style="bold")
        if self.loaded is None:
            title.append("  loading", style="dim")
        elif self.loaded.token is None:
            title.append("  new file", style="yellow")
        if self.modified():
            title.append("  modified", style="bold yellow")
        if self.disk_changed:
            title.append("  changed on disk", style="bold white on red")
        if self.settings.read_only:
            title.append("  read-only", style="bold red")
        errors = sum(f.severity == ERROR for f in self.findings)
        warnings = sum(f.severity == WARNING for f in self.findings)
        if errors or warnings:
            title.append(
                f"  {errors} error(s), {warnings} warning(s)",
                style="bold red" if errors else "yellow",
            )
        elif self.shown_generation >= 0:
            title.append("  no findings", style="green")
        self.show("#rules-title", title)

    def update_message_title(self) -> None:
        title = Text("Test message: ", style="bold")
        title.append(printable(self.message_label))
        self.show("#rules-message-title", title)

    # ------------------------------------------------------------------ loading the file

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules-load")
    def load_file(self, replace: bool, note: str = "") -> None:
        """Read the config off the UI thread."""
        path = self.settings.fdm_config
        try:
            loaded = load(path)
        except (UserError, OSError) as exc:
            self.app.call_from_thread(
                self.app.notify, printable(str(exc)), severity="error", markup=False
            )
            return
        line = first_uneditable_line(loaded.text)
        if line is not None:
            # Shown, its escapes would act on the terminal; edited, the file would not come back
            # byte for byte. Nothing is loaded, so nothing can be saved over it from here.
            problem = (
                f"{path} line {line} holds a control character, a bidi control or bytes that are "
                "not UTF-8: the editor cannot show it as it is and does not open it "
                "(`mailconsole fdm lint` reads it; fix that line with another editor)"
            )
            self.app.call_from_thread(
                self.app.notify, printable(problem), severity="error", markup=False
            )
            return
        self.post_message(self.FileLoaded(loaded, replace, note))

    def on_rules_screen_file_loaded(self, message: FileLoaded) -> None:
        self.loaded = message.loaded
        self.disk_changed = False
        self.saving = False
        if message.replace and self.editor.text != message.loaded.text:
            self.editor.load_text(message.loaded.text)
        if message.note:
            self.app.notify(message.note, markup=False)
        self.schedule()
        self.update_title()

    def action_reload(self) -> None:
        """Read the file again; with unsaved edits, only after a yes (they are thrown away)."""
        name = self.settings.fdm_config.name

        def answered(yes: bool | None) -> None:
            if yes:
                self.load_file(replace=True, note=f"{name} reloaded from disk.")
            else:
                self.editor.focus()

        if not self.modified():
            answered(True)
            return
        self.app.push_screen(
            ConfirmDialog(
                f"{name} has unsaved edits. Reload it from disk and lose them?", yes_label="Reload"
            ),
            answered,
        )

    # ------------------------------------------------------------------ watching the file

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules-watch")
    def check_disk(self) -> None:
        """Look at the file's mtime and size; hash it only when they moved."""
        path = self.settings.fdm_config
        known = self.loaded.token if self.loaded else None
        try:
            info = path.stat()
        except FileNotFoundError:
            self.post_message(self.DiskChecked(known, None))
            return
        except OSError as exc:
            self.post_message(self.DiskChecked(known, known, f"cannot stat {path}: {exc.strerror}"))
            return
        if known is not None and (info.st_mtime_ns, info.st_size) == (known.mtime_ns, known.size):
            self.post_message(self.DiskChecked(known, known))
            return
        try:
            self.post_message(self.DiskChecked(known, file_token(path)))
        except UserError as exc:
            self.post_message(self.DiskChecked(known, known, str(exc)))

    def on_rules_screen_disk_checked(self, message: DiskChecked) -> None:
        self.set_timer(WATCH_SECONDS, self.check_disk)  # the next look is armed when this one ends
        if (
            self.loaded is None
            or self.saving
            or message.error
            or message.known != self.loaded.token
            or message.token == self.loaded.token
        ):
            return  # nothing new, or a look from before the last load or save
        name = self.settings.fdm_config.name
        if not self.modified():
            self.load_file(replace=True, note=f"{name} changed on disk: reloaded.")
        elif not self.disk_changed:
            self.disk_changed = True
            self.app.notify(
                f"{name} changed on disk while you edit it: ctrl+r takes the disk's "
                "version, a save asks before overwriting it.",
                severity="warning",
                markup=False,
                timeout=8,
            )
            self.update_title()

    # ------------------------------------------------------------------ live lint and route

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.schedule()
        if event.text_area.id == "rules-editor":
            self.update_title()

    def schedule(self) -> None:
        """Re-lint and re-route once typing pauses."""
        self.generation += 1
        if self.timer is not None:
            self.timer.stop()
        self.timer = self.set_timer(DEBOUNCE_SECONDS, self.start_compute)

    def start_compute(self) -> None:
        config_text = self.editor.text
        message_text = self.query_one("#rules-message", TextArea).text
        self.compute(self.generation, config_text, message_text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules-route")
    def compute(self, generation: int, config_text: str, message_text: str) -> None:
        """Lint and route in the tester's process (this thread only waits); the answer is a message."""
        findings, route = self.tester.check(
            config_text, str(self.settings.fdm_config), tables_for(self.settings), message_text
        )
        self.post_message(self.RouteComputed(generation, findings, route))

    def on_unmount(self) -> None:
        self.tester.close()

    def on_rules_screen_route_computed(self, message: RouteComputed) -> None:
        if message.generation != self.generation:
            return  # an answer for text that has changed since
        self.route = message.route
        self.shown_generation = message.generation
        self.show_findings(message.findings)
        message_text = self.query_one("#rules-message", TextArea).text
        self.show("#rules-route", render_route(message.route, message_text))

    def show_findings(self, findings: list[Finding]) -> None:
        """Findings in the list, as gutter marks, and in the title and status line.

        The list is rebuilt only when the findings changed (most keystrokes change none).
        """
        self.findings = findings
        self.update_title()
        self.update_status()
        if findings == self._listed:
            return
        self._listed = list(findings)
        marks: dict[int, str] = {}
        for finding in findings:
            if finding.line and marks.get(finding.line - 1) != ERROR:
                marks[finding.line - 1] = finding.severity
        self.editor.set_marks(marks)
        options = self.query_one("#rules-findings", OptionList)
        options.clear_options()
        options.add_options(
            [Option(finding_text(finding)) for finding in findings]
            or [Option(Text("no findings", style="green"), disabled=True)]
        )

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        if event.text_area.id == "rules-editor":
            self.update_status()

    def update_status(self) -> None:
        """The findings of the line under the cursor, else what the keys do."""
        row = self.editor.cursor_location[0] + 1
        here = [f for f in self.findings if f.line == row]
        status = Text(no_wrap=True, overflow="ellipsis")
        if here:
            for finding in here:
                status.append(
                    f"{finding.severity}: ", style=SEVERITY_STYLES.get(finding.severity, "dim")
                )
                status.append(printable(f"{finding.message} Fix: {finding.fix}  "))
        else:
            status.append(f"line {row}", style="dim")
            if self.settings.read_only:
                status.append("  read-only: edits test routes, they cannot be saved", style="dim")
        self.show("#rules-status", status)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Selecting a finding jumps to its line."""
        if event.option_list.id != "rules-findings" or event.option_index >= len(self.findings):
            return
        line = self.findings[event.option_index].line
        if line:
            self.editor.move_cursor((line - 1, 0), center=True)
        self.editor.focus()

    # ------------------------------------------------------------------ the test message

    def action_pick_message(self) -> None:
        """Choose where the test message comes from."""

        def chosen(request: MessageRequest | None) -> None:
            if request is not None:
                if request.kind == "compose":
                    self.compose_fields = dict(request.fields)
                self.load_message(request)

        self.app.push_screen(
            MessageSourceDialog(self.settings.spool_dir, self.compose_fields), chosen
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules-message")
    def load_message(self, request: MessageRequest) -> None:
        """Compose or read the test message (smtpctl and files off the UI thread)."""
        fields = request.fields
        try:
            if request.kind == "compose":
                text = compose_message(
                    fields.get("from", ""),
                    fields.get("to", ""),
                    fields.get("cc", ""),
                    fields.get("subject", ""),
                    fields.get("extra", ""),
                    body="hello\n",
                )
                label = "composed"
            elif request.kind == "queue":
                msgid = fields.get("id", "").strip().lower()[:8]
                text = read_message(self.settings, msgid)
                label = f"queued message {msgid}"
            else:
                path = Path(fields.get("path", "").strip()).expanduser()
                text = read_message_file(path)
                label = (
                    str(path.relative_to(self.settings.spool_dir))
                    if path.is_relative_to(self.settings.spool_dir)
                    else str(path)
                )
        except UserError as exc:
            self.post_message(self.TestMessageLoaded("", "", str(exc)))
            return
        self.post_message(self.TestMessageLoaded(text, label))

    def on_rules_screen_test_message_loaded(self, message: TestMessageLoaded) -> None:
        if message.error:
            self.app.notify(printable(message.error), severity="error", markup=False)
            return
        self.message_label = message.label
        self.update_message_title()
        self.query_one("#rules-message", TextArea).load_text(editable(message.text))

    # ------------------------------------------------------------------ the corpus check

    def action_corpus(self) -> None:
        """Route the saved test messages with the file on disk and with the edits; list changes."""
        self.check_corpus(self.editor.text)

    def _corpus(self, text: str) -> tuple[list[RouteChange], str]:
        """Route changes and a one-line summary (raises UserError when there is no corpus)."""
        directory = self.settings.fdm_test_messages
        messages = corpus_messages(directory)
        disk = load(self.settings.fdm_config).text
        changes = route_changes(disk, text, messages, str(self.settings.fdm_config))
        note = (
            f"{len(changes)} of {len(messages)} test messages in {directory} route differently "
            "with the edits"
            if changes
            else f"no route changes across the {len(messages)} test messages in {directory}"
        )
        return changes, note

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules-corpus")
    def check_corpus(self, text: str) -> None:
        try:
            changes, note = self._corpus(text)
        except UserError as exc:
            self.post_message(self.CorpusChecked([], "", str(exc)))
            return
        self.post_message(self.CorpusChecked(changes, note))

    def on_rules_screen_corpus_checked(self, message: CorpusChecked) -> None:
        if message.error:
            self.app.notify(printable(message.error), severity="error", markup=False)
            return
        style = "bold yellow" if message.changes else "bold green"
        self.app.push_screen(
            CorpusDialog(Text(printable(message.note), style=style), message.changes)
        )

    # ------------------------------------------------------------------ save and revert

    def refusal_target(self) -> str:
        """What a refused key would have acted on (for the audit log)."""
        return str(self.settings.fdm_config)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Save and revert do not exist in read-only mode (hidden from footer and help)."""
        if action in self.MUTATING and self.settings.read_only:
            return False
        return True

    def token(self) -> str:
        """The loaded file's token for the save action ("none": the file did not exist)."""
        return str(self.loaded.token) if self.loaded and self.loaded.token else "none"

    def action_save(self) -> None:
        """Validate in a worker; the answer decides: blocked, or a confirmation, then fdm.save."""
        if self.settings.read_only:
            # Not offered; reached anyway, the dispatcher refuses it and writes the refusal down.
            self.app.request_action(  # type: ignore[attr-defined]
                "fdm.save",
                str(self.settings.fdm_config),
                {"text": self.editor.text, "token": self.token()},
            )
            return
        if self.loaded is None or self.saving:
            return
        self.saving = True
        self.check_save(self.editor.text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules-save")
    def check_save(self, text: str, backup: Path | None = None) -> None:
        """fdm -n, the linter and the corpus routes for the text about to be saved (or the backup
        about to be put back), and the token of the version on disk the question is about."""
        path = self.settings.fdm_config
        try:
            disk = file_token(path)
            if backup is not None:
                text = read_backup(path, backup)
            validation = validate(text, path, tables_for(self.settings))
        except UserError as exc:
            disk = None
            validation = Validation(
                findings=[Finding(ERROR, 0, str(exc), "install fdm or fix it", "fdm-n")]
            )
        try:
            changes, note = self._corpus(text)
        except UserError as exc:
            changes, note = [], str(exc)
        self.post_message(self.SaveChecked(text, validation, changes, note, disk, backup))

    def on_rules_screen_save_checked(self, message: SaveChecked) -> None:
        verdict = message.validation
        if verdict.errors:
            self.saving = False
            first = verdict.errors[0]
            if message.backup is None:  # the findings' lines are the editor's
                self.show_findings(verdict.findings)
                if first.line:
                    self.editor.move_cursor((first.line - 1, 0), center=True)
                    self.editor.focus()
            where = f"line {first.line}: " if first.line else ""
            verb = f"Not reverted to {message.backup.name}" if message.backup else "Not saved"
            self.app.notify(
                printable(f"{verb}: {where}{first.message}"),
                severity="error",
                markup=False,
                timeout=8,
            )
            return
        if self.loaded is not None and message.disk != self.loaded.token and not self.disk_changed:
            self.disk_changed = True  # seen by this check before the watcher's next look
            self.update_title()
        body = save_review(verdict, message.changes, message.corpus_note, self.disk_changed)
        name = self.settings.fdm_config.name
        params = {
            # The version on disk the question is about: if it changes again before the answer,
            # the dispatcher refuses and the next save asks again.
            "token": str(message.disk) if message.disk else "none",
            "allow_warnings": "yes" if verdict.warnings else "no",
        }
        if message.backup is not None:
            action, params["backup"], label = "fdm.revert", str(message.backup), "Revert"
            backup_name = printable(message.backup.name)
            question = (
                f"Revert {name}, changed on disk since it was opened, to {backup_name}?"
                if self.disk_changed
                else f"Revert {name} to {backup_name}?"
            )
            if self.modified():
                body.append("\nYour unsaved edits in the editor are replaced.", style="bold yellow")
        else:
            action, params["text"], label = "fdm.save", message.text, "Save"
            question = (
                f"Overwrite {name}, changed on disk since it was opened?"
                if self.disk_changed
                else f"Save {name}?"
            )

        def answered(yes: bool | None) -> None:
            self.saving = bool(yes)
            if yes:
                self.app.request_action(  # type: ignore[attr-defined]
                    action,
                    str(self.settings.fdm_config),
                    params,
                    confirmed=True,
                )

        self.app.push_screen(ReviewDialog(question, body, label), answered)

    def action_revert(self) -> None:
        """List the backups; the chosen one is validated like a save, then goes through fdm.revert."""
        if self.settings.read_only:
            self.app.request_action(  # type: ignore[attr-defined]
                "fdm.revert",
                str(self.settings.fdm_config),
                {"backup": "", "token": self.token()},
            )
            return
        self.list_backups()

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules-backups")
    def list_backups(self) -> None:
        self.post_message(self.BackupsListed(backups(self.settings.fdm_config)))

    def on_rules_screen_backups_listed(self, message: BackupsListed) -> None:
        name = self.settings.fdm_config.name
        if not message.found:
            self.app.notify(f"{name} has no backups yet (each save keeps one).", markup=False)
            return

        def picked(backup: Path | None) -> None:
            if backup is None or self.saving:
                return
            self.saving = True
            self.check_save("", backup)

        self.app.push_screen(BackupDialog(message.found), picked)

    def handle_action_result(self, message: ActionFinished) -> None:
        """After our save or revert: take the new file's token (and, for a revert, its text)."""
        if message.name not in ("fdm.save", "fdm.revert") or message.target != str(
            self.settings.fdm_config
        ):
            return
        if message.ok:
            self.load_file(
                replace=message.name == "fdm.revert"
            )  # `saving` ends when the new token is in
        else:
            self.saving = False

    def palette_commands(self) -> Iterator[tuple[str, str, Callable[[], None]]]:
        """Palette entries of the Rules screen (save and revert come from the registry)."""
        yield (
            "Rules: test message",
            "Pick the message the route is computed for",
            self.action_pick_message,
        )
        yield (
            "Rules: corpus check",
            "List saved test messages whose route the edits change",
            self.action_corpus,
        )

    def action_targets(self, name: str) -> Iterator[ActionTarget]:
        """Save and revert act on the settings' fdm.conf."""
        helps = {"fdm.save": "Validate, review and save", "fdm.revert": "Put a kept version back"}
        if name in helps:
            yield str(self.settings.fdm_config), helps[name]

    def start_action(self, name: str, target: str) -> None:
        """As ctrl+s and ctrl+b do: validate and review first."""
        if name == "fdm.revert":
            self.action_revert()
        else:
            self.action_save()


def finding_text(finding: Finding) -> Table:
    """One finding: its line number ("-" for the whole file) in a gutter, then severity and
    sentence, which wrap under the sentence's start, not under the gutter (config text is untrusted)."""
    gutter = Text(f"{finding.line:>4}" if finding.line else "   -", style="dim")
    sentence = Text(f"{finding.severity}: ", style=SEVERITY_STYLES.get(finding.severity, "dim"))
    sentence.append(printable(finding.message))
    grid = Table.grid(padding=(0, 1, 0, 0))
    grid.add_column(width=4, no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(gutter, sentence)
    return grid


def save_review(
    verdict: Validation, changes: list[RouteChange], corpus_note: str, disk_changed: bool
) -> Text:
    """What a save or revert brings: the disk conflict, the warnings, the test messages it re-routes."""
    body = Text()
    if disk_changed:
        body.append(
            "The file changed on disk since you opened it; this replaces that version "
            "(it is kept as a backup).\n\n",
            style="bold red",
        )
    if not verdict.fdm_checked:
        body.append(
            "fdm is not installed here: only the linter checked the text.\n", style="yellow"
        )
    if verdict.warnings:
        body.append(f"{len(verdict.warnings)} warning(s):\n", style="bold yellow")
        for finding in verdict.warnings:
            body.append(f"  line {finding.line}: ", style="yellow")
            body.append(printable(finding.message) + "\n")
    else:
        body.append("No warnings.\n", style="green")
    body.append("\n" + printable(corpus_note) + "\n", style="bold yellow" if changes else "green")
    for change in changes:
        body.append(f"  {printable(change.message)}: ", style="bold")
        body.append(printable(change.before), style="dim")
        body.append(" -> ")
        body.append(
            printable(change.after) + "\n",
            style="bold red" if change.after.startswith(("error", "config")) else "green",
        )
    body.append("\nThe previous version is kept as a timestamped backup.", style="dim")
    return body


def render_route(route: Route | None, message_text: str = "") -> Text:
    """The test message's route as Text: headers, outcome, rules, actions, commands, mailboxes."""
    text = Text()
    headers = dict(message_summary(message_text))
    text.append(printable(headers.get("From", "?")), style="bold")
    text.append(" -> ", style="dim")
    text.append(
        printable(", ".join(v for k, v in headers.items() if k in ("To", "Cc")) or "?"),
        style="bold",
    )
    text.append("\n")
    text.append(printable(headers.get("Subject", "(no subject)")) + "\n\n", style="italic")
    if route is None:
        text.append(" NO ROUTE ", style=OUTCOME_STYLES["error"])
        text.append(" the config does not parse\n", style="bold red")
        return text
    text.append(f" {route.outcome.upper()} ", style=OUTCOME_STYLES.get(route.outcome, "bold"))
    if route.error:
        text.append(" " + printable(route.error), style="bold red")
    text.append("\n")
    lines = ", ".join(map(str, route.rules)) or "none"
    text.append("rules matched at lines ", style="dim")
    text.append(lines + "\n")
    for number, run in enumerate(route.runs, 1):
        text.append(f"{number}. ", style="dim")
        text.append(printable(run.action), style="bold")
        text.append(printable(f" ({run.kind}, rule at line {run.rule_line})") + "\n", style="dim")
        if run.argument:
            text.append("   " + printable(run.argument) + "\n")
    for delivery in route.deliveries:
        where = delivery.path or f"{delivery.user or '?'} / {delivery.folder or 'INBOX'}"
        text.append("-> ", style="green")
        text.append(printable(where), style="bold green")
        text.append(printable(f"  ({delivery.action})") + "\n", style="dim")
    for note in route.notes:
        text.append(printable(note) + "\n", style="dim italic")
    return text
