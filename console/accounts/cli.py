"""`mailconsole accounts ...`: check, list and change the account tables; the DNS records.

Changes are the dispatcher's actions (read-only refused with exit 3, audited without the password),
their commands declared with them in console/actions.py.
A password is read without echo from the terminal (asked twice), or one line from stdin with
`--password-stdin`; never from the command line.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

import click

from console.action_commands import ActionGroup, print_outcome
from console.actions import Action
from console.errors import UserError
from console.settings import Settings
from console.text import json_text, printable


def _settings() -> Settings:
    obj = click.get_current_context().find_root().obj
    if not isinstance(obj, Settings):
        raise click.UsageError("run this as `mailconsole accounts ...`")
    return obj


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group("accounts", cls=ActionGroup)
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
            click.echo(json_text(finding.to_json()))
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
        click.echo(json_text(view.to_json(), indent=2))
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


def with_password(
    settings: Settings,
    action: Action,
    target: str,
    params: dict[str, str],
    options: dict[str, Any],
) -> None:
    """The body of `add-user` and `passwd`: the password is asked for (or read from stdin) only when
    the change can happen; in read-only mode the dispatcher refuses (and audits) before that."""
    if not settings.read_only:
        params = {"password": _read_password(bool(options["from_stdin"])), **params}
    else:
        params = {}
    print_outcome(settings, action, target, params, options)


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
            click.echo(json_text(verdict.to_json()))
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
