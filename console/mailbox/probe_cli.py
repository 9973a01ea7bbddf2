"""The body of `mailconsole probe ADDRESS` (declared with the `mailbox.probe` action): each hop printed
as it happens, then the prediction and the verdict, or all of it as JSON.

Exit 0 when the probe went where it was predicted to (delivered to the predicted folder, or stopped
by the filter that should stop it), 1 otherwise (another folder, lost, bounced, still queued, not
sent), 2 for a bad option, 3 when refused in read-only mode."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from console.actions import Action
from console.errors import UserError
from console.mailbox.probe import Hop, ProbeOptions, dispatch_probe, format_hop, render
from console.settings import Settings
from console.text import printable


def run(
    settings: Settings, action: Action, target: str, params: dict[str, str], options: dict[str, Any]
) -> None:
    """Run the probe through the dispatcher and print what it saw."""
    as_json = bool(options.get("as_json"))
    try:
        probe_options = ProbeOptions.from_params(params)
    except UserError as exc:
        raise click.UsageError(str(exc)) from None

    def show(hop: Hop) -> None:
        if not as_json:
            click.echo(format_hop(hop))

    result = dispatch_probe(settings, target, probe_options, on_hop=show)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(render(result)))
    if not result.as_predicted:
        click.echo(
            f"mailconsole: {printable(result.outcome)}: {printable(result.verdict)}", err=True
        )
        sys.exit(result.exit_code)
