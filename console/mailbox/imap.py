"""Folders and latest messages over IMAP with imapclient: read-only (EXAMINE, BODY.PEEK), so listing
never marks a message seen; every failure (refused, timeout, TLS, login) is one UserError sentence
that names the endpoint and the user, never the password."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError, ProtocolError
from imapclient.imap_utf7 import decode as decode_utf7
from imapclient.response_parser import parse_response

from console.errors import UserError
from console.mailbox.credentials import Login
from console.mailbox.model import Folder, MessageSummary
from console.settings import Settings

HEADER_FIELDS = ("FROM", "SUBJECT", "DATE", "X-SPAM-STATUS", "X-SPAM-FLAG", "X-VIRUS-SCANNED")
"""The headers the listing shows (spampd's and clamsmtpd's verdicts among them)."""
HEADERS_ITEM = f"BODY.PEEK[HEADER.FIELDS ({' '.join(HEADER_FIELDS)})]"


def endpoint(settings: Settings) -> str:
    """host:port and the TLS mode, as error messages and listings name them."""
    return f"{settings.imap_host}:{settings.imap_port} ({settings.imap_tls})"


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Verification against imap_ca_file or the system's CAs; none at all with imap_self_signed
    (which the settings allow on loopback only)."""
    context = ssl.create_default_context(cafile=settings.imap_ca_file or None)
    if settings.imap_self_signed:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _reason(exc: BaseException) -> str:
    """A short reason for a failed connection, without the exception's class name."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS failed: the certificate was not accepted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


@contextmanager
def connected(settings: Settings, login: Login) -> Iterator[IMAPClient]:
    """A logged-in IMAPClient, logged out afterwards; failures become one sentence."""
    where = endpoint(settings)
    try:
        client = IMAPClient(
            settings.imap_host,
            port=settings.imap_port,
            ssl=settings.imap_tls == "implicit",
            ssl_context=tls_context(settings),
            timeout=settings.imap_timeout,
        )
    except (OSError, IMAPClientError) as exc:
        raise UserError(f"IMAP {where}: cannot connect: {_reason(exc)}") from None
    try:
        try:
            if settings.imap_tls == "starttls":
                client.starttls(tls_context(settings))
        except (OSError, IMAPClientError) as exc:
            raise UserError(f"IMAP {where}: STARTTLS failed: {_reason(exc)}") from None
        try:
            client.login(login.username, login.password)
        except LoginError:
            raise UserError(
                f"IMAP {where}: login as {login.username} refused (password from {login.source})"
            ) from None
        except (OSError, IMAPClientError) as exc:
            raise UserError(
                f"IMAP {where}: login as {login.username} failed: {_reason(exc)}"
            ) from None
        try:
            yield client
        except UserError:
            raise
        except (
            OSError,
            IMAPClientError,
            ValueError,
        ) as exc:  # ValueError: an answer not understood
            raise UserError(f"IMAP {where} as {login.username}: {_reason(exc)}") from None
    finally:
        with suppress(Exception):  # the connection may be gone already: nothing more to tell
            client.logout()


_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>[^"{].*)$')
"""A LIST answer whose name is a bare atom (what a name with an unbalanced `[` comes as)."""


def folder_list(client: IMAPClient) -> list[tuple[tuple[bytes, ...], bytes, str]]:
    """client.list_folders(), except that an answer imapclient cannot read does not fail the
    account: Dovecot sends a name such as `a[b` (a user may create it) as a bare atom, and
    imapclient, reading `[` as the start of a response code, refuses the whole LIST. Such a line
    is read as flags, delimiter and the rest of the line, its name."""
    try:
        return list(client.list_folders())
    except ProtocolError:
        pass
    typ, data = client._imap.list('""', "*")  # the raw answer lines, one folder each
    if typ != "OK":
        raise ProtocolError(f"LIST failed: {data!r}")
    out: list[tuple[tuple[bytes, ...], bytes, str]] = []
    for item in data:
        if item in (b"", None):
            continue
        try:
            flags, delimiter, raw = parse_response([item])
        except (ProtocolError, ValueError):
            found = _LIST_LINE.match(item) if isinstance(item, bytes) else None
            if found is None:
                raise
            flags, delimiter, raw = tuple(found["flags"].split()), b"", found["name"]
        name = (
            raw
            if isinstance(raw, str)
            else decode_utf7(raw)
            if isinstance(raw, bytes)
            else str(raw)
        )
        out.append((tuple(flags), delimiter, name))
    return out


_STATUS_ITEMS = re.compile(rb"\(((?:[A-Z.=-]+ \d+ ?)*)\)$")


def folder_status(client: IMAPClient, name: str, items: list[str]) -> dict[bytes, int]:
    """client.folder_status(), except that an answer naming the folder as a bare atom with an
    unbalanced `[` (see folder_list) is read by its last parenthesis: the counts."""
    try:
        return dict(client.folder_status(name, items))
    except ProtocolError:
        pass
    what = "(" + " ".join(items) + ")"
    typ, data = client._imap.status(client._normalise_folder(name), what)
    found = _STATUS_ITEMS.search(data[-1]) if typ == "OK" and isinstance(data[-1], bytes) else None
    if found is None:
        raise ProtocolError(f"STATUS answer not understood: {data!r}")
    words = found[1].split()
    return {key: int(value) for key, value in zip(words[::2], words[1::2], strict=True)}


def list_folders(client: IMAPClient, status_size: bool | None = None) -> list[Folder]:
    """Every selectable folder with its counts; sizes by STATUS SIZE where the server has it (or
    `status_size` says so), else the sum of RFC822.SIZE over the folder (opened read-only)."""
    has_status_size = client.has_capability("STATUS=SIZE") if status_size is None else status_size
    items = ["MESSAGES", "UNSEEN", *(["SIZE"] if has_status_size else [])]
    folders = []
    for flags, _delimiter, name in folder_list(client):
        if b"\\Noselect" in flags or b"\\NonExistent" in flags:
            continue
        try:
            status = folder_status(client, name, items)
        except IMAPClientError as exc:  # one folder the server will not count: shown, not fatal
            folders.append(Folder(str(name), 0, 0, None, problem=server_says(exc)))
            continue
        messages = int(status[b"MESSAGES"])
        if has_status_size:
            size: int | None = int(status[b"SIZE"])
        elif messages:
            client.select_folder(name, readonly=True)
            sizes = client.fetch(client.search("ALL"), ["RFC822.SIZE"])
            size = sum(int(data.get(b"RFC822.SIZE", 0)) for data in sizes.values())
            client.unselect_folder() if client.has_capability("UNSELECT") else client.close_folder()
        else:
            size = 0
        folders.append(Folder(str(name), messages, int(status[b"UNSEEN"]), size))
    return sorted(folders, key=lambda f: (f.name != "INBOX", f.name.lower()))


_SERVER_TIMING = re.compile(r"\s*\(\d+\.\d+ \+ \d+\.\d+(?: \+ \d+\.\d+)? secs\)\.?$")
"""Dovecot's `(0.001 + 0.000 secs).` after a tagged answer: noise on the screen."""


def server_says(exc: IMAPClientError) -> str:
    """What the server answered to a refused command, without imapclient's prefix or Dovecot's
    timing: `Mailbox doesn't exist: Old`."""
    text = str(exc)
    _command, sep, answer = text.partition(" failed: ")
    return _SERVER_TIMING.sub("", answer if sep else text)


def _header(headers: object, name: str) -> str:
    """One header as text (RFC 2047 decoded), empty when absent or undecodable."""
    try:
        value = headers.get(name)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a malformed header is shown empty, never a crash
        return ""
    return "" if value is None else " ".join(str(value).split())


def latest_messages(
    client: IMAPClient, folder: str, limit: int, skip: int = 0
) -> tuple[int, list[MessageSummary]]:
    """How many messages `folder` holds, and `limit` of its newest (after skipping the `skip` newest),
    newest first. One FETCH by sequence numbers from the count SELECT gives: no SEARCH over the
    whole folder, so a folder of 100,000 costs what one of 50 does. Fetched with BODY.PEEK from a
    folder opened read-only: their \\Seen flags are left as they were."""
    try:
        selected = client.select_folder(folder, readonly=True)
    except IMAPClientError:
        raise UserError(f"no folder {folder!r} in this account") from None
    total = int(selected.get(b"EXISTS", 0))
    newest = total - skip
    if newest < 1 or limit < 1:
        return total, []
    client.use_uid = False  # sequence numbers: the newest are the last ones
    try:
        fetched = client.fetch(
            list(range(max(1, newest - limit + 1), newest + 1)),
            ["UID", HEADERS_ITEM, "FLAGS", "RFC822.SIZE"],
        )
    finally:
        client.use_uid = True
    parser = BytesHeaderParser(policy=default_policy)
    out = []
    for sequence in sorted(fetched, reverse=True):
        data = fetched[sequence]
        raw = next((v for k, v in data.items() if k.startswith(b"BODY[")), b"") or b""
        headers = parser.parsebytes(raw)
        out.append(
            MessageSummary(
                uid=int(data.get(b"UID", 0)),
                date=_header(headers, "Date"),
                sender=_header(headers, "From"),
                subject=_header(headers, "Subject"),
                spam_status=_header(headers, "X-Spam-Status"),
                spam_flag=_header(headers, "X-Spam-Flag"),
                virus_scanned=_header(headers, "X-Virus-Scanned"),
                seen=b"\\Seen" in data.get(b"FLAGS", ()),
                size=data.get(b"RFC822.SIZE"),
            )
        )
    return total, out
