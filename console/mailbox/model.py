"""What a mailbox listing holds: plain data, the same for IMAP and for the Maildirs on disk."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Folder:
    """One folder: its decoded name, and how many messages, how many unseen, how many bytes."""

    name: str
    messages: int
    unseen: int
    size: int | None = None
    """Total bytes; None when the server told no size."""
    problem: str = ""
    """Why the counts are missing (the server would not count this folder), else empty."""


@dataclass
class MessageSummary:
    """One message's headers as the listing shows them (untrusted text, decoded from RFC 2047)."""

    uid: int
    date: str
    sender: str
    subject: str
    spam_status: str = ""
    spam_flag: str = ""
    virus_scanned: str = ""
    seen: bool = False
    size: int | None = None


@dataclass
class Mailbox:
    """One account's listing: where it came from (imap or maildir), its folders, maybe messages."""

    account: str
    source: str
    """"imap" or "maildir"."""
    origin: str
    """Human words for where: `imap 127.0.0.1:993 as bob (password from ...)` or the Maildir's path."""
    folders: list[Folder] = field(default_factory=list)
    folder: str | None = None
    """The folder whose latest messages are listed, if one was asked for."""
    messages: list[MessageSummary] = field(default_factory=list)
    total: int | None = None
    """How many messages `folder` holds (of which `messages` are the newest)."""

    def as_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


def human_size(size: int | None) -> str:
    """Bytes in a short human unit."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
