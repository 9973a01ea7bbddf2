"""The four account files as one model: who gets mail, at which addresses, in which domains."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from console.accounts.smtpd_conf import SmtpdConf, read_smtpd_conf
from console.accounts.tables import (
    Table,
    UserDb,
    UserEntry,
    parse_table,
    parse_userdb,
    read_text,
)
from console.fdm.testmail import maildir_root

if TYPE_CHECKING:
    from console.settings import Settings

TABLE_KINDS = ("vdomains", "vusers", "addrs")
FILE_KINDS = (*TABLE_KINDS, "userdb")
"""The four files, in the order they are written."""


@dataclass
class Accounts:
    """The loaded files, with what else the checks and changes need to know."""

    vdomains: Table
    vusers: Table
    addrs: Table
    userdb: UserDb
    spool_dir: Path
    mail_user: str = "vmail"
    smtpd: SmtpdConf | None = None

    def table(self, kind: str) -> Table:
        """vdomains, vusers or addrs by name."""
        table: Table = getattr(self, kind)
        return table

    def text(self, kind: str) -> str:
        """One of the four files' text."""
        return self.userdb.text if kind == "userdb" else self.table(kind).text

    def path(self, kind: str) -> Path:
        """One of the four files' path."""
        return self.userdb.path if kind == "userdb" else self.table(kind).path

    def table_name(self, kind: str) -> str:
        """The name smtpd knows a file by (`smtpctl update table NAME`)."""
        smtpd = self.smtpd or SmtpdConf()
        return smtpd.table_name(self.path(kind), kind)

    def domains(self) -> list[str]:
        """The accepted domains (lower case, file order, once each)."""
        return list(dict.fromkeys(entry.key.lower() for entry in self.vdomains.entries))

    def accepted(self) -> list[str]:
        """The addresses smtpd accepts: addrs (the rcpt-to table), else the vusers keys."""
        source = self.addrs if self.addrs.entries or self.addrs.token else self.vusers
        return list(dict.fromkeys(entry.key.lower() for entry in source.entries))

    def targets(self, address: str) -> list[str]:
        """What vusers maps an address to, or []. A key listed twice maps to its last line's values:
        smtpd's static table keeps the last (measured on the lab's smtpd 6.8, at start and after
        `smtpctl update table`)."""
        found = self.vusers.find(address)
        return found[-1].values if found else []

    def maildir(self, user: UserEntry) -> Path:
        """A user's Maildir: the one the userdb line names, else the article's spool layout."""
        return user.maildir() or maildir_root(self.spool_dir, user.name)

    def users_of(self, address: str) -> list[str]:
        """The userdb users an address reaches through vusers (aliases followed, loops cut)."""
        users: list[str] = []
        seen: set[str] = set()
        pending = [address.lower()]
        names = self.userdb.names()
        while pending:
            current = pending.pop(0)
            if current in seen:
                continue
            seen.add(current)
            for target in self.targets(current):
                if target in names:
                    users.append(target)
                elif "@" in target:
                    pending.append(target.lower())
        return list(dict.fromkeys(users))

    def addresses_of(self, user: str) -> list[str]:
        """The accepted addresses whose mail reaches a userdb user through vusers."""
        return [address for address in self.accepted() if user in self.users_of(address)]


def load_accounts(settings: Settings) -> Accounts:
    """Read the four files named by the settings, and smtpd.conf when it exists."""
    tables = {}
    for kind in TABLE_KINDS:
        path: Path = getattr(settings, f"table_{kind}")
        text, token = read_text(path)
        tables[kind] = parse_table(kind, path, text, token)
    text, token = read_text(settings.table_userdb)
    userdb = parse_userdb(settings.table_userdb, text, token)
    return Accounts(
        tables["vdomains"],
        tables["vusers"],
        tables["addrs"],
        userdb,
        settings.spool_dir,
        settings.mail_user,
        read_smtpd_conf(settings.smtpd_config),
    )
