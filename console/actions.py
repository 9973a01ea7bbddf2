"""The one dispatcher every mutating action goes through: declared once, read-only enforced, audited.

Keys, the command palette and the CLI all call `dispatch`. In read-only mode it refuses before any side
effect, with one "refused" JSON line in the audit log. Any other attempt writes (and syncs) a "started"
line before it touches anything, then an "ok" or "failed" line. An attempt whose started line cannot be
written is not run: an unrecorded change is worse than none.

How to declare a new action: add one `Action` to `ACTIONS` below, and nothing else. For example

    Action("program.start", "Start a supervisord program", False, "console.actions:_program_start",
           target="program", cli=Cli("start", "Start a program.", Arg("name")),
           palette="Start {target}", screen="services")

- `name` ("feature.verb"); `description`: one line (palette help, confirmation); `dangerous`: asks
  first; `handler`: "module:function" imported on first use, called (context, target, params), returns
  the outcome's sentence or raises UserError/ActionFailed; `target`: the kind it acts on.
- `cli=Cli(COMMAND, HELP, TARGET_ARG, (ARG, ...))` makes `mailconsole COMMAND`: "start" at the top
  level, "queue retry" in the `queue` group (a click group declared with `cls=ActionGroup`; a group
  that does not exist yet is made). `Arg("name")` is an argument, `Arg("--yes", param="yes",
  flag=("yes", ""))` an option; each `Arg.param` fills that handler parameter. The command dispatches
  and prints the outcome (a JSON object with `--json` when `JSON_OPTION` is among its args);
  `Cli.run="module:function"` gives it a body of its own.
- `palette="Start {target}"`, `screen="services"`: the palette offers it (never in read-only mode) for
  each target that screen's `action_targets(name)` returns; picking one calls its `start_action(name,
  target)` (a form, a dialog, or `app.request_action`, which confirms dangerous ones with `confirm`).
Tests enumerate ACTIONS (read-only refusal, audit, command line, palette): a new one is covered at once.
"""

from __future__ import annotations

import errno
import importlib
import os
import signal as signal_module
import stat
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
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


class Arg:
    """One argument or option of an action's command (in click's terms) and the parameter it fills.

    (A plain class, not a NamedTuple: defining one of those costs start-up time.)
    """

    __slots__ = (
        "decl",
        "dest",
        "param",
        "help",
        "metavar",
        "flag",
        "many",
        "type",
        "default_from",
        "setting",
    )

    def __init__(
        self,
        decl: str,
        dest: str = "",
        *,
        param: str = "",
        help: str = "",
        metavar: str = "",
        flag: tuple[str, str] | None = None,
        many: bool = False,
        type: str = "",
        default_from: str = "",
        setting: str = "",
    ) -> None:
        self.decl = decl
        """`name` for an argument (its usage metavar is NAME), `--long-name` for an option."""
        self.dest = dest
        """The name the command's body knows it by (default: from `decl`), e.g. "as_json"."""
        self.param = param
        """The handler parameter it fills; "" when only the command's body reads it (--json)."""
        self.help = help
        self.metavar = metavar
        self.flag = flag
        """An option without a value: the parameter's value when given and when not ("" leaves it
        out)."""
        self.many = many
        """An argument taking any number of values, passed joined with commas."""
        self.type = type
        """"int", or "dir" (a directory path); default: text."""
        self.default_from = default_from
        """"module:NAME" of the default value (read when the command is built, shown in --help)."""
        self.setting = setting
        """The setting whose value it takes when not given (read when the command runs, so that
        --config and MAILCONSOLE_* count)."""

    @property
    def name(self) -> str:
        """The name the command's body knows the value by."""
        return self.dest or self.decl.lstrip("-").replace("-", "_")


class Cli:
    """How the command line reaches an action: `mailconsole COMMAND TARGET [ARGS]`."""

    __slots__ = ("command", "help", "target", "args", "run", "instead")

    def __init__(
        self,
        command: str,
        help: str,
        target: Arg,
        args: tuple[Arg, ...] = (),
        *,
        run: str = "",
        instead: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.command = command
        """"start" (top level) or "GROUP NAME", e.g. "queue retry"."""
        self.help = help
        self.target = target
        self.args = args
        self.run = run
        """"module:function(settings, action, target, params, options)" run instead of dispatching
        and printing the outcome; `options` holds every argument's value by its `Arg.name`."""
        self.instead = instead
        """(target, action name) pairs: these targets (any case) run that other action instead."""


class Action(NamedTuple):
    """A mutating action: its name, a one-line description, whether it needs confirming, its handler,
    and how the command line and the command palette reach it.

    The handler is a callable or a "module:function" path imported on first use, so declaring every
    action here costs nothing at start-up.
    """

    name: str
    description: str
    dangerous: bool
    handler: Handler | str
    target: str = ""
    """What it acts on ("program", "envelope", "user"...)."""
    cli: Cli | None = None
    palette: str = ""
    """The palette entry's title, "{target}" standing for the target; "" keeps it out of the palette."""
    screen: str = ""
    """The screen that offers it in the palette and starts it from there."""
    confirm: str = ""
    """The question before a dangerous action runs ("{target}"); default: "DESCRIPTION: TARGET?"."""

    def resolve(self) -> Handler:
        """The handler function itself."""
        handler: Handler = resolve_reference(self.handler)
        return handler

    def question(self, target: str) -> str:
        """What to ask before running it on `target`."""
        return (self.confirm or "{description}: {target}?").format(
            description=self.description, target=target
        )


def resolve_reference(reference: Any) -> Any:
    """What a "module:attribute" reference of a declaration (a handler, a CLI body) names, imported on
    first use; anything else as it is."""
    if not isinstance(reference, str):
        return reference
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


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

JSON_OPTION = Arg("--json", "as_json", help="Print JSON.", flag=("", ""))
"""`--json`: the command prints {"action", "target", "message"} as one JSON object."""
_PASSWORD_STDIN = Arg(
    "--password-stdin",
    "from_stdin",
    help="Read the password as one line from stdin.",
    flag=("", ""),
)
LAB_DIR = Arg(
    "--dir",
    "lab_dir",
    help="The lab's directory (a /mail-like tree). Default: the lab_dir setting, which a lab's own "
    "settings file sets to its directory (so `--config DIR/mailconsole.toml` is enough), else "
    "/tmp/mailconsole-lab.",
    type="dir",
    setting="lab_dir",
)
"""`--dir` of the lab commands: given, it wins; not given, the lab_dir setting."""
_QUEUE_TARGET = Arg("target", metavar="ID|MSGID|all")
_QUEUE_OR_AGENT = Arg("target", metavar="ID|MSGID|all|mda|mta|smtp")
_AGENTS = ("mda", "mta", "smtp")


def _program(verb: str, help: str) -> Cli:
    return Cli(verb, help, Arg("name"))


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            "program.start",
            "Start a supervisord program",
            False,
            "console.actions:_program_start",
            target="program",
            cli=_program("start", "Start a program (NAME or group:name)."),
            palette="Start {target}",
            screen="services",
        ),
        Action(
            "program.stop",
            "Stop a supervisord program",
            True,
            "console.actions:_program_stop",
            target="program",
            cli=_program("stop", "Stop a program."),
            palette="Stop {target}",
            screen="services",
        ),
        Action(
            "program.restart",
            "Restart a supervisord program (stop, then start)",
            True,
            "console.actions:_program_restart",
            target="program",
            cli=_program("restart", "Restart a program (its pid changes)."),
            palette="Restart {target}",
            screen="services",
        ),
        Action(
            "program.signal",
            "Send a signal to a supervisord program (HUP reloads)",
            True,
            "console.actions:_program_signal",
            target="program",
            cli=Cli(
                "signal",
                "Send SIGNAL (HUP, USR1, TERM or a number) to a program.",
                Arg("name"),
                (Arg("signal_name", param="signal", metavar="SIGNAL"),),
            ),
            palette="Signal {target}",
            screen="services",
        ),
        Action(
            "fdm.save",
            "Validate and save fdm.conf atomically, keeping a backup",
            True,
            "console.fdm.save:save_handler",
            target="file",
            palette="Rules: save fdm.conf",
            screen="rules",
        ),
        Action(
            "fdm.revert",
            "Put a backup of fdm.conf back (the current file is backed up)",
            True,
            "console.fdm.save:revert_handler",
            target="file",
            palette="Rules: revert to a backup",
            screen="rules",
        ),
        Action(
            "accounts.add_user",
            "Add a mailbox user (userdb, Maildir, addresses, fdm rule)",
            False,
            "console.accounts.changes:add_user_action",
            target="user",
            cli=Cli(
                "accounts add-user",
                "Add mailbox user NAME (userdb, Maildir) with its ADDRESSES (vusers, addrs, fdm "
                "rule).",
                Arg("name"),
                (Arg("addresses", param="addresses", many=True), _PASSWORD_STDIN, JSON_OPTION),
                run="console.accounts.cli:with_password",
            ),
            palette="Accounts: add a user",
            screen="accounts",
        ),
        Action(
            "accounts.passwd",
            "Set a mailbox user's password",
            True,
            "console.accounts.changes:passwd_action",
            target="user",
            cli=Cli(
                "accounts passwd",
                "Set the password of user NAME.",
                Arg("name"),
                (_PASSWORD_STDIN, JSON_OPTION),
                run="console.accounts.cli:with_password",
            ),
            palette="Accounts: set the password of {target}",
            screen="accounts",
        ),
        Action(
            "accounts.del_user",
            "Remove a mailbox user and their addresses (Maildir kept)",
            True,
            "console.accounts.changes:del_user_action",
            target="user",
            cli=Cli(
                "accounts del-user",
                "Remove user NAME and the addresses that reach only them; the Maildir stays.",
                Arg("name"),
                (
                    Arg(
                        "--yes",
                        param="yes",
                        help="Remove the user even when their Maildir holds mail (the Maildir is "
                        "kept either way).",
                        flag=("yes", ""),
                    ),
                    JSON_OPTION,
                ),
            ),
        ),
        Action(
            "accounts.add_address",
            "Accept an address for a user (vusers, addrs, fdm rule)",
            False,
            "console.accounts.changes:add_address_action",
            target="address",
            cli=Cli(
                "accounts add-address",
                "Accept ADDRESS and deliver it to USER's mailbox (an alias when USER has others).",
                Arg("address"),
                (Arg("user", param="user"), JSON_OPTION),
            ),
            palette="Accounts: add an address",
            screen="accounts",
        ),
        Action(
            "accounts.del_address",
            "Stop accepting an address (vusers, addrs)",
            True,
            "console.accounts.changes:del_address_action",
            target="address",
            cli=Cli(
                "accounts del-address", "Stop accepting ADDRESS.", Arg("address"), (JSON_OPTION,)
            ),
        ),
        Action(
            "accounts.add_domain",
            "Accept mail for a domain (vdomains)",
            False,
            "console.accounts.changes:add_domain_action",
            target="domain",
            cli=Cli(
                "accounts add-domain", "Accept mail for DOMAIN.", Arg("domain"), (JSON_OPTION,)
            ),
            palette="Accounts: add a domain",
            screen="accounts",
        ),
        Action(
            "accounts.del_domain",
            "Stop accepting a domain (vdomains; it must have no address left)",
            True,
            "console.accounts.changes:del_domain_action",
            target="domain",
            cli=Cli(
                "accounts del-domain",
                "Stop accepting DOMAIN (remove its addresses first).",
                Arg("domain"),
                (JSON_OPTION,),
            ),
        ),
        Action(
            "queue.schedule",
            "Retry queued envelopes now (an envelope, a message or all)",
            False,
            "console.queue.actions:schedule_action",
            target="envelope",
            cli=Cli(
                "queue retry",
                "Retry now (smtpctl schedule) an envelope, a message or all.",
                _QUEUE_TARGET,
            ),
            palette="Queue: retry {target} now",
            screen="queue",
        ),
        Action(
            "queue.remove",
            "Remove queued envelopes for good (an envelope, a message or all)",
            True,
            "console.queue.actions:remove_action",
            target="envelope",
            cli=Cli(
                "queue remove",
                "Remove an envelope, a message or all from the queue, for good.",
                _QUEUE_TARGET,
            ),
        ),
        Action(
            "queue.pause",
            "Pause queued envelopes (an envelope, a message or all)",
            False,
            "console.queue.actions:pause_action",
            target="envelope",
            cli=Cli(
                "queue pause",
                "Pause envelopes (an id, a message id or all), or one of smtpd's agents (mda, mta, "
                "smtp).",
                _QUEUE_OR_AGENT,
                instead=tuple((agent, "queue.pause_subsystem") for agent in _AGENTS),
            ),
        ),
        Action(
            "queue.resume",
            "Resume paused envelopes (an envelope, a message or all)",
            False,
            "console.queue.actions:resume_action",
            target="envelope",
            cli=Cli(
                "queue resume",
                "Resume paused envelopes, or one of smtpd's agents (mda, mta, smtp).",
                _QUEUE_OR_AGENT,
                instead=tuple((agent, "queue.resume_subsystem") for agent in _AGENTS),
            ),
        ),
        Action(
            "queue.pause_subsystem",
            "Pause an smtpd agent: mda, mta or smtp",
            True,
            "console.queue.actions:pause_subsystem_action",
            target="agent",
            palette="Queue: pause {target}",
            screen="queue",
        ),
        Action(
            "queue.resume_subsystem",
            "Resume an smtpd agent: mda, mta or smtp",
            False,
            "console.queue.actions:resume_subsystem_action",
            target="agent",
            palette="Queue: resume {target}",
            screen="queue",
        ),
        Action(
            "lab.send",
            "Send test messages into the lab's smtpd (a local user, unreachable.test, "
            "permfail.test)",
            False,
            "console.lab.send:send_action",
            target="directory",
            cli=Cli(
                "lab send",
                "Put mail in the lab's queue: a message to a local user (delivered), to "
                "unreachable.test (stays queued) and to permfail.test (bounces). Audited, refused "
                "when read-only.",
                LAB_DIR,
                run="console.lab.cli:send",
            ),
        ),
        Action(
            "job.run",
            "Run a maintenance job now (get_certs, freshclam, sa-update), then its follow-ups",
            True,
            "console.jobs.runner:run_action",
            target="job",
            cli=Cli(
                "run",
                "Run maintenance job NAME now (see `mailconsole jobs`), streaming its output.",
                Arg("name"),
                (
                    Arg(
                        "--json",
                        "as_json",
                        help="Print the run's record as JSON, not its output.",
                        flag=("", ""),
                    ),
                ),
                run="console.jobs.cli:run",
            ),
            palette="Run job {target}",
            screen="jobs",
        ),
        Action(
            "mailbox.probe",
            "Send a probe message to an address and follow it through every hop to its folder",
            False,
            "console.mailbox.probe:probe_action",
            target="address",
            cli=Cli(
                "probe",
                "Send a probe to ADDRESS and follow it: accepted, each filter, fdm, the IMAP folder. "
                "The folder is predicted first (smtpd.conf's filters, fdm.conf's rules); the probe is "
                "found over IMAP by its Message-ID and removed unless --keep. Exit 0 as predicted, 1 "
                "otherwise, 3 when read-only.",
                Arg("address"),
                (
                    Arg(
                        "--via",
                        param="via",
                        metavar="HOST:PORT",
                        help="The SMTP listener to send to (default: the smtp_address setting).",
                    ),
                    Arg(
                        "--kind",
                        param="kind",
                        metavar="clean|spam|virus",
                        help="spam carries GTUBE (SpamAssassin should flag it), virus EICAR "
                        "(ClamAV should stop it).",
                        default_from="console.mailbox.probe:DEFAULT_KIND",
                    ),
                    Arg(
                        "--timeout",
                        param="timeout",
                        metavar="S",
                        help="Seconds to follow the probe before saying where it stopped. "
                        "Default: 30, or 90 when the predicted path goes through a content filter "
                        "(spampd and clamsmtpd take seconds per message under load).",
                    ),
                    Arg(
                        "--keep",
                        param="keep",
                        help="Leave the probe in its folder.",
                        flag=("yes", "no"),
                    ),
                    Arg(
                        "--json",
                        "as_json",
                        help="Print the prediction, the hops and the verdict as JSON.",
                        flag=("", ""),
                    ),
                ),
                run="console.mailbox.probe_cli:run",
            ),
        ),
        Action(
            "lab.up",
            "Bring the lab (the article's stack on 127.0.0.1) up in a directory",
            False,
            "console.lab.actions:up_action",
            target="directory",
            cli=Cli(
                "lab up",
                "Render config_samples into DIR and start the stack under supervisord (needs root).",
                LAB_DIR,
                (
                    Arg(
                        "--filters",
                        param="filters",
                        help="Also run clamd, clamsmtpd and spampd in the filter chain.",
                        flag=("yes", "no"),
                    ),
                    Arg(
                        "--port-base",
                        param="port_base",
                        help="First of the 16 127.0.0.1 ports the lab listens on.",
                        type="int",
                        default_from="console.lab.render:DEFAULT_PORT_BASE",
                    ),
                ),
                run="console.lab.cli:up",
            ),
        ),
        Action(
            "lab.down",
            "Stop every process of the lab in a directory",
            True,
            "console.lab.actions:down_action",
            target="directory",
            cli=Cli(
                "lab down",
                "Stop every process of the lab in DIR (the files stay for a look afterwards).",
                LAB_DIR,
            ),
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

    def __init__(self, fd: int, reader: int | None = None) -> None:
        self.fd = fd
        self.reader = reader
        """The same file opened for reading (a regular file only), to see how it ends."""

    def __enter__(self) -> _AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)
        if self.reader is not None:
            os.close(self.reader)

    def _ends_mid_line(self) -> bool:
        """True when the log does not end with a newline: a write was cut short (a full disk)."""
        if self.reader is None:
            return False
        size = os.fstat(self.reader).st_size
        return size > 0 and os.pread(self.reader, 1, size - 1) != b"\n"

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
        if self._ends_mid_line():
            line = (
                b"\n" + line
            )  # the cut line stays alone on its line, and this one whole on its own
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
    """Open the audit log for appending, or fail with one sentence before anything is done (a
    symbolic link another user than root made there is refused: see console.files.followed)."""
    from console.files import followed  # here: the console's start-up does without it

    try:
        path = followed(settings.audit_log)
    except ActionFailed as exc:
        raise ActionFailed(f"the audit log {exc}; nothing was done") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    except OSError as exc:
        raise ActionFailed(
            f"cannot write the audit log {settings.audit_log} ({exc.strerror}); nothing was done"
        ) from None
    reader = None
    if stat.S_ISREG(os.fstat(fd).st_mode):
        with suppress(OSError):  # not readable: records are appended without looking at the end
            reader = os.open(path, os.O_RDONLY)
    return _AuditLog(fd, reader)
