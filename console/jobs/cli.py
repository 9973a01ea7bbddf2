"""`mailconsole run NAME [--json]` and `mailconsole jobs [--json]`: run a maintenance job, list them.

`run` streams the job's stdout to stdout and its stderr to stderr as the lines come, then prints the
outcome's sentence; it exits 0 on success, 1 on failure, 3 when read-only mode refuses it. Ctrl-C or
SIGTERM cancels the run (its process group gets SIGTERM, then SIGKILL). `--json` prints only the
run's record.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any, TextIO

import click

from console.actions import Action
from console.jobs.history import last_runs
from console.jobs.process import Cancel, OutputLine
from console.jobs.runner import run_job
from console.settings import Settings
from console.text import printable


def _settings() -> Settings:
    """The loaded Settings on the root click context."""
    obj = click.get_current_context().find_root().obj
    assert isinstance(obj, Settings)
    return obj


def _print_lines(lines: list[OutputLine]) -> None:
    """Write streamed lines at once: stdout's to stdout, stderr's to stderr (already printable)."""
    for line in lines:
        stream = sys.stderr if line.stream == "err" else sys.stdout
        try:
            stream.write(line.text + "\n")
            stream.flush()
        except BrokenPipeError:
            _discard(stream)


def _discard(stream: TextIO) -> None:
    """The reader went away (`run get_certs | head -1`): the job still runs to its end, with its
    follow-ups and its record, and what is printed from now on goes to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


def run(
    settings: Settings, action: Action, target: str, params: dict[str, str], options: dict[str, Any]
) -> None:
    """The body of `mailconsole run NAME`: stream the job's output, print its sentence, exit 0 or 1."""
    cancel = Cancel()

    def on_signal(signum: int, _frame: Any) -> None:
        cancel.cancel()

    as_json = bool(options["as_json"])
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        record = run_job(
            settings, target, on_output=None if as_json else _print_lines, cancel=cancel
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    try:
        if as_json:
            click.echo(json.dumps(record.to_json(), indent=2, ensure_ascii=False))
        else:
            click.echo(printable(record.sentence), err=not record.ok)
    except BrokenPipeError:
        _discard(sys.stdout)  # the exit code still says how the job went
    sys.exit(0 if record.ok else 1)


@click.command("jobs")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: each job and its last run.")
def jobs(as_json: bool) -> None:
    """List the maintenance jobs, what each does, and how its last run went."""
    settings = _settings()
    last = last_runs(settings)
    if as_json:
        data = [
            {
                "name": name,
                **spec.as_toml_data(),
                "last_run": last[name].to_json() if name in last else None,
            }
            for name, spec in settings.jobs.items()
        ]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    width = max((len(name) for name in settings.jobs), default=4)
    for name, spec in settings.jobs.items():
        record = last.get(name)
        when = f"{record.outcome} at {record.started}" if record else "never run"
        click.echo(printable(f"{name:<{width}}  {when}"))
        click.echo(printable(f"{'':<{width}}  {spec.description or ' '.join(spec.argv)}"))
        if record:
            click.echo(printable(f"{'':<{width}}  {record.sentence}"))
