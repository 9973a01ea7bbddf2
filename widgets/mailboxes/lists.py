"""The two lists of the Mailboxes screen: accounts with their folders, and a folder's newest messages.

Both draw strangers' text (folder names, addresses, subjects, spam verdicts) through `cells_strip`:
control characters escaped, never markup.
"""

from __future__ import annotations

import re
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any, NamedTuple

from rich.cells import cell_len
from rich.style import Style
from textual.message import Message
from textual.strip import Strip

from console.mailbox.model import Folder, Mailbox, MessageSummary, human_size
from console.text import count
from widgets.common.entries import EntryList, cells_strip


class Entry(NamedTuple):
    """One row of the folder list: an account's heading (folder None) or one of its folders."""

    account: str
    folder: str | None


class AccountState(NamedTuple):
    """What the screen knows of an account: its listing, or the one sentence why there is none."""

    box: Mailbox | None = None
    error: str = ""

    @property
    def summary(self) -> tuple[str, str]:
        """Where the account's counts come from in full, or why they are missing, and its style."""
        if self.error:
            return f"{self.error}  (r retries)", "bold red"
        if self.box is None:
            return "listing…", "dim"
        return self.box.origin, "dim"

    @property
    def heading(self) -> tuple[str, str]:
        """The short form beside the account's name in the folder list."""
        if self.error or self.box is None:
            return self.summary
        folders = count(len(self.box.folders), "folder")
        if self.box.source == "maildir":
            return f"{folders}, counted from the Maildir on disk (no IMAP password)", "yellow"
        return f"{folders} over IMAP", "dim"


class FolderList(EntryList):
    """Every account as a heading line (where its counts come from, or why it failed), its folders
    under it with messages, unseen and size."""

    class Highlighted(Message):
        """The cursor is on another row."""

    class Chosen(Message):
        """Enter (or a click) on the row under the cursor."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries: list[Entry] = []
        self.states: dict[str, AccountState] = {}

    def show(
        self, accounts: list[str], states: dict[str, AccountState], keep: Entry | None
    ) -> None:
        """New rows; the cursor stays on the entry `keep` when it is still there."""
        self.states = states
        entries = []
        for account in accounts:
            entries.append(Entry(account, None))
            box = states.get(account, AccountState()).box
            entries += [Entry(account, folder.name) for folder in box.folders] if box else []
        self.entries = entries
        index = next((i for i, e in enumerate(entries) if e == keep), None)
        self.changed([True] * len(entries), keep=index)
        self.refresh(layout=True)  # its height follows its rows

    def _folder(self, entry: Entry) -> Folder | None:
        box = self.states.get(entry.account, AccountState()).box
        return next((f for f in box.folders if f.name == entry.folder), None) if box else None

    def lay_out(self, width: int) -> tuple[list[Strip], list[list[Strip]]]:
        # The name column is as wide as the longest name needs (the counts stay near the names on
        # a wide terminal), at most what the counts leave.
        longest = max(
            (cell_len(e.folder) + 2 for e in self.entries if e.folder is not None), default=0
        )
        name_width = max(8, min(width - 31, max(24, longest + 2)))
        titles = [
            cells_strip(
                [
                    ("Folder", name_width, "bold"),
                    (f"{'Messages':>9}", 9, "bold"),
                    (f"{'Unseen':>8}", 8, "bold"),
                    (f"{'Size':>10}", 10, "bold"),
                ],
                width,
            )
        ]
        lines = []
        for entry in self.entries:
            if entry.folder is None:
                text, style = self.states.get(entry.account, AccountState()).heading
                cells = [(entry.account, len(entry.account), "bold"), (text, 0, style)]
                lines.append([cells_strip(cells, width)])
                continue
            folder = self._folder(entry)
            if folder is None:
                continue
            if folder.problem:
                cells = [("  " + folder.name, name_width, ""), (folder.problem, 0, "red")]
            else:
                cells = [
                    ("  " + folder.name, name_width, ""),
                    (f"{folder.messages:>9,}", 9, ""),
                    (f"{folder.unseen:>8,}", 8, "bold" if folder.unseen else "dim"),
                    (f"{human_size(folder.size):>10}", 10, "dim"),
                ]
            lines.append([cells_strip(cells, width)])
        return titles, lines

    def line_style(self, entry: int) -> Style:
        return Style()

    def move_to(self, index: int) -> None:
        super().move_to(index)
        self.post_message(self.Highlighted())

    def action_select(self) -> None:
        if self.current() is not None:
            self.post_message(self.Chosen())

    def current(self) -> Entry | None:
        """The entry under the cursor."""
        if self.highlighted is None or self.highlighted >= len(self.entries):
            return None
        return self.entries[self.highlighted]


_SCORE = re.compile(r"score=(-?\d+(?:\.\d+)?)")


def spam_verdict(message: MessageSummary) -> tuple[str, str]:
    """The Spam column: `spam 9.9` (flagged, in red) or `ham 0.3`, from X-Spam-Flag and
    X-Spam-Status; empty when spampd never saw the message."""
    if not message.spam_status and not message.spam_flag:
        return "", ""
    flagged = message.spam_flag.upper().startswith("YES") or message.spam_status.startswith("Yes")
    score = _SCORE.search(message.spam_status)
    word = "spam" if flagged else "ham"
    return f"{word} {score[1]}" if score else word, "bold red" if flagged else "green"


def short_date(header: str, wide: bool) -> str:
    """A Date header in local time, `2026-12-03 16:18` (wide) or `Dec 03 16:18`; as written when it
    cannot be read."""
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return header
    if when.tzinfo is not None:
        when = when.astimezone()
    return when.strftime("%Y-%m-%d %H:%M" if wide else "%b %d %H:%M")


def short_sender(sender: str, width: int) -> str:
    """The From header as it is when it fits `width`, else its address alone (the detail lines
    show it whole)."""
    if cell_len(sender) <= width:
        return sender
    _name, address = parseaddr(sender)
    return address or sender


def message_cells(message: MessageSummary, width: int) -> list[tuple[str, int, str]]:
    """One message row: unseen mark, date, sender, spam verdict, virus scan, subject."""
    wide = width >= 120
    sender_width = 30 if wide else 20
    verdict, verdict_style = spam_verdict(message)
    return [
        ("" if message.seen else "●", 1, "bold"),
        (short_date(message.date, wide), 16 if wide else 12, "dim"),
        (short_sender(message.sender, sender_width), sender_width, ""),
        (verdict, 9, verdict_style),
        ("AV" if message.virus_scanned else "", 2, "cyan"),
        (message.subject, 0, "" if message.seen else "bold"),
    ]


class MessageList(EntryList):
    """A folder's newest messages, newest first, one line each."""

    class Highlighted(Message):
        """The cursor is on another message."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.messages: list[MessageSummary] = []

    def show(self, messages: list[MessageSummary], keep: int | None = None) -> None:
        """New messages; the cursor stays on message `keep` (an index) when given."""
        self.messages = messages
        self.changed([True] * len(messages), keep=keep)
        self.post_message(self.Highlighted())

    def lay_out(self, width: int) -> tuple[list[Strip], list[list[Strip]]]:
        wide = width >= 120
        titles = [
            cells_strip(
                [
                    ("", 1, ""),
                    ("Date", 16 if wide else 12, "bold"),
                    ("From", 30 if wide else 20, "bold"),
                    ("Spam", 9, "bold"),
                    ("AV", 2, "bold"),
                    ("Subject", 0, "bold"),
                ],
                width,
            )
        ]
        return titles, [[cells_strip(message_cells(m, width), width)] for m in self.messages]

    def line_style(self, entry: int) -> Style:
        return Style()

    def move_to(self, index: int) -> None:
        super().move_to(index)
        self.post_message(self.Highlighted())

    def current(self) -> MessageSummary | None:
        """The message under the cursor."""
        if self.highlighted is None or self.highlighted >= len(self.messages):
            return None
        return self.messages[self.highlighted]
