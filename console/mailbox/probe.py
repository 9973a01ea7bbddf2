"""The delivery probe: send one tagged message through the real pipeline and follow it hop by hop.

`run_probe` predicts where the message should end (smtpd.conf's filter chain, what the filters do to
GTUBE and EICAR, fdm.conf's route by the fdm router), sends it to the local smtpd with a unique
Message-ID, then reads what the stack logs about it: accepted, each content filter passed (a relay
whose reply names the message's next msgid), handed to fdm (`mda delivery`), saved by Dovecot's
deliver, and visible over IMAP. It ends with a verdict: delivered as predicted, in another folder,
stopped by a filter, still queued (with smtpd's error), bounced, or lost (delivered by smtpd and
stored nowhere: the article's rule that names an undefined action). The probe message is removed
afterwards (that UID only) unless asked to keep it.

The dispatcher's `mailbox.probe` runs it (it sends mail: refused when read-only, audited); screens
call `dispatch_probe` from a worker thread and get each hop through `on_hop` as it happens.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import socket
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack, suppress
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from console.actions import ActionContext
from console.errors import ActionFailed, UserError
from console.mailbox import hops
from console.settings import Settings
from console.text import printable

KINDS = ("clean", "spam", "virus")
DEFAULT_KIND = "clean"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
"""SpamAssassin's test string: any message holding it scores 1000 (spam)."""
EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
"""The antivirus test string every scanner reports (ClamAV: Eicar-Test-Signature)."""
PROBE_HEADER = "X-Mailconsole-Probe"
SENDER_HEADER = "mailconsole probe <mailconsole-probe@localhost>"
DEFAULT_TIMEOUT = 30.0
"""Seconds a probe is followed when --timeout is not given and no content filter is on its path
(the lab delivers in 0.14 s, median of 20)."""
FILTERS_TIMEOUT = 90.0
"""The same when the predicted path goes through a content filter: spampd and clamsmtpd take
seconds per message (on the lab under load: 1.9 s median, 7.2 s the slowest of 15, 5.5 s for the
first message after a start; up to 10 s in spampd and 9 s in clamsmtpd seen before)."""
POLL_S = 0.2
"""Longest wait between two reads of the logs when no change wakes the probe earlier."""
IMAP_POLL_S = 0.05
"""Interval of the IMAP searches once the message should be stored."""
SETTLE_S = 1.0
"""How long after smtpd's `Delivered` the folders are searched before the message is called lost."""
UNLOGGED_AFTER_S = 2.0
NEWEST = 200
"""While the probe waits, only a folder's newest messages are searched (a header search over a folder of
10,000 takes seconds); the last search before the message is called lost covers every message."""
"""When no log line has named the probe this long after sending, its folder is looked at directly."""
UNLOGGED_POLL_S = 0.5


@dataclass
class Hop:
    """One step of the message's way, as the probe saw it."""

    name: str
    """sent (smtpd's reply), accepted (its log), a filter's program (clamsmtpd, spampd...),
    delivered (smtpd's mda finished), fdm (where deliver saved it), imap, removed; or where it ended:
    mda (failed), queue (still queued), timeout, logs (no log line about it)."""
    status: str
    """ok, stopped, deferred, failed or info."""
    detail: str
    """What happened, in words (printable: log text in it is stripped of controls)."""
    at: float
    """Seconds since the probe started sending."""
    line: str = ""
    """The log line that showed it (printable), when one did."""


@dataclass
class Prediction:
    """Where the message should end, before it is sent."""

    expect: str
    """delivered, stopped (by a filter), relayed (off this machine), bounced, lost, dropped, or
    unknown."""
    user: str = ""
    folder: str = ""
    rule_line: int | None = None
    """fdm.conf's line of the rule that decides (the last matching rule)."""
    action: str = ""
    filters: list[str] = field(default_factory=list)
    """smtpd.conf's filter chain for the address, as labels."""
    sentence: str = ""
    reason: str = ""
    """Why the route loses it (the router's error), when it does."""
    notes: list[str] = field(default_factory=list)


@dataclass
class ProbeResult:
    """The whole answer: the prediction, every hop, and the verdict."""

    address: str
    kind: str
    via: str
    message_id: str
    prediction: Prediction
    hops: list[Hop] = field(default_factory=list)
    outcome: str = "timeout"
    """delivered, misrouted, stopped, relayed, lost, bounced, queued, refused, unverified or
    timeout."""
    verdict: str = ""
    """The outcome in one sentence (printable), e.g. where it was found and where it should be."""
    user: str = ""
    folder: str = ""
    """Where the message was found, if it was."""
    total: float | None = None
    """Seconds from smtpd accepting it to the message being visible over IMAP (or stopped)."""
    timeout: float = 0.0
    """Seconds it was followed at most: the timeout given, else the default for its path."""
    removed: bool = False
    kept: bool = False

    @property
    def as_predicted(self) -> bool:
        """Whether the message went where it should: delivered to the predicted folder, or stopped
        by the filter that should stop it. A lost message is never as predicted."""
        if self.outcome == "delivered":
            return self.prediction.expect == "delivered"
        return self.outcome == "stopped" and self.prediction.expect == "stopped"

    @property
    def exit_code(self) -> int:
        """The CLI's exit status: 0 as predicted, 1 otherwise."""
        return 0 if self.as_predicted else 1

    def as_json(self) -> dict[str, Any]:
        """Plain JSON data (`mailconsole probe --json`)."""
        data = asdict(self)
        data["as_predicted"] = self.as_predicted
        return data


HopCallback = Callable[[Hop], None]


@dataclass(frozen=True)
class ProbeOptions:
    """How to probe: the message's kind, where to send it, how long to follow it, whether to keep
    it. As dispatcher parameters (strings), they are what the audit log records."""

    kind: str = DEFAULT_KIND
    """clean, spam (GTUBE in the body) or virus (EICAR in the body)."""
    via: str = ""
    """HOST:PORT of the SMTP listener; empty: the smtp_address setting."""
    timeout: float | None = None
    """Seconds to follow it; None: the default for its predicted path (`default_timeout`)."""
    keep: bool = False

    def params(self) -> dict[str, str]:
        """The dispatcher's parameters."""
        params = {"kind": self.kind}
        if self.timeout is not None:
            params["timeout"] = f"{self.timeout:g}"
        params["keep"] = "yes" if self.keep else "no"
        if self.via:
            params["via"] = self.via
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ProbeOptions:
        """Back from the dispatcher's parameters; one sentence for a bad one."""
        kind = params.get("kind", DEFAULT_KIND)
        if kind not in KINDS:
            raise UserError(f"the probe's kind is one of {', '.join(KINDS)}, not {kind!r}")
        timeout: float | None = None
        if "timeout" in params:
            try:
                timeout = float(params["timeout"])
            except ValueError:
                timeout = -1.0
            if not 0 < timeout <= 3600:
                raise UserError(
                    f"the timeout is a number of seconds up to 3600, not {params['timeout']!r}"
                )
        return cls(kind, params.get("via", ""), timeout, params.get("keep", "no") == "yes")


def default_timeout(prediction: Prediction) -> float:
    """How long to follow a probe when no timeout is given: longer when content filters are on
    its predicted path (each takes seconds per message under load)."""
    return FILTERS_TIMEOUT if prediction.filters else DEFAULT_TIMEOUT


# --------------------------------------------------------------------------- prediction


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def smtpd_tables(settings: Settings, smtpd_text: str) -> dict[str, set[str]]:
    """smtpd.conf's file tables, by name, as sets of keys (for matching `for rcpt-to <addrs>`),
    read as smtpd reads them (console.accounts.tables)."""
    from console.accounts.tables import parse_table

    tables = {}
    for name, location in hops.table_files(smtpd_text).items():
        text = _read(Path(location))
        if text or Path(location).exists():
            tables[name] = parse_table(name, Path(location), text).keys()
    return tables


def clamsmtpd_action(settings: Settings) -> str:
    """clamsmtpd.conf's `Action:` (drop, bounce or pass), read beside smtpd.conf as the article
    keeps it; empty when there is none to read."""
    for line in _read(settings.smtpd_config.parent / "clamsmtpd.conf").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "action":
            return value.strip().lower()
    return ""


def probe_message(address: str, kind: str, token: str, message_id: str) -> EmailMessage:
    """The probe: a small text message with a unique Message-ID, GTUBE or EICAR in its body."""
    message = EmailMessage()
    message["From"] = SENDER_HEADER
    message["To"] = address
    message["Subject"] = f"mailconsole delivery probe {token} ({kind})"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = f"<{message_id}>"
    message[PROBE_HEADER] = f"{token} {kind}"
    body = {
        "clean": "A delivery probe from mailconsole: it is removed once found.\n",
        "spam": f"A delivery probe from mailconsole, to be scored as spam:\n{GTUBE}\n",
        "virus": f"A delivery probe from mailconsole, to be stopped as a virus:\n{EICAR}\n",
    }[kind]
    message.set_content(body)
    return message


def _as_fdm_sees_it(
    message: EmailMessage, address: str, pipeline: hops.Pipeline, kind: str
) -> bytes:
    """The message as fdm gets it: smtpd's Received header naming the recipient, and spampd's
    verdict headers when spampd is on the path (GTUBE scores as spam)."""
    added = [
        "Received: from localhost (localhost [127.0.0.1])",
        "\tby mailconsole (OpenSMTPD) with ESMTP id 00000000",
        f"\tfor <{address}>;",
        f"\t{formatdate(localtime=True)}",
    ]
    if pipeline.program("spampd"):
        if kind == "spam":
            added += [
                "X-Spam-Flag: YES",
                "X-Spam-Status: Yes, score=1000.0 required=5.0 tests=GTUBE",
            ]
        else:
            added += ["X-Spam-Status: No, score=0.0 required=5.0"]
    return ("\n".join(added) + "\n").encode() + message.as_bytes(
        policy=message.policy.clone(linesep="\n")
    )


def _forward(
    settings: Settings,
    smtpd_text: str,
    address: str,
    pipeline: hops.Pipeline,
    prediction: Prediction,
) -> bool:
    """When the final action's virtual table forwards the address to another address (its key's
    last line: smtpd's static table keeps the last value), say so, and predict it when the forward
    leaves the path: relayed (matched again without a tag), or bounced when the mail comes back
    from the filters (measured: smtpd matches the forward again under the filters' tag, reaches the
    same action, finds no line for it and answers 524 "Mailing list expansion problem" to the
    filter's relay). True when the prediction is made."""
    from console.accounts.tables import parse_table

    location = hops.table_files(smtpd_text).get(pipeline.virtual) if pipeline.virtual else None
    if location is None:
        return False
    table = parse_table(pipeline.virtual, Path(location), _read(Path(location)))
    entries = table.find(address)
    forwards = [value for value in entries[-1].values if "@" in value] if entries else []
    if not forwards:
        return False
    where = f"{pipeline.virtual} line {entries[-1].line}"
    if len(entries) > 1:
        where += f" (the last of its {len(entries)} lines: smtpd uses the last)"
    target = forwards[0]
    if len(forwards) > 1:
        prediction.notes.append(f"{len(forwards)} forwards: the first is followed")
    if pipeline.filters and not table.find(target):
        prediction.expect = "bounced"
        prediction.sentence = (
            f"{where} forwards it to {target}, which smtpd refuses where the filters hand mail "
            f"back (no {pipeline.virtual} line for it): the filter's relay fails and it bounces"
        )
        return True
    onward = hops.incoming_path(smtpd_text, target, smtpd_tables(settings, smtpd_text))
    if not pipeline.filters and onward.final_kind == "relay":
        prediction.expect = "relayed"
        prediction.sentence = (
            f"{where} forwards it to {target}, which smtpd relays off this machine "
            f"(action {onward.final})"
        )
        return True
    # Delivered by the same action, the message's own headers unchanged: fdm routes it as sent.
    prediction.notes.append(f"{where} forwards it to {', '.join(forwards)}")
    return False


def predict(settings: Settings, address: str, kind: str, message: EmailMessage) -> Prediction:
    """What should happen to the probe: smtpd.conf's filter chain for the address, what the filters
    do to the kind (ClamAV stops EICAR, SpamAssassin flags GTUBE), then fdm.conf's route."""
    from console.fdm.parser import FdmSyntaxError, parse_file
    from console.fdm.router import Router
    from console.fdm.testmail import ROUTER_HOSTNAME

    smtpd_text = _read(settings.smtpd_config)
    pipeline = hops.incoming_path(smtpd_text, address, smtpd_tables(settings, smtpd_text))
    prediction = Prediction("unknown", filters=[f.label for f in pipeline.filters])
    prediction.notes += pipeline.notes
    if not smtpd_text:
        prediction.notes.append(f"cannot read {settings.smtpd_config}: the filter chain is unknown")
    if kind == "virus":
        action = clamsmtpd_action(settings)
        if pipeline.program("clamsmtpd") and action != "pass":
            prediction.expect = "stopped"
            what = {"bounce": "refuse it", "drop": "answer 250 and discard it"}
            prediction.sentence = (
                f"ClamAV finds EICAR and clamsmtpd should "
                f"{what.get(action, 'refuse or quarantine it')} "
                f"(clamsmtpd.conf Action: {action or 'unknown'})"
            )
            return prediction
        prediction.notes.append(
            "clamsmtpd passes infected mail on (Action: pass)"
            if action == "pass"
            else "no clamsmtpd on this address's path in smtpd.conf: nothing scans it for viruses"
        )
    if kind == "spam" and not pipeline.program("spampd"):
        prediction.notes.append(
            "no spampd on this address's path in smtpd.conf: nothing scores GTUBE as spam"
        )
    if pipeline.final_kind == "relay":
        prediction.expect = "relayed"
        prediction.sentence = f"smtpd relays it off this machine (action {pipeline.final})"
        return prediction
    if _forward(settings, smtpd_text, address, pipeline, prediction):
        return prediction
    if pipeline.final_kind == "mda" and "fdm" not in pipeline.final_command:
        prediction.sentence = (
            f"smtpd hands it to the mda of action {pipeline.final}, which is not fdm: "
            "its route is not predicted"
        )
        return prediction
    try:
        config = parse_file(settings.fdm_config)
    except (FdmSyntaxError, UserError, OSError) as exc:
        prediction.notes.append(f"fdm.conf cannot be routed: {exc}")
        return prediction
    route = Router(config, hostname=ROUTER_HOSTNAME).route(
        _as_fdm_sees_it(message, address, pipeline, kind)
    )
    prediction.rule_line = route.rules[-1] if route.rules else None
    prediction.action = route.actions[-1] if route.actions else ""
    at = f"fdm.conf line {prediction.rule_line}" if prediction.rule_line else "fdm.conf"
    if route.outcome == "delivered":
        delivery = route.deliveries[0]
        prediction.expect = "delivered"
        prediction.user = delivery.user
        prediction.folder = delivery.folder or delivery.path
        prediction.action = delivery.action
        prediction.sentence = (
            f"{at} (action {delivery.action}) delivers it to "
            f"{delivery.user or '?'}'s folder {prediction.folder}"
        )
        if len(route.deliveries) > 1:
            prediction.notes.append(f"{len(route.deliveries)} deliveries: the first is followed")
    elif route.outcome == "error":
        prediction.expect = "lost"
        prediction.reason = route.error
        prediction.sentence = f"lost at {at}: {route.error}"
        prediction.notes += route.notes
    elif route.outcome == "kept":
        prediction.expect = "lost"
        prediction.reason = "no rule delivers it (kept by a stdin account: stored nowhere)"
        prediction.sentence = f"lost: {prediction.reason}"
    else:
        prediction.expect = "dropped"
        prediction.sentence = f"dropped by {at}"
    return prediction


# --------------------------------------------------------------------------- sending


class _Refused(Exception):
    """smtpd answered the probe with a refusal (its reply is the message)."""


def parse_via(via: str) -> tuple[str, int]:
    """HOST:PORT (or [IPv6]:PORT) as a (host, port) pair; one sentence when it is not one."""
    host, sep, port = via.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"{via!r} is not HOST:PORT (for example 127.0.0.1:25)")
    return host, int(port)


def _reply(code: int, text: bytes | str) -> str:
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return printable(f"{code} {' '.join(raw.split())}")


def send_probe(host: str, port: int, address: str, message: EmailMessage, timeout: float) -> str:
    """Send the probe with the null sender (nothing bounces back to anyone); the DATA reply's text,
    which names smtpd's msgid. UserError when the server cannot be reached, _Refused with its reply
    when it refuses the message."""
    data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            smtp.ehlo_or_helo_if_needed()
            code, text = smtp.mail("")
            if code != 250:
                raise _Refused(f"MAIL FROM:<> refused: {_reply(code, text)}")
            code, text = smtp.rcpt(address)
            if code not in (250, 251):
                raise _Refused(f"RCPT TO:<{printable(address)}> refused: {_reply(code, text)}")
            code, text = smtp.data(data)
            return _reply(code, text)
    except smtplib.SMTPDataError as exc:
        raise _Refused(
            f"the message was refused: {_reply(exc.smtp_code, exc.smtp_error)}"
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise _Refused(f"{_reply(exc.smtp_code, exc.smtp_error)}") from None
    except (OSError, smtplib.SMTPException) as exc:
        if isinstance(exc, ConnectionRefusedError):
            why = "connection refused (nothing listens there)"
        elif isinstance(exc, (socket.timeout, TimeoutError)):
            why = "no answer in time"
        else:
            why = printable(getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
        raise UserError(f"cannot send the probe to {host}:{port}: {why}") from None


def msgid_of(reply: str) -> str:
    """smtpd's msgid in its DATA reply (`250 2.0.0 f21cf22f Message accepted for delivery`)."""
    for word in reply.split()[1:4]:
        if len(word) == 8 and all(c in "0123456789abcdef" for c in word):
            return word
    return ""


# --------------------------------------------------------------------------- following the logs


class LogFollower:
    """Every live file of the log directory, read from where it ended when the probe began (files
    that appear later are read from their start); a directory watch wakes the probe on changes."""

    def __init__(self, log_dir: Path) -> None:
        from console.logs.watch import DirectoryWatch

        self.log_dir = log_dir
        self._logs: dict[Path, Any] = {}
        self._pending: list[str] = []
        self._wake = threading.Event()
        self._open_new(initial=True)
        self._watch = DirectoryWatch([log_dir], lambda _paths: self._wake.set())
        self._watch.start()

    def _open_new(self, initial: bool) -> None:
        from console.logs.discovery import discover
        from console.logs.follow import FollowedLog

        try:
            found = discover(self.log_dir)
        except UserError:
            return
        for info in found:
            if info.compressed or info.path in self._logs:
                continue
            try:
                log = FollowedLog(info.path, scan=False)
            except UserError:
                continue
            self._logs[info.path] = log
            if not initial:
                data = os.pread(log.fd, log.index.end, 0)
                complete = data[: data.rfind(b"\n") + 1].decode("utf-8", "replace")
                self._pending += complete.splitlines()

    def lines(self) -> list[str]:
        """The lines appended since the last call, file by file."""
        from console.logs.follow import NewLines

        self._open_new(initial=False)
        out, self._pending = self._pending, []
        for log in self._logs.values():
            try:
                events = log.poll()
            except (UserError, OSError):
                continue
            for event in events:
                if isinstance(event, NewLines):
                    out += event.lines
        return out

    def wait(self, seconds: float) -> None:
        """Until something in the log directory changes, or `seconds` pass."""
        if seconds > 0:
            self._wake.wait(seconds)
        self._wake.clear()

    def find_before(self, needle: str) -> str:
        """The last line holding `needle` in the logs before the probe began (how an mta session
        that was already open names the relay it connected to), or an empty string."""
        from console.queue.story import LOG_TAIL_BYTES

        wanted = needle.encode()
        for log in self._logs.values():
            end = log.index.end
            try:
                data = os.pread(log.fd, min(end, LOG_TAIL_BYTES), max(0, end - LOG_TAIL_BYTES))
            except OSError:
                continue
            at = data.rfind(wanted)
            if at != -1:
                start = data.rfind(b"\n", 0, at) + 1
                end = data.find(b"\n", at)
                return data[start : end if end != -1 else len(data)].decode("utf-8", "replace")
        return ""

    def close(self) -> None:
        self._watch.stop()
        for log in self._logs.values():
            log.close()


class _Tracker:
    """The probe's state while it follows the logs: which msgids and envelopes are the probe's,
    which mta session goes to which filter, what happened so far."""

    def __init__(
        self,
        result: ProbeResult,
        msgid: str,
        filters: dict[int, hops.Filter],
        emit: Callable[[str, str, str, str], Hop],
        earlier: Callable[[str], str] = lambda _needle: "",
    ) -> None:
        self.result = result
        self.msgids = {msgid} if msgid else set()
        self.evpids: set[str] = set()
        self.filters = filters
        self.sessions: dict[str, tuple[str, int]] = {}
        self.emit = emit
        self.accepted = False
        self.delivered_by_smtpd = False
        self.saved: hops.Saved | None = None
        self.lda_error = ""
        self.finished = False
        self.virus = ""
        self.last_error = ""
        self.earlier = earlier
        """Finds a line logged before the probe began (an mta session's `connecting` line)."""
        self.saved_shown = False
        self.saved_line = ""

    def _ours(self, evpid: str) -> bool:
        return evpid in self.evpids or evpid[:8] in self.msgids

    def feed(self, line: str) -> None:
        event = hops.parse_line(line)
        if event is None:
            return
        shown = printable(line.strip())
        message_id = self.result.message_id
        if isinstance(event, hops.Connecting):
            self.sessions[event.session] = (event.host, event.port)
        elif isinstance(event, hops.VirusFound):
            self.virus = event.signature
        elif isinstance(event, hops.Envelope) and event.msgid in self.msgids:
            self.evpids.add(event.evpid)
            if not self.accepted:
                self.accepted = True
                self.emit(
                    "accepted",
                    "ok",
                    f"smtpd queued it as msgid {event.msgid} (envelope {event.evpid})",
                    shown,
                )
        elif isinstance(event, hops.Delivery) and self._ours(event.evpid):
            self._delivery(event, shown)
        elif isinstance(event, hops.Saved) and event.message_id == message_id:
            self.saved = event
            self.saved_line = shown
            if self.delivered_by_smtpd:
                self.show_saved()
        elif isinstance(event, hops.LdaError) and event.message_id == message_id:
            self.lda_error = printable(event.reason)
            self.emit("deliver", "failed", f"Dovecot's deliver failed: {self.lda_error}", shown)

    def _delivery(self, event: hops.Delivery, shown: str) -> None:
        stat = printable(event.stat)
        if event.agent == "mta":
            if event.session not in self.sessions:
                found = hops.parse_line(self.earlier(f"{event.session} mta connecting "))
                if isinstance(found, hops.Connecting):
                    self.sessions[event.session] = (found.host, found.port)
            host, port = self.sessions.get(event.session, ("", 0))
            known = self.filters.get(port)
            name = known.program if known else (f"relay {host}:{port}" if port else "relay")
            if event.result != "Ok":
                self._not_ok(name, event, stat, shown)
                return
            following = event.next_msgid
            if following:
                self.msgids.add(following)
                self.emit(name, "ok", f"passed; handed back as msgid {following}", shown)
                return
            virus = f" (clamd: {printable(self.virus)} FOUND)" if self.virus else ""
            self.result.outcome = "stopped" if known else "relayed"
            if known:
                self.result.verdict = f"by {known.program}: {stat}{virus}"
                self.emit(name, "stopped", f"{stat}{virus}", shown)
            else:
                self.result.verdict = f"off this machine to {host}:{port}: {stat}"
                self.emit(name, "ok", f"relayed: {stat}", shown)
            self.finished = True
            return
        if event.result != "Ok":
            self._not_ok("mda", event, stat, shown)
            return
        self.delivered_by_smtpd = True
        self.emit("delivered", "ok", f"smtpd's mda (fdm) finished: {stat}", shown)
        if self.saved is not None:
            self.show_saved()

    def show_saved(self) -> None:
        """The fdm hop: where fdm's route had Dovecot's deliver store the message (shown after
        smtpd's delivery line, although deliver logs it first: fdm runs inside that delivery)."""
        if self.saved is None or self.saved_shown:
            return
        self.saved_shown = True
        saved = self.saved
        self.emit(
            "fdm",
            "ok",
            printable(
                f"fdm's route: Dovecot's deliver saved it to {saved.user}'s folder {saved.folder}"
            ),
            self.saved_line,
        )

    def _not_ok(self, name: str, event: hops.Delivery, stat: str, shown: str) -> None:
        if event.result == "TempFail":
            self.last_error = stat
            self.emit(name, "deferred", f"deferred, smtpd retries: {stat}", shown)
            return
        self.result.outcome = "bounced"
        self.result.verdict = f"at {name}: {stat}"
        self.emit(name, "failed", f"failed for good ({event.result}): {stat}", shown)
        self.finished = True


# --------------------------------------------------------------------------- IMAP


class _Mailboxes:
    """IMAP connections to the accounts the probe searches, one per account, opened on first use
    and kept until `close` (a search repeated every few milliseconds does not log in each time)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stack = ExitStack()
        self._clients: dict[str, Any] = {}
        self._pending: dict[str, threading.Thread] = {}

    def connect_soon(self, user: str) -> None:
        """Log in as `user` in a thread, so the probe goes on reading the logs meanwhile (a failure
        is said when the account is searched)."""

        def run() -> None:
            with suppress(UserError):
                self.connect(user)

        thread = threading.Thread(target=run, name="probe-imap-login", daemon=True)
        self._pending[user] = thread
        thread.start()

    def connect(self, user: str) -> Any:
        """The logged-in IMAPClient for `user`; UserError when there is no password or no login."""
        from console.mailbox.credentials import login_for
        from console.mailbox.imap import connected

        pending = self._pending.get(user)
        if pending is not None and pending is not threading.current_thread():
            pending.join()
            del self._pending[user]
        if user not in self._clients:
            login = login_for(self.settings, user)
            if login is None:
                raise UserError(f"no IMAP password for {user} (see imap_password_file)")
            self._clients[user] = self._stack.enter_context(connected(self.settings, login))
        return self._clients[user]

    def find(
        self, user: str, folders: list[str] | None, message_id: str, newest: int | None = NEWEST
    ) -> tuple[str, list[int]] | None:
        """(folder, UIDs) of the message in one of `folders` (None: every folder) of `user`, among
        each folder's `newest` messages (None: all of them); None when none has it. UserError when
        the account cannot be read."""
        from imapclient.exceptions import IMAPClientError

        from console.mailbox.imap import folder_list

        client = self.connect(user)
        try:
            if folders is None:
                folders = [
                    str(name)
                    for flags, _delim, name in folder_list(client)
                    if b"\\Noselect" not in flags and b"\\NonExistent" not in flags
                ]
            for name in folders:
                try:
                    selected = client.select_folder(name, readonly=True)
                except IMAPClientError:
                    continue  # a folder that does not exist holds no probe
                exists = int(selected.get(b"EXISTS", 0))
                if exists == 0:
                    continue
                window = [] if newest is None else [f"{max(1, exists - newest + 1)}:*"]
                uids = client.search([*window, "HEADER", "Message-ID", message_id])
                if uids:
                    return name, list(uids)
        except (OSError, IMAPClientError) as exc:
            self._drop(user)
            raise UserError(f"IMAP as {user}: {printable(str(exc))}") from None
        return None

    def remove(self, user: str, folder: str, message_id: str) -> int:
        """Delete and expunge the message's UIDs (those only) in the folder; how many."""
        from imapclient.exceptions import IMAPClientError

        client = self.connect(user)
        try:
            exists = int(client.select_folder(folder).get(b"EXISTS", 0))
            uids = []
            if exists > NEWEST:
                uids = client.search(
                    [f"{exists - NEWEST + 1}:*", "HEADER", "Message-ID", message_id]
                )
            if not uids:
                uids = client.search(["HEADER", "Message-ID", message_id])
            if not uids:
                return 0
            client.delete_messages(uids)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uids)
            else:
                client.expunge()
            return len(uids)
        except (OSError, IMAPClientError) as exc:
            self._drop(user)
            raise UserError(f"IMAP as {user}: {printable(str(exc))}") from None

    def _drop(self, user: str) -> None:
        client = self._clients.pop(user, None)
        if client is not None:
            with suppress(Exception):  # the connection may be gone already
                client.shutdown()

    def close(self) -> None:
        for thread in self._pending.values():
            thread.join()
        self._stack.close()


def _accounts(settings: Settings) -> list[str]:
    from console.mailbox.listing import accounts

    try:
        return [user.name for user in accounts(settings)]
    except UserError:
        return []


# --------------------------------------------------------------------------- the probe


def run_probe(
    settings: Settings,
    address: str,
    options: ProbeOptions | None = None,
    on_hop: HopCallback | None = None,
) -> ProbeResult:
    """Send one probe to `address` and follow it until it is visible over IMAP, stopped, bounced or
    lost, or until the timeout; `on_hop(hop)` is called (from this thread) for each hop as it
    happens. Returns the result; UserError (one sentence) when the probe cannot even be sent (a bad
    address, smtpd unreachable). Not audited, not checked for read-only: callers go through
    `dispatch_probe`. Blocks: run it in a worker thread."""
    options = options or ProbeOptions()
    kind, via, keep = options.kind, options.via, options.keep
    address = address.strip()
    if kind not in KINDS:
        raise UserError(f"the probe's kind is one of {', '.join(KINDS)}, not {kind!r}")
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or any(c.isspace() or ord(c) < 32 for c in address)
        or "<" in address
        or ">" in address
    ):
        raise UserError(f"{printable(address)!r} is not a mail address (user@domain)")
    host, port = parse_via(via or settings.smtp_address)
    token = secrets.token_hex(8)
    message_id = f"mailconsole-probe.{token}@mailconsole"
    message = probe_message(address, kind, token, message_id)
    prediction = predict(settings, address, kind, message)
    timeout = options.timeout if options.timeout is not None else default_timeout(prediction)
    result = ProbeResult(address, kind, f"{host}:{port}", message_id, prediction, timeout=timeout)
    started = time.monotonic()
    deadline = started + timeout
    accepted_at: list[float] = []

    def emit(name: str, status: str, detail: str, line: str = "") -> Hop:
        hop = Hop(name, status, detail, round(time.monotonic() - started, 3), line)
        result.hops.append(hop)
        if name == "accepted" and not accepted_at:
            accepted_at.append(hop.at)
        if on_hop is not None:
            on_hop(hop)
        return hop

    follower = LogFollower(settings.log_dir)
    mailboxes = _Mailboxes(settings)
    try:
        try:
            reply = send_probe(host, port, address, message, min(timeout, 30.0))
        except _Refused as exc:
            result.outcome = "refused"
            result.verdict = f"smtpd at {host}:{port} refused the probe: {exc}"
            emit("accepted", "failed", str(exc))
            return result
        msgid = msgid_of(reply)
        emit("sent", "ok", f"{host}:{port} answered {reply}")
        if prediction.user:
            # Log in now, while smtpd and the filters work: the folder is searched the moment
            # the message is stored, not a TLS handshake and a login later.
            mailboxes.connect_soon(prediction.user)
        tracker = _Tracker(
            result,
            msgid,
            hops.relay_filters(_read(settings.smtpd_config)),
            emit,
            follower.find_before,
        )
        unlogged = _follow(settings, result, tracker, follower, mailboxes, deadline)
        if tracker.delivered_by_smtpd or unlogged:
            for line in follower.lines():  # deliver logs before fdm exits, so before smtpd does
                tracker.feed(line)
            tracker.show_saved()
            _find_in_folders(settings, mailboxes, result, tracker, emit, deadline)
            start = accepted_at[0] if accepted_at else result.hops[0].at
            if result.outcome == "delivered" and result.folder:
                result.total = round(result.hops[-1].at - start, 3)
            if result.folder and not keep:
                _remove(mailboxes, result, emit)
            elif result.folder:
                result.kept = True
        elif not tracker.finished:
            _timed_out(settings, result, tracker, emit, timeout)
        elif result.outcome == "stopped" and accepted_at:
            result.total = round(result.hops[-1].at - accepted_at[0], 3)
    finally:
        mailboxes.close()
        follower.close()
    return result


def _follow(
    settings: Settings,
    result: ProbeResult,
    tracker: _Tracker,
    follower: LogFollower,
    mailboxes: _Mailboxes,
    deadline: float,
) -> bool:
    """Feed the logs to the tracker until smtpd has handed the message to fdm, a hop ended its way,
    or the deadline. When no log line about it shows up (smtpd logs elsewhere than log_dir), the
    predicted folder is looked at every UNLOGGED_POLL_S instead; True when it was found there."""
    unlogged_from = time.monotonic() + UNLOGGED_AFTER_S
    next_look = 0.0
    prediction = result.prediction
    while True:
        for line in follower.lines():
            tracker.feed(line)
            if tracker.finished:
                return False
        now = time.monotonic()
        if tracker.delivered_by_smtpd or now >= deadline:
            return False
        if (
            not tracker.accepted
            and prediction.expect == "delivered"
            and now >= max(unlogged_from, next_look)
        ):
            next_look = now + UNLOGGED_POLL_S
            try:
                hit = mailboxes.find(prediction.user, [prediction.folder], result.message_id)
            except UserError:
                hit = None
            if hit is not None:
                tracker.emit(
                    "logs",
                    "info",
                    printable(
                        f"no line about it in {settings.log_dir}: smtpd's and the filters' hops "
                        "cannot be shown"
                    ),
                    "",
                )
                return True
        follower.wait(min(POLL_S, deadline - now))


def _find_in_folders(
    settings: Settings,
    mailboxes: _Mailboxes,
    result: ProbeResult,
    tracker: _Tracker,
    emit: Callable[[str, str, str, str], Hop],
    deadline: float,
) -> None:
    """After smtpd handed the message to fdm: find it over IMAP (the folder deliver logged, else the
    predicted one, else every folder of every account), and judge."""
    prediction = result.prediction
    saved = tracker.saved
    first_user = saved.user if saved else prediction.user
    first_folder = saved.folder if saved else prediction.folder
    settle = min(deadline, time.monotonic() + SETTLE_S)
    users = [u for u in dict.fromkeys([first_user, prediction.user, *_accounts(settings)]) if u]
    found: tuple[str, str, list[int]] | None = None
    unreadable: list[str] = []
    while found is None:
        unreadable = []
        # The last round searches every message of every folder, not only the newest.
        final = time.monotonic() >= (deadline if saved else settle)
        newest = None if final else NEWEST
        for user in users:
            folders = [first_folder] if user == first_user and first_folder else None
            try:
                hit = mailboxes.find(user, folders, result.message_id, newest)
                if hit is None and folders is not None and saved is None:
                    hit = mailboxes.find(user, None, result.message_id, newest)
            except UserError as exc:
                unreadable.append(printable(str(exc)))
                continue
            if hit is not None:
                found = (user, hit[0], hit[1])
                break
        if found is not None or final:
            break
        time.sleep(min(IMAP_POLL_S, max(0.0, deadline - time.monotonic())))
    if found is not None:
        user, folder, _uids = found
        result.user, result.folder = user, folder
        where = f"{user}'s folder {folder}"
        if prediction.expect == "delivered" and (user, folder) == (
            prediction.user,
            prediction.folder,
        ):
            result.outcome = "delivered"
            result.verdict = f"as predicted, to {where}"
            emit("imap", "ok", f"visible over IMAP in {where}", "")
        else:
            result.outcome = "misrouted"
            wanted = (
                f"{prediction.user}'s folder {prediction.folder}"
                if prediction.expect == "delivered"
                else prediction.sentence
            )
            result.verdict = f"found in {where}, not as predicted ({wanted})"
            emit("imap", "failed", f"visible over IMAP in {where}, predicted: {wanted}", "")
        return
    if saved is not None:
        result.outcome = "unverified"
        result.verdict = (
            f"deliver saved it to {saved.user}'s folder {saved.folder}, but IMAP does not show it"
            + (f" ({unreadable[0]})" if unreadable else "")
        )
        emit("imap", "failed", result.verdict, "")
        return
    if unreadable and len(unreadable) == len(users):
        result.outcome = "unverified"
        result.verdict = f"smtpd delivered it to fdm; no folder could be searched: {unreadable[0]}"
        emit("imap", "failed", result.verdict, "")
        return
    searched = ", ".join(u for u in users if not any(u in text for text in unreadable))
    if prediction.expect == "dropped":
        result.outcome = "dropped"
        result.verdict = f"{prediction.sentence}, as predicted: no folder of {searched} has it"
        emit("imap", "ok", f"in no folder of {searched}", "")
        return
    result.outcome = "lost"
    searched = ", ".join(u for u in users if not any(u in text for text in unreadable))
    why = ""
    if prediction.expect == "lost" and prediction.reason:
        why = f"; fdm.conf: {prediction.reason}"
    elif prediction.rule_line:
        why = f"; fdm.conf's route was the rule at line {prediction.rule_line}"
    result.verdict = (
        f"smtpd handed it to fdm (Delivered) and no folder has it (searched every folder of "
        f"{searched}){why}"
    )
    emit("imap", "failed", f"in no folder of {searched}", "")


def _remove(
    mailboxes: _Mailboxes, result: ProbeResult, emit: Callable[[str, str, str, str], Hop]
) -> None:
    """Delete and expunge the probe from where it was found (that message only)."""
    try:
        count = mailboxes.remove(result.user, result.folder, result.message_id)
    except UserError as exc:
        emit("removed", "failed", f"could not remove the probe: {printable(str(exc))}", "")
        return
    result.removed = count > 0
    emit(
        "removed",
        "ok" if count else "failed",
        f"removed from {result.folder} (IMAP delete and expunge of its UID)"
        if count
        else "the probe was no longer there to remove",
        "",
    )


def _timed_out(
    settings: Settings,
    result: ProbeResult,
    tracker: _Tracker,
    emit: Callable[[str, str, str, str], Hop],
    timeout: float,
) -> None:
    """Say where the probe stopped: still in smtpd's queue (with its error), or not seen at all."""
    from console.queue.smtpctl import read_queue

    queued = []
    problem = ""
    try:
        snapshot = read_queue(settings)
        queued = [e for e in snapshot.envelopes if e.msgid in tracker.msgids]
    except UserError as exc:
        problem = printable(str(exc))
    if queued:
        envelope = queued[-1]
        error = printable(envelope.error or tracker.last_error or "no error yet")
        result.outcome = "queued"
        result.verdict = (
            f"still queued after {timeout:g} s: envelope {envelope.evpid} ({envelope.runstate}), "
            f"smtpd's error: {error}; remove it with `mailconsole queue remove {envelope.msgid}`"
        )
        emit("queue", "deferred", result.verdict, "")
        return
    result.outcome = "timeout"
    seen = "not seen in the logs" if not tracker.accepted else f"last seen: {result.hops[-1].name}"
    extra = f" ({tracker.last_error})" if tracker.last_error else ""
    extra += f"; smtpctl: {problem}" if problem else ""
    result.verdict = f"no outcome within {timeout:g} s ({seen}){extra}"
    emit("timeout", "failed", result.verdict, "")


# --------------------------------------------------------------------------- the dispatcher's action


class ProbeContext(ActionContext):
    """An action context that hands each hop to `on_hop` and keeps the result for the caller."""

    def __init__(self, settings: Settings, on_hop: HopCallback | None = None) -> None:
        super().__init__(settings)
        self.on_hop = on_hop
        self.result: ProbeResult | None = None


def probe_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """The dispatcher's `mailbox.probe`: target is the address; params kind, via, timeout, keep.
    Returns the verdict; ActionFailed (exit 1) with it when the probe did not go as predicted."""
    options = ProbeOptions.from_params(params)
    on_hop = getattr(ctx, "on_hop", None)
    if on_hop is None:
        on_hop = lambda hop: ctx.progress(format_hop(hop))  # noqa: E731
    result = run_probe(ctx.settings, target, options, on_hop)
    if isinstance(ctx, ProbeContext):
        ctx.result = result
    if not result.as_predicted:
        raise ActionFailed(f"{result.outcome}: {result.verdict}")
    return f"{result.outcome}: {result.verdict}"


def dispatch_probe(
    settings: Settings,
    address: str,
    options: ProbeOptions | None = None,
    on_hop: HopCallback | None = None,
) -> ProbeResult:
    """The probe as screens and the CLI run it: through the dispatcher (refused with
    ReadOnlyRefused in read-only mode; the attempt audited before anything is sent). Returns the
    result, also when it did not go as predicted (`result.as_predicted`, `result.exit_code`).
    Raises UserError (one sentence) when it could not run at all: smtpd unreachable, a bad address.
    Blocks for up to the timeout: call it from a worker thread; `on_hop(hop)` is called from that
    thread for each hop as it happens (post a message from it; never touch a widget there)."""
    from console.actions import dispatch

    context = ProbeContext(settings, on_hop)
    try:
        dispatch(
            settings,
            "mailbox.probe",
            address,
            (options or ProbeOptions()).params(),
            context=context,
        )
    except ActionFailed:
        if context.result is None:
            raise
    if context.result is None:
        raise UserError("the probe gave no result")
    return context.result


# --------------------------------------------------------------------------- text


def format_hop(hop: Hop) -> str:
    """One hop as a line: `  +0.012 s  accepted   ok       smtpd queued it ...`."""
    return printable(f"+{hop.at:7.3f} s  {hop.name:<10} {hop.status:<8} {hop.detail}")


def render(result: ProbeResult) -> list[str]:
    """The prediction, the verdict and the total, as lines (the hops are printed as they happen)."""
    p = result.prediction
    lines = [f"predicted: {p.sentence or p.expect}"]
    if p.filters:
        lines.append(f"  filters on the path: {', '.join(p.filters)}")
    lines += [f"  note: {note}" for note in p.notes]
    lines.append(f"{result.outcome}: {result.verdict}")
    if result.total is not None:
        lines.append(
            f"total: {result.total:.3f} s from accepted to {'visible' if result.outcome != 'stopped' else 'stopped'}"
        )
    if result.kept:
        lines.append(f"kept in {result.user}'s folder {result.folder} (--keep)")
    return [printable(line) for line in lines]
