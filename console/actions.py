"""The one dispatcher every mutating action goes through: declared once, read-only enforced, audited.

Keys, the command palette and the CLI all call `dispatch`. In read-only mode it refuses before any side
effect, with one "refused" JSON line in the audit log. Any other attempt writes (and syncs) a "started"
line before it touches anything, then an "ok" or "failed" line. An attempt whose started line cannot be
written is not run: an unrecorded change is worse than none.
"""

from __future__ import annotations

import errno
import importlib
import os
import signal as signal_module
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, NamedTuple

from console.errors import ActionFailed, AuditIncomplete, ReadOnlyRefused, UserError
from console.settings import Settings


class ActionContext:
    """What a handler may use: the settings, lazily made clients (one per context), and `progress`,
    which shows a long action's steps as they happen (the CLI prints them; the default drops them)."""

    def __init__(self, settings: Settings, progress: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.progress: Callable[[str], None] = progress or (lambda _step: None)
        self._supervisor: Any = None
        self._lock = threading.Lock()

    @property
    def supervisor(self) -> Any:
        """The supervisord client (console.supervisor.client.SupervisorClient)."""
        with self._lock:
            if self._supervisor is None:
                from console.supervisor.client import client_for

                self._supervisor = client_for(self.settings)
            return self._supervisor


Handler = Callable[[ActionContext, str, Mapping[str, str]], str]


class Action(NamedTuple):
    """A mutating action: its name, a one-line description, whether it needs confirming, its handler.

    The handler is a callable or a "module:function" path imported on first use, so declaring every
    action here costs nothing at start-up.
    """

    name: str
    description: str
    dangerous: bool
    handler: Handler | str

    def resolve(self) -> Handler:
        """The handler function itself."""
        if not isinstance(self.handler, str):
            return self.handler
        module_name, _, function = self.handler.partition(":")
        handler: Handler = getattr(importlib.import_module(module_name), function)
        return handler


# --------------------------------------------------------------------------- handlers


def _program_start(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    program = ctx.supervisor.start(target)
    return f"{target} started (pid {program.pid})."


def _program_stop(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    program = ctx.supervisor.stop(target)
    return f"{target} stopped ({program.state.lower()})."


def _program_restart(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    program = ctx.supervisor.restart(target)
    return f"{target} restarted (pid {program.pid})."


def normalise_signal(raw: str) -> str:
    """`hup`, `SIGHUP` or `1` -> `HUP`; anything else is one sentence."""
    value = raw.strip().upper()
    if value.startswith("SIG"):
        value = value[3:]
    if value.isdigit():
        try:
            return signal_module.Signals(int(value)).name[3:]
        except ValueError:
            raise ActionFailed(f"{raw!r} is not a signal number") from None
    if not value or not hasattr(signal_module, "SIG" + value):
        raise ActionFailed(f"{raw!r} is not a signal name (try HUP, TERM, USR1)")
    return value


def _program_signal(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    sig = normalise_signal(params.get("signal", "HUP"))
    program = ctx.supervisor.signal(target, sig)
    return f"SIG{sig} sent to {target} (pid {program.pid})."


# --------------------------------------------------------------------------- the registry

ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            "program.start", "Start a supervisord program", False, "console.actions:_program_start"
        ),
        Action("program.stop", "Stop a supervisord program", True, "console.actions:_program_stop"),
        Action(
            "program.restart",
            "Restart a supervisord program (stop, then start)",
            True,
            "console.actions:_program_restart",
        ),
        Action(
            "program.signal",
            "Send a signal to a supervisord program (HUP reloads)",
            True,
            "console.actions:_program_signal",
        ),
        Action(
            "fdm.save",
            "Validate and save fdm.conf atomically, keeping a backup",
            True,
            "console.fdm.save:save_handler",
        ),
        Action(
            "fdm.revert",
            "Put a backup of fdm.conf back (the current file is backed up)",
            True,
            "console.fdm.save:revert_handler",
        ),
        Action(
            "accounts.add_user",
            "Add a mailbox user (userdb, Maildir, addresses, fdm rule)",
            False,
            "console.accounts.changes:add_user_action",
        ),
        Action(
            "accounts.passwd",
            "Set a mailbox user's password",
            True,
            "console.accounts.changes:passwd_action",
        ),
        Action(
            "accounts.del_user",
            "Remove a mailbox user and their addresses (Maildir kept)",
            True,
            "console.accounts.changes:del_user_action",
        ),
        Action(
            "accounts.add_address",
            "Accept an address for a user (vusers, addrs, fdm rule)",
            False,
            "console.accounts.changes:add_address_action",
        ),
        Action(
            "accounts.del_address",
            "Stop accepting an address (vusers, addrs)",
            True,
            "console.accounts.changes:del_address_action",
        ),
        Action(
            "accounts.add_domain",
            "Accept mail for a domain (vdomains)",
            False,
            "console.accounts.changes:add_domain_action",
        ),
        Action(
            "accounts.del_domain",
            "Stop accepting a domain (vdomains; it must have no address left)",
            True,
            "console.accounts.changes:del_domain_action",
        ),
        Action(
            "queue.schedule",
            "Retry queued envelopes now (an envelope, a message or all)",
            False,
            "console.queue.actions:schedule_action",
        ),
        Action(
            "queue.remove",
            "Remove queued envelopes for good (an envelope, a message or all)",
            True,
            "console.queue.actions:remove_action",
        ),
        Action(
            "queue.pause",
            "Pause queued envelopes (an envelope, a message or all)",
            False,
            "console.queue.actions:pause_action",
        ),
        Action(
            "queue.resume",
            "Resume paused envelopes (an envelope, a message or all)",
            False,
            "console.queue.actions:resume_action",
        ),
        Action(
            "queue.pause_subsystem",
            "Pause an smtpd agent: mda, mta or smtp",
            True,
            "console.queue.actions:pause_subsystem_action",
        ),
        Action(
            "queue.resume_subsystem",
            "Resume an smtpd agent: mda, mta or smtp",
            False,
            "console.queue.actions:resume_subsystem_action",
        ),
        Action(
            "lab.send",
            "Send test messages into the lab's smtpd (a local user, unreachable.test, "
            "permfail.test)",
            False,
            "console.lab.send:send_action",
        ),
        Action(
            "job.run",
            "Run a maintenance job now (get_certs, freshclam, sa-update), then its follow-ups",
            True,
            "console.jobs.runner:run_action",
        ),
        Action(
            "mailbox.probe",
            "Send a probe message to an address and follow it through every hop to its folder",
            False,
            "console.mailbox.probe:probe_action",
        ),
        Action(
            "lab.up",
            "Bring the lab (the article's stack on 127.0.0.1) up in a directory",
            False,
            "console.lab.actions:up_action",
        ),
        Action(
            "lab.down",
            "Stop every process of the lab in a directory",
            True,
            "console.lab.actions:down_action",
        ),
    )
}


# --------------------------------------------------------------------------- the dispatcher


def dispatch(
    settings: Settings,
    name: str,
    target: str,
    params: Mapping[str, str] | None = None,
    *,
    context: ActionContext | None = None,
) -> str:
    """Run a registered action: refuse it when read-only, audit every attempt, return the outcome.

    Raises ReadOnlyRefused (exit 3), ActionFailed / UserError (exit 1) with one sentence, and
    AuditIncomplete (exit 1) when the action ran but its outcome line could not be written.
    """
    params = dict(params or {})
    action = ACTIONS.get(name)
    if action is None:
        raise UserError(f"there is no action named {name!r}")
    started = time.monotonic()
    if settings.read_only:
        try:
            with _open_audit(settings) as audit:
                audit.write(settings, name, target, params, "refused", "read-only mode", started)
        except (ActionFailed, OSError):
            pass  # refused either way; an on-call user may not be able to write the audit log
        raise ReadOnlyRefused(f"refused: mailconsole is read-only ({name} {target})")
    with _open_audit(settings) as audit:
        # The intent line is on disk before anything is touched: no audit line, no action.
        try:
            audit.write(settings, name, target, params, "started", "", started, sync=True)
        except OSError as exc:
            raise ActionFailed(
                f"cannot write the audit log {settings.audit_log} ({exc.strerror}); nothing was done"
            ) from None
        ctx = context or ActionContext(settings)
        try:
            message = action.resolve()(ctx, target, params)
        except UserError as exc:
            _conclude(audit, settings, name, target, params, "failed", str(exc), started, exc)
            raise
        except Exception as exc:  # noqa: BLE001 - a handler bug is reported and audited, never a crash
            failure = ActionFailed(f"{name} on {target} failed unexpectedly: {exc}")
            _conclude(audit, settings, name, target, params, "failed", repr(exc), started, failure)
            raise failure from exc
        _conclude(audit, settings, name, target, params, "ok", message, started, None)
        return message


def _conclude(
    audit: _AuditLog,
    settings: Settings,
    name: str,
    target: str,
    params: Mapping[str, str],
    outcome: str,
    message: str,
    started: float,
    error: UserError | None,
) -> None:
    """Write an attempt's outcome line. When it cannot be written, the action has happened anyway
    (its intent line records the attempt): say both in one sentence rather than crash."""
    try:
        audit.write(settings, name, target, params, outcome, message, started)
    except OSError as exc:
        unrecorded = (
            f"the outcome could not be written to the audit log {settings.audit_log} "
            f"({exc.strerror}); only the attempt is recorded"
        )
        if error is None:
            raise AuditIncomplete(f"{message} But {unrecorded}.") from None
        raise type(error)(f"{error}; {unrecorded}", error.exit_code) from None


def offered_actions(settings: Settings) -> list[Action]:
    """The actions to offer in keys, help and palette: none at all in read-only mode."""
    return [] if settings.read_only else list(ACTIONS.values())


class _AuditLog:
    """An open audit log: each record one JSON line, written with a single append."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> _AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def write(
        self,
        settings: Settings,
        name: str,
        target: str,
        params: Mapping[str, str],
        outcome: str,
        message: str,
        started: float,
        sync: bool = False,
    ) -> None:
        """Append one record (time, operator, action, target, outcome, duration, refused) with a single
        write; `sync` also forces it to the disk. Raises OSError when the line is not written whole."""
        elapsed = 0.0 if outcome == "started" else round((time.monotonic() - started) * 1000, 1)
        record = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "operator": settings.resolved_operator(),
            "action": name,
            "target": target,
            "params": {
                key: SECRET if key in SECRET_PARAMS else _audit_value(value)
                for key, value in params.items()
            },
            "outcome": outcome,
            "message": message,
            "duration_ms": elapsed,
            "refused": outcome == "refused",
        }
        import json  # here, not at the top: the console's start-up does without it

        # A name from the command line may hold undecodable bytes (lone surrogates): JSON's own
        # \udcff escape keeps the line readable and the record faithful.
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
        if os.write(self.fd, line) != len(line):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if sync:
            try:
                os.fsync(self.fd)
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # a device that cannot sync (e.g. a terminal) is fine
                    raise


AUDIT_VALUE_MAX = 200
SECRET_PARAMS = frozenset({"password"})
"""Parameters whose value never reaches the audit log (only that one was given)."""
SECRET = "<not recorded>"


def _audit_value(value: str) -> str:
    """A parameter as the audit log keeps it: long ones (a whole fdm.conf) by size and hash."""
    if len(value) <= AUDIT_VALUE_MAX:
        return value
    import hashlib  # only for long parameters; kept off the console's start-up

    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"<{len(value)} characters, sha256 {digest}>"


def _open_audit(settings: Settings) -> _AuditLog:
    """Open the audit log for appending, or fail with one sentence before anything is done."""
    try:
        settings.audit_log.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(settings.audit_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    except OSError as exc:
        raise ActionFailed(
            f"cannot write the audit log {settings.audit_log} ({exc.strerror}); nothing was done"
        ) from None
    return _AuditLog(fd)
