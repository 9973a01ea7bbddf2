"""`mailconsole queue`: show OpenSMTPD's queue (or a saved `show queue` dump) and act on it.

Showing reads through console.queue; retry, remove, pause and resume are the dispatcher's actions (refused
in read-only mode with exit 3, audited), their commands declared with them in console/actions.py.
"""

from __future__ import annotations

import json
import sys
import time

import click

from console.action_commands import ActionGroup
from console.errors import UserError
from console.files import read_regular
from console.queue.parse import (
    SUBSYSTEMS,
    QueueSnapshot,
    collector_paused,
    parse_queue,
    split_message,
)
from console.queue.smtpctl import read_envelope, read_message, read_queue, read_status
from console.queue.summary import (
    AGE_LABELS,
    NO_DATE,
    counted,
    envelope_field,
    human_age,
    next_try,
    queue_json,
    summarise,
)
from console.settings import Settings
from console.text import printable


def _settings() -> Settings:
    """The loaded Settings on the root click context."""
    obj = click.get_current_context().find_root().obj
    assert isinstance(obj, Settings)
    return obj


def _read_dump(source: str) -> QueueSnapshot:
    """A saved `show queue` dump (a path, or `-` for stdin) parsed; smtpd's state is unknown."""
    taken = time.time()
    try:
        if source == "-":
            data = sys.stdin.buffer.read()
        else:
            data = read_regular(source)
    except OSError as exc:
        raise UserError(f"cannot read {source}: {exc.strerror}") from None
    envelopes, bad = parse_queue(data.decode("utf-8", "replace"))
    offline = any(e.runstate == "offline" for e in envelopes)
    return QueueSnapshot(envelopes, bad, smtpd_running=False if offline else None, taken_at=taken)


def _print_table(snapshot: QueueSnapshot) -> None:
    """The queue as aligned text, grouped by message, then the summary and the bad lines."""
    now = snapshot.taken_at
    raw = [("ENVELOPE", "TYPE", "SENDER", "RECIPIENT", "AGE", "TRIES", "STATE", "NEXT", "ERROR")]
    for e in sorted(snapshot.envelopes, key=lambda e: (e.msgid, e.ctime, e.evpid)):
        raw.append(
            (
                e.evpid,
                e.type,
                e.sender,
                e.rcpt,
                human_age(e.age(now)),
                str(e.retry),
                e.state,
                next_try(e),
                e.error,
            )
        )
    rows = [tuple(printable(cell) for cell in row) for row in raw]
    widths = [min(40, max(len(row[i]) for row in rows)) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell[:w].ljust(w) for cell, w in zip(row, widths, strict=False)]
        click.echo("  ".join(cells + [row[-1]]).rstrip())
    summary = summarise(snapshot.envelopes, now)
    click.echo("")
    states = ", ".join(f"{n} {state}" for state, n in summary.by_state.items()) or "empty"
    click.echo(
        f"{counted(summary.total, 'envelope')} in {counted(summary.messages, 'message')}: {states}"
    )
    if summary.oldest is not None:
        click.echo(f"oldest: {summary.oldest.evpid}, {human_age(summary.oldest_age)} old")
    if summary.shape:
        click.echo("")
        header = ["DOMAIN".ljust(30), "TOTAL".rjust(6)] + [label.rjust(6) for label in AGE_LABELS]
        click.echo(" ".join(header))
        for shape in summary.shape[:20]:
            cells = [printable(shape.domain)[:30].ljust(30), str(shape.total).rjust(6)]
            click.echo(" ".join(cells + [str(n).rjust(6) for n in shape.bands]))
    if snapshot.bad_lines:
        click.echo("")
        click.echo(f"{len(snapshot.bad_lines)} lines did not parse:")
        for line in snapshot.bad_lines:
            click.echo(f"  {printable(line)}")


@click.group("queue", cls=ActionGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: envelopes, bad_lines, summary.")
@click.option(
    "--from",
    "source",
    metavar="FILE|-",
    help="Parse a saved `smtpctl show queue` dump instead of running smtpctl.",
)
@click.pass_context
def queue(ctx: click.Context, as_json: bool, source: str | None) -> None:
    """Show OpenSMTPD's queue; subcommands retry, remove, pause and resume."""
    if ctx.invoked_subcommand is not None:
        return
    with collector_paused():  # one short run building only acyclic objects
        snapshot = _read_dump(source) if source else read_queue(_settings())
        if snapshot.problem:
            click.echo(f"mailconsole: {snapshot.problem}", err=True)
        if as_json:
            sys.stdout.write(queue_json(snapshot))
            sys.stdout.write("\n")
        else:
            _print_table(snapshot)


@queue.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_command(as_json: bool) -> None:
    """Show whether smtpd's agents (mda, mta, smtp) are running or paused."""
    status = read_status(_settings())
    if as_json:
        click.echo(json.dumps(status))
    else:
        for name in SUBSYSTEMS:
            click.echo(f"{name}: {status.get(name, 'unknown')}")


@queue.command("show")
@click.argument("evpid", metavar="ID")
@click.option("--body", is_flag=True, help="Print the whole message, not only its headers.")
def show_command(evpid: str, body: bool) -> None:
    """Show one envelope's fields and its message's headers (`--body` for the whole message)."""
    settings = _settings()
    evpid = evpid.strip().lower()
    not_dates: list[str] = []
    if len(evpid) == 16:
        for key, value in read_envelope(settings, evpid):
            shown = envelope_field(key, value)
            if shown.endswith(f"({NO_DATE})"):
                not_dates.append(f"{key} {value}")
            click.echo(printable(f"{key}: {shown}"))
        click.echo("")
    message = read_message(settings, evpid)
    shown = message if body else split_message(message)[0]
    for line in shown.splitlines():
        click.echo(printable(line))
    if not_dates:
        raise UserError(
            f"envelope {evpid} has times no date has ({', '.join(not_dates)}): its "
            "envelope file may be damaged"
        )
