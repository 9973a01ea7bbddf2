"""The one dispatcher: every registered action is refused in read-only mode with no side effect,
and every attempt (done, failed, refused) is one audit line."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from console import actions
from console.actions import ACTIONS, ActionContext, dispatch, normalise_signal, offered_actions
from console.errors import ActionFailed, ReadOnlyRefused, UserError
from console.settings import Settings


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Replace every handler with a recorder: a call here would be the side effect."""
    calls: list[tuple[str, str]] = []

    def recorder(name: str) -> Any:
        def handler(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
            calls.append((name, target))
            return f"{name} done"

        return handler

    patched = {n: a._replace(handler=recorder(n)) for n, a in ACTIONS.items()}
    monkeypatch.setattr(actions, "ACTIONS", patched)
    return calls


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(audit_log=tmp_path / "audit.log", operator="alice", **kw)


def test_registry_is_declared_once_with_descriptions() -> None:
    assert ACTIONS, "no actions registered"
    for name, action in ACTIONS.items():
        assert action.name == name
        assert action.description and "\n" not in action.description
        assert isinstance(action.dangerous, bool)
        assert callable(action.resolve())


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_action_is_refused_in_read_only_mode(
    name: str, tmp_path: Path, recorded: list[tuple[str, str]]
) -> None:
    """Through the real handler table: refused before the handler, audited as refused."""
    s = settings(tmp_path, read_only=True)
    with pytest.raises(ReadOnlyRefused) as caught:
        dispatch(s, name, "some-target", {"signal": "HUP"})
    assert caught.value.exit_code == 3
    assert recorded == []
    [line] = audit_lines(s.audit_log)
    assert line["action"] == name and line["refused"] is True and line["outcome"] == "refused"
    assert line["operator"] == "alice" and line["target"] == "some-target"


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_real_handlers_touch_nothing_in_read_only_mode(name: str, tmp_path: Path) -> None:
    """With the real handlers and backends that would record any use, nothing is used."""
    used: list[str] = []

    class Tripwire:
        def __getattr__(self, attr: str) -> Any:
            used.append(attr)
            raise AssertionError(f"backend used in read-only mode: {attr}")

    tripwire_script = tmp_path / "smtpctl"
    tripwire_script.write_text(f"#!/bin/sh\necho called >> {tmp_path / 'smtpctl-called'}\n")
    tripwire_script.chmod(0o755)
    fdm_conf = tmp_path / "fdm.conf"
    fdm_conf.write_bytes(b"# original\n")
    s = settings(
        tmp_path,
        read_only=True,
        smtpctl=[str(tripwire_script)],
        fdm_config=fdm_conf,
        supervisor_url="unix:///nonexistent/sock",
    )
    ctx = ActionContext(s)
    ctx._supervisor = Tripwire()
    with pytest.raises(ReadOnlyRefused):
        dispatch(s, name, "target", {"signal": "HUP", "text": "set no-received\n"}, context=ctx)
    assert used == []
    assert not (tmp_path / "smtpctl-called").exists()
    assert fdm_conf.read_bytes() == b"# original\n"


def test_read_only_offers_nothing(tmp_path: Path) -> None:
    assert offered_actions(settings(tmp_path, read_only=True)) == []
    assert len(offered_actions(settings(tmp_path))) == len(ACTIONS)


def test_done_and_failed_attempts_are_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ok(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
        return "fine."

    def failing(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
        raise ActionFailed("dovecot is not running")

    def buggy(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(
        actions,
        "ACTIONS",
        {
            "t.ok": actions.Action("t.ok", "ok", False, ok),
            "t.fail": actions.Action("t.fail", "fail", False, failing),
            "t.bug": actions.Action("t.bug", "bug", False, buggy),
        },
    )
    s = settings(tmp_path)
    assert dispatch(s, "t.ok", "x") == "fine."
    with pytest.raises(ActionFailed, match="dovecot is not running"):
        dispatch(s, "t.fail", "dovecot")
    with pytest.raises(ActionFailed, match="failed unexpectedly: oops"):
        dispatch(s, "t.bug", "y")
    lines = audit_lines(s.audit_log)
    assert [(rec["action"], rec["outcome"], rec["refused"]) for rec in lines] == [
        ("t.ok", "started", False),
        ("t.ok", "ok", False),
        ("t.fail", "started", False),
        ("t.fail", "failed", False),
        ("t.bug", "started", False),
        ("t.bug", "failed", False),
    ]
    assert lines[3]["message"] == "dovecot is not running"
    assert all(isinstance(rec["duration_ms"], float) for rec in lines)


def test_no_audit_no_action(tmp_path: Path, recorded: list[tuple[str, str]]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    s = Settings(audit_log=blocker / "audit.log")
    with pytest.raises(ActionFailed, match="cannot write the audit log .*nothing was done"):
        dispatch(s, "program.restart", "dovecot")
    assert recorded == []


def test_unknown_action_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="there is no action named 'nope'"):
        dispatch(settings(tmp_path), "nope", "x")


@pytest.mark.parametrize(
    "raw, expected", [("hup", "HUP"), ("SIGUSR1", "USR1"), ("1", "HUP"), ("15", "TERM")]
)
def test_signal_names(raw: str, expected: str) -> None:
    assert normalise_signal(raw) == expected


@pytest.mark.parametrize("raw", ["", "BOGUS", "999"])
def test_bad_signal_names(raw: str) -> None:
    with pytest.raises(ActionFailed):
        normalise_signal(raw)


def test_long_parameters_are_audited_by_size_and_hash(
    tmp_path: Path, recorded: list[tuple[str, str]]
) -> None:
    s = settings(tmp_path)
    text = 'match all action "inbox"\n' * 50
    dispatch(s, "fdm.save", str(tmp_path / "fdm.conf"), {"text": text, "force": "no"})
    [started, line] = audit_lines(s.audit_log)
    assert started["params"] == line["params"]
    assert line["params"]["force"] == "no"
    assert line["params"]["text"].startswith(f"<{len(text)} characters, sha256 ")
    assert "match all" not in line["params"]["text"]


def test_the_started_line_is_on_disk_before_the_handler_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[dict[str, Any]]] = []

    def looks(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
        seen.append(audit_lines(ctx.settings.audit_log))
        return "done."

    monkeypatch.setattr(
        actions, "ACTIONS", {"t.look": actions.Action("t.look", "look", True, looks)}
    )
    s = settings(tmp_path)
    dispatch(s, "t.look", "dovecot", {"signal": "HUP"})
    [[started]] = seen
    assert (started["action"], started["target"], started["outcome"]) == (
        "t.look",
        "dovecot",
        "started",
    )
    assert started["operator"] == "alice" and started["params"] == {"signal": "HUP"}
    assert [rec["outcome"] for rec in audit_lines(s.audit_log)] == ["started", "ok"]


def test_a_full_audit_device_means_no_action(recorded: list[tuple[str, str]]) -> None:
    """/dev/full opens fine and fails every write with ENOSPC, as a full disk does."""
    s = Settings(audit_log=Path("/dev/full"), operator="alice")
    with pytest.raises(ActionFailed) as caught:
        dispatch(s, "program.restart", "dovecot")
    assert str(caught.value) == (
        "cannot write the audit log /dev/full (No space left on device); nothing was done"
    )
    assert caught.value.exit_code == 1
    assert recorded == []


def test_read_only_with_a_full_audit_device_is_still_a_plain_refusal(
    recorded: list[tuple[str, str]],
) -> None:
    s = Settings(audit_log=Path("/dev/full"), read_only=True)
    with pytest.raises(ReadOnlyRefused):
        dispatch(s, "program.stop", "dovecot")
    assert recorded == []


def test_operator_falls_back_to_the_uid_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """`docker exec` sets neither SUDO_USER nor USER: the audit log names the uid's user."""
    import pwd

    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.delenv("USER", raising=False)
    assert Settings().resolved_operator() == pwd.getpwuid(os.getuid()).pw_name
    monkeypatch.setenv("USER", "carol")
    assert Settings().resolved_operator() == "carol"
    monkeypatch.setenv("SUDO_USER", "dave")
    assert Settings().resolved_operator() == "dave"
    assert Settings(operator="erin").resolved_operator() == "erin"
