"""Who gets mail: domains, users and addresses side by side, with where fdm puts each address's mail."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from console.accounts.changes import Files, mail_count, parsed_fdm, probe_message
from console.errors import UserError
from console.fdm.router import Router


@dataclass
class AddressRow:
    """One accepted (or half-accepted) address."""

    address: str
    target: str
    """What vusers maps it to ("" when it has no vusers line)."""
    in_addrs: bool
    in_vusers: bool
    mailboxes: list[str] = field(default_factory=list)
    """Where fdm delivers it: `user/folder`, or the route's outcome when nowhere."""


@dataclass
class UserRow:
    """One userdb user."""

    name: str
    line: int
    maildir: str
    messages: int | None
    """Messages in the Maildir (None: it does not exist)."""
    addresses: list[str] = field(default_factory=list)


@dataclass
class DomainRow:
    """One vdomains entry."""

    name: str
    addresses: int


@dataclass
class Overview:
    """The whole picture, as plain data (`accounts list --json`)."""

    domains: list[DomainRow]
    users: list[UserRow]
    addresses: list[AddressRow]

    def to_json(self) -> dict[str, object]:
        """Plain dicts and lists."""
        return asdict(self)


def overview(files: Files) -> Overview:
    """Domains, users and addresses from the files, routed through fdm.conf."""
    accounts = files.accounts
    config = parsed_fdm(files)
    router = Router(config, hostname="mailconsole") if config is not None else None
    addrs = accounts.addrs.keys()
    vusers = accounts.vusers.keys()
    rows = []
    for address in dict.fromkeys([*accounts.accepted(), *sorted(vusers - addrs)]):
        row = AddressRow(
            address, ", ".join(accounts.targets(address)), address in addrs, address in vusers
        )
        if router is not None:
            route = router.route(probe_message(address))
            nowhere = (
                f"nowhere ({route.outcome}: {route.error})"
                if route.error
                else f"nowhere ({route.outcome})"
            )
            row.mailboxes = [
                f"{d.user}/{d.folder}" if d.user else (d.path or d.action) for d in route.deliveries
            ] or [nowhere]
        row.mailboxes += [
            user
            for user in accounts.users_of(address)
            if not any(m.startswith(user + "/") for m in row.mailboxes)
        ]
        rows.append(row)
    users = []
    for user in accounts.userdb.users:
        try:
            maildir = accounts.maildir(user)
        except UserError:
            users.append(UserRow(user.name, user.line, "", None))
            continue
        count = mail_count(maildir) if maildir.is_dir() else None
        mine = [
            row.address for row in rows if any(m.split("/")[0] == user.name for m in row.mailboxes)
        ]
        users.append(UserRow(user.name, user.line, str(maildir), count, mine))
    domains = [
        DomainRow(domain, sum(1 for row in rows if row.address.endswith("@" + domain)))
        for domain in accounts.domains()
    ]
    return Overview(domains, users, rows)
