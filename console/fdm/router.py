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
import subprocess
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate

from console.fdm.parser import (
    EXTERNAL_ITEMS,
    ActionDef,
    ActionItem,
    Condition,
    Config,
    Rule,
    replace_tags,
    time_tags,
)
from console.fdm.regex import PCRE2, POSIX, PcreRegex, PosixRegex, RegexError, compile_regex

DEFAULT_STRIP = "\\<>$%^&*|{}[]\"'`;"
MAX_CHAIN = 5
DEFAULT_MAXIMUM_SIZE = 32 * 1024 * 1024
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
    not_modelled: list[str] = field(default_factory=list)
    """What the router declined to predict for this message (the route may differ there)."""

    def to_json(self, message: str) -> dict[str, object]:
        """The JSON object of `mailconsole fdm test --json`."""
        return {
            "message": message,
            "rules": self.rules,
            "actions": self.actions,
            "commands": self.commands,
            "deliveries": [
                {
                    "action": d.action,
                    "user": d.user,
                    "folder": d.folder,
                    **({"path": d.path} if d.path else {}),
                }
                for d in self.deliveries
            ],
            "outcome": self.outcome,
            "error": self.error or None,
            "not_modelled": self.not_modelled,
        }


class _Failure(Exception):
    """A run-time error: fdm logs it and aborts the message (`fetching error. aborted`)."""


class RewriteError(Exception):
    """A rewrite command failed (fdm aborts the message)."""


def run_rewrite(command: str, message: bytes, timeout: float = 30.0) -> bytes:
    """Run a rewrite command as fdm does (`/bin/sh -c`, the message on stdin, stdout the new one)."""
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", command],
            input=message,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RewriteError(str(exc)) from None
    if proc.returncode != 0:
        raise RewriteError(f"command returned {proc.returncode}")
    return proc.stdout


class _Dropped(Exception):
    """fdm drops the message before any rule sees it (an oversized one with delete-oversized)."""


@dataclass
class _Mail:
    """The message as fdm holds it while matching: folded header lines joined by a space.

    `wrapped` lists the offsets of those joins (fdm's wrapped array): a rewrite command is handed
    the message with its newlines back, and adding a header refolds from the real text.
    """

    data: bytes
    body: int
    """Offset of the body (after the blank line), 0 when there is no blank line."""
    tags: dict[str, str]
    wrapped: list[int] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    _lowered: tuple[bytes, bytes] | None = None

    def lowered(self) -> bytes:
        """data.lower(), computed once per version of the data."""
        if self._lowered is None or self._lowered[0] is not self.data:
            self._lowered = (self.data, self.data.lower())
        return self._lowered[1]

    def real(self) -> bytes:
        """The message with its folded header lines' newlines back (what actions are handed)."""
        if not self.wrapped:
            return self.data
        data = bytearray(self.data)
        for offset in self.wrapped:
            data[offset] = 0x0A
        return bytes(data)

    def load(self, real: bytes, body: int) -> None:
        """Take new message text: find its folded lines again and join them for matching."""
        self.data, self.wrapped = _join_folds(real, body)
        self.body = body
        self.spans = []


def read_message(data: bytes, strip_cr: bool = False) -> bytes:
    """What fdm stores from stdin: each line cut at a NUL byte and ended by a newline (a message
    without a final newline is counted and matched as if it had one). A command's output (a
    rewrite) also loses the CR of each CRLF line end."""
    if data.endswith(b"\n") and b"\0" not in data and not (strip_cr and b"\r" in data):
        return data
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    out = []
    for line in lines:
        line = line.partition(b"\0")[0]
        if strip_cr and line.endswith(b"\r"):
            line = line[:-1]
        out.append(line + b"\n")
    return b"".join(out)


def find_body(data: bytes) -> int:
    """fdm's body offset: just after the first empty line, 0 when there is none."""
    if data.startswith(b"\n"):
        return 1
    end = data.find(b"\n\n")
    return 0 if end == -1 else end + 2


def trim_from(data: bytes, body: int) -> tuple[bytes, int]:
    """Drop an mbox `From ` line, as fdm does only when the message has a body."""
    if body == 0 or not data.startswith(b"From "):
        return data, body
    cut = data.find(b"\n") + 1
    return data[cut:], body - cut


def _header_offset(data: bytes, body: int, name: bytes) -> int | None:
    """Where the first `NAME:` header line starts (fdm's find_header), None when absent. Only
    lines that start before the body count; a header line holds no newline, so one that starts
    there also ends there. Names compare in ASCII case (bytes.lower(), as fdm's strncasecmp)."""
    key = name + b":"
    head = data[:body].lower()
    if head.startswith(key):
        return 0
    at = head.find(b"\n" + key)
    return None if at == -1 else at + 1


_FOLD = re.compile(b"\n[ \t]")


def _wrapped_offsets(data: bytes, body: int) -> list[int]:
    """Newlines inside the headers that a space or tab follows (continuation lines)."""
    return [found.start() for found in _FOLD.finditer(data, 0, body)]


def _join_folds(real: bytes, body: int) -> tuple[bytes, list[int]]:
    """The headers' continuation lines joined by a space, and where (fdm's set_wrapped)."""
    wrapped = _wrapped_offsets(real, body)
    if not wrapped:
        return real, wrapped
    data = bytearray(real)
    for offset in wrapped:
        data[offset] = 0x20
    return bytes(data), wrapped


def split_message(data: bytes, received: bytes = b"") -> tuple[bytes, int]:
    """fdm's view of a message: lines ended, `From ` line trimmed, its Received header inserted before
    the first existing Received header (at the top when there is none), headers unfolded.

    Returns the data and the body offset. Without a blank line fdm treats the whole message as body
    (so `in headers` sees only fdm's own Received header); CRLF mail has no `\\n\\n` either.
    """
    data = read_message(data)
    data, body = trim_from(data, find_body(data))
    if received:
        at = _header_offset(data, body, b"received")
        at = 0 if at is None else at
        data = data[:at] + received + data[at:]
        body += len(received)
    return _join_folds(data, body)[0], body


class Router:
    """A config compiled for routing; `route(message)` answers for one message."""

    def __init__(
        self,
        config: Config,
        dialect: str = PCRE2,
        account: str = "stdin",
        hostname: str | None = None,
        home: str = "/root",
        user: str = "root",
        rewrite: Callable[[str, bytes], bytes] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        """The time now, for `age` and the clock tags (tests fix it)."""
        self.rewrite = rewrite
        """Runs a rewrite command on the message (run_rewrite); None: rewrites are not run."""
        self.dialect = dialect
        self.account = account
        self.hostname = hostname if hostname is not None else socket.getfqdn()
        self.home = home
        self.user = user
        self.strip = (config.options.get("strip-characters") or [DEFAULT_STRIP])[0]
        # What every message asks of the config, answered once: the size limit, whether an
        # account is fetched at all, whether the account keeps every mail.
        self.limit = int((config.options.get("maximum-size") or [str(DEFAULT_MAXIMUM_SIZE)])[0])
        self.fetched = any(fnmatch.fnmatchcase(acc.name, account) for acc in config.accounts)
        self.keeps = any(acc.keep for acc in config.accounts if acc.name == account)
        self._by_name: dict[str, list[ActionDef]] = {}
        for action in config.actions:
            self._by_name.setdefault(action.name, []).append(action)
        self._named = {
            pattern: self._actions_matching(pattern) for pattern in _action_patterns(config)
        }
        """The actions each name pattern matches, found once (the config does not change); a
        pattern with tags (`%`) is matched again for each mail, once they are put in."""
        self.regexes: dict[int, PcreRegex | PosixRegex] = {}
        """Each regexp and string condition's compiled regex, by id; every one compiles, or the
        file is refused at load and no route runs."""
        self.load_error = ""
        """Why fdm refuses the whole file at load (the first regex that does not compile)."""
        for rule in config.all_rules():
            for cond in rule.conditions:
                if cond.kind in ("regexp", "string"):
                    try:
                        self.regexes[id(cond)] = compile_regex(cond.regex, cond.case, dialect)
                    except RegexError as exc:
                        if not self.load_error:
                            self.load_error = f"line {cond.line}: {cond.regex}: {exc}"
        self.quick: dict[int, tuple[bytes, bool, str]] = {}
        """Rules one literal can reject, by id: (literal, case-sensitive, area). Such a rule has
        one condition, a regexp whose every match contains the literal (its PcreRegex prefilter):
        where the literal is absent the rule fails exactly as a full evaluation would (the match
        groups cleared), without the calls. Most rules of a long config are rejected this way."""
        for rule in config.all_rules():
            if len(rule.conditions) != 1:
                continue
            cond = rule.conditions[0]
            regex = self.regexes.get(id(cond))
            if (
                cond.kind == "regexp"
                and cond.op is None
                and not cond.negated
                and isinstance(regex, PcreRegex)
                and regex.literal
                and not regex.empty
            ):
                self.quick[id(rule)] = (regex.literal, regex.case, cond.area)

    # ---- the message

    def _prepare(self, message: bytes) -> _Mail:
        """The message as fdm's stdin fetch makes it: lines ended, size checked, `From ` trimmed,
        tags set, its Received header inserted, folded headers joined."""
        data = read_message(message)
        limit = self.limit
        if len(data) > limit:
            if "delete-oversized" in self.config.options:
                raise _Dropped(
                    f"message too big ({len(data)} bytes, maximum-size {limit}): "
                    "delete-oversized drops it"
                )
            raise _Failure(f"message too big: {len(data)} bytes (maximum-size {limit})")
        data, body = trim_from(data, find_body(data))
        if not data:
            raise _Failure("empty message: fdm ignores it and nothing is delivered")
        tags = self._default_tags(data, body)
        if "no-received" not in self.config.options:
            received = self._received_header()
            at = _header_offset(data, body, b"received")
            at = 0 if at is None else at
            data = data[:at] + received + data[at:]
            body += len(received)
        joined, wrapped = _join_folds(data, body)
        return _Mail(joined, body, tags, wrapped)

    def _received_header(self) -> bytes:
        """fdm's own Received header for a mail fetched now."""
        return (
            f"Received: by {self.hostname} (fdm {VERSIONS[self.dialect]}, "
            f'account "{self.account}") \n\twith stdin (unencrypted)\n\t'
            f"{_clock(self.clock())[0]}\n"
        ).encode()

    def _default_tags(self, data: bytes, body: int) -> dict[str, str]:
        """The tags fdm gives every mail: account, host, clock, line counts, message-id, Date parts."""
        _date, hostname, clock_tags = _clock(self.clock())
        tags = {"account": self.account, "hostname": hostname}
        tags.update(clock_tags)
        lines = data.count(b"\n")
        blank = find_body(data)
        body_lines = data.count(b"\n", blank) if blank else 0
        head_lines = (
            lines - body_lines - 1
        )  # the blank line (or, with none, the last line) is neither
        tags.update(lines=str(lines), header_lines=str(head_lines), body_lines=str(body_lines))
        at = _header_offset(data, body, b"message-id")
        if at is not None:
            end = data.find(b"\n", at)
            value = data[at + len(b"message-id:") : end].lstrip()  # isspace()
            if value:
                tags["message_id"] = value.decode(errors="replace")
        when = _date_of(data, body)
        # fdm uses the current time when the Date header is missing or invalid.
        tags.update(_time_tags_at(int(self.clock() if when is None else when), "mail_"))
        return tags

    # ---- routing

    def route(self, message: bytes | str) -> Route:
        """Route one message (bytes as smtpd hands them to the mda, or text)."""
        if isinstance(message, str):
            message = message.encode(errors="surrogateescape")
        result = Route()
        if self.load_error:
            result.outcome = "error"
            result.error = (
                "fdm refuses the whole file at load (exit 1): regex does not compile: "
                + self.load_error
            )
            return result
        if not self.fetched:
            result.outcome = "error"
            result.error = (
                f"no account matches {self.account!r}: fdm -a {self.account} fetches "
                "nothing and exits 1"
            )
            return result
        try:
            mail = self._prepare(message)
        except _Dropped as exc:
            result.outcome = result.decision = "dropped"
            result.decision = "drop"
            result.notes.append(str(exc))
            return result
        except _Failure as exc:
            result.outcome = "error"
            result.error = str(exc)
            return result
        state = _State(mail=mail, result=result)
        try:
            done = self._walk(self.config.rules, state)
        except _Failure as exc:
            result.outcome = "error"
            result.error = str(exc)
            result.notes.append(
                "fdm 2.x exits 1 and smtpd bounces the mail; Debian's fdm 1.9 exits 0 and the mail "
                "is lost"
                if self.dialect == PCRE2
                else "Debian's fdm 1.9 exits 0 here: smtpd logs the mail as delivered and it is lost"
            )
            return result
        decision = state.decision
        if not done:
            decision = self.config.unmatched_mail
            if not result.rules or not state.matched:
                result.notes.append("no rule matched: unmatched-mail " + decision)
            else:
                result.notes.append("reached the end of the rules: unmatched-mail " + decision)
        if self.keeps:
            decision = "keep"
        result.decision = decision
        if result.deliveries:
            result.outcome = "delivered"
        elif decision == "keep":
            result.outcome = "kept"
            result.notes.append(
                "kept: for a stdin account this means stored nowhere (smtpd sees success)"
            )
        else:
            result.outcome = "dropped"
        for unsupported in self.config.unsupported:
            result.notes.append(f"line {unsupported.line}: {unsupported.what}")
        return result

    def _walk(self, rules: list[Rule], state: _State) -> bool:
        """Evaluate rules in order; True once a matching rule without `continue` ends evaluation."""
        quick = self.quick
        mail = state.mail
        for rule in rules:
            literal = quick.get(id(rule))
            if literal is not None:
                needle, case, area = literal
                if area == "headers":
                    if mail.body == 0:
                        continue  # no header section: no header match (the groups kept)
                    start, end = 0, mail.body
                elif area == "body":
                    start, end = mail.body, len(mail.data)
                else:
                    start, end = 0, len(mail.data)
                haystack = mail.data if case else mail.lowered()
                if haystack.find(needle, start, end) == -1:
                    mail.spans = []
                    continue
            if not self._evaluate(rule, state):
                continue
            state.result.rules.append(rule.line)
            state.result.rule_indexes.append(rule.index)
            if rule.children:
                if self._walk(rule.children, state):
                    return True
                continue
            state.matched = True
            if rule.children is not None:
                continue  # fdm takes an empty block as a matched rule with no actions
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

    def _fill_names(
        self,
        patterns: list[str],
        rule: Rule,
        state: _State,
        queue: list[_Queued],
        names: list[str],
        chain: int,
    ) -> None:
        """Queue every action whose name matches each pattern, in definition order."""
        chain -= 1
        if chain == 0:
            raise _Failure("too many chained actions (fdm allows five)")
        for raw_name in patterns:
            if "%" in raw_name:  # tags and the last match's groups (`action "to_%1"`)
                pattern = self._expand(raw_name, state.mail)
                found = self._actions_matching(pattern)
            else:
                pattern = raw_name
                found = self._named[pattern]
            if not found:
                raise _Failure(f"no actions matching: {pattern} (rule at line {rule.line})")
            for action in found:
                for user in self._users(rule, action):
                    names.append(action.name)
                    self._fill_items(
                        action.name, action.items, rule, user, state, queue, names, chain
                    )

    def _actions_matching(self, pattern: str) -> list[ActionDef]:
        """The actions whose names match a pattern, in definition order. A name without a
        wildcard is looked up (a config of 500 users names 500 actions, each by its name)."""
        if _WILDCARD.search(pattern) is None:
            return self._by_name.get(pattern, [])
        return [a for a in self.config.actions if fnmatch.fnmatchcase(a.name, pattern)]

    def _fill_items(
        self,
        name: str,
        items: list[ActionItem],
        rule: Rule,
        user: str,
        state: _State,
        queue: list[_Queued],
        names: list[str],
        chain: int,
    ) -> None:
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
            if not args[0]:
                raise _Failure(f"line {item.line}: add-header: empty header")
            header = f"{args[0]}: {args[1]}\n".encode(errors="surrogateescape")
            self._insert_header(mail, header)
        elif item.kind == "remove-header" or item.kind == "remove-headers":
            self._remove_headers(mail, args)
        elif item.kind == "rewrite":
            self._rewrite(argument, item, rule, state)
        if delivers(item.kind, argument):
            result.deliveries.append(mailbox_of(name, item.kind, argument, user))
        for key in ("user", "home"):
            mail.tags[key] = ""

    def _rewrite(self, command: str, item: ActionItem, rule: Rule, state: _State) -> None:
        """Replace the message by the command's output (fdm keeps the tags and adds no Received
        header). Without a `rewrite` runner the router declines when a later rule would look."""
        if self.rewrite is None:
            if rule.cont:
                state.result.not_modelled.append(
                    f'line {item.line}: rewrite "{command}" is not run here, and later rules see '
                    "the message it writes (fdm test --run-rewrites runs it)"
                )
            return
        if not command:
            raise _Failure(f"line {item.line}: rewrite: empty command")
        try:
            output = self.rewrite(command, state.mail.real())
        except RewriteError as exc:
            raise _Failure(f'line {item.line}: rewrite "{command}": {exc}') from None
        data = read_message(output, strip_cr=True)
        if not data:
            raise _Failure(f'line {item.line}: rewrite "{command}": empty mail returned')
        data, body = trim_from(data, find_body(data))
        state.mail.load(data, body)

    def _expand(self, text: str, mail: _Mail) -> str:
        """A string with the mail's tags and the last match's groups (`%1`) put in."""
        if "%" not in text:
            return text
        tags = dict(mail.tags)
        for number, (so, eo) in enumerate(mail.spans):
            tags[str(number)] = mail.data[so:eo].decode(errors="replace")
        return replace_tags(text, tags, self.strip)

    def _insert_header(self, mail: _Mail, header: bytes) -> None:
        """fdm's insert_header at the end of the headers: before the blank line (one byte before
        the body, so without a blank line it is glued to the end of the line before); a message
        with no header section at all gets one (the header and a blank line at the top)."""
        real = mail.real()
        if mail.body == 0:
            header += b"\n"
            at = 0
        else:
            at = mail.body - 1
        mail.load(real[:at] + header + real[at:], mail.body + len(header))

    def _remove_headers(self, mail: _Mail, patterns: list[str]) -> None:
        """Drop every header line (folded lines joined) whose name matches a pattern, as fdm's
        match_header does: the name is what comes before the first colon, compared caseless."""
        for number, pattern in enumerate(patterns):
            if not pattern:
                raise _Failure("remove-header: empty header")
            if number:
                # fdm forgets the folds here and finds none in the joined text: they stay spaces.
                mail.wrapped = []
            wanted = pattern.lower()
            data, body, wrapped = mail.data, mail.body, mail.wrapped
            kept: list[bytes] = []
            removed: list[tuple[int, int]] = []
            pos = 0
            while pos < body:
                end = data.index(b"\n", pos) + 1  # the header section ends with a newline
                colon = data.find(b":", pos, end)
                name = data[pos:colon].decode(errors="surrogateescape").lower()
                if colon != -1 and fnmatch.fnmatchcase(name, wanted):
                    removed.append((pos, end - pos))
                else:
                    kept.append(data[pos:end])
                pos = end
            if not removed:
                continue
            gone = sum(length for _, length in removed)
            new_wrapped = []
            for offset in wrapped:
                shift = 0
                for start, length in removed:
                    if offset >= start + length:
                        shift += length
                    elif offset >= start:
                        break
                else:
                    new_wrapped.append(offset - shift)
            mail.data = b"".join(kept) + data[pos:]
            mail.body = body - gone
            mail.wrapped = new_wrapped
        mail.spans = []

    # ---- conditions

    def _evaluate(self, rule: Rule, state: _State) -> bool:
        """Conditions strictly left to right, as fdm: `and` after a false value and `or` after a
        true one are skipped (their regexes do not run, so the match groups stay); any other
        condition gives the value, since `x and c` is c when x is true and `x or c` is c when x
        is false."""
        result = False
        for cond in rule.conditions:
            if (cond.op == "and" and not result) or (cond.op == "or" and result):
                continue
            result = self._condition(cond, state) != cond.negated
        return result

    def _condition(self, cond: Condition, state: _State) -> bool:
        mail = state.mail
        kind = cond.kind
        if kind == "regexp":  # nearly every condition of a real config: looked at first
            regex = self.regexes[id(cond)]
            area = cond.area
            if area == "headers":
                if mail.body == 0:
                    return False  # fdm: no header section, no header match (not even "^$")
                start, end = 0, mail.body
            elif area == "body":
                start, end = mail.body, len(mail.data)
            else:
                start, end = 0, len(mail.data)
            found = regex.search(
                mail.data, start, end, mail.lowered() if regex.wants_lowered else None
            )
            if found is None:
                mail.spans = []
                return False
            # fdm keeps a match's offsets from the start of the area it searched, and `%1` reads
            # them from the start of the message: a group found `in body` gives the bytes at those
            # offsets of the headers (kept as fdm does it: commands get what fdm gives them).
            mail.spans = [(so - start, eo - start) for so, eo in found.spans]
            return True
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
        if kind == "string":
            regex = self.regexes[id(cond)]
            subject = self._expand(cond.values[0], mail).encode(errors="surrogateescape")
            return regex.search(subject, 0, len(subject)) is not None
        why = {  # the parser makes no other kind
            "attachment": "it needs fdm's MIME parsing",
            "in-cache": "it depends on the cache file",
            "exec": "it runs a command",
            "pipe": "it runs a command",
        }[kind]
        state.result.not_modelled.append(
            f"line {cond.line}: {kind} condition ({why}): taken as false here"
        )
        return False

    def _age(self, cond: Condition, mail: _Mail) -> bool:
        when = _date_of(mail.data, mail.body)
        if cond.compare == "invalid":
            return when is None
        if when is None:
            return False
        age = max(int(self.clock() - when), 0)  # fdm counts a date in the future as age 0
        return age < cond.number if cond.compare == "<" else age > cond.number


# glibc's strptime: a space of the format matches any run of spaces, a number may follow spaces, but
# the colons of the time come right after the hour and the minute ("10 :11" is no time).
_STRPTIME = re.compile(
    rb"\s*(?:(?P<wday>[A-Za-z]+),)?\s*(?P<day>\d{1,2})\s*(?P<month>[A-Za-z]+)\s*(?P<year>\d{1,4})"
    rb"\s*(?P<hour>\d{1,2}):\s*(?P<minute>\d{1,2}):\s*(?P<second>\d{1,2})"
)
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


_WILDCARD = re.compile(r"[*?[]")
"""What makes an action name a pattern (fnmatch's wildcards)."""


def _action_patterns(config: Config) -> set[str]:
    """Every action name pattern a rule or an action can queue: the rules' `action` names and the
    names inside actions' and inline rules' `action` items."""
    patterns = {name for rule in config.all_rules() for name in rule.action_names}
    items = [item for action in config.actions for item in action.items]
    items += [item for rule in config.all_rules() for item in rule.inline or []]
    patterns.update(name for item in items if item.kind == "action" for name in item.args)
    return patterns


def _name_index(word: bytes, names: tuple[str, ...]) -> int | None:
    """strptime's %a/%b: the full name or its three-letter abbreviation, any case."""
    text = word.decode().lower()  # ASCII letters: the pattern matched [A-Za-z]+
    for index, name in enumerate(names):
        if text in (name, name[:3]):
            return index
    return None


_TIME_YEAR = 29030400
"""fdm's TIME_YEAR (336 days): tzlookup asks for a zone's name and offset at the epoch plus this."""
_POSIX_NAME = re.compile(r"[A-Za-z]{3,}")


def _zone_number(zone: bytes) -> int | None:
    """fdm's tz for the word after the time (mail-time.c): strtonum's -2359..2359, else tzlookup's
    tm_gmtoff, None when neither. tzlookup sets TZ to the word and takes its offset when the
    zone's abbreviation at epoch + TIME_YEAR is the word itself: a zone file of that name (EST,
    not Europe/Berlin, whose abbreviation is CET) or, with no such file, a bare POSIX name of three
    letters or more, which glibc reads as UTC under that name (PST, XYZ, utc). The offset is
    in seconds, and the caller reads it as +HHMM, as fdm does."""
    text = zone.decode("latin-1")
    if re.fullmatch(r"[+-]?\d+", text):
        number = int(text)
        return number if -2359 <= number <= 2359 else None
    try:
        zone_info = zoneinfo.ZoneInfo(text)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
        return 0 if _POSIX_NAME.fullmatch(text) else None
    then = datetime.fromtimestamp(_TIME_YEAR, zone_info)
    if then.tzname() != text:
        return None
    return int(then.utcoffset().total_seconds())  # type: ignore[union-attr]


def _zone_shift(tz: int) -> int:
    """The seconds fdm subtracts for a tz: (tz / 100) hours and (tz % 100) minutes, C's division
    (towards zero). A zone name's offset in seconds goes through the same sum: EST's -18000 is
    read as -180 hours, so fdm puts a Date in EST seven and a half days later."""
    hours = int(tz / 100)
    return hours * 3600 + (tz - hours * 100) * 60


def _date_of(data: bytes, body: int) -> float | None:
    """The Date header as fdm's mailtime reads it (None when missing or invalid): strptime with
    `%a, %d %b %Y %H:%M:%S` or `%d %b %Y %H:%M:%S`, taken as local time, then the zone."""
    at = _header_offset(data, body, b"date")
    if at is None:
        return None
    value = data[at + 5 : data.index(b"\n", at)]  # a header line ends with a newline
    found = _STRPTIME.match(value)
    if not found or (found["wday"] and _name_index(found["wday"], _DAYS) is None):
        return None
    month = _name_index(found["month"], _MONTHS)
    day, hour, minute, second = (int(found[k]) for k in ("day", "hour", "minute", "second"))
    if month is None or not 1 <= day <= 31 or hour > 23 or minute > 59 or second > 61:
        return None
    rest = value[found.end() :].split()
    tz = _zone_number(rest[0] if rest else b"")
    if tz is None:
        return None
    try:
        when = time.mktime((int(found["year"]), month + 1, day, hour, minute, second, 0, 0, 0))
    except (OverflowError, ValueError):
        return None
    when -= _zone_shift(tz)
    return when if when >= 0 else None


_CLOCK: list[tuple[int, str, str, dict[str, str]]] = []


def _clock(now: float) -> tuple[str, str, dict[str, str]]:
    """fdm's Received date, the host name and the clock tags for a time: made once a second, since
    every message asks and the check of 10,000 addresses routes 10,000 messages."""
    second = int(now)
    if not _CLOCK or _CLOCK[0][0] != second:
        _CLOCK[:] = [
            (
                second,
                formatdate(second, localtime=True),
                socket.gethostname(),
                time_tags(time.localtime(second)),
            )
        ]
    return _CLOCK[0][1:]


@functools.lru_cache(maxsize=256)
def _time_tags_at(second: int, prefix: str) -> dict[str, str]:
    """time_tags of a whole second since the epoch, in local time (made once per second and
    prefix: every mail without a Date header asks for now). Callers copy from it, never change it."""
    return time_tags(time.localtime(second), prefix)


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


_QUOTING = re.compile(r"['\"\\]")
_SHELL_SPACE = re.compile(r"[ \t\r\n]+")


def _split_command(command: str) -> list[str]:
    """A command line split as the shell would (shlex.split). Without quotes or backslashes
    shlex only splits at its whitespace, so such a line is split here directly: shlex reads a
    character at a time, and a check of thousands of users reads thousands of commands."""
    if _QUOTING.search(command) is None:
        return [word for word in _SHELL_SPACE.split(command) if word]
    return shlex.split(command)


@functools.lru_cache(maxsize=4096)
def _lda_call(command: str) -> tuple[str | None, str, tuple[str, ...]] | None:
    """What a command line asks a Dovecot LDA for: (the `-d` user or None, the `-m` folder,
    the other arguments); None when it runs no LDA or does not split. Cached: a config runs the
    same few commands for every message, and reading one costs more than routing through a rule."""
    try:
        words = _split_command(command)
    except ValueError:
        return None
    for position, word in enumerate(words):
        if word.rstrip("/").rpartition("/")[2] not in LDA_NAMES:  # the program's file name
            continue
        user: str | None = None
        folder = "INBOX"
        extra: list[str] = []
        rest = words[position + 1 :]
        i = 0
        while i < len(rest):
            option = rest[i]
            if option in ("-e", "-k"):  # flags of dovecot-lda, without a value
                i += 1
                continue
            if option in ("-d", "-m", "-a", "-f", "-p", "-c", "-o", "-r") and i + 1 < len(rest):
                if option == "-d":
                    user = rest[i + 1]
                elif option == "-m":
                    folder = rest[i + 1]
                i += 2
                continue
            extra.append(option)
            i += 1
        return user, folder, tuple(extra)
    return None


def mailbox_of(action: str, kind: str, argument: str, user: str = "") -> Delivery:
    """Read the mailbox from an action: `deliver -d bob -m Spam` is user bob, folder Spam."""
    if kind in ("maildir", "mbox", "write", "append"):
        return Delivery(action, kind, user=user, path=argument)
    if kind not in ("pipe", "exec"):
        return Delivery(action, kind, user=user)
    call = _lda_call(argument)
    if call is None:
        return Delivery(action, kind, user=user)
    lda_user, folder, extra = call
    return Delivery(
        action,
        kind,
        user=user if lda_user is None else lda_user,
        folder=folder,
        extra_args=[*extra],
    )


def delivers(kind: str, argument: str) -> bool:
    """Whether an action item puts the mail where someone can read it (the outcome `delivered`):
    a delivering kind, or an `exec` of a local delivery agent (`exec "true"` delivers nothing)."""
    if kind in DELIVERING:
        return True
    return kind == "exec" and bool(mailbox_of("", kind, argument).folder)


__all__ = [
    "run_rewrite",
    "RewriteError",
    "read_message",
    "delivers",
    "Delivery",
    "ActionRun",
    "Route",
    "Router",
    "mailbox_of",
    "POSIX",
    "PCRE2",
    "EXTERNAL_ITEMS",
    "split_message",
]
