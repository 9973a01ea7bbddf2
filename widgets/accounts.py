"""The Accounts screen: addresses, users, domains, the consistency check and the DNS records, and the
changes (add or remove a user, an address, a domain; set a password) through the dispatcher.

The files are read, routed and checked in a thread; the DNS check asks the resolver in another. A
password is typed into fields that show no characters, goes to the dispatcher as a parameter that is
never audited, and is never shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, ClassVar, NamedTuple

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

from console.accounts.check import Finding
from console.accounts.dns import OK, Record, Verdict
from console.accounts.overview import Overview
from console.settings import Settings
from console.text import printable
from widgets.common.dialogs import ConfirmDialog, Dialog
from widgets.common.entries import EntryList, cells_strip
from widgets.common.screen import ActionTarget
from widgets.messages import ActionFinished

VIEWS = ("addresses", "users", "domains", "findings", "dns")
TITLES = {
    "addresses": "Addresses",
    "users": "Users",
    "domains": "Domains",
    "findings": "Check",
    "dns": "DNS",
}
SEVERITY_STYLES = {"error": "bold red", "warning": "yellow", "info": "dim"}
STATUS_STYLES = {
    OK: "green",
    "missing": "bold red",
    "malformed": "bold red",
    "different": "yellow",
    "unknown": "dim",
    "not checked": "dim",
}


class Row(NamedTuple):
    """One entry of the list: its cells (text, width, style; width 0 takes the rest), the detail
    line shown under the list when it is highlighted, and what it stands for."""

    cells: list[tuple[str, int, str]]
    detail: str
    kind: str
    key: str


class AccountsList(EntryList):
    """The rows of the current view, one line each, under a line of column titles."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[Row] = []
        self.titles: list[tuple[str, int, str]] = []

    def show(self, titles: list[tuple[str, int, str]], rows: list[Row], keep: str | None) -> None:
        """New rows; the cursor stays on the entry with key `keep` when it is still there."""
        self.titles, self.rows = titles, rows
        index = next((i for i, r in enumerate(rows) if r.key == keep), None)
        self.changed([True] * len(rows), keep=index)

    def lay_out(self, width: int) -> tuple[list[Strip], list[list[Strip]]]:
        titles = [cells_strip([(t, size, "bold") for t, size, _s in self.titles], width)]
        return titles, [[cells_strip(row.cells, width)] for row in self.rows]

    def line_style(self, entry: int) -> Style:
        return Style()

    class Highlighted(Message):
        """The cursor is on another row."""

    def move_to(self, index: int) -> None:
        super().move_to(index)
        self.post_message(self.Highlighted())

    def current(self) -> Row | None:
        """The highlighted row."""
        if self.highlighted is None or self.highlighted >= len(self.rows):
            return None
        return self.rows[self.highlighted]


class FormDialog(Dialog["dict[str, str] | None"]):
    """A few one-line fields and OK/Cancel; password fields show nothing and must be typed twice."""

    DEFAULT_CSS = """
    FormDialog .form { grid-size: 2; grid-columns: 14 1fr; grid-rows: 1; grid-gutter: 1 1;
                       height: auto; margin-bottom: 1; }
    FormDialog .hint { color: $text-muted; margin-bottom: 1; width: 100%; }
    FormDialog .form Input { background: $boost; }
    FormDialog #form-error { width: 100%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        hint: str,
        fields: list[tuple[str, str, str]],
        password: bool = False,
        ok_label: str = "OK",
    ) -> None:
        """`fields`: (id, label, initial value); `password`: add a password and its repetition."""
        super().__init__()
        self.form_title = title
        self.hint = hint
        self.fields = fields
        self.password = password
        self.ok_label = ok_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.form_title, style="bold"), classes="question")
            if self.hint:
                yield Label(Text(self.hint), classes="hint")
            with Grid(classes="form"):
                for field_id, label, value in self.fields:
                    yield Label(Text(label))
                    yield Input(value=value, id=f"field-{field_id}", compact=True)
                if self.password:
                    yield Label(Text("Password"))
                    yield Input(password=True, id="field-password", compact=True)
                    yield Label(Text("Again"))
                    yield Input(password=True, id="field-again", compact=True)
            yield Label("", id="form-error")
            with Horizontal(classes="buttons"):
                yield Button(self.ok_label, variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        at = inputs.index(event.input)
        if at + 1 < len(inputs):
            inputs[at + 1].focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        values = {
            field_id: self.query_one(f"#field-{field_id}", Input).value.strip()
            for field_id, _label, _value in self.fields
        }
        empty = next(
            (
                label
                for field_id, label, _v in self.fields
                if not values[field_id] and field_id != "addresses"
            ),
            None,
        )
        if empty:
            self._error(f"{empty}: needed")
            return
        if self.password:
            password = self.query_one("#field-password", Input).value
            if password != self.query_one("#field-again", Input).value:
                self._error("the two passwords differ")
                return
            if len(password) < 8:
                self._error("the password is too short (at least 8 characters)")
                return
            values["password"] = password
        self.dismiss(values)

    def _error(self, text: str) -> None:
        self.query_one("#form-error", Label).update(Text(text, style="bold red"))

    def action_cancel(self) -> None:
        self.dismiss(None)


class AccountsScreen(Widget):
    """The Accounts screen."""

    DEFAULT_CSS = """
    AccountsScreen { height: 1fr; }
    AccountsScreen #accounts-views { height: 1; }
    AccountsScreen AccountsList { height: 1fr; }
    AccountsScreen #accounts-detail {
        height: auto; min-height: 3; max-height: 50%; color: $text-muted;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "next_view", "View", id="accounts.view"),
        *(
            Binding(
                str(n),
                f"view('{view}')",
                f"{TITLES[view]} view",
                show=False,
                id=f"accounts.view_{view}",
            )
            for n, view in enumerate(VIEWS, start=1)
        ),
        Binding("u", "add_user", "New user", id="accounts.add_user"),
        Binding("a", "add_address", "New address", id="accounts.add_address"),
        Binding("d", "delete", "Delete", id="accounts.delete"),
        Binding("p", "passwd", "Password", id="accounts.passwd"),
        Binding("o", "add_domain", "New domain", id="accounts.add_domain"),
        Binding("c", "check_dns", "Check DNS", id="accounts.dns"),
        Binding("r", "reload", "Reload", id="accounts.reload"),
    ]

    @property
    def MUTATING(self) -> dict[str, str]:  # noqa: N802 - the name every screen's key map has
        """The mutating keys' actions and the dispatcher's action each stands for; `delete` removes
        what the cursor is on (a user, an address or a domain)."""
        row = self.query_one(AccountsList).current() if self.is_mounted else None
        kind = row.kind if row is not None and row.kind in ("address", "domain") else "user"
        return {
            "add_user": "accounts.add_user",
            "add_address": "accounts.add_address",
            "add_domain": "accounts.add_domain",
            "passwd": "accounts.passwd",
            "delete": f"accounts.del_{kind}",
        }

    def refusal_target(self) -> str:
        """What a refused key was aimed at (read-only): the entry under the cursor."""
        row = self.query_one(AccountsList).current()
        return row.key if row is not None else ""

    class Loaded(Message):
        """The files were read, routed and checked."""

        def __init__(
            self, overview: Overview, findings: list[Finding], records: list[Record]
        ) -> None:
            super().__init__()
            self.overview = overview
            self.findings = findings
            self.records = records

    class LoadFailed(Message):
        """The files could not be read: one sentence."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class DnsChecked(Message):
        """The resolver's answers, judged."""

        def __init__(self, verdicts: list[Verdict] | None, error: str = "") -> None:
            super().__init__()
            self.verdicts = verdicts
            self.error = error

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.view = VIEWS[0]
        self.overview: Overview | None = None
        self.findings: list[Finding] = []
        self.records: list[Record] = []
        self.verdicts: list[Verdict] | None = None
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Static(id="accounts-views")
        yield AccountsList(id="accounts-list")
        yield Static(id="accounts-detail")

    def on_mount(self) -> None:
        self._show()
        self.load()

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, exit_on_error=False, group="accounts-load")
    def load(self) -> None:
        """Read, route and check the files (a thread: 10,000 addresses take a moment)."""
        from console.accounts.changes import load_files
        from console.accounts.check import check
        from console.accounts.dns import wanted_records
        from console.accounts.overview import overview
        from console.errors import UserError

        try:
            files = load_files(self.settings)
            findings = check(files.accounts, files.fdm_path, fdm_text=files.fdm_text)
            records = wanted_records(files.accounts, self.settings)
            self.post_message(self.Loaded(overview(files), findings, records))
        except UserError as exc:
            self.post_message(self.LoadFailed(str(exc)))

    def on_accounts_screen_loaded(self, message: Loaded) -> None:
        self.overview, self.findings, self.records = (
            message.overview,
            message.findings,
            message.records,
        )
        self.verdicts = None if self.verdicts is None else self.verdicts
        self.error = ""
        self._show()

    def on_accounts_screen_load_failed(self, message: LoadFailed) -> None:
        self.error = message.text
        self._show()

    @work(thread=True, exclusive=True, exit_on_error=False, group="accounts-dns")
    def check_dns(self, records: list[Record]) -> None:
        """Ask the resolver about every record."""
        from console.accounts.dns import check_records, make_resolver
        from console.errors import UserError

        try:
            verdicts = check_records(records, make_resolver(self.settings.dns_resolver))
        except UserError as exc:
            self.post_message(self.DnsChecked(None, str(exc)))
            return
        self.post_message(self.DnsChecked(verdicts))

    def on_accounts_screen_dns_checked(self, message: DnsChecked) -> None:
        if message.error:
            self.notify(printable(message.error), severity="error", markup=False)
            return
        self.verdicts = message.verdicts
        bad = [v for v in message.verdicts or [] if v.status != OK]
        self.notify(
            f"DNS: {len(bad)} of {len(message.verdicts or [])} records need attention"
            if bad
            else "DNS: every record is as the stack needs it",
            markup=False,
            severity="warning" if bad else "information",
        )
        self._show()

    def handle_action_result(self, message: ActionFinished) -> None:
        """An accounts action finished (the app already notified its outcome): read the files again."""
        if message.name.startswith("accounts."):
            self.load()

    def unsaved_changes(self) -> bool:
        """Nothing on this screen is edited in place."""
        return False

    # ------------------------------------------------------------------ drawing

    def _show(self) -> None:
        """Draw the view line, the list and the detail of the highlighted row."""
        counts = self._counts()
        tabs = Text(no_wrap=True, overflow="ellipsis")
        for number, view in enumerate(VIEWS, start=1):
            label = f" {number} {TITLES[view]}{counts.get(view, '')} "
            tabs.append(label, style="reverse bold" if view == self.view else "")
        self.query_one("#accounts-views", Static).update(tabs)
        current = self.query_one(AccountsList).current()
        titles, rows = self._rows()
        self.query_one(AccountsList).show(titles, rows, current.key if current else None)
        self._detail()

    def _counts(self) -> dict[str, str]:
        if self.overview is None:
            return {}
        errors = sum(1 for f in self.findings if f.severity == "error")
        warnings = sum(1 for f in self.findings if f.severity == "warning")
        bad = sum(1 for v in self.verdicts or [] if v.status != OK)
        return {
            "addresses": f" ({len(self.overview.addresses)})",
            "users": f" ({len(self.overview.users)})",
            "domains": f" ({len(self.overview.domains)})",
            "findings": f" ({errors}E {warnings}W)" if self.findings else " (clean)",
            "dns": "" if self.verdicts is None else f" ({bad} to fix)" if bad else " (ok)",
        }

    def _rows(self) -> tuple[list[tuple[str, int, str]], list[Row]]:
        if self.error:
            return [("Cannot read the accounts", 0, "")], [
                Row([(self.error, 0, "bold red")], "", "error", "error")
            ]
        view = self.overview
        if view is None:
            return [("Reading the tables…", 0, "")], []
        if self.view == "addresses":
            rows = [
                Row(
                    [
                        (a.address, 34, ""),
                        (
                            ", ".join(a.mailboxes) or a.target,
                            0,
                            "" if a.in_addrs and a.in_vusers else "red",
                        ),
                    ],
                    f"vusers: {a.target or '(none)'}"
                    + ("" if a.in_addrs else "; not in addrs")
                    + ("" if a.in_vusers else "; not in vusers"),
                    "address",
                    a.address,
                )
                for a in view.addresses
            ]
            return [("Address", 34, ""), ("Delivered to (fdm.conf)", 0, "")], rows or [
                self._none_yet("addresses", "a")
            ]
        if self.view == "users":
            rows = [
                Row(
                    [
                        (u.name, 14, "bold"),
                        ("no Maildir" if u.messages is None else f"{u.messages} msg", 10, ""),
                        (", ".join(u.addresses) or "(no address)", 0, ""),
                    ],
                    f"Maildir: {u.maildir or '?'}",
                    "user",
                    u.name,
                )
                for u in view.users
            ]
            return [("User", 14, ""), ("Mail", 10, ""), ("Addresses", 0, "")], rows or [
                self._none_yet("users", "u")
            ]
        if self.view == "domains":
            rows = [
                Row(
                    [(d.name, 34, "bold"), (f"{d.addresses} address(es)", 0, "")],
                    "",
                    "domain",
                    d.name,
                )
                for d in view.domains
            ]
            return [("Domain", 34, ""), ("Addresses", 0, "")], rows or [
                self._none_yet("domains", "o")
            ]
        if self.view == "findings":
            rows = [
                Row(
                    [
                        (f.severity, 7, SEVERITY_STYLES.get(f.severity, "")),
                        (f"{f.location().rpartition('/')[2]}", 12, "dim"),
                        (f.message, 0, ""),
                    ],
                    f"{f.location()}: {f.message}\nfix: {f.fix}",
                    "finding",
                    f"{f.file}:{f.line}:{f.code}:{f.message}",
                )
                for f in self.findings
            ]
            if not rows:
                rows = [
                    Row(
                        [("", 7, ""), ("", 12, ""), ("no findings: the tables agree", 0, "green")],
                        "",
                        "none",
                        "none",
                    )
                ]
            return [("", 7, ""), ("Where", 12, ""), ("Finding", 0, "")], rows
        verdicts = {(v.record.domain, v.record.kind): v for v in self.verdicts or []}
        rows = []
        for record in self.records:
            verdict = verdicts.get((record.domain, record.kind))
            status = verdict.status if verdict else "not checked"
            detail = record.zone_line()
            if verdict is not None and verdict.detail:
                detail = f"{verdict.detail}\n{detail}"
            rows.append(
                Row(
                    [
                        (record.domain, 22, ""),
                        (record.kind, 6, "bold"),
                        (status, 11, STATUS_STYLES.get(status, "")),
                        (record.value or record.note, 0, "dim"),
                    ],
                    detail,
                    "record",
                    f"{record.domain}:{record.kind}",
                )
            )
        return [("Domain", 22, ""), ("Record", 6, ""), ("Status", 11, ""), ("Wanted", 0, "")], rows

    def _none_yet(self, what: str, key: str) -> Row:
        """The one row of an empty view: it says so, and which key adds one (none when read-only);
        the Check view tells what the tables lack."""
        adds = "" if self.settings.read_only else f"; {key} adds one"
        return Row(
            [(f"no {what} yet{adds}", 0, "dim")], "4 Check: what the tables lack", "none", ""
        )

    def _detail(self) -> None:
        row = self.query_one(AccountsList).current()
        text = row.detail if row else ""
        if self.view == "dns" and self.verdicts is None and not text:
            text = "c asks the resolver"
        lines = [printable(line) for line in text.split("\n")]
        self.query_one("#accounts-detail", Static).update(Text("\n".join(lines)))

    def on_accounts_list_highlighted(self, message: AccountsList.Highlighted) -> None:
        self._detail()

    def palette_commands(self) -> Iterator[tuple[str, str, Callable[[], None]]]:
        """Palette entries: the views and the DNS check (the changes come from the registry)."""
        for view in VIEWS:
            yield (
                f"Accounts: {TITLES[view]}",
                f"Show the {TITLES[view]} view",
                partial(self.action_view, view),
            )
        yield "Accounts: check DNS", "Ask the resolver about every record", self.action_check_dns

    def action_targets(self, name: str) -> Iterator[ActionTarget]:
        """Adding asks for its target in a form; a password is set for any user on the screen."""
        if name in ("accounts.add_user", "accounts.add_address", "accounts.add_domain"):
            yield "", ""
        elif name == "accounts.passwd":
            for user in self.overview.users if self.overview else []:
                yield user.name, ""

    def start_action(self, name: str, target: str) -> None:
        """The form of each change, as its key opens it."""
        forms: dict[str, Callable[[], None]] = {
            "accounts.add_user": self.action_add_user,
            "accounts.add_address": self.action_add_address,
            "accounts.add_domain": self.action_add_domain,
            "accounts.passwd": partial(self._passwd_form, target),
        }
        forms[name]()

    # ------------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The change keys are not offered in read-only mode."""
        if action in self.MUTATING and self.settings.read_only:
            return None
        return True

    def action_next_view(self) -> None:
        self.action_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])

    def action_view(self, view: str) -> None:
        self.view = view
        self.query_one(AccountsList).highlighted = None
        self._show()
        if view == "dns" and self.verdicts is None and self.records:
            self.check_dns(self.records)

    def action_check_dns(self) -> None:
        if self.view != "dns":
            self.action_view("dns")
            return
        self.check_dns(self.records)

    def action_reload(self) -> None:
        self.load()

    def _selected(self, kind: str) -> str:
        row = self.query_one(AccountsList).current()
        return row.key if row is not None and row.kind == kind else ""

    def _ask(self, screen: FormDialog, then: Any) -> None:
        def answered(values: dict[str, str] | None) -> None:
            if values:
                then(values)

        self.app.push_screen(screen, answered)

    def action_add_user(self) -> None:
        self._ask(
            FormDialog(
                "Add a mailbox user",
                "userdb, a Maildir, and for each address vusers, addrs and an "
                "fdm.conf rule. The password needs 8 characters or more and is not shown.",
                [("name", "User name", ""), ("addresses", "Addresses", "")],
                password=True,
                ok_label="Add",
            ),
            lambda v: self._request(
                "accounts.add_user",
                v["name"],
                {"password": v["password"], "addresses": v["addresses"]},
            ),
        )

    def action_add_address(self) -> None:
        user = self._selected("user")
        if not user and self.overview and len(self.overview.users) == 1:
            user = self.overview.users[0].name
        self._ask(
            FormDialog(
                "Accept an address",
                "vusers, addrs, and an fdm.conf rule delivering it to the user's "
                "INBOX (an alias when the user has others).",
                [("address", "Address", ""), ("user", "For user", user)],
                ok_label="Add",
            ),
            lambda v: self._request("accounts.add_address", v["address"], {"user": v["user"]}),
        )

    def action_add_domain(self) -> None:
        self._ask(
            FormDialog(
                "Accept mail for a domain",
                "vdomains; then publish its DNS records (5 DNS).",
                [("domain", "Domain", "")],
                ok_label="Add",
            ),
            lambda v: self._request("accounts.add_domain", v["domain"], {}),
        )

    def action_passwd(self) -> None:
        user = self._selected("user")
        if not user:
            self.notify("choose a user in the Users view (2) first", severity="warning")
            return
        self._passwd_form(user)

    def _passwd_form(self, user: str) -> None:
        self._ask(
            FormDialog(
                f"New password for {user}",
                "8 characters or more; not shown.",
                [],
                password=True,
                ok_label="Set",
            ),
            lambda v: self._request(
                "accounts.passwd", user, {"password": v["password"]}, confirmed=True
            ),
        )

    def action_delete(self) -> None:
        row = self.query_one(AccountsList).current()
        if row is None or row.kind not in ("user", "address", "domain"):
            self.notify("choose a user, an address or a domain to remove", severity="warning")
            return
        params: dict[str, str] = {}
        if row.kind == "user":
            user = next(
                u for u in (self.overview.users if self.overview else []) if u.name == row.key
            )
            mail = (
                f" Their Maildir ({user.messages} message(s)) is kept at {user.maildir}."
                if user.messages is not None
                else ""
            )
            addresses = f" and {', '.join(user.addresses)}" if user.addresses else ""
            question = f"Remove user {row.key}{addresses}?{mail}"
            params["yes"] = "yes"
            name = "accounts.del_user"
        elif row.kind == "address":
            question, name = f"Stop accepting {row.key}?", "accounts.del_address"
        else:
            question, name = f"Stop accepting mail for {row.key}?", "accounts.del_domain"

        def answered(yes: bool | None) -> None:
            if yes:
                self._request(name, row.key, params, confirmed=True)

        self.app.push_screen(ConfirmDialog(printable(question), yes_label="Remove"), answered)

    def _request(
        self, name: str, target: str, params: dict[str, str], confirmed: bool = False
    ) -> None:
        self.app.request_action(name, target, params, confirmed=confirmed)  # type: ignore[attr-defined]
