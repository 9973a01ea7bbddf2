"""`mailconsole fdm lint|test`: the linter and the live test from the command line.

FILE and --config default to the settings' fdm_config, the tables to the settings' table_* paths.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from console.errors import UserError
from console.fdm.lint import TABLE_NAMES, Tables, exit_code, lint_text, tables_in
from console.fdm.parser import parse_file
from console.fdm.regex import DIALECTS, PCRE2
from console.fdm.router import Router, run_rewrite
from console.files import read_regular
from console.text import json_text, printable

LOST = frozenset({"error", "kept"})
"""Outcomes where mail is bounced (fdm 2.x error), lost (1.9 error) or stored nowhere (stdin keep)."""


def _settings() -> object | None:
    """The loaded Settings when run under `mailconsole`, else None (explicit arguments needed)."""
    ctx = click.get_current_context()
    settings: object | None = ctx.find_root().obj
    return settings


def _config_path(given: str | None) -> Path:
    if given:
        return Path(given)
    fdm_config = getattr(_settings(), "fdm_config", None)
    if fdm_config is None:
        raise click.UsageError("give the fdm.conf to use")
    return Path(fdm_config)


def _tables(directory: str | None) -> Tables | None:
    if directory:
        tables = tables_in(Path(directory))
        names = [name for name in TABLE_NAMES if name in tables.present]
        if names:
            click.echo(f"tables from {directory}: {', '.join(names)}", err=True)
        else:
            click.echo(
                f"warning: none of the tables ({', '.join(TABLE_NAMES)}) are in {directory}: "
                "the table checks did not run",
                err=True,
            )
        return tables
    settings = _settings()
    if settings is None or getattr(settings, "table_addrs", None) is None:
        return None
    from console.fdm.save import tables_for

    return tables_for(settings)  # type: ignore[arg-type]


@click.group("fdm")
def fdm() -> None:
    """fdm rules: lint the config, test where messages go."""


@fdm.command("lint")
@click.argument("file", required=False)
@click.option("--tables", "tables_dir", help="Directory with addrs, vusers, vdomains, userdb.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per finding.")
@click.option(
    "--dialect",
    type=click.Choice(DIALECTS),
    default=PCRE2,
    show_default=True,
    help="Regex dialect: pcre2 (fdm 2.x) or posix (Debian's fdm 1.9).",
)
def lint_command(file: str | None, tables_dir: str | None, as_json: bool, dialect: str) -> None:
    """Lint fdm.conf; exit 0 when clean, 1 with warnings, 2 with errors."""
    path = _config_path(file)
    try:
        text = read_regular(path).decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    _config, findings = lint_text(text, str(path), _tables(tables_dir), dialect)
    for finding in findings:
        if as_json:
            click.echo(json_text(finding.to_json()))
        else:
            where = f"{path}:{finding.line}:" if finding.line else f"{path}:"
            click.echo(
                printable(f"{where} {finding.severity}: {finding.message} (fix: {finding.fix})")
            )
    if not as_json and not findings:
        click.echo(f"{path}: no findings")
    sys.exit(exit_code(findings))


@fdm.command("test")
@click.option(
    "--fdm-conf",
    "config_file",
    metavar="FILE",
    help="The fdm.conf (default: the settings' fdm_config).",
)
@click.option(
    "--config",
    "old_config_file",
    metavar="FILE",
    help="Old name of --fdm-conf, still accepted (the global --config is the settings file).",
)
@click.argument("messages", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message.")
@click.option(
    "--dialect",
    type=click.Choice(DIALECTS),
    default=PCRE2,
    show_default=True,
    help="Regex dialect: pcre2 (fdm 2.x) or posix (Debian's fdm 1.9).",
)
@click.option("--account", default="stdin", show_default=True, help="The account fdm runs with.")
@click.option(
    "--run-rewrites",
    is_flag=True,
    help="Run rewrite actions' commands (as fdm would) so later rules see their output.",
)
def test_command(
    config_file: str | None,
    old_config_file: str | None,
    messages: tuple[str, ...],
    as_json: bool,
    dialect: str,
    account: str,
    run_rewrites: bool,
) -> None:
    """Route each MESSAGE file (or - for stdin) through the config, as fdm would.

    Exit 0 when every message is delivered or dropped by a rule, 1 when one would be lost or
    bounced (an error, or kept by a stdin account: stored nowhere).
    """
    router = Router(
        parse_file(_config_path(config_file or old_config_file)),
        dialect,
        account=account,
        rewrite=run_rewrite if run_rewrites else None,
    )
    lost = 0
    for name in messages:
        if name == "-":
            data = sys.stdin.buffer.read()
        else:
            try:
                data = read_regular(name)
            except OSError as exc:
                raise UserError(f"cannot read the message {name}: {exc.strerror}") from None
        route = router.route(data)
        if route.outcome in LOST:
            lost += 1
        if as_json:
            click.echo(json_text(route.to_json(name)))
            continue
        click.echo(
            printable(f"{name}: {route.outcome}" + (f" ({route.error})" if route.error else ""))
        )
        click.echo(printable(f"  rules at lines: {', '.join(map(str, route.rules)) or 'none'}"))
        for run in route.runs:
            click.echo(printable(f"  {run.action}:{run.item} {run.kind} {run.argument}".rstrip()))
        for delivery in route.deliveries:
            where = delivery.path or f"user {delivery.user or '?'} folder {delivery.folder}"
            click.echo(printable(f"  -> {delivery.action}: {where}"))
        for note in route.notes:
            click.echo(printable(f"  note: {note}"))
        for what in route.not_modelled:
            click.echo(printable(f"  not modelled: {what}"))
    if lost:
        click.echo(f"{lost} of {len(messages)} messages would be lost or bounced", err=True)
        sys.exit(1)
