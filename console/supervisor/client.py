"""supervisord over XML-RPC: program states, start/stop/restart/signal, and their logs.

Speaks XML-RPC over unix:// sockets and http:// with basic auth. Every failure becomes a
`SupervisorUnavailable` (cannot talk to it) or an `ActionFailed` with one plain sentence for its faults.
"""

from __future__ import annotations

import base64
import http.client
import re
import socket
import threading
import time
import urllib.parse
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from console.errors import ActionFailed, UserError

T = TypeVar("T")

# supervisor.xmlrpc.Faults, by code: what each means in a sentence ({name} is the program).
FAULT_SENTENCES = {
    1: "supervisord does not know that method (is it too old?)",
    2: "supervisord rejected the parameters of the call",
    3: "supervisord rejected the arguments of the call",
    6: "supervisord is shutting down",
    10: "there is no program named {name}",
    11: "that is not a signal supervisord knows",
    20: "the program's command was not found",
    21: "the program's command is not executable",
    30: "supervisord says the call failed",
    40: "{name} exited abnormally",
    50: "{name} could not be spawned (see its log)",
    60: "{name} is already running",
    70: "{name} is not running",
    80: "supervisord says it succeeded",
    90: "{name} is already added",
    91: "{name} is still running",
    92: "supervisord cannot re-read its configuration",
}

RUNNING_STATES = frozenset({"RUNNING"})
TRANSITION_STATES = frozenset({"STARTING", "STOPPING", "BACKOFF"})


class SupervisorUnavailable(UserError):
    """supervisord cannot be reached (down, restarting, wrong URL, no permission)."""


@dataclass(frozen=True)
class Program:
    """One supervisord process, as getAllProcessInfo reports it."""

    name: str
    group: str
    state: str
    pid: int
    start: int
    stop: int
    now: int
    description: str
    exitstatus: int
    spawnerr: str
    stdout_logfile: str
    stderr_logfile: str

    @property
    def fullname(self) -> str:
        """The name supervisord's API takes: `group:name`, or just `name` for a lone program."""
        return self.name if self.group == self.name else f"{self.group}:{self.name}"

    @property
    def uptime_s(self) -> int | None:
        """Seconds since start while running, else None."""
        if self.state != "RUNNING" or not self.start:
            return None
        return max(0, self.now - self.start)

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> Program:
        """Build from one getAllProcessInfo / getProcessInfo struct."""
        return cls(
            name=str(info.get("name", "")),
            group=str(info.get("group", "")),
            state=str(info.get("statename", "UNKNOWN")),
            pid=int(info.get("pid", 0) or 0),
            start=int(info.get("start", 0) or 0),
            stop=int(info.get("stop", 0) or 0),
            now=int(info.get("now", 0) or 0),
            description=str(info.get("description", "")),
            exitstatus=int(info.get("exitstatus", 0) or 0),
            spawnerr=str(info.get("spawnerr", "")),
            stdout_logfile=str(info.get("stdout_logfile", "")),
            stderr_logfile=str(info.get("stderr_logfile", "")),
        )


@dataclass(frozen=True)
class Snapshot:
    """supervisord's state and all its programs at one moment."""

    url: str
    state: str
    version: str
    programs: tuple[Program, ...]
    taken_at: float


@dataclass(frozen=True)
class LogChunk:
    """A piece of a log read through supervisord: the bytes, the offset to read from next, overflow."""

    text: str
    offset: int
    overflow: bool


_XML_INVALID = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def xml_safe(data: bytes) -> bytes:
    """Program output sent raw inside XML: each control byte XML forbids becomes its Unicode picture.

    supervisord puts log bytes (ANSI colours included) into its XML-RPC answers unescaped, which no
    XML parser accepts; ESC arrives as U+241B, visible and harmless. A carriage return XML would
    read as a line break (its end-of-line rule), so a program could start a line of its own making
    inside another: it becomes a character reference, which the parser keeps as the CR it is.
    """
    return _XML_INVALID.sub(lambda m: chr(0x2400 + m.group()[0]).encode("utf-8"), data).replace(
        b"\r", b"&#13;"
    )


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over supervisord's unix socket (`unix:///run/supervisor.sock`)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _Transport(xmlrpc.client.Transport):
    """XML-RPC to supervisord over `unix://` or `http://`, with basic auth, a timeout, and tolerance
    for the control bytes supervisord leaves in log answers.

    Not supervisor's own SupervisorTransport: importing `supervisor.xmlrpc` pulls in its medusa web
    server and importlib.metadata, a sixth of the console's start-up, for these few lines.
    """

    def __init__(self, url: str, username: str, password: str, timeout: float) -> None:
        super().__init__()
        self.url = url
        self.timeout = timeout
        if username:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            self._extra_headers = [("Authorization", f"Basic {token}")]

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        if self._connection[1] is not None:
            return self._connection[1]
        connection: http.client.HTTPConnection
        if self.url.startswith("unix://"):
            connection = _UnixHTTPConnection(self.url[len("unix://") :], self.timeout)
        else:
            parts = urllib.parse.urlsplit(self.url)
            connection = http.client.HTTPConnection(
                parts.hostname or "localhost", parts.port, timeout=self.timeout
            )
        self._connection = (host, connection)
        return connection

    def parse_response(self, response: Any) -> Any:
        parser, unmarshaller = self.getparser()
        parser.feed(xml_safe(response.read()))
        parser.close()
        return unmarshaller.close()


class SupervisorClient:
    """A thread-safe client for one supervisord; reconnects on the next call after any failure."""

    def __init__(
        self, url: str, username: str = "", password: str = "", timeout: float = 5.0
    ) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._transport = _Transport(url, username, password, timeout)
        # The host part is ignored for unix sockets; for http:// the transport has its own host.
        self._proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=self._transport)

    def close(self) -> None:
        """Drop the connection (the next call opens a new one)."""
        with self._lock:
            self._transport.close()

    def _call(self, what: Callable[[Any], T], name: str = "") -> T:
        """Run one RPC under the lock; faults become sentences, transport errors SupervisorUnavailable."""
        with self._lock:
            try:
                return what(self._proxy)
            except xmlrpc.client.Fault as fault:
                raise ActionFailed(fault_sentence(fault, name)) from None
            except xmlrpc.client.ProtocolError as exc:
                self._transport.close()
                if exc.errcode == 401:
                    raise SupervisorUnavailable(
                        f"supervisord at {self.url} refused the user name or password"
                    ) from None
                raise SupervisorUnavailable(
                    f"supervisord at {self.url} answered HTTP {exc.errcode} {exc.errmsg}"
                ) from None
            except (TimeoutError, OSError, xmlrpc.client.ResponseError, EOFError) as exc:
                self._transport.close()
                raise SupervisorUnavailable(_unreachable_sentence(self.url, exc)) from None
            except Exception as exc:  # noqa: BLE001 - http.client raises assorted types on a dying socket
                self._transport.close()
                raise SupervisorUnavailable(_unreachable_sentence(self.url, exc)) from None

    def snapshot(self) -> Snapshot:
        """supervisord's state, version and every program, in one round trip (system.multicall)."""
        calls = [
            {"methodName": f"supervisor.{name}", "params": []}
            for name in ("getState", "getSupervisorVersion", "getAllProcessInfo")
        ]
        results = self._call(lambda s: s.system.multicall(calls))
        for result in results:
            if isinstance(result, dict) and "faultCode" in result:
                raise ActionFailed(
                    fault_sentence(xmlrpc.client.Fault(result["faultCode"], result["faultString"]))
                )
        state, version, infos = results
        programs = tuple(Program.from_info(info) for info in infos)
        return Snapshot(
            self.url, str(state.get("statename", "UNKNOWN")), str(version), programs, time.time()
        )

    def program(self, name: str) -> Program:
        """One program's current info."""
        return Program.from_info(self._call(lambda s: s.supervisor.getProcessInfo(name), name))

    def start(self, name: str) -> Program:
        """Start a program and wait until supervisord says it is running (or failed to)."""
        self._call(lambda s: s.supervisor.startProcess(name, True), name)
        return self.program(name)

    def stop(self, name: str) -> Program:
        """Stop a program and wait until it has stopped."""
        self._call(lambda s: s.supervisor.stopProcess(name, True), name)
        return self.program(name)

    def restart(self, name: str) -> Program:
        """Stop (when running) and start a program; its pid changes."""
        current = self.program(name)
        if current.state in RUNNING_STATES or current.state in TRANSITION_STATES:
            try:
                self._call(lambda s: s.supervisor.stopProcess(name, True), name)
            except ActionFailed:
                if self.program(name).state in RUNNING_STATES:
                    raise
        return self.start(name)

    def signal(self, name: str, signal_name: str) -> Program:
        """Send a signal (HUP, USR1, ... or a number) to a running program."""
        self._call(lambda s: s.supervisor.signalProcess(name, signal_name), name)
        return self.program(name)

    def tail(self, name: str, offset: int, length: int, stream: str = "stdout") -> LogChunk:
        """Read a program's log through supervisord (tailProcessStdoutLog semantics)."""
        method = "tailProcessStderrLog" if stream == "stderr" else "tailProcessStdoutLog"
        text, new_offset, overflow = self._call(
            lambda s: getattr(s.supervisor, method)(name, offset, length), name
        )
        return LogChunk(str(text), int(new_offset), bool(overflow))

    def shutdown(self) -> None:
        """Ask supervisord to stop every program and exit."""
        self._call(lambda s: s.supervisor.shutdown())

    def main_log(self, offset: int, length: int) -> str:
        """Read supervisord's own log (readLog: offset -length reads the last `length` bytes)."""
        return str(self._call(lambda s: s.supervisor.readLog(offset, length)))


def fault_sentence(fault: xmlrpc.client.Fault, name: str = "") -> str:
    """One plain sentence for a supervisord fault, naming the program."""
    template = FAULT_SENTENCES.get(fault.faultCode)
    who = name or "the program"
    if template is None:
        return f"supervisord refused: {fault.faultString}"
    sentence = template.format(name=who)
    detail = fault.faultString.split(":", 1)[1].strip() if ":" in fault.faultString else ""
    if fault.faultCode in (50, 30) and detail and detail != name:
        sentence += f" ({detail})"
    return sentence[0].upper() + sentence[1:]


def _unreachable_sentence(url: str, exc: BaseException) -> str:
    """Why supervisord could not be reached, in a sentence."""
    if isinstance(exc, FileNotFoundError):
        return f"supervisord is not running: no socket at {url[len('unix://') :]}"
    if isinstance(exc, ConnectionRefusedError):
        return f"supervisord is not running: connection to {url} refused"
    if isinstance(exc, PermissionError):
        return f"no permission to open supervisord's socket at {url} (run as root?)"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"supervisord at {url} did not answer in time"
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"cannot reach supervisord at {url}: {reason}"


class Prefetch:
    """One snapshot fetched in a background thread while the UI is still loading."""

    def __init__(self, client: SupervisorClient) -> None:
        self._result: Snapshot | None = None
        self._thread = threading.Thread(target=self._fetch, args=(client,), daemon=True)
        self._thread.start()

    def _fetch(self, client: SupervisorClient) -> None:
        try:
            self._result = client.snapshot()
        except Exception:  # noqa: BLE001 - the regular poll reports the problem properly
            self._result = None

    def take(self, timeout: float) -> Snapshot | None:
        """The snapshot if it arrives within `timeout` seconds (once; later calls get None)."""
        self._thread.join(timeout)
        result, self._result = self._result, None
        return result


def client_for(settings: Any) -> SupervisorClient:
    """A client for the supervisord the settings point at."""
    return SupervisorClient(
        settings.supervisor_url, settings.supervisor_username, settings.supervisor_password
    )
