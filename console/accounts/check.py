"""Do the four files agree, and does every accepted address reach a mailbox?

Errors are mail refused or lost (smtpd refuses a table, an accepted address has no user or no route);
warnings are things that work today but are fragile or surprising; infos are worth knowing.
`exit_code` is the fdm linter's (0 clean, 1 warnings, 2 errors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from console.accounts.model import TABLE_KINDS, Accounts
from console.accounts.tables import LIST, MAP, Table, TableEntry
from console.errors import UserError
from console.fdm.lint import ERROR, INFO, WARNING
from console.fdm.lint import Finding as _LintFinding
from console.fdm.lint import exit_code as lint_exit_code
from console.fdm.parser import FdmSyntaxError, parse, parse_file
from console.fdm.regex import PCRE2
from console.fdm.router import Router

_SPACE = re.compile(r"\s")
HASH_PREFIXES = ("$6$", "$5$", "$2b$", "$2y$", "$2a$", "$y$", "$1$")
"""crypt(3) hashes smtpd's table-passwd can check (SHA-512 crypt is what the article uses)."""


@dataclass
class Finding(_LintFinding):
    """A finding of the accounts check: the fdm linter's, with the file it is about."""

    file: str = ""

    def to_json(self) -> dict[str, object]:
        """A plain dict for `--json` output."""
        return {"file": self.file, **super().to_json()}

    def location(self) -> str:
        """`FILE:LINE` (or just FILE) for text output."""
        return f"{self.file}:{self.line}" if self.line else self.file


def check(
    accounts: Accounts,
    fdm_config: Path | None = None,
    dialect: str = PCRE2,
    fdm_text: str | None = None,
) -> list[Finding]:
    """Every finding about the accounts, by file and line; `fdm_text` stands for the file's text
    (an edit not yet saved)."""
    findings: list[Finding] = []
    findings += _table_shapes(accounts)
    findings += _userdb_lines(accounts)
    findings += _agreement(accounts)
    findings += _targets(accounts)
    findings += _maildirs(accounts)
    if fdm_config is not None:
        findings += _routes(accounts, fdm_config, dialect, fdm_text)
    order = {ERROR: 0, WARNING: 1, INFO: 2}
    findings.sort(key=lambda f: (order.get(f.severity, 3), f.file, f.line))
    return findings


def _finding(severity: str, path: Path, line: int, message: str, fix: str, code: str) -> Finding:
    return Finding(severity, line, message, fix, code, str(path))


def _table_shapes(accounts: Accounts) -> list[Finding]:
    """Lines smtpd refuses, a table read as the wrong kind, keys with spaces, duplicate keys."""
    findings = []
    for kind in TABLE_KINDS:
        table = accounts.table(kind)
        if table.token is None:
            findings.append(
                _finding(
                    ERROR,
                    table.path,
                    0,
                    f"{kind} does not exist: smtpd cannot load the table",
                    f"create {table.path}",
                    "missing-table",
                )
            )
            continue
        for number in table.refused:
            findings.append(
                _finding(
                    ERROR,
                    table.path,
                    number,
                    "smtpd refuses the whole table: a map line needs a value after the key",
                    "add the value or remove the line",
                    "refused-line",
                )
            )
        if kind == "vusers" and table.kind == LIST:
            findings.append(
                _finding(
                    ERROR,
                    table.path,
                    table.entries[0].line,
                    "vusers is read as a list (its first "
                    "entry has no value): smtpd cannot map addresses to users",
                    "write `ADDRESS USER` on every line",
                    "table-kind",
                )
            )
        if kind != "vusers" and table.kind == MAP:
            findings.append(
                _finding(
                    WARNING,
                    table.path,
                    table.entries[0].line,
                    f"{kind} is read as a map (its first "
                    "entry has a space, tab or colon): only the first word of each line counts",
                    "one entry per line, nothing after it",
                    "table-kind",
                )
            )
        if kind != "vusers" and table.kind == LIST:
            for entry in table.entries:
                if _SPACE.search(entry.key):
                    findings.append(
                        _finding(
                            ERROR,
                            table.path,
                            entry.line,
                            f"smtpd reads {entry.key!r} as one entry, spaces included",
                            "one entry per line",
                            "spaced-key",
                        )
                    )
        for entries in table.index().values():
            for entry in entries[1:]:
                findings.append(_duplicate_key(table, entries, entry))
    return findings


def _duplicate_key(table: Table, entries: list[TableEntry], entry: TableEntry) -> Finding:
    """A key listed again; in a map, which line's value smtpd uses: the last (its static table
    keeps the last value of a key)."""
    message = f"{entry.key} is listed again (first at line {entries[0].line})"
    fix = "remove one of the lines"
    if table.kind == MAP:
        used, ignored = entries[-1], [str(e.line) for e in entries[:-1]]
        message += f": smtpd uses the last one, line {used.line} ({used.value})"
        fix = (
            f"remove lines {', '.join(ignored)} (smtpd ignores them)"
            if len(ignored) > 1
            else f"remove line {ignored[0]} (smtpd ignores it)"
        )
    return _finding(WARNING, table.path, entry.line, message, fix, "duplicate-key")


def _userdb_lines(accounts: Accounts) -> list[Finding]:
    """Lines table-passwd refuses, names that cannot log in, duplicates, unusable hashes."""
    userdb = accounts.userdb
    if userdb.token is None:
        return [
            _finding(
                ERROR,
                userdb.path,
                0,
                "userdb does not exist: nobody can log in",
                f"create {userdb.path}",
                "missing-table",
            )
        ]
    findings = []
    for number in userdb.refused:
        findings.append(
            _finding(
                ERROR,
                userdb.path,
                number,
                "fewer than six fields: smtpd's table-passwd refuses the whole table",
                "write user:password:uid:gid:gecos:home:shell:extra",
                "refused-line",
            )
        )
    seen: dict[str, int] = {}
    for user in userdb.users:
        if user.name != user.name.strip() or not user.name:
            findings.append(
                _finding(
                    WARNING,
                    userdb.path,
                    user.line,
                    f"user name {user.name!r} has spaces around it: "
                    "Dovecot lists it but nobody can log in as it",
                    "remove the spaces",
                    "spaced-user",
                )
            )
        if user.name in seen:
            findings.append(
                _finding(
                    ERROR,
                    userdb.path,
                    user.line,
                    f"user {user.name} is listed again (first at line "
                    f"{seen[user.name]}): Dovecot uses the first line",
                    "remove one of the lines",
                    "duplicate-user",
                )
            )
        else:
            seen[user.name] = user.line
        if user.password.startswith("{"):
            findings.append(
                _finding(
                    ERROR,
                    userdb.path,
                    user.line,
                    f"{user.name}'s password has a {{SCHEME}} prefix: "
                    "Dovecot reads it, smtpd's table-passwd does not (sending with AUTH fails)",
                    "store the bare $6$ hash (`mailconsole accounts passwd` does)",
                    "hash-prefix",
                )
            )
        elif (
            user.password
            and not user.password.startswith(HASH_PREFIXES)
            and user.password not in ("*", "!", "x")
        ):
            findings.append(
                _finding(
                    WARNING,
                    userdb.path,
                    user.line,
                    f"{user.name}'s password is not a crypt hash",
                    "set it with `mailconsole accounts passwd`",
                    "plain-password",
                )
            )
    return findings


def _agreement(accounts: Accounts) -> list[Finding]:
    """addrs and the vusers keys list the same addresses; every address is in an accepted domain."""
    findings: list[Finding] = []
    addrs, vusers = accounts.addrs, accounts.vusers
    if addrs.token is not None and vusers.token is not None:
        vuser_keys = vusers.keys()
        addr_keys = addrs.keys()
        for entry in addrs.entries:
            if entry.key.lower() not in vuser_keys:
                findings.append(
                    _finding(
                        ERROR,
                        addrs.path,
                        entry.line,
                        f"{entry.key} is accepted (addrs) but has no "
                        "vusers line: smtpd cannot deliver it",
                        f"add {entry.key} to vusers or remove it from addrs",
                        "not-in-vusers",
                    )
                )
        for entry in vusers.entries:
            if entry.key.lower() not in addr_keys and "@" in entry.key.strip("@"):
                findings.append(
                    _finding(
                        ERROR,
                        vusers.path,
                        entry.line,
                        f"{entry.key} has a vusers line but is not in "
                        "addrs: smtpd refuses mail for it",
                        f"add {entry.key} to addrs",
                        "not-in-addrs",
                    )
                )
    domains = set(accounts.domains())
    if accounts.vdomains.token is not None:
        for table in (addrs, vusers):
            for entry in table.entries:
                domain = entry.key.lower().rpartition("@")[2]
                if "@" in entry.key and domain not in domains:
                    findings.append(
                        _finding(
                            ERROR,
                            table.path,
                            entry.line,
                            f"{entry.key}: {domain} is not in vdomains",
                            f"add {domain} to vdomains",
                            "unknown-domain",
                        )
                    )
        used = {address.rpartition("@")[2] for address in accounts.accepted()}
        for entry in accounts.vdomains.entries:
            if entry.key.lower() not in used:
                findings.append(
                    _finding(
                        INFO,
                        accounts.vdomains.path,
                        entry.line,
                        f"{entry.key} has no address",
                        f"add one with `mailconsole accounts add-address ADDRESS@{entry.key} USER`",
                        "empty-domain",
                    )
                )
    return findings


def _targets(accounts: Accounts) -> list[Finding]:
    """Every vusers target is a mailbox user, the mail user, or an address (an alias)."""
    findings = []
    users = accounts.userdb.names()
    accepted = set(accounts.accepted())
    domains = set(accounts.domains())
    for entry in accounts.vusers.entries:
        for target in entry.values:
            if target in users or target == accounts.mail_user or target[:1] in ("|", "/"):
                continue
            if "@" in target:
                domain = target.rpartition("@")[2].lower()
                if domain in domains and target.lower() not in accepted:
                    findings.append(
                        _finding(
                            ERROR,
                            accounts.vusers.path,
                            entry.line,
                            f"{entry.key} forwards to "
                            f"{target}, which is in a local domain but not accepted",
                            f"add {target} or fix the alias",
                            "unknown-target",
                        )
                    )
                continue
            findings.append(
                _finding(
                    ERROR,
                    accounts.vusers.path,
                    entry.line,
                    f"{entry.key} maps to {target!r}, which "
                    f"is neither a userdb user, the mail user {accounts.mail_user} nor an address",
                    "add the user or fix the line",
                    "unknown-target",
                )
            )
    return findings


def _maildirs(accounts: Accounts) -> list[Finding]:
    """Every mailbox user has its Maildir."""
    findings = []
    for user in accounts.userdb.users:
        if not user.name or user.name != user.name.strip():
            continue
        try:
            maildir = accounts.maildir(user)
        except UserError:
            continue
        if not maildir.is_dir():
            findings.append(
                _finding(
                    WARNING,
                    accounts.userdb.path,
                    user.line,
                    f"{user.name} has no Maildir ({maildir})",
                    f"create it owned by {accounts.mail_user} (add-user does)",
                    "no-maildir",
                )
            )
    return findings


def _routes(
    accounts: Accounts, fdm_config: Path, dialect: str, fdm_text: str | None
) -> list[Finding]:
    """Every accepted address that is delivered locally routes to a mailbox in fdm.conf."""
    if fdm_text is None and not fdm_config.exists() or fdm_text == "":
        return [
            _finding(
                INFO,
                fdm_config,
                0,
                "fdm.conf does not exist: routes not checked",
                "set fdm_config",
                "no-fdm",
            )
        ]
    try:
        config = parse_file(fdm_config) if fdm_text is None else parse(fdm_text, str(fdm_config))
        router = Router(config, dialect, hostname="mailconsole")
    except FdmSyntaxError as exc:
        return [
            _finding(
                ERROR,
                fdm_config,
                exc.line,
                f"fdm refuses the file ({exc.reason}): routes not checked",
                "fix fdm.conf (mailconsole fdm lint)",
                "fdm-syntax",
            )
        ]
    except OSError as exc:
        return [
            _finding(
                ERROR,
                fdm_config,
                0,
                f"cannot read fdm.conf ({exc.strerror})",
                "check its permissions",
                "fdm-unreadable",
            )
        ]
    findings = []
    users = accounts.userdb.names()
    accepted = accounts.accepted()
    local = users | {accounts.mail_user} | set(accepted)
    lines = {entry.key.lower(): entry.line for entry in accounts.vusers.entries}
    for address in accepted:
        targets = accounts.targets(address)
        if targets and not any(target.lower() in local for target in targets):
            continue  # forwarded elsewhere: smtpd relays it, fdm never sees it
        route = router.route(probe_message(address))
        line = lines.get(address, 0)
        if route.outcome == "error":
            findings.append(
                _finding(
                    ERROR,
                    accounts.vusers.path,
                    line,
                    f"mail to {address} is lost in fdm.conf: {route.error}",
                    "fix fdm.conf (mailconsole fdm test)",
                    "no-route",
                )
            )
        elif not route.deliveries:
            findings.append(
                _finding(
                    ERROR,
                    accounts.vusers.path,
                    line,
                    f"mail to {address} reaches no mailbox in fdm.conf ({route.outcome})",
                    f"add an fdm rule for {address}",
                    "no-route",
                )
            )
        else:
            for delivery in route.deliveries:
                if delivery.user and delivery.user not in users:
                    findings.append(
                        _finding(
                            ERROR,
                            accounts.vusers.path,
                            line,
                            f"mail to {address} goes to "
                            f"{delivery.user!r} (fdm action {delivery.action}), who is not in userdb",
                            "add the user or fix the fdm action",
                            "route-unknown-user",
                        )
                    )
    return findings


def probe_message(address: str) -> bytes:
    """Mail for one address as smtpd hands it to fdm: smtpd's Received header naming the recipient,
    then From, To and Subject (no Date: no route depends on it, and reading one costs time)."""
    return (
        f"Received: from localhost (localhost [127.0.0.1])\n\tby mailconsole (OpenSMTPD) "
        f"with ESMTP id 00000000\n\tfor <{address}>;\n\tMon, 1 Jan 2024 10:00:00 +0000\n"
        f"From: route check <probe@invalid.example>\nTo: {address}\nSubject: route check\n"
        "\nroute check\n"
    ).encode("utf-8", "surrogateescape")


def exit_code(findings: list[Finding]) -> int:
    """The CLI's exit: 2 with errors, 1 with warnings, 0 when clean (as `fdm lint`)."""
    return lint_exit_code([*findings])
