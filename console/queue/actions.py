"""Acting on the queue: retry, remove, pause and resume envelopes, pause and resume smtpd's agents.

smtpctl exits 0 even when it did nothing, so each command is judged by the count it prints. The
`*_action` functions are the dispatcher's handlers (declared in console/actions.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from console.errors import ActionFailed
from console.queue.parse import SUBSYSTEMS
from console.queue.smtpctl import read_status, run_smtpctl, smtpctl_failure
from console.settings import Settings

if TYPE_CHECKING:
    from console.actions import ActionContext


_TARGET = re.compile(r"[0-9a-f]{16}|[0-9a-f]{8}|all")


_COUNT = re.compile(r"^(\d+) envelopes? (scheduled|removed|paused|resumed)$", re.MULTILINE)


def check_target(target: str) -> str:
    """An envelope id, a message id or `all`, lower-cased; ActionFailed for anything else."""
    value = target.strip().lower()
    if not _TARGET.fullmatch(value):
        raise ActionFailed(
            f"{target!r} is not an envelope id (16 hex digits), a message id (8 hex digits) or all"
        )
    return value


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _envelope_command(settings: Settings, args: list[str], target: str, verb: str) -> str:
    """Run an envelope command and judge it by the count smtpctl prints (it always exits 0)."""
    result = run_smtpctl(settings, *args, target)
    if result.returncode != 0:
        raise ActionFailed(smtpctl_failure(result, target).message)
    match = _COUNT.search(result.stdout)
    if match is None:
        raise ActionFailed(
            f"smtpctl printed no count for {verb} {target}: "
            f"{result.stdout.strip() or result.stderr.strip() or 'nothing'}"
        )
    count = int(match.group(1))
    outcome = f"{_plural(count, 'envelope')} {verb}"
    if count == 0:
        why = {
            "scheduled": "nothing pending matches it (already being tried, paused, or gone)",
            "removed": "nothing in the queue matches it",
            "paused": "nothing matches it that is not paused already",
            "resumed": "nothing matches it that is paused",
        }[verb]
        raise ActionFailed(f"{outcome}: {why} ({target})")
    return f"{outcome} ({target})"


def schedule(settings: Settings, target: str) -> str:
    """Retry now: `smtpctl schedule ID|MSGID|all`."""
    return _envelope_command(settings, ["schedule"], check_target(target), "scheduled")


def remove(settings: Settings, target: str) -> str:
    """Remove from the queue for good: `smtpctl remove ID|MSGID|all`."""
    return _envelope_command(settings, ["remove"], check_target(target), "removed")


def pause_envelopes(settings: Settings, target: str) -> str:
    """Hold envelopes back from delivery: `smtpctl pause envelope ID|MSGID|all`."""
    return _envelope_command(settings, ["pause", "envelope"], check_target(target), "paused")


def resume_envelopes(settings: Settings, target: str) -> str:
    """Let paused envelopes be delivered again: `smtpctl resume envelope ID|MSGID|all`."""
    return _envelope_command(settings, ["resume", "envelope"], check_target(target), "resumed")


def check_subsystem(target: str) -> str:
    """mda, mta or smtp (lower-cased); ActionFailed for anything else."""
    value = target.strip().lower()
    if value not in SUBSYSTEMS:
        raise ActionFailed(f"{target!r} is not a subsystem: give mda, mta or smtp")
    return value


def _subsystem_command(settings: Settings, verb: str, target: str) -> str:
    """pause/resume a subsystem; `command failed` is explained from `show status`."""
    name = check_subsystem(target)
    result = run_smtpctl(settings, verb, name)
    done = "paused" if verb == "pause" else "running"
    if result.returncode == 0 and "command succeeded" in result.stdout:
        return f"{name} {'paused' if verb == 'pause' else 'resumed'}"
    if "command failed" in result.stdout + result.stderr:
        status = read_status(settings).get(name, "")
        if status == done:
            raise ActionFailed(f"{name} is already {done} (smtpctl said 'command failed')")
        raise ActionFailed(
            f"smtpctl could not {verb} {name} (command failed; status: {status or '?'})"
        )
    raise ActionFailed(smtpctl_failure(result, f"{verb} {name}").message)


def pause_subsystem(settings: Settings, target: str) -> str:
    """Stop one of smtpd's agents (mda: local delivery, mta: relaying, smtp: accepting mail)."""
    return _subsystem_command(settings, "pause", target)


def resume_subsystem(settings: Settings, target: str) -> str:
    """Restart one of smtpd's agents paused before."""
    return _subsystem_command(settings, "resume", target)


def schedule_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """queue.schedule: retry envelopes now."""
    return schedule(ctx.settings, target)


def remove_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """queue.remove: remove envelopes for good."""
    return remove(ctx.settings, target)


def pause_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """queue.pause: pause envelopes."""
    return pause_envelopes(ctx.settings, target)


def resume_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """queue.resume: resume paused envelopes."""
    return resume_envelopes(ctx.settings, target)


def pause_subsystem_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """queue.pause_subsystem: pause mda, mta or smtp."""
    return pause_subsystem(ctx.settings, target)


def resume_subsystem_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """queue.resume_subsystem: resume mda, mta or smtp."""
    return resume_subsystem(ctx.settings, target)
