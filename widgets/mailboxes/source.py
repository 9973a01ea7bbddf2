"""Where the Mailboxes screen gets its data: the core's IMAP and Maildir listing (`LiveSource`), or
anything with the same three methods (the snapshot tests replay a recording of the lab). Every method
blocks and is called from a worker thread only."""

from __future__ import annotations

from typing import Protocol

from console.accounts.tables import UserEntry
from console.errors import UserError
from console.mailbox.listing import accounts, folder_messages, mailbox
from console.mailbox.model import Mailbox, MessageSummary
from console.settings import Settings


class MailSource(Protocol):
    """The accounts, one account's folders, one folder's newest messages; failures are UserError."""

    def account_names(self) -> list[str]:
        """The accounts, in the userdb's order."""
        ...

    def folders(self, account: str) -> Mailbox:
        """The account's folders with their counts (IMAP with a password, else the Maildir's)."""
        ...

    def messages(
        self, account: str, folder: str, limit: int, skip: int
    ) -> tuple[int, list[MessageSummary]]:
        """How many messages the folder holds and `limit` of its newest after the `skip` newest."""
        ...


class LiveSource:
    """The real thing: the userdb, then IMAP (read-only, BODY.PEEK) or the Maildirs on disk."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._users: dict[str, UserEntry] = {}
        """The userdb as last read (a lookup per account would read it once per account)."""

    def _user(self, account: str) -> UserEntry:
        if account not in self._users:
            self.account_names()
        if account not in self._users:
            raise UserError(f"no account {account!r} in {self.settings.table_userdb}")
        return self._users[account]

    def account_names(self) -> list[str]:
        users = accounts(self.settings)
        self._users = {user.name: user for user in users}
        return [user.name for user in users]

    def folders(self, account: str) -> Mailbox:
        return mailbox(self.settings, self._user(account))

    def messages(
        self, account: str, folder: str, limit: int, skip: int
    ) -> tuple[int, list[MessageSummary]]:
        return folder_messages(self.settings, self._user(account), folder, limit, skip)
