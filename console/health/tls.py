"""Certificates and TLS listeners: the files smtpd.conf's `pki` lines and Dovecot's ssl_cert name, a
real handshake on every TLS listener, and the certificate each one actually serves.

Certificates are read with `cryptography`. Listeners come from smtpd.conf (`listen on ... tls|
tls-require|smtps`) and from `doveconf -c` (Dovecot's own reading of its config, defaults included).
A served certificate that is not the one on disk means the file was renewed and the daemon not
reloaded: the fix is a HUP, as the article's certbot deploy hook sends.
"""

from __future__ import annotations

import ipaddress
import shlex
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from console.health.model import Check, Fix, State, below
from console.settings import Settings

SMTPD_PROGRAM = "opensmtpd"
DOVECOT_PROGRAM = "dovecot"
"""The supervisord programs of the article's supervisor.conf that a HUP reloads."""

SMTP_PORT_NAMES = {"smtp": 25, "smtps": 465, "submission": 587, "submissions": 465}


@dataclass(frozen=True)
class Listener:
    """A TLS listener: who runs it, where it listens, and how TLS starts on it."""

    daemon: str
    """"smtpd" or "dovecot"."""
    address: str
    """The address to connect to (a wildcard becomes the loopback address)."""
    port: int
    mode: str
    """"implicit" (TLS from the first byte) or "starttls"."""
    protocol: str
    """"smtp", "imap" or "pop3": the plaintext dialogue before STARTTLS."""
    cert_file: Path | None
    """The certificate file the listener is configured with."""
    server_name: str = ""
    """The name sent in SNI (smtpd's pki name)."""
    label: str = ""
    """How the config names it (`port smtps tls-require`, `inet_listener imaps`)."""

    @property
    def where(self) -> str:
        """address:port, with brackets for IPv6."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass
class SmtpdTls:
    """What smtpd.conf says about TLS: certificate files by pki name, and the TLS listeners."""

    certs: dict[str, Path] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)


# --------------------------------------------------------------------------- reading the configs


def _connect_address(address: str) -> str:
    """Where to connect for a listen address: wildcards become loopback, names become localhost."""
    if address in ("0.0.0.0", "*", "any", "all", ""):
        return "127.0.0.1"
    if address in ("::", "[::]"):
        return "::1"
    try:
        return str(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        return "localhost"


def _port_number(token: str) -> int | None:
    """A port given as a number or a service name."""
    if token.isdigit():
        return int(token)
    if token in SMTP_PORT_NAMES:
        return SMTP_PORT_NAMES[token]
    try:
        return socket.getservbyname(token, "tcp")
    except OSError:
        return None


def parse_smtpd_conf(text: str) -> SmtpdTls:
    """The pki certificate files and TLS listeners of an smtpd.conf."""
    result = SmtpdTls()
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        if len(words) >= 4 and words[0] == "pki" and words[2] in ("cert", "certificate"):
            result.certs[words[1]] = Path(words[3])
        elif len(words) >= 3 and words[:2] == ["listen", "on"]:
            listener = _smtpd_listener(words)
            if listener is not None:
                result.listeners.append(listener)
    result.listeners = [
        Listener(
            lst.daemon,
            lst.address,
            lst.port,
            lst.mode,
            lst.protocol,
            result.certs.get(lst.server_name),
            lst.server_name,
            lst.label,
        )
        for lst in result.listeners
    ]
    return result


_VALUED_OPTIONS = frozenset(
    {
        "port",
        "pki",
        "ca",
        "family",
        "hostname",
        "hostnames",
        "tag",
        "filter",
        "senders",
        "ciphers",
        "protocols",
    }
)
"""`listen on` options followed by a value (a value such as `smtps` in `port smtps` is no keyword)."""


def _smtpd_listener(words: list[str]) -> Listener | None:
    """A `listen on` line as a TLS listener, or None when it has no TLS."""
    mode = ""
    port: int | None = None
    pki = ""
    label = []
    words_left = iter(words[3:])
    for word in words_left:
        value = next(words_left, "") if word in _VALUED_OPTIONS else ""
        if word == "port":
            port = _port_number(value)
            label.append(f"port {value}")
        elif word == "pki":
            pki = value
        elif word == "smtps":
            mode = "implicit"
            label.append(word)
        elif word in ("tls", "tls-require") and not mode:
            mode = "starttls"
            label.append(word)
    if not mode:
        return None
    if port is None:
        port = 465 if mode == "implicit" else 25
    return Listener(
        "smtpd", _connect_address(words[2]), port, mode, "smtp", None, pki, " ".join(label)
    )


def read_smtpd_tls(path: Path) -> SmtpdTls:
    """smtpd.conf's TLS parts; OSError when it cannot be read."""
    return parse_smtpd_conf(path.read_text(encoding="utf-8", errors="replace"))


def parse_doveconf(text: str) -> dict[str, object]:
    """`doveconf` output as nested dicts: `name {` opens a section, `key = value` sets a key."""
    root: dict[str, object] = {}
    stack = [root]
    for raw in text.splitlines():
        line = raw.strip()
        if line.endswith("{"):
            section: dict[str, object] = {}
            stack[-1][line[:-1].strip()] = section
            stack.append(section)
        elif line == "}":
            if len(stack) > 1:
                stack.pop()
        elif " = " in line or line.endswith(" ="):
            key, _, value = line.partition("=")
            stack[-1][key.strip()] = value.strip()
    return root


DOVECOT_LOGIN = {"imap-login": "imap", "pop3-login": "pop3", "submission-login": "smtp"}
"""Dovecot's login services and the protocol spoken before STARTTLS on each."""


def dovecot_listeners(conf: dict[str, object]) -> tuple[Path | None, list[Listener]]:
    """Dovecot's ssl_cert file and its TLS listeners, from `parse_doveconf` output."""
    ssl_setting = str(conf.get("ssl", "yes"))
    cert_value = str(conf.get("ssl_cert", ""))
    cert = Path(cert_value[1:].strip()) if cert_value.startswith("<") else None
    if ssl_setting == "no":
        return cert, []
    protocols = str(conf.get("protocols", "")).split()
    default_addresses = str(conf.get("listen", "*, ::")).replace(",", " ").split()
    listeners = []
    for service, protocol in DOVECOT_LOGIN.items():
        if protocol not in protocols and not (
            service == "submission-login" and "submission" in protocols
        ):
            continue
        section = conf.get(f"service {service}")
        if not isinstance(section, dict):
            continue
        for key, value in section.items():
            if not key.startswith("inet_listener ") or not isinstance(value, dict):
                continue
            port = int(str(value.get("port", "0")) or 0)
            if not port:
                continue
            mode = "implicit" if value.get("ssl") == "yes" else "starttls"
            addresses = str(value.get("address", "")).replace(",", " ").split() or default_addresses
            for address in dict.fromkeys(_connect_address(a) for a in addresses):
                listeners.append(Listener("dovecot", address, port, mode, protocol, cert, "", key))
    return cert, listeners


def read_dovecot_tls(path: Path, timeout: float = 5.0) -> tuple[Path | None, list[Listener]]:
    """Dovecot's certificate and TLS listeners, as `doveconf -c PATH` reads the config.

    Raises OSError (doveconf missing) or ValueError (doveconf refused the config: its message)."""
    services = [f"service/{name}" for name in DOVECOT_LOGIN]
    done = subprocess.run(
        ["doveconf", "-c", str(path), "ssl", "ssl_cert", "listen", "protocols", *services],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        message = next((ln for ln in done.stderr.splitlines() if ln.strip()), "no message")
        raise ValueError(message.replace("doveconf: Fatal: ", "").strip())
    return dovecot_listeners(parse_doveconf(done.stdout))


# --------------------------------------------------------------------------- certificates


@dataclass
class CertInfo:
    """The facts of one certificate that a reader needs."""

    subject: str
    issuer: str
    not_after: datetime
    der: bytes

    def days_left(self, now: float) -> float:
        """Days until it expires (negative once expired)."""
        return (self.not_after.timestamp() - now) / 86400


def _common_name(name: object) -> str:
    from cryptography.x509.oid import NameOID

    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)  # type: ignore[attr-defined]
    return str(attrs[0].value) if attrs else name.rfc4514_string()  # type: ignore[attr-defined]


def cert_info_der(der: bytes) -> CertInfo:
    """A DER certificate's facts (ValueError when it is not one)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_der_x509_certificate(der)
    return CertInfo(
        _common_name(cert.subject),
        _common_name(cert.issuer),
        cert.not_valid_after_utc,
        cert.public_bytes(Encoding.DER),
    )


def read_cert_file(path: Path) -> CertInfo:
    """The first certificate of a PEM file (the leaf of a fullchain). OSError, ValueError."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    certs = x509.load_pem_x509_certificates(path.read_bytes())
    return cert_info_der(certs[0].public_bytes(Encoding.DER))


def _date(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def cert_file_check(settings: Settings, path: Path, users: str, now: float) -> Check:
    """The expiry of one certificate file (days left against the cert thresholds)."""
    warn, crit = settings.health_cert_warning_days, settings.health_cert_critical_days
    fix = job_fix(settings, "get_certs", "Run get_certs")
    try:
        info = read_cert_file(path)
    except OSError as exc:
        return Check(
            "certificates",
            str(path),
            State.CRITICAL,
            f"cannot read the certificate of {users}: {exc.strerror or exc}",
            warning=warn,
            critical=crit,
            fix=fix,
        )
    except (ValueError, IndexError):
        return Check(
            "certificates",
            str(path),
            State.CRITICAL,
            f"the certificate file of {users} holds no PEM certificate",
            warning=warn,
            critical=crit,
            fix=fix,
        )
    days = info.days_left(now)
    state = below(days, warn, crit)
    when = "expired" if days < 0 else "expires"
    summary = f"{info.subject}: {when} {_date(info.not_after)} ({days:.0f} days {'ago' if days < 0 else 'left'})"
    return Check(
        "certificates",
        str(path),
        state,
        summary,
        round(days, 1),
        "days",
        warn,
        crit,
        fix=fix if state != State.OK else None,
        data={
            "subject": info.subject,
            "issuer": info.issuer,
            "not_after": info.not_after.isoformat(),
            "used_by": users,
        },
    )


# --------------------------------------------------------------------------- handshakes


@dataclass
class Probe:
    """What one handshake attempt found."""

    ok: bool
    der: bytes = b""
    version: str = ""
    error: str = ""
    """The reason, short (an OpenSSL reason such as WRONG_VERSION_NUMBER, or a socket error)."""
    refused: bool = False


class _Dialogue:
    """Line-at-a-time plaintext before STARTTLS (never reads past the server's reply)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def line(self) -> str:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
            if len(self.buffer) > 65536:
                raise ConnectionError("the server sent an endless line")
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    def smtp_reply(self) -> list[str]:
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return lines


def _starttls(sock: socket.socket, protocol: str) -> str:
    """Speak the plaintext dialogue up to STARTTLS; an empty string when TLS may start, else why not."""
    talk = _Dialogue(sock)
    if protocol == "smtp":
        banner = talk.smtp_reply()
        if not banner[0].startswith("220"):
            return f"no SMTP banner ({banner[0][:60]!r})"
        sock.sendall(b"EHLO mailconsole.health\r\n")
        caps = talk.smtp_reply()
        if not any(line[4:].upper().startswith("STARTTLS") for line in caps):
            return "the server does not offer STARTTLS"
        sock.sendall(b"STARTTLS\r\n")
        reply = talk.smtp_reply()[0]
        return "" if reply.startswith("220") else f"STARTTLS refused ({reply[:60]!r})"
    if protocol == "imap":
        greeting = talk.line()
        if not greeting.startswith("* OK"):
            return f"no IMAP greeting ({greeting[:60]!r})"
        sock.sendall(b"h1 STARTTLS\r\n")
        reply = talk.line()
        while reply.startswith("*"):
            reply = talk.line()
        return "" if reply.startswith("h1 OK") else f"STARTTLS refused ({reply[:60]!r})"
    greeting = talk.line()  # pop3
    if not greeting.startswith("+OK"):
        return f"no POP3 greeting ({greeting[:60]!r})"
    sock.sendall(b"STLS\r\n")
    reply = talk.line()
    return "" if reply.startswith("+OK") else f"STLS refused ({reply[:60]!r})"


def probe(listener: Listener, timeout: float, mode: str | None = None) -> Probe:
    """A real TLS handshake on a listener (in its own mode, or `mode`): the certificate it serves."""
    mode = mode or listener.mode
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((listener.address, listener.port), timeout=timeout) as sock:
            if mode == "starttls":
                why = _starttls(sock, listener.protocol)
                if why:
                    return Probe(False, error=why)
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            with context.wrap_socket(sock, server_hostname=listener.server_name or None) as tls:
                der = tls.getpeercert(binary_form=True) or b""
                return Probe(True, der, tls.version() or "")
    except ssl.SSLError as exc:
        return Probe(False, error=exc.reason or str(exc))
    except ConnectionRefusedError:
        return Probe(False, error="connection refused (nothing listens)", refused=True)
    except TimeoutError:
        return Probe(False, error=f"no answer within {timeout:g} s")
    except OSError as exc:
        return Probe(False, error=exc.strerror or str(exc) or type(exc).__name__)


def _program(listener: Listener) -> str:
    return SMTPD_PROGRAM if listener.daemon == "smtpd" else DOVECOT_PROGRAM


def handshake_checks(settings: Settings, listener: Listener, now: float) -> list[Check]:
    """The findings of one listener: its handshake, the certificate it serves, and for an SMTPS
    port configured for STARTTLS, what an SMTPS client gets there."""
    timeout = settings.health_timeout
    name = f"{listener.daemon} {listener.where}"
    mode_text = "implicit TLS" if listener.mode == "implicit" else "STARTTLS"
    data = {
        "daemon": listener.daemon,
        "address": listener.address,
        "port": listener.port,
        "mode": listener.mode,
        "config": listener.label,
    }
    checks = []
    result = probe(listener, timeout)
    if not result.ok:
        cause, remedy = _failure_cause(listener, result)
        checks.append(
            Check(
                "tls",
                name,
                State.CRITICAL,
                f"{mode_text} handshake failed: {result.error}",
                cause=cause,
                remedy=remedy,
                data=data,
            )
        )
    else:
        checks.append(_served_check(settings, listener, result, name, mode_text, now, data))
    if (
        listener.daemon == "smtpd"
        and listener.mode == "starttls"
        and str(listener.port) in settings.health_smtps_ports
    ):
        checks.append(_smtps_mode_check(listener, timeout, name, data))
    return checks


def _failure_cause(listener: Listener, result: Probe) -> tuple[str, str]:
    """Why a handshake failed and what fixes it, for the failures whose cause is known."""
    if result.refused:
        return (
            f"{listener.daemon} does not listen on {listener.where}, although its config says so",
            f"start or restart {_program(listener)}",
        )
    if listener.daemon == "smtpd" and "INTERNAL_ERROR" in result.error.upper():
        return (
            "OpenSMTPD 6.8 built with OpenSSL 3 (Debian 12's package) aborts every TLS "
            "handshake after sending its certificate ('EVP lib' in smtpd's log; OpenSMTPD "
            "issues #1171, #1239): no client can use TLS",
            "run an OpenSMTPD that works with OpenSSL 3 (7.x, as Alpine ships); no smtpd.conf "
            "setting fixes it",
        )
    if "WRONG_VERSION_NUMBER" in result.error.upper():
        return ("the port answered in plaintext, not TLS", "check the listener's TLS keyword")
    return "", ""


def _smtps_mode_check(
    listener: Listener, timeout: float, name: str, data: dict[str, object]
) -> Check:
    """What a client configured for SMTPS (implicit TLS) gets on a STARTTLS listener of an SMTPS port."""
    result = probe(listener, timeout, mode="implicit")
    data = {**data, "check": "smtps-mode"}
    if result.ok:
        return Check(
            "tls",
            f"{name} SMTPS",
            State.OK,
            "answers implicit TLS, as SMTPS clients expect",
            data=data,
        )
    plaintext = "WRONG_VERSION_NUMBER" in result.error.upper()
    return Check(
        "tls",
        f"{name} SMTPS",
        State.CRITICAL,
        f"port {listener.port} speaks STARTTLS, not implicit TLS: an SMTPS client gets "
        + ("plaintext" if plaintext else result.error),
        cause=f"`{listener.label}` sets only the port number; `tls-require` means STARTTLS "
        "required, and only the `smtps` keyword makes implicit TLS",
        remedy=f"in smtpd.conf: listen on 0.0.0.0 port {listener.port} smtps pki "
        f"{listener.server_name or 'NAME'}",
        data=data,
    )


def _served_check(
    settings: Settings,
    listener: Listener,
    result: Probe,
    name: str,
    mode_text: str,
    now: float,
    data: dict[str, object],
) -> Check:
    """A listener that completed its handshake: the served certificate's expiry, and whether it is
    the one on disk."""
    warn, crit = settings.health_cert_warning_days, settings.health_cert_critical_days
    try:
        served = cert_info_der(result.der)
    except ValueError:
        return Check(
            "tls",
            name,
            State.UNKNOWN,
            f"{mode_text} works ({result.version}), but the served certificate cannot be read",
            data=data,
        )
    days = served.days_left(now)
    data = {
        **data,
        "tls_version": result.version,
        "served_subject": served.subject,
        "served_not_after": served.not_after.isoformat(),
    }
    on_disk = None
    if listener.cert_file is not None:
        try:
            on_disk = read_cert_file(listener.cert_file)
        except (OSError, ValueError, IndexError):
            on_disk = None
    hup = Fix("program.signal", _program(listener), f"HUP {_program(listener)}", {"signal": "HUP"})
    if on_disk is not None and on_disk.der != served.der:
        data["file"] = str(listener.cert_file)
        return Check(
            "tls",
            name,
            State.WARNING,
            f"serves a certificate that is not {listener.cert_file} (renewed, not "
            f"reloaded): served expires {_date(served.not_after)}, file "
            f"{_date(on_disk.not_after)}",
            round(days, 1),
            "days",
            warn,
            crit,
            fix=hup,
            data=data,
        )
    state = below(days, warn, crit)
    return Check(
        "tls",
        name,
        state,
        f"{mode_text} {result.version}, serves {served.subject} until "
        f"{_date(served.not_after)} ({days:.0f} days left)",
        round(days, 1),
        "days",
        warn,
        crit,
        fix=job_fix(settings, "get_certs", "Run get_certs") if state != State.OK else None,
        data=data,
    )


# --------------------------------------------------------------------------- the checks


def job_fix(settings: Settings, job: str, label: str) -> Fix | None:
    """The fix that runs a maintenance job, when the dispatcher has such an action and the job exists."""
    from console.actions import ACTIONS

    if JOB_ACTION in ACTIONS and job in settings.jobs:
        return Fix(JOB_ACTION, job, label)
    return None


JOB_ACTION = "job.run"
"""The dispatcher's action that runs a maintenance job."""


def collect(settings: Settings) -> tuple[list[tuple[Path, str]], list[Listener], list[Check]]:
    """Every certificate file (with who uses it), every TLS listener, and the problems met reading
    the configs."""
    files: dict[Path, list[str]] = {}
    listeners: list[Listener] = []
    problems: list[Check] = []
    try:
        smtpd = read_smtpd_tls(settings.smtpd_config)
    except OSError as exc:
        problems.append(
            Check(
                "certificates",
                str(settings.smtpd_config),
                State.UNKNOWN,
                f"cannot read smtpd's config: {exc.strerror or exc}",
            )
        )
    else:
        for pki_name, path in smtpd.certs.items():
            files.setdefault(path, []).append(f"smtpd (pki {pki_name})")
        listeners += smtpd.listeners
    try:
        cert, dovecot = read_dovecot_tls(settings.dovecot_config, settings.health_timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        problems.append(
            Check(
                "certificates",
                str(settings.dovecot_config),
                State.UNKNOWN,
                f"cannot run doveconf to read Dovecot's config: {exc}",
            )
        )
    except ValueError as exc:
        problems.append(
            Check(
                "certificates",
                str(settings.dovecot_config),
                State.UNKNOWN,
                f"doveconf cannot read Dovecot's config: {exc}",
            )
        )
    else:
        if cert is not None:
            files.setdefault(cert, []).append("dovecot (ssl_cert)")
        listeners += dovecot
    return [(path, ", ".join(users)) for path, users in files.items()], listeners, problems


def certificate_checks(settings: Settings, now: float) -> list[Check]:
    """Expiry of every certificate file, then a handshake on every TLS listener (in parallel)."""
    from concurrent.futures import ThreadPoolExecutor

    files, listeners, problems = collect(settings)
    checks = problems + [cert_file_check(settings, path, users, now) for path, users in files]
    if listeners:
        with ThreadPoolExecutor(max_workers=min(16, len(listeners))) as pool:
            for found in pool.map(lambda lst: handshake_checks(settings, lst, now), listeners):
                checks += found
    return checks
