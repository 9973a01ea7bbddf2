"""What the delivery probe reads: the log lines that mark a message's hops, and the filter chain
smtpd.conf sends incoming mail through.

smtpd's lines (`smtpd -d` output or syslog) name a message by its msgid (8 hex digits) and each
recipient by its evpid (the msgid and 8 more). A content filter (clamsmtpd, spampd, dkimproxy) is a
relay: smtpd hands the message to the filter's port (`mta delivery ... stat="250 2.0.0 NEXT Message
accepted"`), the filter hands it back to a tagged listener, and smtpd queues it again as msgid NEXT,
which the relay's reply names. clamsmtpd with `Action: drop` answers `250 Virus Detected; Discarded
Email` and no msgid: the message ends there. Dovecot's deliver, which fdm runs, logs
`msgid=<Message-ID>: saved mail to FOLDER`. Pure parsing here: no files, no processes.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

_SMTPD = re.compile(r"(?:^|\s)(?P<session>[0-9a-f]{16}) (?P<agent>smtp|mta|mda) (?P<rest>.*)$")
_ACCEPTED = re.compile(r"^message msgid=(?P<msgid>[0-9a-f]{8})\b")
_ENVELOPE = re.compile(
    r"^envelope evpid=(?P<evpid>[0-9a-f]{16}) from=<(?P<sender>[^>]*)> to=<(?P<rcpt>[^>]*)>"
)
_CONNECTING = re.compile(r"^connecting address=\w+://\[?(?P<host>[^\]\s]*?)\]?:(?P<port>\d+)\b")
_DELIVERY = re.compile(
    r"^delivery evpid=(?P<evpid>[0-9a-f]{16}) .*?\bresult=\"?(?P<result>Ok|TempFail|PermFail|Loop)\"?"
    r"(?: stat=(?P<stat>.*))?$"
)
_NEXT_MSGID = re.compile(r"^\"?[245]\d\d(?: [245]\.\d{1,3}\.\d{1,3})? (?P<msgid>[0-9a-f]{8}) ")
_LDA_SAVED = re.compile(
    r"\blda\((?P<user>[^)]*)\).*?: msgid=<?(?P<mid>[^>\s]*)>?: saved mail to (?P<folder>.+?)\s*$"
)
_LDA_ERROR = re.compile(
    r"\blda\((?P<user>[^)]*)\).*?: Error: msgid=<?(?P<mid>[^>\s]*)>?: (?P<why>.*)$"
)
_CLAMD_FOUND = re.compile(r": (?P<signature>\S+) FOUND\s*$")


@dataclass(frozen=True)
class Accepted:
    """smtpd took a message in over SMTP (`smtp message msgid=`)."""

    session: str
    msgid: str


@dataclass(frozen=True)
class Envelope:
    """One recipient of an accepted message (`smtp envelope evpid= from= to=`)."""

    session: str
    evpid: str
    sender: str
    rcpt: str

    @property
    def msgid(self) -> str:
        return self.evpid[:8]


@dataclass(frozen=True)
class Connecting:
    """An mta session opening a connection to a relay (a content filter's port, for the pipeline)."""

    session: str
    host: str
    port: int


@dataclass(frozen=True)
class Delivery:
    """A delivery attempt of one envelope: by the mta (a relay) or the mda (fdm), and its result."""

    session: str
    agent: str
    """"mta" or "mda"."""
    evpid: str
    result: str
    """Ok, TempFail, PermFail or Loop."""
    stat: str
    """The relay's reply or the mda's status, quotes removed (untrusted text)."""

    @property
    def msgid(self) -> str:
        return self.evpid[:8]

    @property
    def next_msgid(self) -> str:
        """The msgid a relay's `250 2.0.0 MSGID Message accepted` reply names (the message back from
        a filter), empty when the reply names none (a filter that discarded it)."""
        found = _NEXT_MSGID.match(self.stat)
        return found["msgid"] if found else ""


@dataclass(frozen=True)
class Saved:
    """Dovecot's deliver stored a message in a folder (`msgid=<ID>: saved mail to FOLDER`)."""

    user: str
    message_id: str
    folder: str


@dataclass(frozen=True)
class LdaError:
    """Dovecot's deliver failed for a message."""

    user: str
    message_id: str
    reason: str


@dataclass(frozen=True)
class VirusFound:
    """clamd's `PATH: SIGNATURE FOUND`: a scanned file held a virus (it does not name the message)."""

    signature: str


Event = Accepted | Envelope | Connecting | Delivery | Saved | LdaError | VirusFound


def parse_line(line: str) -> Event | None:
    """The hop event one log line records, or None (most lines record none)."""
    if " FOUND" in line:
        found = _CLAMD_FOUND.search(line)
        if found:
            return VirusFound(found["signature"])
    if "lda(" in line:
        saved = _LDA_SAVED.search(line)
        if saved:
            return Saved(saved["user"], saved["mid"], saved["folder"])
        error = _LDA_ERROR.search(line)
        if error:
            return LdaError(error["user"], error["mid"], error["why"])
        return None
    head = _SMTPD.search(line[:300] if len(line) > 300 else line)
    if head is None:
        return None
    session, agent = head["session"], head["agent"]
    rest = line[head.start("rest") :]
    if agent == "smtp":
        if found := _ACCEPTED.match(rest):
            return Accepted(session, found["msgid"])
        if found := _ENVELOPE.match(rest):
            return Envelope(session, found["evpid"], found["sender"], found["rcpt"])
        return None
    if found := _CONNECTING.match(rest):
        return Connecting(session, found["host"], int(found["port"]))
    if found := _DELIVERY.match(rest):
        stat = (found["stat"] or "").strip()
        if len(stat) >= 2 and stat[0] == stat[-1] == '"':
            stat = stat[1:-1]
        return Delivery(session, agent, found["evpid"], found["result"], stat)
    return None


# --------------------------------------------------------------------------- smtpd.conf's pipeline

FILTER_NAMES = (("clam", "clamsmtpd"), ("spam", "spampd"), ("dkim", "dkimproxy"))
"""Which program a relay action's name points at (the article's relay_clamav_out, relay_spampd_out,
relay_dkimproxy_out); other relays keep their action's name."""


@dataclass(frozen=True)
class Filter:
    """A content filter on smtpd's incoming path: the relay action that hands mail to it, its
    program, and the loopback port it listens on."""

    action: str
    program: str
    host: str
    port: int

    @property
    def label(self) -> str:
        """`clamsmtpd (relay_clamav_out, 127.0.0.1:10026)`."""
        return f"{self.program} ({self.action}, {self.host}:{self.port})"


@dataclass
class Pipeline:
    """smtpd.conf's incoming path for one recipient: the filters in order, then the final action."""

    filters: list[Filter] = field(default_factory=list)
    final: str = ""
    """The action that ends the path (the article's "deliver", an mda), empty when none matched."""
    final_kind: str = ""
    """mda, relay (mail leaves the machine), or an empty string."""
    final_command: str = ""
    """The mda's command line, when the path ends in one."""
    virtual: str = ""
    """The table of the final action's `virtual <TABLE>`: smtpd looks the recipient up there and
    an address it finds is matched against the rules again (a forward)."""
    notes: list[str] = field(default_factory=list)

    def program(self, name: str) -> bool:
        """Whether a filter of that program is on the path."""
        return any(f.program == name for f in self.filters)


@dataclass
class _Rule:
    tag: str
    criteria: list[str]
    action: str


def filter_program(action: str) -> str:
    """The program behind a relay action, by its name."""
    lowered = action.lower()
    return next((program for key, program in FILTER_NAMES if key in lowered), action)


def relay_filters(text: str) -> dict[int, Filter]:
    """The content filters, by port: relay actions of smtpd.conf to a loopback host whose name
    points at a filter program (a relay to a loopback port under another name is mail leaving)."""
    found = {}
    for words in _statements(text):
        if len(words) >= 5 and words[0] == "action" and words[2] == "relay" and words[3] == "host":
            target = re.match(r"^\w+://\[?([^\]/]*?)\]?:(\d+)$", words[4])
            program = filter_program(words[1])
            if target and target[1] in ("127.0.0.1", "::1", "localhost") and program != words[1]:
                port = int(target[2])
                found[port] = Filter(words[1], program, target[1], port)
    return found


def _statements(text: str) -> list[list[str]]:
    """smtpd.conf's statements as shell-like words, comments dropped (lines that do not split are
    skipped: they are smtpd's problem, not the probe's)."""
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            out.append(shlex.split(line))
        except ValueError:
            continue
    return out


def _rules(text: str) -> tuple[dict[str, list[str]], list[_Rule], set[str]]:
    """Actions (name -> words after the name), match rules in order, and the tags of loopback
    listeners (where filters hand mail back)."""
    actions: dict[str, list[str]] = {}
    rules: list[_Rule] = []
    loopback_tags: set[str] = set()
    for words in _statements(text):
        if words[0] == "action" and len(words) >= 3:
            actions[words[1]] = words[2:]
        elif words[0] == "listen" and "tag" in words[:-1]:
            address = words[2] if len(words) > 2 else ""
            if address in ("127.0.0.1", "::1", "localhost", "lo", "lo0"):
                loopback_tags.add(words[words.index("tag") + 1])
        elif words[0] == "match" and "action" in words[:-1]:
            at = words.index("action")
            criteria = words[1:at]
            tag = ""
            if "tag" in criteria[:-1]:
                i = criteria.index("tag")
                tag = criteria[i + 1]
                criteria = criteria[:i] + criteria[i + 2 :]
            rules.append(_Rule(tag, criteria, words[at + 1]))
    return actions, rules, loopback_tags


def _matches(criteria: list[str], rcpt: str, tables: dict[str, set[str]]) -> bool | None:
    """Whether a match rule's criteria take a message from a loopback client to `rcpt`; None when
    the rule uses a criterion not modelled here (the path then stops being predicted)."""
    domain = rcpt.rpartition("@")[2].lower()
    i = 0
    while i < len(criteria):
        word = criteria[i]
        value = criteria[i + 1] if i + 1 < len(criteria) else ""
        if word == "from":
            if value in ("any", "local"):
                i += 2
                continue
            if value == "auth":
                return False  # the probe does not authenticate
            if value == "src" and i + 2 < len(criteria):
                i += 3
                continue
            return None
        if word == "for":
            if value in ("any", "local"):
                i += 2
                continue
            kind = value
            target = criteria[i + 2] if i + 2 < len(criteria) else ""
            if kind in ("domain", "rcpt-to"):
                if target.startswith("{"):
                    return None  # an inline table
                if target.startswith("<") and target.endswith(">"):
                    members = tables.get(target[1:-1])
                    if members is None:
                        return None
                else:
                    members = {target.lower()}
                wanted = domain if kind == "domain" else rcpt.lower()
                if wanted not in members:
                    return False
                i += 3
                continue
            return None
        if word == "rcpt-to" and value:
            members = tables.get(value[1:-1]) if value.startswith("<") else {value.lower()}
            if members is None:
                return None
            if rcpt.lower() not in members:
                return False
            i += 2
            continue
        if word == "auth":
            return False
        return None
    return True


def incoming_path(text: str, rcpt: str, tables: dict[str, set[str]]) -> Pipeline:
    """The path smtpd.conf gives mail for `rcpt` arriving from a loopback client without auth: the
    first matching untagged rule's action, then, after each filter, the next loopback-tagged rule in
    file order (filters hand mail back to a tagged listener; which tag is the filter's own config,
    so the article's order of `match tag` rules is taken as the chain)."""
    actions, rules, loopback_tags = _rules(text)
    pipeline = Pipeline()
    filters = relay_filters(text)
    current: str | None = None
    for rule in rules:
        if rule.tag:
            continue
        matched = _matches(rule.criteria, rcpt, tables)
        if matched is None:
            pipeline.notes.append(
                f"smtpd.conf: `match {' '.join(rule.criteria)}` is not modelled here"
            )
            return pipeline
        if matched:
            current = rule.action
            break
    if current is None:
        pipeline.notes.append(f"smtpd.conf has no rule that accepts mail for {rcpt}")
        return pipeline
    tagged = [rule for rule in rules if rule.tag in loopback_tags]
    for _step in range(10):
        words = actions.get(current, [])
        if words[:2] == ["relay", "host"] and len(words) >= 3:
            port = re.search(r":(\d+)$", words[2])
            found = filters.get(int(port[1])) if port else None
            if found is not None and tagged:
                pipeline.filters.append(found)
                current = tagged.pop(0).action
                continue
        pipeline.final = current
        pipeline.final_kind = words[0] if words else ""
        if pipeline.final_kind == "mda" and len(words) > 1:
            pipeline.final_command = words[1]
        if "virtual" in words[:-1] and re.fullmatch(r"<[^>]+>", words[words.index("virtual") + 1]):
            pipeline.virtual = words[words.index("virtual") + 1][1:-1]
        return pipeline
    pipeline.notes.append("smtpd.conf: the filter chain does not end")
    return pipeline


def table_files(text: str) -> dict[str, str]:
    """smtpd.conf's `table NAME [backend:]PATH` declarations: name -> path."""
    found = {}
    for words in _statements(text):
        if words[0] == "table" and len(words) >= 3 and not words[2].startswith("{"):
            backend, sep, location = words[2].partition(":")
            found[words[1]] = location if sep and not backend.startswith("/") else words[2]
    return found
