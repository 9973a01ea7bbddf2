"""`mailconsole accounts ...`: check, list and change the account tables; the DNS records.

Changes go through the dispatcher (read-only refused with exit 3, audited without the password).
A password is read without echo from the terminal (asked twice), or one line from stdin with
`--password-stdin`; never from the command line.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

import click

from console.actions import dispatch
from console.errors import UserError
from console.settings import Settings
from console.text import printable


def _settings() -> Settings:
    obj = click.get_current_context().find_root().obj
    if not isinstance(obj, Settings):
        raise click.UsageError("run this as `mailconsole accounts ...`")
    return obj


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group("accounts")
def accounts() -> None:
    """Mail users, addresses and domains (vdomains, vusers, addrs, userdb) and their DNS."""


@accounts.command("check")
@json_option
def check_command(as_json: bool) -> None:
    """Check that the four tables agree and every address routes; exit 0 clean, 1 warnings,
    2 errors."""
    from console.accounts.check import check, exit_code
    from console.accounts.model import load_accounts

    settings = _settings()
    findings = check(load_accounts(settings), settings.fdm_config)
    for finding in findings:
        if as_json:
            click.echo(json.dumps(finding.to_json(), ensure_ascii=False))
        else:
            click.echo(
                printable(
                    f"{finding.location()}: {finding.severity}: {finding.message} "
                    f"(fix: {finding.fix})"
                )
            )
    if not as_json and not findings:
        click.echo("accounts: no findings")
    sys.exit(exit_code(findings))


@accounts.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """Domains, users (Maildir, messages) and addresses (where fdm puts their mail)."""
    from console.accounts.changes import load_files
    from console.accounts.overview import overview

    view = overview(load_files(_settings()))
    if as_json:
        click.echo(json.dumps(view.to_json(), indent=2, ensure_ascii=False))
        return
    click.echo("domains:")
    for domain in view.domains:
        click.echo(printable(f"  {domain.name}  ({domain.addresses} address(es))"))
    click.echo("users:")
    for user in view.users:
        mail = "no Maildir" if user.messages is None else f"{user.messages} message(s)"
        click.echo(printable(f"  {user.name}  {mail}  {user.maildir}"))
    click.echo("addresses:")
    for row in view.addresses:
        missing = (
            ""
            if row.in_addrs and row.in_vusers
            else ("  (not in addrs)" if not row.in_addrs else "  (not in vusers)")
        )
        click.echo(
            printable(f"  {row.address} -> {', '.join(row.mailboxes) or row.target}{missing}")
        )


def _read_password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or asked twice without echo on the terminal."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise UserError("--password-stdin: stdin gave no password")
        return password
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask the password on: pipe it with --password-stdin")
    password = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != password:
        raise UserError("the two passwords differ; nothing was changed")
    return password


def _change(name: str, target: str, as_json: bool, **params: str) -> None:
    """Dispatch one accounts action and print its outcome."""
    message = dispatch(_settings(), name, target, params)
    if as_json:
        click.echo(
            json.dumps({"action": name, "target": target, "message": message}, ensure_ascii=False)
        )
    else:
        click.echo(printable(message))


def _with_password(name: str, target: str, from_stdin: bool, as_json: bool, **params: Any) -> None:
    settings = _settings()
    if settings.read_only:
        _change(name, target, as_json)  # refused (and audited) before a password is asked for
        return
    _change(name, target, as_json, password=_read_password(from_stdin), **params)


password_option = click.option(
    "--password-stdin", "from_stdin", is_flag=True, help="Read the password as one line from stdin."
)


@accounts.command("add-user")
@click.argument("name")
@click.argument("addresses", nargs=-1)
@password_option
@json_option
def add_user_command(
    name: str, addresses: tuple[str, ...], from_stdin: bool, as_json: bool
) -> None:
    """Add mailbox user NAME (userdb, Maildir) with its ADDRESSES (vusers, addrs, fdm rule)."""
    _with_password("accounts.add_user", name, from_stdin, as_json, addresses=",".join(addresses))


@accounts.command("passwd")
@click.argument("name")
@password_option
@json_option
def passwd_command(name: str, from_stdin: bool, as_json: bool) -> None:
    """Set the password of user NAME."""
    _with_password("accounts.passwd", name, from_stdin, as_json)


@accounts.command("del-user")
@click.argument("name")
@click.option(
    "--yes",
    is_flag=True,
    help="Remove the user even when their Maildir holds mail (the Maildir is kept either way).",
)
@json_option
def del_user_command(name: str, yes: bool, as_json: bool) -> None:
    """Remove user NAME and the addresses that reach only them; the Maildir stays."""
    _change("accounts.del_user", name, as_json, **({"yes": "yes"} if yes else {}))


@accounts.command("add-address")
@click.argument("address")
@click.argument("user")
@json_option
def add_address_command(address: str, user: str, as_json: bool) -> None:
    """Accept ADDRESS and deliver it to USER's mailbox (an alias when USER has others)."""
    _change("accounts.add_address", address, as_json, user=user)


@accounts.command("del-address")
@click.argument("address")
@json_option
def del_address_command(address: str, as_json: bool) -> None:
    """Stop accepting ADDRESS."""
    _change("accounts.del_address", address, as_json)


@accounts.command("add-domain")
@click.argument("domain")
@json_option
def add_domain_command(domain: str, as_json: bool) -> None:
    """Accept mail for DOMAIN."""
    _change("accounts.add_domain", domain, as_json)


@accounts.command("del-domain")
@click.argument("domain")
@json_option
def del_domain_command(domain: str, as_json: bool) -> None:
    """Stop accepting DOMAIN (remove its addresses first)."""
    _change("accounts.del_domain", domain, as_json)


@accounts.command("dns")
@click.argument("domains", nargs=-1)
@click.option("--no-check", is_flag=True, help="Only print the records; ask no resolver.")
@json_option
def dns_command(domains: tuple[str, ...], no_check: bool, as_json: bool) -> None:
    """The MX, SPF, DKIM and DMARC records each domain needs, checked against the resolver
    (dns_resolver, else the system's); exit 0 all ok, 1 missing or different, 2 malformed."""
    from console.accounts.dns import MALFORMED, OK, check_records, make_resolver, wanted_records
    from console.accounts.model import load_accounts

    settings = _settings()
    accounts = load_accounts(settings)
    unknown = [d for d in domains if d.lower() not in accounts.domains()]
    if unknown:
        raise UserError(f"{unknown[0]} is not in vdomains")
    records = wanted_records(accounts, settings, list(domains) or None)
    if no_check:
        for record in records:
            click.echo(
                json.dumps({**record.__dict__, "zone_line": record.zone_line()})
                if as_json
                else printable(record.zone_line())
            )
        return
    verdicts = check_records(records, make_resolver(settings.dns_resolver))
    for verdict in verdicts:
        if as_json:
            click.echo(json.dumps(verdict.to_json(), ensure_ascii=False))
            continue
        record = verdict.record
        detail = f": {verdict.detail}" if verdict.detail else ""
        click.echo(printable(f"{record.domain} {record.kind} {verdict.status}{detail}"))
        if verdict.status != OK:
            click.echo(printable(f"  want:  {record.zone_line()}"))
            for found in verdict.found:
                click.echo(printable(f"  found: {found}"))
    statuses = {v.status for v in verdicts}
    sys.exit(2 if MALFORMED in statuses else 0 if statuses <= {OK} else 1)
