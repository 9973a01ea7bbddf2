"""`mailconsole mailboxes [ACCOUNT] [--folder F] [--json]`: each account's folders with message,
unseen and size counts (over IMAP, or from the Maildirs on disk without a password), and the latest
messages of one folder. A failed account is one line on stderr and makes the exit 1."""

from __future__ import annotations

import json
import sys

import click

from console.errors import UserError
from console.mailbox.model import Mailbox, human_size
from console.text import printable


def render(box: Mailbox) -> list[str]:
    """The account's lines: a heading naming where the counts come from, the folders, the messages."""
    lines = [f"{box.account}: {box.origin}"]
    width = max([len("FOLDER"), *(len(f.name) for f in box.folders)])
    lines.append(f"  {'FOLDER':<{width}}  {'MESSAGES':>8}  {'UNSEEN':>6}  {'SIZE':>9}")
    for folder in box.folders:
        if folder.problem:
            lines.append(
                f"  {folder.name:<{width}}  {'?':>8}  {'?':>6}  {'?':>9}  {folder.problem}"
            )
            continue
        lines.append(
            f"  {folder.name:<{width}}  {folder.messages:>8}  {folder.unseen:>6}  "
            f"{human_size(folder.size):>9}"
        )
    if box.folder is not None:
        lines.append("")
        lines.append(f"  latest in {box.folder}: {len(box.messages)}")
        for message in box.messages:
            mark = " " if message.seen else "*"
            lines.append(f"  {mark} {message.date}  {message.sender}")
            lines.append(f"      {message.subject}")
            verdicts = [
                f"{name}: {value}"
                for name, value in (
                    ("X-Spam-Flag", message.spam_flag),
                    ("X-Spam-Status", message.spam_status),
                    ("X-Virus-Scanned", message.virus_scanned),
                )
                if value
            ]
            for verdict in verdicts:
                lines.append(f"      {verdict}")
    return [printable(line) for line in lines]


@click.command("mailboxes")
@click.argument("account", required=False)
@click.option("--folder", "-f", metavar="FOLDER", help="Also list this folder's latest messages.")
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="How many of the latest messages to list.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
@click.pass_context
def mailboxes(
    ctx: click.Context, account: str | None, folder: str | None, limit: int, as_json: bool
) -> None:
    """Each account's folders with messages, unseen and size; with --folder, its latest messages.

    Over IMAP for accounts with a password (imap_password_file, MAILCONSOLE_PASSWORD_<ACCOUNT>, or
    imap_master_user); otherwise counted from the Maildirs on disk, and the output says so.
    Messages are fetched with BODY.PEEK from folders opened read-only: nothing is marked seen.
    """
    from console.cli import settings_of
    from console.mailbox.listing import accounts, mailbox

    settings = settings_of(ctx)
    users = accounts(settings)
    if account is not None:
        users = [user for user in users if user.name == account]
        if not users:
            raise UserError(f"no account {account!r} in {settings.table_userdb}")
    if folder is not None and account is None and len(users) > 1:
        raise UserError("--folder needs an ACCOUNT")
    listed: list[Mailbox] = []
    failed = 0
    for user in users:
        try:
            box = mailbox(settings, user, folder, limit)
        except UserError as exc:
            if account is not None:
                raise UserError(f"{user.name}: {exc}") from None
            click.echo(f"mailconsole: {user.name}: {printable(str(exc))}", err=True)
            failed += 1
            continue
        listed.append(box)
        if not as_json:
            if len(listed) > 1:
                click.echo("")
            click.echo("\n".join(render(box)))
    if as_json:
        click.echo(json.dumps([box.as_json() for box in listed], indent=2, ensure_ascii=False))
    if failed:
        sys.exit(1)
