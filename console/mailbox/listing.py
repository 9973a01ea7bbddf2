"""One account's mailbox listing: over IMAP when the console has a login for it, else from its
Maildir on disk (the listing says which)."""

from __future__ import annotations

from pathlib import Path

from console.accounts.tables import UserEntry, parse_userdb, read_text
from console.errors import UserError
from console.mailbox.credentials import login_for
from console.mailbox.imap import connected, endpoint, latest_messages, list_folders
from console.mailbox.maildir import maildir_folders
from console.mailbox.model import Mailbox, MessageSummary
from console.settings import Settings


def accounts(settings: Settings) -> list[UserEntry]:
    """The userdb's users (Dovecot's accounts), in file order."""
    text, token = read_text(settings.table_userdb)
    if token is None:
        raise UserError(f"no userdb at {settings.table_userdb} (setting table_userdb)")
    return parse_userdb(settings.table_userdb, text, token).users


def maildir_of(settings: Settings, user: UserEntry) -> Path:
    """The user's Maildir: the userdb's userdb_mail, else <spool_dir>/<user>/Mail."""
    return user.maildir() or settings.spool_dir / user.name / "Mail"


def needs_imap(account: str) -> UserError:
    """The one sentence for listing messages of an account the console has no password for."""
    return UserError(
        f"listing messages needs IMAP, and the console has no "
        f"password for {account} (see imap_password_file)"
    )


def mailbox(
    settings: Settings, user: UserEntry, folder: str | None = None, limit: int = 20
) -> Mailbox:
    """The account's folders (and the latest `limit` messages of `folder`): IMAP with a login,
    the Maildir's counts without one (messages are listed over IMAP only)."""
    login = login_for(settings, user.name)
    if login is None:
        maildir = maildir_of(settings, user)
        if folder is not None:
            raise needs_imap(user.name)
        if not maildir.is_dir():
            raise UserError(f"no Maildir at {maildir}")
        return Mailbox(
            user.name,
            "maildir",
            f"counted from the Maildir on disk, {maildir} (no IMAP password)",
            maildir_folders(maildir),
        )
    origin = f"IMAP {endpoint(settings)} as {login.username} (password from {login.source})"
    with connected(settings, login) as client:
        result = Mailbox(user.name, "imap", origin, list_folders(client))
        if folder is not None:
            result.folder = folder
            result.total, result.messages = latest_messages(client, folder, limit)
    return result


def folder_messages(
    settings: Settings, user: UserEntry, folder: str, limit: int, skip: int = 0
) -> tuple[int, list[MessageSummary]]:
    """How many messages the account's `folder` holds and `limit` of its newest (after the `skip`
    newest), over IMAP only: one login, one SELECT, one FETCH (no folder listing)."""
    login = login_for(settings, user.name)
    if login is None:
        raise needs_imap(user.name)
    with connected(settings, login) as client:
        return latest_messages(client, folder, limit, skip)
