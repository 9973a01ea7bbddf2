"""The live test: exactly what fdm would do with one message, without running anything.

Semantics measured on the real binary (fdm's mail-state.c; tests/integration/test_fdm_differential.py compares): fdm prepends its own
Received header, unfolds headers, evaluates conditions strictly left to right, stops at the first matching
rule without `continue`, queues every action a rule names (fnmatch patterns, definition order) and runs
them before evaluating the next rule. `dialect` picks PCRE2 (fdm 2.x, the target) or POSIX (Debian 1.9).
"""

from __future__ import annotations

import fnmatch
import functools
import re
import shlex
import socket
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime

from console.fdm.parser import (
    EXTERNAL_ITEMS,
    ActionDef,
    ActionItem,
    Condition,
    Config,
    Rule,
    replace_tags,
)
from console.fdm.regex import PCRE2, POSIX, PcreRegex, PosixRegex, RegexError, compile_regex

DEFAULT_STRIP = "\\<>$%^&*|{}[]\"'`;"
MAX_CHAIN = 5
VERSIONS = {PCRE2: "2.2", POSIX: "1.9"}
# Items that put the mail somewhere a person can read it.
DELIVERING = frozenset({"pipe", "maildir", "mbox", "write", "append", "smtp", "stdout"})
# Dovecot's local delivery agents: `-d USER`, `-m FOLDER` (INBOX when absent).
LDA_NAMES = frozenset({"deliver", "dovecot-lda"})


@dataclass
class Delivery:
    """Where one action puts the mail: a user and folder (dovecot), or a maildir/mbox path."""

    action: str
    kind: str
    user: str = ""
    folder: str = ""
    path: str = ""
    extra_args: list[str] = field(default_factory=list)


@dataclass
class ActionRun:
    """One action item as fdm would run it: `running action NAME:ITEM (TYPE)`."""

    action: str
    item: int
    kind: str
    rule_line: int
    rule_index: int
    argument: str = ""
    user: str = ""


@dataclass
class Route:
    """The whole answer for one message."""

    rules: list[int] = field(default_factory=list)
    """Lines of the rules whose conditions matched, in evaluation order (nested blocks included)."""
    rule_indexes: list[int] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    runs: list[ActionRun] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    outcome: str = "kept"
    decision: str = ""
    """fdm's final decision for the source: `keep` or `drop` (what `(N kept)` counts)."""
    error: str = ""
    notes: list[str] = field(default_factory=list)

    def to_json(self, message: str) -> dict[str, object]:
        """The JSON object of `mailconsole fdm test --json`."""
        return {
            "message": message,
            "rules": self.rules,
            "actions": self.actions,
            "commands": self.commands,
            "deliveries": [
                {"action": d.action, "user": d.user, "folder": d.folder,
                 **({"path": d.path} if d.path else {})}
                for d in self.deliveries
            ],
            "outcome": self.outcome,
            "error": self.error or None,
        }


class _Failure(Exception):
    """A run-time error: fdm logs it and aborts the message (`fetching error. aborted`)."""


@dataclass
class _Mail:
    data: bytes
    body: int
    """Offset of the body (after the blank line)."""
    tags: dict[str, str]
    spans: list[tuple[int, int]] = field(default_factory=list)
    _lowered: tuple[bytes, bytes] | None = None

    def lowered(self) -> bytes:
        """data.lower(), computed once per version of the data."""
        if self._lowered is None or self._lowered[0] is not self.data:
            self._lowered = (self.data, self.data.lower())
        return self._lowered[1]


def split_message(data: bytes, received: bytes = b"") -> tuple[bytes, int]:
    """fdm's view of a message: `From ` line trimmed, its Received header prepended, headers unfolded.

    Returns the data and the body offset. Without a blank line fdm treats the whole message as body
    (so `in headers` sees only fdm's own Received header); CRLF mail has no `\\n\\n` either.
    """
    if data.startswith(b"From "):
        cut = data.find(b"\n")
        data = b"" if cut == -1 else data[cut + 1:]
    end = data.find(b"\n\n")
    body = 0 if end == -1 else end + 2
    data = received + data
    body += len(received)
    head = re.sub(rb"\n(?=[ \t])", b" ", data[:body])
    return head + data[body:], body


class Router:
    """A config compiled for routing; `route(message)` answers for one message."""

    def __init__(self, config: Config, dialect: str = PCRE2, account: str = "stdin",
                 hostname: str | None = None, home: str = "/root", user: str = "root") -> None:
        self.config = config
        self.dialect = dialect
        self.account = account
        self.hostname = hostname if hostname is not None else socket.getfqdn()
        self.home = home
        self.user = user
        self.strip = (config.options.get("strip-characters") or [DEFAULT_STRIP])[0]
        self.regexes: dict[int, PcreRegex | PosixRegex] = {}
        self.regex_errors: dict[int, str] = {}
        for rule in config.all_rules():
            for cond in rule.conditions:
                if cond.kind in ("regexp", "string"):
                    try:
                        self.regexes[id(cond)] = compile_regex(cond.regex, cond.case, dialect)
                    except RegexError as exc:
                        self.regex_errors[id(cond)] = f"line {cond.line}: {cond.regex}: {exc}"

    # ---- the message

    def _prepare(self, message: bytes) -> _Mail:
        received = b""
        if "no-received" not in self.config.options:
            received = (
                f"Received: by {self.hostname} (fdm {VERSIONS[self.dialect]}, "
                f"account \"{self.account}\") \n\twith stdin (unencrypted)\n\t"
                f"{_clock()[0]}\n"
            ).encode()
        data, body = split_message(message, received)
        original = message[message.find(b"\n") + 1:] if message.startswith(b"From ") else message
        tags = self._default_tags(original, data, body)
        return _Mail(data, body, tags)

    def _default_tags(self, original: bytes, data: bytes, body: int) -> dict[str, str]:
        """The tags fdm gives every mail: account, host, clock, line counts, message-id, Date parts."""
        tags = {"account": self.account, "hostname": _clock()[1]}
        tags.update(_clock()[2])
        blank = original.find(b"\n\n")
        lines = original.count(b"\n")
        head_lines = original[:blank].count(b"\n") + 1 if blank != -1 else lines
        tags.update(lines=str(lines), header_lines=str(head_lines),
                    body_lines=str(max(lines - head_lines - 1, 0)) if blank != -1 else "0")
        head = data[:body]
        found = re.search(rb"^message-id:[ \t]*(.*)$", head, re.I | re.M)
        if found:
            tags["message_id"] = found.group(1).decode("utf-8", "replace").strip()
        when = _date_of(head)
        if when is not None:
            tags.update(_time_tags(time.localtime(when), "mail_"))
        return tags

    # ---- routing

    def route(self, message: bytes | str) -> Route:
        """Route one message (bytes as smtpd hands them to the mda, or text)."""
        if isinstance(message, str):
            message = message.encode("utf-8", "surrogateescape")
        result = Route()
        if not message.strip():
            result.outcome = "error"
            result.error = "empty message: fdm ignores it and nothing is delivered"
            return result
        if not any(fnmatch.fnmatchcase(acc.name, self.account) for acc in self.config.accounts):
            result.outcome = "error"
            result.error = (f"no account matches {self.account!r}: fdm -a {self.account} fetches "
                            "nothing and exits 1")
            return result
        mail = self._prepare(message)
        state = _State(mail=mail, result=result)
        try:
            done = self._walk(self.config.rules, state)
        except _Failure as exc:
            result.outcome = "error"
            result.error = str(exc)
            result.notes.append(
                "fdm 2.x exits 1 and smtpd bounces the mail; Debian's fdm 1.9 exits 0 and the mail "
                "is lost" if self.dialect == PCRE2 else
                "Debian's fdm 1.9 exits 0 here: smtpd logs the mail as delivered and it is lost")
            return result
        decision = state.decision
        if not done:
            decision = self.config.unmatched_mail
            if not result.rules or not state.matched:
                result.notes.append("no rule matched: unmatched-mail " + decision)
            else:
                result.notes.append("reached the end of the rules: unmatched-mail " + decision)
        if any(acc.keep for acc in self.config.accounts if acc.name == self.account):
            decision = "keep"
        result.decision = decision
        if result.deliveries:
            result.outcome = "delivered"
        elif decision == "keep":
            result.outcome = "kept"
            result.notes.append(
                "kept: for a stdin account this means stored nowhere (smtpd sees success)")
        else:
            result.outcome = "dropped"
        for unsupported in self.config.unsupported:
            result.notes.append(f"line {unsupported.line}: {unsupported.what}")
        return result

    def _walk(self, rules: list[Rule], state: _State) -> bool:
        """Evaluate rules in order; True once a matching rule without `continue` ends evaluation."""
        for rule in rules:
            if not self._evaluate(rule, state):
                continue
            state.result.rules.append(rule.line)
            state.result.rule_indexes.append(rule.index)
            if rule.children is not None:
                if self._walk(rule.children, state):
                    return True
                continue
            state.matched = True
            state.last_rule = rule.index
            queue: list[_Queued] = []
            names: list[str] = []
            if rule.inline is not None:
                name = f"<rule {rule.index}>"
                for user in self._users(rule, None):
                    names.append(name)
                    self._fill_items(name, rule.inline, rule, user, state, queue, names, MAX_CHAIN)
            if rule.action_names:
                self._fill_names(rule.action_names, rule, state, queue, names, MAX_CHAIN)
            state.result.actions.extend(names)
            for queued in queue:
                self._run(queued, rule, state)
            if not rule.cont:
                return True
        return False

    def _users(self, rule: Rule, action: ActionDef | None) -> list[str]:
        if rule.users:
            return rule.users
        if action is not None and action.users:
            return action.users
        return [""]

    def _fill_names(self, patterns: list[str], rule: Rule, state: _State, queue: list[_Queued],
                    names: list[str], chain: int) -> None:
        """Queue every action whose name matches each pattern, in definition order."""
        chain -= 1
        if chain == 0:
            raise _Failure("too many chained actions (fdm allows five)")
        for raw_name in patterns:
            pattern = replace_tags(raw_name, state.mail.tags, self.strip)
            found = [a for a in self.config.actions if fnmatch.fnmatchcase(a.name, pattern)]
            if not found:
                raise _Failure(f"no actions matching: {pattern} (rule at line {rule.line})")
            for action in found:
                for user in self._users(rule, action):
                    names.append(action.name)
                    self._fill_items(action.name, action.items, rule, user, state, queue, names,
                                     chain)

    def _fill_items(self, name: str, items: list[ActionItem], rule: Rule, user: str,
                    state: _State, queue: list[_Queued], names: list[str], chain: int) -> None:
        for idx, item in enumerate(items):
            if item.kind == "action":
                self._fill_names(item.args, rule, state, queue, names, chain)
                continue
            queue.append(_Queued(name, item, idx, user))

    def _run(self, queued: _Queued, rule: Rule, state: _State) -> None:
        name, item, idx, user = queued.name, queued.item, queued.index, queued.user
        mail = state.mail
        result = state.result
        mail.tags["action"] = name
        mail.tags["rule"] = str(state.last_rule)
        mail.tags["user"] = user or self.user
        mail.tags["home"] = self.home
        args = [self._expand(arg, mail) for arg in item.args]
        argument = args[0] if args else ""
        result.runs.append(ActionRun(name, idx, item.kind, rule.line, rule.index, argument, user))
        if item.kind in ("pipe", "exec", "rewrite"):
            result.commands.append(argument)
        if item.kind == "drop":
            state.decision = "drop"
        elif item.kind == "keep":
            state.decision = "keep"
        elif item.kind == "tag":
            mail.tags[args[0]] = args[1] if len(args) > 1 else ""
        elif item.kind == "add-header":
            header = f"{args[0]}: {args[1]}\n".encode("utf-8", "surrogateescape")
            self._insert_header(mail, header)
        elif item.kind == "remove-header" or item.kind == "remove-headers":
            self._remove_headers(mail, args)
        elif item.kind == "rewrite":
            result.notes.append(
                f"line {item.line}: rewrite \"{argument}\" is not run: later rules see the "
                "message unchanged here")
        if delivers(item.kind, argument):
            result.deliveries.append(mailbox_of(name, item.kind, argument, user))
        for key in ("user", "home"):
            mail.tags[key] = ""

    def _expand(self, text: str, mail: _Mail) -> str:
        tags = dict(mail.tags)
        for number, (so, eo) in enumerate(mail.spans):
            tags[str(number)] = mail.data[so:eo].decode("utf-8", "replace")
        return replace_tags(text, tags, self.strip)

    def _header_end(self, mail: _Mail) -> int:
        """Where fdm inserts headers: one byte before the body, even when there is no blank line
        (then the new header is glued to the end of the previous line, as fdm 1.9 does)."""
        return max(mail.body - 1, 0)

    def _insert_header(self, mail: _Mail, header: bytes) -> None:
        end = self._header_end(mail)
        mail.data = mail.data[:end] + header + mail.data[end:]
        mail.body += len(header)

    def _remove_headers(self, mail: _Mail, patterns: list[str]) -> None:
        end = self._header_end(mail)
        lines = mail.data[:end].split(b"\n")
        kept = []
        for line in lines:
            name = line.split(b":", 1)[0].decode("utf-8", "replace").lower()
            if b":" in line and any(fnmatch.fnmatchcase(name, p.lower()) for p in patterns):
                continue
            kept.append(line)
        head = b"\n".join(kept)
        removed = end - len(head)
        mail.data = head + mail.data[end:]
        mail.body -= removed

    # ---- conditions

    def _evaluate(self, rule: Rule, state: _State) -> bool:
        result = False
        for cond in rule.conditions:
            if cond.op == "and" and not result:
                continue
            if cond.op == "or" and result:
                continue
            this = self._condition(cond, state)
            if cond.negated:
                this = not this
            if cond.op == "or":
                result = result or this
            elif cond.op == "and":
                result = result and this
            else:
                result = this
        return result

    def _condition(self, cond: Condition, state: _State) -> bool:
        mail = state.mail
        kind = cond.kind
        if kind == "all":
            return True
        if kind == "matched":
            return state.matched
        if kind == "unmatched":
            return not state.matched
        if kind == "account":
            return any(fnmatch.fnmatchcase(self.account, pattern) for pattern in cond.values)
        if kind == "tagged":
            name = replace_tags(cond.values[0], mail.tags)
            return any(fnmatch.fnmatchcase(tag, name) for tag in mail.tags)
        if kind == "size":
            size = len(mail.data)
            return size < cond.number if cond.compare == "<" else size > cond.number
        if kind == "age":
            return self._age(cond, mail)
        if kind in ("regexp", "string"):
            if id(cond) in self.regex_errors:
                raise _Failure("regex does not compile: " + self.regex_errors[id(cond)])
            regex = self.regexes[id(cond)]
            if kind == "string":
                subject = self._expand(cond.values[0], mail).encode("utf-8", "surrogateescape")
                found = regex.search(subject, 0, len(subject))
                return found is not None
            if cond.area == "headers":
                start, end = 0, mail.body
            elif cond.area == "body":
                start, end = mail.body, len(mail.data)
            else:
                start, end = 0, len(mail.data)
            found = regex.search(mail.data, start, end,
                                 mail.lowered() if regex.wants_lowered else None)
            mail.spans = found.spans if found is not None else []
            return found is not None
        raise _Failure(f"line {cond.line}: the console cannot evaluate a {kind} condition")

    def _age(self, cond: Condition, mail: _Mail) -> bool:
        when = _date_of(mail.data[:mail.body])
        if cond.compare == "invalid":
            return when is None
        if when is None:
            return False
        age = time.time() - when
        return age < cond.number if cond.compare == "<" else age > cond.number


def _date_of(head: bytes) -> float | None:
    """The Date header as a timestamp, or None when missing or unparseable."""
    found = re.search(rb"^date:[ \t]*(.*)$", head, re.I | re.M)
    if not found:
        return None
    try:
        return parsedate_to_datetime(found.group(1).decode("ascii", "replace")).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


_CLOCK: list[tuple[int, str, str, dict[str, str]]] = []


def _clock() -> tuple[str, str, dict[str, str]]:
    """Now for fdm's Received header, the host name and the clock tags: made once a second, since
    every message asks and the check of 10,000 addresses routes 10,000 messages."""
    second = int(time.time())
    if not _CLOCK or _CLOCK[0][0] != second:
        _CLOCK[:] = [(second, formatdate(second, localtime=True), socket.gethostname(),
                      _time_tags(time.localtime(second), ""))]
    return _CLOCK[0][1:]


def _time_tags(tm: time.struct_time, prefix: str) -> dict[str, str]:
    """fdm's clock tags (hour, day, year2...) for a time, names prefixed (`mail_` for the Date)."""
    values = {
        "hour": f"{tm.tm_hour:02d}", "minute": f"{tm.tm_min:02d}", "second": f"{tm.tm_sec:02d}",
        "day": f"{tm.tm_mday:02d}", "month": f"{tm.tm_mon:02d}", "year": f"{tm.tm_year:04d}",
        "year2": f"{tm.tm_year % 100:02d}", "dayofweek": str((tm.tm_wday + 1) % 7),
        "dayofyear": f"{tm.tm_yday:02d}", "quarter": str((tm.tm_mon - 1) // 3 + 1),
        "rfc822date": time.strftime("%a, %d %b %Y %H:%M:%S %z", tm),
    }
    return {prefix + key: value for key, value in values.items()}


@dataclass
class _Queued:
    name: str
    item: ActionItem
    index: int
    user: str


@dataclass
class _State:
    mail: _Mail
    result: Route
    matched: bool = False
    decision: str = "drop"
    last_rule: int = 0


@functools.lru_cache(maxsize=4096)
def _shell_words(command: str) -> tuple[str, ...]:
    """A command line split as the shell would (cached: a config runs the same few commands for
    every message, and splitting one costs more than routing through a rule)."""
    return tuple(shlex.split(command))


def mailbox_of(action: str, kind: str, argument: str, user: str = "") -> Delivery:
    """Read the mailbox from an action: `deliver -d bob -m Spam` is user bob, folder Spam."""
    if kind in ("maildir", "mbox", "write", "append"):
        return Delivery(action, kind, user=user, path=argument)
    if kind not in ("pipe", "exec"):
        return Delivery(action, kind, user=user)
    try:
        words = _shell_words(argument)
    except ValueError:
        return Delivery(action, kind, user=user)
    for position, word in enumerate(words):
        if word.rstrip("/").rpartition("/")[2] not in LDA_NAMES:  # the program's file name
            continue
        delivery = Delivery(action, kind, user=user, folder="INBOX")
        rest = words[position + 1:]
        i = 0
        while i < len(rest):
            option = rest[i]
            if option in ("-d", "-m", "-a", "-f", "-p", "-c", "-o", "-r", "-e", "-k") and \
                    i + 1 < len(rest):
                if option == "-d":
                    delivery.user = rest[i + 1]
                elif option == "-m":
                    delivery.folder = rest[i + 1]
                i += 2
                continue
            delivery.extra_args.append(option)
            i += 1
        return delivery
    return Delivery(action, kind, user=user)


def delivers(kind: str, argument: str) -> bool:
    """Whether an action item puts the mail where someone can read it (the outcome `delivered`):
    a delivering kind, or an `exec` of a local delivery agent (`exec "true"` delivers nothing)."""
    if kind in DELIVERING:
        return True
    return kind == "exec" and bool(mailbox_of("", kind, argument).folder)


def route_message(config: Config, message: bytes | str, dialect: str = PCRE2, **kwargs: str) -> Route:
    """One-shot helper: compile the config and route one message."""
    return Router(config, dialect, **kwargs).route(message)


__all__ = ["delivers", "Delivery", "ActionRun", "Route", "Router", "route_message", "mailbox_of", "POSIX",
           "PCRE2", "EXTERNAL_ITEMS", "split_message"]
