"""console.queue running smtpctl: errors, offline state and actions, on replayed real outputs.

The smtpctl prefix is tests/unit/smtpctl_replay.py, which prints what the real smtpctl printed
(tests/captures/smtpctl) for the given arguments, with its exit status.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from console.actions import ACTIONS, dispatch
from console.errors import ActionFailed, ReadOnlyRefused, UserError
from console.queue.actions import (
    pause_envelopes,
    pause_subsystem,
    remove,
    resume_envelopes,
    resume_subsystem,
    schedule,
)
from console.queue.smtpctl import SmtpdDown, read_envelope, read_queue, read_status
from console.settings import Settings

REPLAY = str(Path(__file__).resolve().parent / "smtpctl_replay.py")


def replaying(tmp_path: Path, read_only: bool = False, **mapping: str) -> Settings:
    """Settings whose smtpctl replays captures: keys are the arguments with `_` for spaces."""
    table = {key.replace("_", " "): name for key, name in mapping.items()}
    return Settings(
        smtpctl=[sys.executable, REPLAY, json.dumps(table)],
        audit_log=tmp_path / "audit.log",
        read_only=read_only,
    )


def audit_lines(settings: Settings) -> list[dict[str, object]]:
    return [json.loads(line) for line in settings.audit_log.read_text().splitlines()]


def test_running_queue(tmp_path: Path) -> None:
    snapshot = read_queue(replaying(tmp_path, show_queue="show-queue-pipes"))
    assert len(snapshot.envelopes) == 11
    assert snapshot.smtpd_running is True and snapshot.problem == ""


def test_smtpd_down_still_shows_the_offline_queue(tmp_path: Path) -> None:
    snapshot = read_queue(replaying(tmp_path, show_queue="show-queue-offline"))
    assert len(snapshot.envelopes) == 9
    assert snapshot.smtpd_running is False
    assert snapshot.problem == "smtpd is not running: the queue is read from the spool (offline)"


def test_empty_queue_asks_status_to_tell_running_from_down(tmp_path: Path) -> None:
    up = replaying(tmp_path, show_queue="show-queue-empty", show_status="show-status-running")
    assert read_queue(up).smtpd_running is True
    down = replaying(tmp_path, show_queue="show-queue-empty", show_status="show-status-stopped")
    snapshot = read_queue(down)
    assert snapshot.envelopes == [] and snapshot.smtpd_running is False and snapshot.problem


def test_not_root_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="^smtpctl needs root: run mailconsole as root"):
        read_queue(replaying(tmp_path, show_queue="not-root"))


def test_smtpctl_missing_is_one_sentence(tmp_path: Path) -> None:
    settings = Settings(smtpctl=[str(tmp_path / "no-such-smtpctl")])
    with pytest.raises(UserError, match="no such program"):
        read_queue(settings)


def test_status_while_smtpd_down(tmp_path: Path) -> None:
    with pytest.raises(SmtpdDown, match="smtpd is not running"):
        read_status(replaying(tmp_path, show_status="show-status-stopped"))
    assert read_status(replaying(tmp_path, show_status="show-status-paused"))["mta"] == "paused"


def test_unknown_and_malformed_ids(tmp_path: Path) -> None:
    settings = replaying(
        tmp_path,
        show_envelope_0123456789abcdef="show-envelope-unknown",
        show_envelope_nothex="show-envelope-malformed",
    )
    with pytest.raises(UserError, match="^0123456789abcdef is not in the queue$"):
        read_envelope(settings, "0123456789abcdef")
    with pytest.raises(UserError, match="did not accept 'nothex'"):
        read_envelope(settings, "nothex")


def test_counts_judge_envelope_actions(tmp_path: Path) -> None:
    settings = replaying(
        tmp_path,
        remove_ffb57d30="remove-msgid",
        remove_feb1a9b51e292e25="remove-envelope",
        remove_deadbeef="remove-unknown",
        schedule_all="schedule-all",
        pause_envelope_ffb57d30="pause-msgid",
        resume_envelope_ffb57d30="resume-envelope-again",
    )
    assert remove(settings, "FFB57D30") == "2 envelopes removed (ffb57d30)"
    assert remove(settings, "feb1a9b51e292e25") == "1 envelope removed (feb1a9b51e292e25)"
    assert schedule(settings, "all") == "7 envelopes scheduled (all)"
    assert pause_envelopes(settings, "ffb57d30") == "1 envelope paused (ffb57d30)"
    with pytest.raises(ActionFailed, match="^0 envelopes removed: nothing in the queue matches"):
        remove(settings, "deadbeef")
    with pytest.raises(ActionFailed, match="^0 envelopes resumed"):
        resume_envelopes(settings, "ffb57d30")


def test_bad_target_is_refused_before_smtpctl_runs(tmp_path: Path) -> None:
    settings = replaying(tmp_path)  # any smtpctl call would fail with a KeyError in the replay
    with pytest.raises(ActionFailed, match="is not an envelope id"):
        remove(settings, "ffb57d3")
    with pytest.raises(ActionFailed, match="not a subsystem"):
        pause_subsystem(settings, "imap")


def test_subsystem_already_in_that_state_is_explained(tmp_path: Path) -> None:
    settings = replaying(
        tmp_path,
        pause_mta="pause-mta-again",
        show_status="show-status-paused",
        resume_mda="resume-mda",
    )
    with pytest.raises(
        ActionFailed, match=r"^mta is already paused \(smtpctl said 'command failed'\)"
    ):
        pause_subsystem(settings, "mta")
    assert resume_subsystem(settings, "MDA") == "mda resumed"


def test_actions_go_through_the_dispatcher(tmp_path: Path) -> None:
    names = {
        "queue.schedule",
        "queue.remove",
        "queue.pause",
        "queue.resume",
        "queue.pause_subsystem",
        "queue.resume_subsystem",
    }
    assert names <= set(ACTIONS)
    assert ACTIONS["queue.remove"].dangerous
    settings = replaying(tmp_path, remove_ffb57d30="remove-msgid", remove_deadbeef="remove-unknown")
    assert dispatch(settings, "queue.remove", "ffb57d30") == "2 envelopes removed (ffb57d30)"
    with pytest.raises(ActionFailed):
        dispatch(settings, "queue.remove", "deadbeef")
    outcomes = [(r["action"], r["target"], r["outcome"]) for r in audit_lines(settings)]
    assert outcomes == [
        ("queue.remove", "ffb57d30", "started"),
        ("queue.remove", "ffb57d30", "ok"),
        ("queue.remove", "deadbeef", "started"),
        ("queue.remove", "deadbeef", "failed"),
    ]


def test_read_only_refuses_every_queue_action(tmp_path: Path) -> None:
    settings = replaying(tmp_path, read_only=True)
    for name, target in [
        ("queue.schedule", "all"),
        ("queue.remove", "all"),
        ("queue.pause", "all"),
        ("queue.resume", "all"),
        ("queue.pause_subsystem", "mta"),
        ("queue.resume_subsystem", "mta"),
    ]:
        with pytest.raises(ReadOnlyRefused):
            dispatch(settings, name, target)
    assert {r["outcome"] for r in audit_lines(settings)} == {"refused"}
