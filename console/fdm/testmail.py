"""Test messages for the live route, and the corpus regression check run before a save.

A test message comes from a user's Maildir (`<spool_dir>/<user>/Mail`, Maildir++ folders), from the
queue (`smtpctl show message`), from a file, or is composed from a few header fields. The corpus check
routes a directory of saved messages with two versions of fdm.conf and lists every route that changes.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

from console.errors import UserError
from console.fdm.parser import Config, FdmSyntaxError, parse
from console.fdm.router import Route, Router
from console.text import decode

MAX_MESSAGE_BYTES = 1024 * 1024
"""A test message larger than this is cut (the route depends on headers and the start of the body)."""
MAX_LISTED = 200
"""At most this many messages of a Maildir folder are listed, newest first."""
ROUTER_HOSTNAME = "mailconsole"
"""The host name in fdm's own Received header during a test route (fixed: routes do not vary by host)."""
INBOX = "INBOX"
_LINE_REFERENCE = re.compile(r" ?\(rule at line \d+\)|line \d+: ")


@dataclass(frozen=True)
class StoredMessage:
    """One message in a Maildir folder: its file and the headers a person picks it by."""

    path: Path
    sender: str
    subject: str
    date: str


def maildir_root(spool_dir: Path, user: str) -> Path:
    """A user's Maildir as the article's Dovecot keeps it; UserError for a name that is not a user."""
    if not user or "/" in user or user.startswith("."):
        raise UserError(f"{user!r} is not a mail user")
    return spool_dir / user / "Mail"


def mail_users(spool_dir: Path) -> list[str]:
    """Users that have a Maildir under the spool, sorted."""
    try:
        return sorted(p.parent.name for p in spool_dir.glob("*/Mail") if p.is_dir())
    except OSError as exc:
        raise UserError(f"cannot list {spool_dir}: {exc.strerror}") from None


def mail_folders(spool_dir: Path, user: str) -> list[str]:
    """A user's folders: INBOX first, then the Maildir++ `.Name` folders (`.A.B` is `A/B`)."""
    root = maildir_root(spool_dir, user)
    try:
        names = sorted(
            p.name[1:].replace(".", "/")
            for p in root.iterdir()
            if p.name.startswith(".") and (p / "cur").is_dir()
        )
    except OSError as exc:
        raise UserError(f"cannot list {root}: {exc.strerror}") from None
    return [INBOX, *names]


def folder_path(spool_dir: Path, user: str, folder: str) -> Path:
    """The directory holding a folder's cur/ and new/."""
    root = maildir_root(spool_dir, user)
    if folder == INBOX:
        return root
    if ".." in folder.split("/"):
        raise UserError(f"{folder!r} is not a folder")
    return root / ("." + folder.replace("/", "."))


def _headers(path: Path) -> tuple[str, str, str]:
    """From, Subject and Date of a stored message (read from its first 64 KiB)."""
    with path.open("rb") as handle:
        head = handle.read(64 * 1024).split(b"\n\n", 1)[0]
    parsed = BytesHeaderParser(policy=compat32).parsebytes(head)

    def field(name: str) -> str:
        value = parsed.get(name, "")
        return " ".join(str(value).split())

    return field("From"), field("Subject"), field("Date")


def folder_messages(
    spool_dir: Path, user: str, folder: str, limit: int = MAX_LISTED
) -> list[StoredMessage]:
    """The messages of a folder (new/ and cur/), newest first, at most `limit`."""
    base = folder_path(spool_dir, user, folder)
    files: list[tuple[float, Path]] = []
    for sub in ("new", "cur"):
        try:
            files.extend((p.stat().st_mtime, p) for p in (base / sub).iterdir() if p.is_file())
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise UserError(f"cannot list {base / sub}: {exc.strerror}") from None
    files.sort(key=lambda item: (-item[0], item[1].name))
    found = []
    for _mtime, path in files[:limit]:
        try:
            sender, subject, date = _headers(path)
        except OSError:
            continue  # moved by the IMAP server while listing
        found.append(StoredMessage(path, sender, subject, date))
    return found


def read_message_file(path: Path) -> str:
    """A message file as text (invalid UTF-8 kept as surrogates), cut at MAX_MESSAGE_BYTES. A named
    pipe, a device or a socket is refused before it is opened (a pipe would wait for a writer)."""
    try:
        if path.exists() and not path.is_file() and not path.is_dir():
            raise UserError(f"{path} is not a regular file (a pipe, a device or a socket)")
        with path.open("rb") as handle:
            data = handle.read(MAX_MESSAGE_BYTES)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a directory, not a message") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    return data.replace(b"\r\n", b"\n").decode("utf-8", "surrogateescape")


def _one_line(value: str) -> str:
    """A header value on one line (a composed header cannot smuggle in another header)."""
    return " ".join(value.split())


def compose_message(
    sender: str,
    to: str,
    cc: str = "",
    subject: str = "",
    extra: str = "",
    body: str = "test\n",
    date: str | None = None,
) -> str:
    """A message from a few fields; `extra` is `Name: value` lines (a line without a colon is an error)."""
    lines = [f"From: {_one_line(sender)}", f"To: {_one_line(to)}"]
    if cc.strip():
        lines.append(f"Cc: {_one_line(cc)}")
    lines.append(f"Subject: {_one_line(subject)}")
    lines.append(f"Date: {date or email.utils.formatdate(localtime=True)}")
    for number, line in enumerate(extra.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or any(c.isspace() for c in name.strip()):
            raise UserError(f"extra header line {number} is not `Name: value`: {line.strip()!r}")
        lines.append(f"{name.strip()}: {_one_line(value)}")
    return "\n".join(lines) + "\n\n" + body


# --------------------------------------------------------------------------- the corpus check


@dataclass(frozen=True)
class RouteChange:
    """A saved message whose route differs between the file on disk and the edited text."""

    message: str
    before: str
    after: str


def route_summary(route: Route | None) -> str:
    """What a route does, in one comparable line: outcome, then where the mail goes (or the error)."""
    if route is None:
        return "config does not parse"
    places = []
    for delivery in route.deliveries:
        if delivery.path:
            places.append(f"{delivery.action} -> {delivery.path}")
        elif delivery.user or delivery.folder:
            places.append(f"{delivery.action} -> {delivery.user or '?'}/{delivery.folder or INBOX}")
        else:
            places.append(delivery.action)
    others = [name for name in route.actions if name not in {d.action for d in route.deliveries}]
    text = route.outcome
    if places:
        text += ": " + ", ".join(places)
    if others:
        text += f" (also {', '.join(others)})"
    if route.error:
        # Without line numbers: a line added above a rule is not a change of route.
        text += ": " + _LINE_REFERENCE.sub("", route.error)
    return text


def corpus_messages(directory: Path) -> list[Path]:
    """The saved test messages: every regular file in the directory, sorted by name."""
    try:
        return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    except FileNotFoundError:
        raise UserError(f"no test messages: {directory} does not exist") from None
    except OSError as exc:
        raise UserError(f"cannot list {directory}: {exc.strerror}") from None


def _router(text: str, path: str) -> Router | None:
    try:
        config: Config = parse(text, path)
    except FdmSyntaxError:
        return None
    return Router(config, hostname=ROUTER_HOSTNAME)


def route_changes(
    disk_text: str, edited_text: str, messages: list[Path], path: str = "fdm.conf"
) -> list[RouteChange]:
    """Route every message with both texts; the messages whose route summary differs."""
    before_router = _router(disk_text, path)
    after_router = _router(edited_text, path)
    changes = []
    for message in messages:
        data = read_message_file(message).encode("utf-8", "surrogateescape")
        before = route_summary(before_router.route(data) if before_router else None)
        after = route_summary(after_router.route(data) if after_router else None)
        if before != after:
            changes.append(RouteChange(message.name, before, after))
    return changes


def message_summary(text: str) -> list[tuple[str, str]]:
    """From, To, Cc and Subject of a test message (unfolded; untrusted: the caller makes them printable)."""
    head = text.split("\n\n", 1)[0].encode("utf-8", "surrogateescape")
    parsed = BytesHeaderParser(policy=compat32).parsebytes(head)
    shown = []
    for name in ("From", "To", "Cc", "Subject"):
        value = parsed.get(name)
        if value is not None:
            shown.append((name, " ".join(decode(str(value).encode("utf-8", "replace")).split())))
    return shown
