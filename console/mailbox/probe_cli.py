"""`mailconsole probe ADDRESS`: send one tagged message through the stack and follow it hop by hop.

Exit 0 when it went where it was predicted to (delivered to the predicted folder, or stopped by the
filter that should stop it), 1 otherwise (another folder, lost, bounced, still queued, not sent),
3 when refused in read-only mode."""

from __future__ import annotations

import json
import sys

import click

from console.mailbox.probe import (
    DEFAULT_TIMEOUT,
    KINDS,
    Hop,
    ProbeOptions,
    dispatch_probe,
    format_hop,
    render,
)
from console.text import printable


@click.command("probe")
@click.argument("address")
@click.option(
    "--via",
    metavar="HOST:PORT",
    help="The SMTP listener to send to (default: the smtp_address setting).",
)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="clean",
    show_default=True,
    help="clean; spam (GTUBE, SpamAssassin should flag it); virus (EICAR, ClamAV should stop it).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.5, max=3600),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="S",
    help="Seconds to follow the probe before saying where it stopped.",
)
@click.option("--keep", is_flag=True, help="Leave the probe message in its folder.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the prediction, hops and verdict as JSON."
)
@click.pass_context
def probe(
    ctx: click.Context,
    address: str,
    via: str | None,
    kind: str,
    timeout: float,
    keep: bool,
    as_json: bool,
) -> None:
    """Send a probe to ADDRESS and follow it: accepted, each filter, fdm, the IMAP folder.

    The folder is predicted first (smtpd.conf's filters, fdm.conf's rules); the probe is then
    followed in the logs and found over IMAP by its Message-ID, and removed unless --keep. It
    sends mail, so it is refused in read-only mode and audited.
    """
    from console.cli import settings_of

    def show(hop: Hop) -> None:
        if not as_json:
            click.echo(format_hop(hop))

    options = ProbeOptions(kind, via or "", timeout, keep)
    result = dispatch_probe(settings_of(ctx), address, options, on_hop=show)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(render(result)))
    if not result.as_predicted:
        click.echo(
            f"mailconsole: {printable(result.outcome)}: {printable(result.verdict)}", err=True
        )
        sys.exit(result.exit_code)
