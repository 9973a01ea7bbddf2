"""The dispatcher's audit records, field by field, and what happens when the audit log fails part way.

The faults are real: a file-size limit (RLIMIT_FSIZE, as a quota or a nearly full disk) makes the
kernel shorten the audit write; a named pipe whose reader went away refuses the outcome line;
/dev/null cannot be synced. The supervisord is a real one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from console import actions
from console.actions import ACTIONS, Action, ActionContext, dispatch, normalise_signal
from console.errors import ActionFailed, AuditIncomplete, ConfigError, ReadOnlyRefused, UserError
from console.settings import Settings
from console.supervisor.client import SupervisorClient
from tests.helpers import planted_link


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(audit_log=tmp_path / "audit.log", operator="alice", **kw)


def install(monkeypatch: pytest.MonkeyPatch, **handlers: Any) -> None:
    """Register test actions `t.NAME` with these handlers in place of the real registry."""
    monkeypatch.setattr(
        actions,
        "ACTIONS",
        {
            f"t.{name}": Action(f"t.{name}", name, False, handler)
            for name, handler in handlers.items()
        },
    )


def test_every_field_of_the_started_and_outcome_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[tuple[str, dict[str, str]]] = []

    def handler(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
        received.append((target, dict(params)))
        end = time.monotonic() + 0.002  # the action takes at least 2 ms of the monotonic clock
        while time.monotonic() < end:
            pass
        return "done."

    install(monkeypatch, work=handler)
    s = settings(tmp_path)
    before = time.monotonic()
    assert dispatch(s, "t.work", "café", {"signal": "HUP"}) == "done."
    elapsed_ms = (time.monotonic() - before) * 1000
    assert received == [("café", {"signal": "HUP"})]
    assert "café" in s.audit_log.read_text(encoding="utf-8")  # as written, not as \u00e9
    started, outcome = audit_lines(s.audit_log)
    for record in (started, outcome):
        assert set(record) == {
            "time",
            "operator",
            "action",
            "target",
            "params",
            "outcome",
            "message",
            "duration_ms",
            "refused",
        }
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", record["time"])
        assert datetime.fromisoformat(record["time"]).utcoffset() == timedelta(0)
        assert (record["operator"], record["action"], record["target"]) == (
            "alice",
            "t.work",
            "café",
        )
        assert record["params"] == {"signal": "HUP"} and record["refused"] is False
    assert (started["outcome"], started["message"], started["duration_ms"]) == ("started", "", 0.0)
    assert (outcome["outcome"], outcome["message"]) == ("ok", "done.")
    assert 2.0 <= outcome["duration_ms"] <= elapsed_ms
    assert round(outcome["duration_ms"], 1) == outcome["duration_ms"]


def test_failed_attempts_record_the_target_and_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
        raise ActionFailed(f"{target} is not running")

    def buggy(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
        raise ZeroDivisionError("oops")

    install(monkeypatch, fail=failing, bug=buggy)
    s = settings(tmp_path)
    with pytest.raises(ActionFailed):
        dispatch(s, "t.fail", "dovecot")
    with pytest.raises(ActionFailed):
        dispatch(s, "t.bug", "smtpd")
    records = audit_lines(s.audit_log)
    assert [(r["target"], r["outcome"], r["message"]) for r in records] == [
        ("dovecot", "started", ""),
        ("dovecot", "failed", "dovecot is not running"),
        ("smtpd", "started", ""),
        ("smtpd", "failed", "ZeroDivisionError('oops')"),
    ]


def test_a_refusal_is_recorded_with_its_reason(tmp_path: Path) -> None:
    s = settings(tmp_path, read_only=True)
    with pytest.raises(ReadOnlyRefused) as caught:
        dispatch(s, "program.stop", "dovecot")
    assert str(caught.value) == "refused: mailconsole is read-only (program.stop dovecot)"
    [record] = audit_lines(s.audit_log)
    assert (record["outcome"], record["message"], record["refused"]) == (
        "refused",
        "read-only mode",
        True,
    )


def test_read_only_with_an_unwritable_audit_log_refuses_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An on-call user who cannot write the audit log still gets the plain refusal (exit 3)."""
    ran: list[str] = []
    install(monkeypatch, work=lambda ctx, target, params: ran.append(target) or "done.")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    for audit_log in (blocker / "audit.log", Path("/dev/full")):
        s = Settings(audit_log=audit_log, read_only=True)
        with pytest.raises(ReadOnlyRefused) as caught:
            dispatch(s, "t.work", "dovecot")
        assert caught.value.exit_code == 3
    assert ran == []


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a link to another user needs root")
def test_an_audit_log_linked_by_another_user_is_refused_and_nothing_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever may write the log directory (here user 1234) makes the audit log a link to another
    file: root must not append to that file, and the action is not run; read-only still refuses."""
    ran: list[str] = []
    install(monkeypatch, work=lambda ctx, target, params: ran.append(target) or "done.")
    victim = tmp_path / "shadow"
    audit_log = tmp_path / "audit.log"
    planted_link(audit_log, victim)
    with pytest.raises(
        ActionFailed, match="^the audit log .* owned by user id 1234.*nothing was done$"
    ):
        dispatch(Settings(audit_log=audit_log), "t.work", "dovecot")
    with pytest.raises(ReadOnlyRefused):
        dispatch(Settings(audit_log=audit_log, read_only=True), "t.work", "dovecot")
    assert ran == [] and victim.read_text() == "secret\n"
    # The same link made by root (the administrator's choice) is followed.
    os.chown(audit_log, 0, 0, follow_symlinks=False)
    dispatch(Settings(audit_log=audit_log), "t.work", "dovecot")
    assert ran == ["dovecot"]
    assert victim.read_text().startswith("secret\n{")


def test_the_started_line_is_synced_before_the_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bytes] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(Path(f"/proc/self/fd/{fd}").read_bytes())
        real_fsync(fd)

    seen_at_handler: list[int] = []
    install(
        monkeypatch, work=lambda ctx, target, params: seen_at_handler.append(len(synced)) or "ok."
    )
    monkeypatch.setattr(os, "fsync", fsync)
    s = settings(tmp_path)
    dispatch(s, "t.work", "dovecot")
    assert seen_at_handler == [1]
    assert json.loads(synced[0])["outcome"] == "started"
    assert len(synced) == 1  # the outcome line is not worth a second wait for the disk


def test_an_audit_log_that_cannot_be_synced_is_still_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """/dev/null accepts writes and refuses fsync (EINVAL), like a pipe or a terminal."""
    ran: list[str] = []
    install(monkeypatch, work=lambda ctx, target, params: ran.append(target) or "done.")
    assert dispatch(Settings(audit_log=Path("/dev/null")), "t.work", "dovecot") == "done."
    assert ran == ["dovecot"]


SHORT_WRITE = """
import resource, signal, sys
from pathlib import Path
from console import actions
from console.actions import Action, dispatch
from console.errors import UserError
from console.settings import Settings

ran = []
actions.ACTIONS = {"t.work": Action("t.work", "work", False, lambda c, t, p: ran.append(t) or "ok.")}
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (10, resource.RLIM_INFINITY))
try:
    dispatch(Settings(audit_log=Path(sys.argv[1])), "t.work", "dovecot")
except UserError as exc:
    print(type(exc).__name__, exc, ran)
"""


def test_a_short_write_of_the_started_line_means_no_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past a file-size limit (as on a quota or a nearly full disk) the kernel writes only part of
    the line. Run in a child process so that the limit touches no file of the test run; without the
    limit the same action runs here and is audited."""
    install(monkeypatch, work=lambda ctx, target, params: "ok.")
    assert dispatch(settings(tmp_path), "t.work", "dovecot") == "ok."
    audit_log = tmp_path / "limited" / "audit.log"
    package_root = (
        Path(actions.__file__).resolve().parents[1]
    )  # the tree under test, mutated or not
    result = subprocess.run(
        [sys.executable, "-c", SHORT_WRITE, str(audit_log)],
        cwd=package_root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout == (
        f"ActionFailed cannot write the audit log {audit_log} (No space left "
        "on device); nothing was done []\n"
    ), result.stderr
    fragment = audit_log.read_bytes()
    assert len(fragment) == 10 and not fragment.endswith(b"\n")  # what the kernel wrote
    assert dispatch(Settings(audit_log=audit_log, operator="alice"), "t.work", "dovecot") == "ok."
    first, *records = audit_log.read_bytes().splitlines()
    assert first == fragment
    assert [json.loads(r)["outcome"] for r in records] == ["started", "ok"]


@pytest.mark.parametrize("ending", ["mid-line", "one byte", "a whole line", "empty"])
def test_each_record_starts_on_a_line_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    """A log left ending mid-line (a write cut short by a full disk, here or by another console)
    gets the next record on a new line; a well-formed log gets no empty line."""
    before = {
        "mid-line": b'{"time": "2026-12-03T10:00:00.000+00:00", "oper',
        "one byte": b"{",
        "a whole line": b'{"note": "a record"}\n',
        "empty": b"",
    }[ending]
    s = settings(tmp_path)
    s.audit_log.write_bytes(before)
    install(monkeypatch, work=lambda ctx, target, params: "ok.")
    assert dispatch(s, "t.work", "dovecot") == "ok."
    written = s.audit_log.read_bytes()
    assert written.startswith(before)
    after = written[len(before) :]
    assert after.startswith(b"\n") is (ending in ("mid-line", "one byte"))
    assert [json.loads(r)["outcome"] for r in after.splitlines() if r] == ["started", "ok"]
    assert written.endswith(b"\n") and b"\n\n" not in written


def test_a_pipe_gets_one_record_a_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log that is not a file (a pipe to a log collector) cannot be read back: records go as they
    are, each on its own line."""
    audit_log = tmp_path / "audit.pipe"
    os.mkfifo(audit_log)
    reader = os.open(audit_log, os.O_RDONLY | os.O_NONBLOCK)
    try:
        install(monkeypatch, work=lambda ctx, target, params: "ok.")
        assert dispatch(Settings(audit_log=audit_log, operator="alice"), "t.work", "x") == "ok."
        data = os.read(reader, 65536)
    finally:
        os.close(reader)
    assert data.startswith(b"{") and data.endswith(b"}\n") and data.count(b"\n") == 2
    assert [json.loads(r)["outcome"] for r in data.splitlines()] == ["started", "ok"]


def outcome_unwritable(tmp_path: Path) -> tuple[Settings, list[dict[str, Any]], Any]:
    """Settings whose audit log is a named pipe, and a wrapper for handlers: the reader takes the
    started line, then goes away (as a dead log collector would), so the outcome cannot be written."""
    audit_log = tmp_path / "audit.pipe"
    os.mkfifo(audit_log)
    reader = os.open(audit_log, os.O_RDONLY | os.O_NONBLOCK)
    started: list[dict[str, Any]] = []

    def wrap(handler: Any) -> Any:
        def reader_gone(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
            started.append(json.loads(os.read(reader, 65536)))
            os.close(reader)
            return handler(ctx, target, params)

        return reader_gone

    return Settings(audit_log=audit_log, operator="alice"), started, wrap


def test_an_action_done_without_its_outcome_line_says_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, started, wrap = outcome_unwritable(tmp_path)
    install(monkeypatch, work=wrap(lambda ctx, target, params: "dovecot restarted."))
    with pytest.raises(AuditIncomplete) as caught:
        dispatch(s, "t.work", "dovecot")
    assert str(caught.value) == (
        f"dovecot restarted. But the outcome could not be written to the audit log {s.audit_log} "
        "(Broken pipe); only the attempt is recorded."
    )
    assert caught.value.exit_code == 1
    assert [(r["target"], r["outcome"]) for r in started] == [("dovecot", "started")]


@pytest.mark.parametrize("kind", ["config", "partly", "bug"])
def test_a_failed_action_without_its_outcome_line_keeps_its_error_and_exit_code(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bad_config(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
        raise ConfigError("no such program")

    def partly(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
        raise UserError("2 of 3 envelopes removed", 4)

    def buggy(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
        raise ZeroDivisionError("oops")

    s, started, wrap = outcome_unwritable(tmp_path)
    install(monkeypatch, config=wrap(bad_config), partly=wrap(partly), bug=wrap(buggy))
    unrecorded = (
        f"the outcome could not be written to the audit log {s.audit_log} "
        "(Broken pipe); only the attempt is recorded"
    )
    with pytest.raises(UserError) as caught:
        dispatch(s, f"t.{kind}", "smtpd")
    if kind == "config":
        assert type(caught.value) is ConfigError and caught.value.exit_code == 2
        assert str(caught.value) == f"no such program; {unrecorded}"
    elif kind == "partly":
        assert type(caught.value) is UserError and caught.value.exit_code == 4
        assert str(caught.value) == f"2 of 3 envelopes removed; {unrecorded}"
    else:
        assert type(caught.value) is ActionFailed and caught.value.exit_code == 1
        assert str(caught.value) == f"t.bug on smtpd failed unexpectedly: oops; {unrecorded}"
    assert [(r["target"], r["outcome"]) for r in started] == [("smtpd", "started")]


def test_an_undecodable_name_is_audited_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command-line argument with bytes that are not UTF-8 arrives with lone surrogates."""
    install(monkeypatch, work=lambda ctx, target, params: "done.")
    s = settings(tmp_path)
    assert dispatch(s, "t.work", "bad\udcffname", {"note": "\udcfe"}) == "done."
    started, outcome = audit_lines(s.audit_log)
    assert started["target"] == outcome["target"] == "bad\udcffname"
    assert outcome["params"] == {"note": "\udcfe"}


def test_passwords_never_reach_the_audit_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        actions,
        "ACTIONS",
        {"t.passwd": Action("t.passwd", "passwd", True, lambda ctx, target, params: "set.")},
    )
    s = settings(tmp_path)
    dispatch(s, "t.passwd", "alice@example.org", {"password": "hunter2", "scheme": "SHA512-CRYPT"})
    assert "hunter2" not in s.audit_log.read_text()
    for record in audit_lines(s.audit_log):
        assert record["params"] == {"password": "<not recorded>", "scheme": "SHA512-CRYPT"}


def test_parameters_up_to_200_characters_are_kept_and_longer_ones_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch, work=lambda ctx, target, params: "done.")
    s = settings(tmp_path)
    kept, hashed, odd = "k" * 200, "h" * 201, "\udcff" * 201
    dispatch(s, "t.work", "x", {"kept": kept, "hashed": hashed, "odd": odd})
    params = audit_lines(s.audit_log)[-1]["params"]
    assert params["kept"] == kept
    assert (
        params["hashed"]
        == f"<201 characters, sha256 {hashlib.sha256(hashed.encode()).hexdigest()}>"
    )
    odd_digest = hashlib.sha256(odd.encode("utf-8", "surrogatepass")).hexdigest()
    assert params["odd"] == f"<201 characters, sha256 {odd_digest}>"


def test_the_audit_log_and_its_directories_are_created_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch, work=lambda ctx, target, params: "done.")
    audit_log = tmp_path / "var" / "log" / "mailconsole" / "audit.log"
    umask = os.umask(0o022)
    try:
        dispatch(Settings(audit_log=audit_log), "t.work", "x")
    finally:
        os.umask(umask)
    assert audit_log.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(
    "raw, message",
    [
        ("999", "'999' is not a signal number"),
        ("BOGUS", "'BOGUS' is not a signal name (try HUP, TERM, USR1)"),
        ("SIG", "'SIG' is not a signal name (try HUP, TERM, USR1)"),
    ],
)
def test_bad_signals_are_one_sentence(raw: str, message: str) -> None:
    with pytest.raises(ActionFailed) as caught:
        normalise_signal(raw)
    assert str(caught.value) == message


def test_the_context_makes_one_supervisor_client(tmp_path: Path) -> None:
    ctx = ActionContext(settings(tmp_path, supervisor_url="unix:///nonexistent/supervisor.sock"))
    client = ctx.supervisor
    assert isinstance(client, SupervisorClient)
    assert ctx.supervisor is client


def test_program_actions_on_a_real_supervisord(supervisord: Any) -> None:
    s = supervisord.settings()
    client = supervisord.client()

    def pid(name: str) -> int:
        return next(p.pid for p in client.snapshot().programs if p.name == name)

    assert dispatch(s, "program.stop", "sleeper") == "sleeper stopped (stopped)."
    assert dispatch(s, "program.start", "sleeper") == f"sleeper started (pid {pid('sleeper')})."
    old = pid("sleeper")
    message = dispatch(s, "program.restart", "sleeper")
    assert message == f"sleeper restarted (pid {pid('sleeper')})." and pid("sleeper") != old
    assert dispatch(s, "program.signal", "ticker", {"signal": "hup"}) == (
        f"SIGHUP sent to ticker (pid {pid('ticker')})."
    )
    assert (
        dispatch(s, "program.signal", "ticker") == f"SIGHUP sent to ticker (pid {pid('ticker')})."
    )
    assert dispatch(s, "program.signal", "ticker", {"signal": "USR1"}).startswith("SIGUSR1 sent")
    with pytest.raises(UserError):
        dispatch(s, "program.start", "no-such-program")
    assert [r["action"] for r in audit_lines(s.audit_log) if r["outcome"] == "ok"] == [
        "program.stop",
        "program.start",
        "program.restart",
        "program.signal",
        "program.signal",
        "program.signal",
    ]


def test_every_registered_handler_path_names_a_function() -> None:
    for action in ACTIONS.values():
        assert isinstance(action.handler, str) and action.handler.count(":") == 1, action.name
        assert callable(action.resolve())
