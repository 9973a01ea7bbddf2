"""The linter that catches lost mail: what `fdm -n` accepts but delivery then gets wrong.

Checks: undefined and unused actions, rules after a catch-all, regexes that do not compile, escapes that
`"…"` eats (`"\\."` is any character), `%` tags in regexes, undefined macros, constructs the console
cannot evaluate, and cross-checks with smtpd's tables (addrs, vusers, vdomains, userdb): every accepted
address routes to a mailbox, every address in a rule is accepted, addrs equals the vusers keys.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

from console.accounts.tables import Table, parse_table, parse_userdb, read_text
from console.fdm.parser import ActionItem, Config, FdmSyntaxError, Rule, parse
from console.fdm.regex import DIALECTS, PCRE2, RegexError, compile_regex
from console.fdm.router import Router

ERROR, WARNING, INFO = "error", "warning", "info"
_ADDRESS = re.compile(
    r"[A-Za-z0-9_-]+(?:\\{0,2}\.[A-Za-z0-9_-]+)*@[A-Za-z0-9-]+(?:\\{0,2}\.[A-Za-z0-9-]+)+"
)
_SAFE_ESCAPES = set('nrt\\"$%')


@dataclass
class Finding:
    """One problem: severity, line (0: the whole file), one sentence, and a suggested fix."""

    severity: str
    line: int
    message: str
    fix: str
    code: str

    def to_json(self) -> dict[str, object]:
        """A plain dict for `--json` output."""
        return {
            "severity": self.severity,
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
            "code": self.code,
        }


@dataclass
class Tables:
    """smtpd's tables as sets: accepted addresses, the vusers map, domains and mail users."""

    addrs: set[str] = field(default_factory=set)
    vusers: dict[str, str] = field(default_factory=dict)
    vdomains: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    present: set[str] = field(default_factory=set)
    """Which tables were found (addrs, vusers, vdomains, userdb)."""

    @property
    def accepted(self) -> set[str]:
        """Every address smtpd accepts (addrs, or the vusers keys when there is no addrs table)."""
        return self.addrs if "addrs" in self.present else set(self.vusers)


def _shown(key: str) -> str:
    """A key as the linter's messages show it: bytes that are not UTF-8 as U+FFFD."""
    return key.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _keys(kind: str, path: Path | None) -> tuple[set[str], Table] | None:
    """The keys of one smtpd table as smtpd looks them up (lower case), read by the accounts
    model (a `#` starts a comment only at the start of a line); None when the file is missing."""
    if path is None:
        return None
    text, token = read_text(path)
    if token is None:
        return None
    table = parse_table(kind, path, text, token)
    return {_shown(entry.key.lower()) for entry in table.entries}, table


def load_tables(
    addrs: Path | None = None,
    vusers: Path | None = None,
    vdomains: Path | None = None,
    userdb: Path | None = None,
) -> Tables:
    """Read whichever tables exist, as smtpd and Dovecot read them (console.accounts.tables); a
    missing file is simply not cross-checked."""
    tables = Tables()
    if (found := _keys("addrs", addrs)) is not None:
        tables.present.add("addrs")
        tables.addrs = found[0]
    if (found := _keys("vusers", vusers)) is not None:
        tables.present.add("vusers")
        for entry in found[1].entries:  # smtpd keeps the last value of a key listed twice
            tables.vusers[_shown(entry.key.lower())] = _shown(entry.value)
    if (found := _keys("vdomains", vdomains)) is not None:
        tables.present.add("vdomains")
        tables.vdomains = found[0]
    if userdb is not None:
        text, token = read_text(userdb)
        if token is not None:
            tables.present.add("userdb")
            tables.users = {_shown(user.name) for user in parse_userdb(userdb, text).users}
    return tables


TABLE_NAMES = ("addrs", "vusers", "vdomains", "userdb")


def tables_in(directory: Path) -> Tables:
    """The tables under one directory with the article's names (addrs, vusers, vdomains, userdb)."""
    return load_tables(
        directory / "addrs", directory / "vusers", directory / "vdomains", directory / "userdb"
    )


def lint_text(
    text: str,
    path: str = "fdm.conf",
    tables: Tables | None = None,
    dialect: str = PCRE2,
    account: str = "stdin",
) -> tuple[Config | None, list[Finding]]:
    """Parse and lint; a syntax error is itself a finding (fdm would refuse the file)."""
    try:
        config = parse(text, path)
    except FdmSyntaxError as exc:
        return None, [
            Finding(
                ERROR,
                exc.line,
                f"fdm refuses the file: {exc.reason}",
                "fix the syntax at this line",
                "syntax",
            )
        ]
    return config, lint(config, tables, dialect, account)


def lint(
    config: Config, tables: Tables | None = None, dialect: str = PCRE2, account: str = "stdin"
) -> list[Finding]:
    """Every finding for a parsed config, sorted by line."""
    findings: list[Finding] = []
    findings += _unsupported(config)
    findings += _accounts(config, account)
    findings += _actions(config)
    findings += _unreachable(config.rules)
    findings += _regexes(config, dialect)
    findings += _macros(config)
    findings += _commands(config)
    findings += _body_groups(config)
    if tables is not None:
        findings += _tables(config, tables, dialect, account)
    findings.sort(key=lambda f: (f.line, f.severity != ERROR, f.code))
    return findings


def exit_code(findings: list[Finding]) -> int:
    """The CLI's exit: 2 with errors, 1 with warnings, 0 when clean."""
    if any(f.severity == ERROR for f in findings):
        return 2
    if any(f.severity == WARNING for f in findings):
        return 1
    return 0


def _unsupported(config: Config) -> list[Finding]:
    return [
        Finding(
            WARNING,
            item.line,
            f"the console does not evaluate this: {item.what}",
            "check this part of the route by hand",
            "unsupported",
        )
        for item in config.unsupported
    ]


def _accounts(config: Config, account: str) -> list[Finding]:
    if any(fnmatch.fnmatchcase(a.name, account) for a in config.accounts):
        return []
    return [
        Finding(
            ERROR,
            1,
            f"no account is named {account!r}: `fdm -a {account} fetch` does "
            "nothing and every message is lost",
            f'add `account "{account}" disabled stdin`',
            "no-account",
        )
    ]


def _action_refs(config: Config) -> list[tuple[str, int]]:
    """Every action name pattern used, with its line: in rules and in `action` items."""
    refs: list[tuple[str, int]] = []
    for rule in config.all_rules():
        refs += [(name, rule.line) for name in rule.action_names]
        for item in rule.inline or []:
            if item.kind == "action":
                refs += [(name, item.line) for name in item.args]
    for action in config.actions:
        for item in action.items:
            if item.kind == "action":
                refs += [(name, item.line) for name in item.args]
    return refs


def _actions(config: Config) -> list[Finding]:
    findings: list[Finding] = []
    names = [a.name for a in config.actions]
    refs = _action_refs(config)
    used: set[str] = set()
    undefined: list[tuple[str, int]] = []
    for pattern, line in refs:
        if "%" in pattern:
            findings.append(
                Finding(
                    INFO,
                    line,
                    f"action {pattern!r} depends on tags at run time",
                    "test it with a message (the live test expands it)",
                    "tagged-name",
                )
            )
            used.update(
                n for n in names if fnmatch.fnmatchcase(n, re.sub(r"%(\[[^]]*\]|.)", "*", pattern))
            )
            continue
        matched = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        used.update(matched)
        if not matched:
            undefined.append((pattern, line))
    unused = [a for a in config.actions if a.name not in used]
    for pattern, line in undefined:
        close = difflib.get_close_matches(
            pattern, [a.name for a in unused] or names, n=1, cutoff=0.4
        )
        fix = (
            f'use "{close[0]}", or define action "{pattern}"'
            if close
            else f'define action "{pattern}"'
        )
        findings.append(
            Finding(
                ERROR,
                line,
                f'action "{pattern}" is not defined: fdm -n accepts it, but mail reaching '
                "this rule is not delivered (fdm 1.9 exits 0 and it is lost; 2.x bounces it)",
                fix,
                "undefined-action",
            )
        )
    for action in unused:
        close = difflib.get_close_matches(action.name, [p for p, _ in undefined], n=1, cutoff=0.4)
        fix = (
            f'the rule naming "{close[0]}" probably means this one'
            if close
            else "name it in a rule or remove it"
        )
        findings.append(
            Finding(
                WARNING, action.line, f'action "{action.name}" is never used', fix, "unused-action"
            )
        )
    return findings


def _is_catch_all(rule: Rule) -> bool:
    return (
        rule.children is None
        and not rule.cont
        and len(rule.conditions) == 1
        and rule.conditions[0].kind == "all"
        and not rule.conditions[0].negated
    )


def _unreachable(rules: list[Rule]) -> list[Finding]:
    findings: list[Finding] = []
    catch_all: Rule | None = None
    for rule in rules:
        if catch_all is not None:
            findings.append(
                Finding(
                    WARNING,
                    rule.line,
                    f"this rule can never match: the rule at line {catch_all.line} "
                    "matches all mail and stops",
                    "move it above the catch-all or add `continue` there",
                    "unreachable",
                )
            )
            continue
        if rule.children is not None:
            findings += _unreachable(rule.children)
        if _is_catch_all(rule):
            catch_all = rule
    return findings


def _lost_escapes(raw: str) -> list[str]:
    """Backslash escapes that `"…"` eats (`\\.` becomes `.`), as written."""
    lost = []
    i = 0
    while i < len(raw) - 1:
        if raw[i] == "\\":
            if raw[i + 1] not in _SAFE_ESCAPES:
                lost.append(raw[i : i + 2])
            i += 2
            continue
        i += 1
    return lost


def _regexes(config: Config, dialect: str) -> list[Finding]:
    findings: list[Finding] = []
    for rule in config.all_rules():
        for cond in rule.conditions:
            if cond.kind not in ("regexp", "string") or (cond.kind == "string" and not cond.regex):
                continue
            for other in DIALECTS:
                try:
                    compile_regex(cond.regex, cond.case, other)
                except RegexError as exc:
                    severity = ERROR if other == dialect else WARNING
                    which = "fdm 2.x (PCRE2)" if other == PCRE2 else "Debian's fdm 1.9 (POSIX)"
                    findings.append(
                        Finding(
                            severity,
                            cond.line,
                            f'the regex "{cond.regex}" does not compile for {which}: {exc}',
                            "fix the regex",
                            "bad-regex",
                        )
                    )
            for escape in sorted(set(_lost_escapes(cond.raw_regex))):
                findings.append(
                    Finding(
                        WARNING,
                        cond.line,
                        f'"{escape}" in a "…" string loses its backslash: the regex '
                        f'gets "{escape[1]}"' + (" (any character)" if escape == "\\." else ""),
                        f"write \"\\{escape}\" or use a '…' string",
                        "lost-escape",
                    )
                )
            raw = cond.raw_regex.replace("%%", "")
            if "%" in raw.replace("%{", ""):
                findings.append(
                    Finding(
                        WARNING,
                        cond.line,
                        "% in a regex starts a tag that fdm substitutes when it reads "
                        "the file (an unknown one disappears)",
                        "write %% for a literal %",
                        "percent",
                    )
                )
    return findings


def _macros(config: Config) -> list[Finding]:
    return [
        Finding(
            WARNING,
            use.line,
            f"macro {use.name} is not defined here: it expands to nothing",
            f"define {use.name} above this line",
            "undefined-macro",
        )
        for use in config.macro_uses
        if not use.defined
    ]


def _items(config: Config) -> list[tuple[str, ActionItem]]:
    items = [(action.name, item) for action in config.actions for item in action.items]
    for rule in config.all_rules():
        items += [(f"<rule {rule.index}>", item) for item in rule.inline or []]
    return items


def _commands(config: Config) -> list[Finding]:
    from console.fdm.router import mailbox_of

    findings: list[Finding] = []
    for name, item in _items(config):
        for raw in item.raw_args:
            for escape in sorted(set(_lost_escapes(raw))):
                shown = "a space" if escape == "\\ " else f'"{escape[1]}"'
                findings.append(
                    Finding(
                        WARNING,
                        item.line,
                        f'"{escape}" in a "…" string is just {shown}: the command '
                        f"of action {name!r} does not get the backslash",
                        "quote the argument inside the command (-m 'Mailing Lists')",
                        "lost-escape",
                    )
                )
        if item.kind == "rewrite":
            findings.append(
                Finding(
                    WARNING,
                    item.line,
                    f"action {name!r} rewrites the message with a command the live "
                    "test does not run: after a `continue` rule, where later rules see the new message, "
                    "the route is not modelled",
                    "check it with `mailconsole fdm test --run-rewrites`",
                    "not-modelled",
                )
            )
        if item.kind in ("pipe", "exec") and item.args:
            delivery = mailbox_of(name, item.kind, item.args[0])
            if delivery.extra_args:
                findings.append(
                    Finding(
                        WARNING,
                        item.line,
                        f"action {name!r} passes unexpected arguments "
                        f"{' '.join(delivery.extra_args)!r} to the delivery agent (folder "
                        f"{delivery.folder!r})",
                        "quote a folder name that contains spaces",
                        "lda-args",
                    )
                )
    return findings


_GROUP = re.compile(r"(?:^|[^%])(?:%%)*%[0-9]")
"""A match group put into a string (`%1`), not after an escaped percent sign (`%%1`)."""


def _body_groups(config: Config) -> list[Finding]:
    """A rule that matches `in body` and hands a match group to its actions. fdm keeps a match's
    offsets from the start of the area searched and reads `%1` at them from the start of the
    message, so the action gets bytes of the headers (both real binaries do; the router too)."""
    findings: list[Finding] = []
    for rule in config.all_rules():
        if not any(cond.kind == "regexp" and cond.area == "body" for cond in rule.conditions):
            continue
        items = list(rule.inline or [])
        for pattern in rule.action_names:
            for action in config.actions:
                if fnmatch.fnmatchcase(action.name, pattern):
                    items += action.items
        texts = [*rule.action_names, *(arg for item in items for arg in item.args)]
        if any(_GROUP.search(text) for text in texts):
            findings.append(
                Finding(
                    WARNING,
                    rule.line,
                    "a match group (%0-%9) of a match in body is not the text matched: fdm "
                    "reads the group's offsets in the body from the start of the message, so "
                    "the action gets bytes of the headers",
                    "drop `in body`: a match anywhere gives the text matched (the headers are "
                    "searched too)",
                    "body-group",
                )
            )
    return findings


def _probe(address: str) -> bytes:
    """A message as smtpd hands it to the mda for one recipient."""
    return (
        f"Received: from localhost (localhost [127.0.0.1])\n\tby mail.example.com (OpenSMTPD)"
        f" with ESMTP id 0abc1234\n\tfor <{address}>;\n\tMon, 1 Jan 2024 10:00:00 +0000\n"
        f"From: probe <probe@invalid.example>\nTo: {address}\nSubject: mailconsole probe\n"
        "\nprobe\n"
    ).encode()


def _tables(config: Config, tables: Tables, dialect: str, account: str) -> list[Finding]:
    findings: list[Finding] = []
    if {"addrs", "vusers"} <= tables.present:
        for extra in sorted(tables.addrs - set(tables.vusers)):
            findings.append(
                Finding(
                    WARNING,
                    0,
                    f"{extra} is in addrs but not in vusers: smtpd "
                    "accepts it and cannot map it to a user",
                    f"add {extra} to vusers or remove it from addrs",
                    "tables",
                )
            )
        for extra in sorted(set(tables.vusers) - tables.addrs):
            findings.append(
                Finding(
                    WARNING,
                    0,
                    f"{extra} is in vusers but not in addrs: smtpd rejects mail for it",
                    f"add {extra} to addrs",
                    "tables",
                )
            )
    accepted = tables.accepted
    if tables.vdomains:
        for address in sorted(accepted):
            if address.partition("@")[2] not in tables.vdomains:
                findings.append(
                    Finding(
                        WARNING,
                        0,
                        f"{address} is accepted but its domain is not in vdomains",
                        "add the domain to vdomains",
                        "tables",
                    )
                )
    router = Router(config, dialect, account=account)
    for address in sorted(accepted):
        route = router.route(_probe(address))
        line = route.rules[-1] if route.rules else 0
        if route.outcome == "error":
            findings.append(
                Finding(
                    ERROR,
                    line,
                    f"mail to {address} is not delivered: {route.error}",
                    "define the missing action or fix the rule",
                    "lost-address",
                )
            )
        elif not route.deliveries:
            findings.append(
                Finding(
                    ERROR,
                    line,
                    f"mail to {address} reaches no mailbox (outcome: {route.outcome})",
                    f"add a rule for {address} or a catch-all `match all action …` at the end",
                    "lost-address",
                )
            )
        elif "userdb" in tables.present:
            for delivery in route.deliveries:
                if delivery.user and delivery.user not in tables.users:
                    findings.append(
                        Finding(
                            WARNING,
                            line,
                            f"mail to {address} goes to user {delivery.user!r}, who is "
                            "not in userdb",
                            "add the user to userdb or fix the action",
                            "unknown-user",
                        )
                    )
    if accepted:
        for rule in config.all_rules():
            for cond in rule.conditions:
                for found in _ADDRESS.findall(cond.regex):
                    address = found.replace("\\", "").lower()
                    if address in accepted:
                        continue
                    close = difflib.get_close_matches(address, sorted(accepted), n=1, cutoff=0.6)
                    fix = (
                        f"did you mean {close[0]}?"
                        if close
                        else f"add {address} to addrs and vusers, or drop the rule"
                    )
                    findings.append(
                        Finding(
                            WARNING,
                            cond.line,
                            f"{address} is in this rule but smtpd does not accept it",
                            fix,
                            "unaccepted-address",
                        )
                    )
    return findings
