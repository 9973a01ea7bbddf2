"""Running smtpctl through `settings.smtpctl` (an argv prefix, so the same code drives a local smtpd,
one in a private namespace or one in a container) and reading what it prints."""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass

from console.errors import UserError
from console.queue.parse import (
    QueueSnapshot,
    parse_envelope_details,
    parse_queue,
    parse_status,
)
from console.settings import Settings

SMTPCTL_TIMEOUT = 30.0
"""Seconds before a hung smtpctl is given up (smtpd busy or a stuck prefix such as docker exec)."""


class SmtpdDown(UserError):
    """smtpctl answered but smtpd is not running (`smtpd doesn't seem to be running`)."""


@dataclass
class SmtpctlResult:
    """What one smtpctl run printed and its exit status."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def run_smtpctl(settings: Settings, *args: str, timeout: float = SMTPCTL_TIMEOUT) -> SmtpctlResult:
    """Run `settings.smtpctl + args`; UserError (one sentence) when it cannot run or needs root."""
    argv = [*settings.smtpctl, *args]
    # stdout goes to a file, read in one go afterwards: reading megabytes through a pipe from a
    # thread takes the GIL back hundreds of times and stalls behind the UI thread.
    try:
        with tempfile.TemporaryFile() as out:
            done = subprocess.run(
                argv, stdout=out, stderr=subprocess.PIPE, timeout=timeout, stdin=subprocess.DEVNULL
            )
            out.seek(0)
            stdout = out.read()
    except FileNotFoundError:
        raise UserError(
            f"cannot run {argv[0]!r}: no such program (is OpenSMTPD installed? see the smtpctl setting)"
        ) from None
    except PermissionError:
        raise UserError(
            f"cannot run {argv[0]!r}: permission denied (see the smtpctl setting)"
        ) from None
    except subprocess.TimeoutExpired:
        raise UserError(f"smtpctl {' '.join(args)} did not answer within {timeout:g} s") from None
    result = SmtpctlResult(
        argv,
        done.returncode,
        stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )
    if "need root privileges" in result.stderr:
        raise UserError(
            "smtpctl needs root: run mailconsole as root, or set smtpctl to a prefix "
            "that gets root (for example sudo)"
        )
    if "doesn't seem to be running" in result.stderr:
        raise SmtpdDown("smtpd is not running (smtpctl cannot reach its control socket)")
    return result


def smtpctl_failure(result: SmtpctlResult, what: str) -> UserError:
    """One sentence for an smtpctl run that failed in some other way."""
    if "possibilities are:" in result.stderr:
        return UserError(
            f"smtpctl did not accept {what!r}: give an envelope id (16 hex digits), "
            "a message id (8 hex digits) or all"
        )
    if "No such file or directory" in result.stderr:
        return UserError(f"{what} is not in the queue")
    first = next((ln for ln in result.stderr.splitlines() if ln.strip()), "no message")
    return UserError(f"smtpctl failed (exit {result.returncode}): {first.strip()}")


def read_queue(settings: Settings, now: float | None = None) -> QueueSnapshot:
    """`show queue` parsed. smtpd down: the offline queue (read from the spool) with a problem line.

    `now` is the snapshot's time (ages are counted from it); default: the current time.
    """
    taken = time.time() if now is None else now
    result = run_smtpctl(settings, "show", "queue")
    if result.returncode != 0:
        raise smtpctl_failure(result, "show queue")
    envelopes, bad = parse_queue(result.stdout)
    offline = any(e.runstate == "offline" for e in envelopes)
    if not offline and not envelopes:
        try:
            run_smtpctl(settings, "show", "status")
        except SmtpdDown:
            offline = True
    problem = "smtpd is not running: the queue is read from the spool (offline)" if offline else ""
    return QueueSnapshot(envelopes, bad, smtpd_running=not offline, problem=problem, taken_at=taken)


def read_status(settings: Settings) -> dict[str, str]:
    """`show status` as {"mda": "running", ...}; SmtpdDown when smtpd is not running."""
    result = run_smtpctl(settings, "show", "status")
    if result.returncode != 0:
        raise smtpctl_failure(result, "show status")
    return parse_status(result.stdout)


def read_envelope(settings: Settings, evpid: str) -> list[tuple[str, str]]:
    """`show envelope EVPID` fields in order (works while smtpd is down)."""
    result = run_smtpctl(settings, "show", "envelope", evpid)
    if result.returncode != 0:
        raise smtpctl_failure(result, evpid)
    return parse_envelope_details(result.stdout)


def read_message(settings: Settings, msgid: str) -> str:
    """`show message ID`: the raw message as queued (works while smtpd is down)."""
    result = run_smtpctl(settings, "show", "message", msgid)
    if result.returncode != 0:
        raise smtpctl_failure(result, msgid)
    return result.stdout
