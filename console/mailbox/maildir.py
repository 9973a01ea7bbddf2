"""Counts from the Maildirs on disk, for accounts the console has no password for: Dovecot's
Maildir++ layout (INBOX in the Maildir itself, folder `A.B` in `.A.B/`, names in modified UTF-7)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from imapclient.imap_utf7 import decode as decode_utf7

from console.mailbox.model import Folder


def _is_seen(filename: str) -> bool:
    """A Maildir message file name's flags (after `:2,`) include S."""
    _base, sep, flags = filename.rpartition(":2,")
    return bool(sep) and "S" in flags


_VIRTUAL_SIZE = re.compile(r",W=(\d+)")
"""Dovecot's `,W=<size>` in a file name: the size with CRLF line ends, which IMAP reports."""


def _message_size(entry: os.DirEntry[str]) -> int:
    """The size IMAP reports for a message file: Dovecot's W= when the name has it, else its bytes."""
    found = _VIRTUAL_SIZE.search(entry.name.partition(":2,")[0])
    return int(found[1]) if found else entry.stat().st_size


def _count(folder: Path) -> Folder | None:
    """One Maildir folder's counts, None when it is no Maildir (no cur/ and no new/)."""
    messages = unseen = size = 0
    found = False
    for sub in ("new", "cur"):
        try:
            entries = list(os.scandir(folder / sub))
        except OSError:
            continue
        found = True
        for entry in entries:
            try:
                if not entry.is_file():
                    continue
                size += _message_size(entry)
            except OSError:
                continue  # delivered or expunged while counting
            messages += 1
            if sub == "new" or not _is_seen(entry.name):
                unseen += 1
    return Folder("", messages, unseen, size) if found else None


def folder_name(on_disk: str) -> str:
    """A Maildir++ folder's name as IMAP shows it: decoded from modified UTF-7; a name that is not
    valid modified UTF-7 (made by hand, or UTF-8 already) is shown as it is on disk."""
    try:
        return str(decode_utf7(on_disk.encode("ascii")))
    except (UnicodeError, ValueError):
        return on_disk


def maildir_folders(maildir: Path) -> list[Folder]:
    """INBOX and every Maildir++ subfolder with its counts; names decoded, `.` kept as the hierarchy
    separator (as Dovecot's IMAP shows them)."""
    folders = []
    inbox = _count(maildir)
    if inbox is not None:
        inbox.name = "INBOX"
        folders.append(inbox)
    try:
        subdirs = sorted(
            p
            for p in maildir.iterdir()
            if p.name.startswith(".") and p.name not in (".", "..") and p.is_dir()
        )
    except OSError:
        subdirs = []
    for path in subdirs:
        counted = _count(path)
        if counted is None:
            continue
        counted.name = folder_name(path.name[1:])
        folders.append(counted)
    return sorted(folders, key=lambda f: (f.name != "INBOX", f.name.lower()))
