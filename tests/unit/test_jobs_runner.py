"""The job runner with real processes: streaming, bounded output, exit codes, cancel, timeout, the
lock (also against a second process), read-only refusal, follow-ups through the dispatcher, history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.errors import ReadOnlyRefused, UserError
from console.jobs.history import HISTORY_KEEP, TAIL_LINES, load_history
from console.jobs.lock import JobBusy
from console.jobs.process import Cancel, OutputLine, output_lines, run_process
from console.jobs.runner import run_job
from console.jobs.spec import SA_UPDATE_CODES, JobSpec, ThenStep
from console.settings import Settings
from tests.conftest import Supervisord
from tests.helpers import MAILCONSOLE, planted_link, wait_for

ROOT = Path(__file__).resolve().parents[2]


def settings(tmp_path: Path, **jobs: JobSpec) -> Settings:
    return Settings(audit_log=tmp_path / "log" / "audit.log", operator="alice", jobs=dict(jobs))


def sh(script: str, **kw: Any) -> JobSpec:
    return JobSpec(("sh", "-c", script), **kw)


def audit_all(s: Settings) -> list[dict[str, Any]]:
    return [json.loads(line) for line in s.audit_log.read_text().splitlines()]


def audit(s: Settings) -> list[dict[str, Any]]:
    """The audit log's outcome lines (each attempt also has a "started" line before it)."""
    return [line for line in audit_all(s) if line["outcome"] != "started"]


def live_members(pgid: int) -> list[str]:
    """Processes of group `pgid` that are alive (not zombies), as `ps` sees them."""
    out = subprocess.run(
        ["ps", "-e", "-o", "pgid=,stat=,pid=,args="], capture_output=True, text=True, check=True
    ).stdout
    return [
        line
        for line in out.splitlines()
        if line.split()[0] == str(pgid) and not line.split()[1].startswith("Z")
    ]


class Started:
    """An on_output callback that notes every line and says when a marker line has come."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.lines: list[OutputLine] = []
        self.seen = threading.Event()

    def __call__(self, batch: list[OutputLine]) -> None:
        self.lines += batch
        if any(line.text == self.marker for line in batch):
            self.seen.set()


@pytest.fixture
def background() -> Iterator[list[threading.Thread]]:
    threads: list[threading.Thread] = []
    yield threads
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()


def in_background(
    threads: list[threading.Thread], fn: Any, *args: Any, **kw: Any
) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn(*args, **kw)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    threads.append(thread)
    return box


def test_streams_both_streams_told_apart_as_they_come(tmp_path: Path) -> None:
    seen = Started("out 2")
    s = settings(tmp_path, t=sh("echo out 1; echo err 1 >&2; echo out 2; printf 'no newline'"))
    record = run_job(s, "t", on_output=seen)
    assert [(line.stream, line.text) for line in seen.lines if line.stream == "out"] == [
        ("out", "out 1"),
        ("out", "out 2"),
        ("out", "no newline"),
    ]
    assert [(line.stream, line.text) for line in seen.lines if line.stream == "err"] == [
        ("err", "err 1")
    ]
    assert record.ok and record.exit_code == 0 and record.lines == 4
    assert record.tail[-1] == ["out", "no newline"]
    assert all(line.elapsed >= 0 for line in seen.lines)


def test_lines_arrive_before_the_process_ends(
    tmp_path: Path, background: list[threading.Thread]
) -> None:
    """The first line is delivered while the job still runs (it waits for a file we create)."""
    gate = tmp_path / "gate"
    seen = Started("first")
    s = settings(
        tmp_path, t=sh(f"echo first; while [ ! -e {gate} ]; do sleep 0.05; done; echo last")
    )
    box = in_background(background, run_job, s, "t", on_output=seen)
    assert seen.seen.wait(30)
    assert "result" not in box and [line.text for line in seen.lines] == ["first"]
    gate.touch()
    background[0].join(30)
    assert [line.text for line in seen.lines] == ["first", "last"]


def test_untrusted_output_is_text(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        t=sh(
            r"printf '\033[31m[bold]red[/bold]\a\tx\n'; printf 'a\rb\rfinal\n'; "
            r"printf '\377\376 bad utf8\n'"
        ),
    )
    record = run_job(s, "t")
    texts = [text for _stream, text in record.tail]
    assert texts[0] == "\\x1b[31m[bold]red[/bold]\\x07  x"  # tab expanded, ESC and BEL shown
    assert texts[1] == "final"  # a carriage-return progress line keeps its last state
    assert texts[2] == "\ufffd\ufffd bad utf8"


def test_output_larger_than_kept_is_counted_and_memory_stays_bounded() -> None:
    result = run_process(
        [
            sys.executable,
            "-c",
            "import sys\nfor i in range(200000): sys.stdout.write(f'line {i}\\n')",
        ],
        timeout=60,
        keep=500,
    )
    assert result.exit_code == 0
    assert result.output.total == 200000
    assert len(result.output.lines) == 500 and result.output.dropped == 199500
    assert (
        result.output.lines[0].text == "line 199500"
        and result.output.lines[-1].text == "line 199999"
    )


def test_a_huge_line_without_newline_is_cut_not_kept_whole() -> None:
    result = run_process(
        [sys.executable, "-c", "import sys; sys.stdout.write('x' * 1000000)"], timeout=60, keep=10
    )
    assert result.output.total > 10
    assert all(len(line.text) <= 16384 for line in result.output.lines)


@pytest.mark.parametrize(
    "code, outcome, meaning",
    [
        (0, "ok", "updates were downloaded and installed"),
        (1, "ok", "no fresh updates were available"),
        (2, "failed", "the site pre files failed their lint check; nothing was updated"),
        (4, "failed", "downloading or extracting the updates failed; no channel was updated"),
        (9, "failed", "failed"),
    ],
)
def test_each_exit_code_class_reads_as_a_sentence(
    tmp_path: Path, code: int, outcome: str, meaning: str
) -> None:
    spec = sh(f"exit {code}", ok_codes=(0, 1), exit_codes=SA_UPDATE_CODES)
    s = settings(tmp_path, **{"sa-update": spec})
    record = run_job(s, "sa-update")
    assert (record.outcome, record.exit_code) == (outcome, code)
    assert record.sentence.startswith(f"sa-update: {meaning} (exit {code}, ")
    [intent, line] = audit_all(s)
    assert (intent["action"], intent["target"], intent["outcome"]) == (
        "job.run",
        "sa-update",
        "started",
    )
    assert line["action"] == "job.run" and line["target"] == "sa-update"
    assert line["outcome"] == ("ok" if outcome == "ok" else "failed")
    assert line["message"] == record.sentence


def test_killed_by_a_signal_and_not_startable(tmp_path: Path) -> None:
    s = settings(tmp_path, k=sh("kill -SEGV $$"), missing=JobSpec((str(tmp_path / "nope"),)))
    killed = run_job(s, "k")
    assert killed.outcome == "failed" and killed.signal == "SIGSEGV" and killed.exit_code is None
    assert "killed by SIGSEGV" in killed.sentence
    missing = run_job(s, "missing")
    assert missing.outcome == "failed" and "did not start" in missing.sentence
    assert "No such file or directory" in missing.sentence


def test_cancel_stops_the_whole_process_group(
    tmp_path: Path, background: list[threading.Thread]
) -> None:
    seen = Started("ready")
    cancel = Cancel()
    s = settings(tmp_path, t=sh("sleep 300 & sleep 300 & echo $$; echo ready; wait"))
    box = in_background(background, run_job, s, "t", on_output=seen, cancel=cancel)
    assert seen.seen.wait(30)
    pgid = int(seen.lines[0].text)  # the job's shell leads its own process group
    assert len(live_members(pgid)) == 3
    cancel.cancel()
    background[0].join(60)
    record = box["result"]
    assert record.outcome == "cancelled" and record.signal == "SIGTERM"
    assert "cancelled after" in record.sentence
    assert live_members(pgid) == []


def test_cancel_kills_what_ignores_sigterm_after_the_grace_period(
    background: list[threading.Thread],
) -> None:
    seen = Started("ready")
    cancel = Cancel()
    script = "trap '' TERM; sleep 300 & echo ready; while :; do sleep 0.1; done"
    box = in_background(
        background,
        run_process,
        ["sh", "-c", script],
        timeout=300,
        on_output=seen,
        cancel=cancel,
        grace=0.5,
    )
    assert seen.seen.wait(30)
    cancel.cancel()
    background[0].join(60)
    result = box["result"]
    assert result.cancelled and result.signal == "SIGKILL"
    assert live_members(result.pgid) == []


def test_timeout_stops_the_group(tmp_path: Path) -> None:
    s = settings(tmp_path, t=sh("sleep 300 & echo started; sleep 300", timeout=0.5))
    record = run_job(s, "t")
    assert record.outcome == "timeout" and record.exit_code is None
    assert record.sentence == "t ran longer than its timeout of 0.5 s and was stopped"
    assert record.tail == [["out", "started"]]


def test_a_second_start_is_refused_while_one_runs_also_from_another_process(
    tmp_path: Path, background: list[threading.Thread]
) -> None:
    seen = Started("running")
    cancel = Cancel()
    s = settings(tmp_path, t=sh("echo running; exec sleep 300"), other=sh("echo other"))
    box = in_background(background, run_job, s, "t", on_output=seen, cancel=cancel)
    assert seen.seen.wait(30)
    with pytest.raises(JobBusy, match=r"t is already running \(pid \d+, started .* by alice\)"):
        run_job(s, "t")
    assert run_job(s, "other").ok  # another job is not blocked
    conf = tmp_path / "mc.toml"
    conf.write_text(f'audit_log = "{s.audit_log}"\noperator = "bob"\n[jobs]\nt = ["true"]\n')
    second = subprocess.run(
        [*MAILCONSOLE, "--config", str(conf), "run", "t"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert second.returncode == 1
    assert "t is already running" in second.stderr and "by alice" in second.stderr
    cancel.cancel()
    background[0].join(60)
    assert box["result"].outcome == "cancelled"
    assert run_job(s, "t", cancel=_cancelled_once_started()).outcome == "cancelled"  # free again
    outcomes = [(line["target"], line["outcome"]) for line in audit(s)]
    assert outcomes.count(("t", "failed")) == 4  # refused here and there, cancelled twice


def _cancelled_once_started() -> Cancel:
    cancel = Cancel()
    cancel.cancel()
    return cancel


def test_read_only_refuses_every_job_and_starts_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    s = settings(tmp_path, **{name: sh(f"touch {marker}") for name in ("get_certs", "freshclam")})
    s.read_only = True
    for name in s.jobs:
        with pytest.raises(ReadOnlyRefused) as caught:
            run_job(s, name)
        assert caught.value.exit_code == 3
    assert not marker.exists()
    assert [(line["target"], line["outcome"]) for line in audit(s)] == [
        ("get_certs", "refused"),
        ("freshclam", "refused"),
    ]
    assert load_history(s) == []


def test_unknown_job_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"there is no job named 'x' \(jobs: t\)"):
        run_job(settings(tmp_path, t=sh("true")), "x")


def test_follow_ups_go_through_the_dispatcher_and_a_failing_one_fails_the_run(
    tmp_path: Path, supervisord: Supervisord
) -> None:
    hup = (ThenStep("program.signal", "ticker", "HUP"),)
    s = supervisord.settings(
        jobs={
            "renew": sh("echo renewed", then=hup),
            "nothing": sh("exit 1", ok_codes=(0, 1), then=hup),
            "broken": sh("true", then=(ThenStep("program.signal", "ghost", "HUP"),)),
        }
    )
    record = run_job(s, "renew")
    assert (
        record.ok and len(record.then) == 1 and record.then[0].startswith("SIGHUP sent to ticker")
    )
    wait_for(lambda: "got HUP" in (supervisord.dir / "ticker.log").read_text(), what="ticker's HUP")
    assert run_job(s, "nothing").then == []  # exit 1 is a success without follow-ups
    broken = run_job(s, "broken")
    assert broken.outcome == "failed" and "'signal ghost HUP' failed" in broken.sentence
    actions = [(line["action"], line["target"], line["outcome"]) for line in audit(s)]
    assert actions == [
        ("program.signal", "ticker", "ok"),
        ("job.run", "renew", "ok"),
        ("job.run", "nothing", "ok"),
        ("program.signal", "ghost", "failed"),
        ("job.run", "broken", "failed"),
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a link to another user needs root")
def test_links_planted_beside_the_audit_log_are_never_written_through(tmp_path: Path) -> None:
    """User 1234, who may write the log directory, links the job's lock file (truncated by a run)
    and the history's temporary file to a file of root's: that file stays as it was."""
    marker = tmp_path / "ran"
    s = settings(tmp_path, a=sh(f"touch {marker}"))
    s.audit_log.parent.mkdir()
    victim = tmp_path / "shadow"
    lock = s.audit_log.with_name("mailconsole-job-a.lock")
    planted_link(lock, victim)
    with pytest.raises(UserError, match="symbolic link owned by user id 1234"):
        run_job(s, "a")
    assert not marker.exists() and victim.read_text() == "secret\n"
    lock.unlink()
    temporary = s.audit_log.with_name("mailconsole-jobs.jsonl.tmp")
    temporary.symlink_to(victim)
    run_job(s, "a")
    assert marker.exists() and victim.read_text() == "secret\n"
    assert [r.job for r in load_history(s)] == ["a"] and not temporary.exists()


def test_history_is_kept_across_restarts_and_bounded(tmp_path: Path) -> None:
    s = settings(tmp_path, a=sh("seq 100"), b=sh("exit 3"))
    for _ in range(HISTORY_KEEP + 3):
        run_job(s, "a")
    run_job(s, "b")
    fresh = Settings(audit_log=s.audit_log, jobs=s.jobs)  # another console reading the same file
    history = load_history(fresh)
    assert [r.job for r in history].count("a") == HISTORY_KEEP
    assert history[-1].job == "b" and history[-1].outcome == "failed" and history[-1].exit_code == 3
    last_a = load_history(fresh, "a")[-1]
    assert (
        last_a.lines == 100 and len(last_a.tail) == TAIL_LINES and last_a.tail[-1] == ["out", "100"]
    )
    assert os.path.getsize(s.audit_log.with_name("mailconsole-jobs.jsonl")) < 200_000


@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=8))
def test_chunked_and_line_by_line_escaping_agree(raw_lines: list[bytes]) -> None:
    """The quick path for plain chunks gives what escaping each line alone gives."""
    from console.jobs.process import _printable_line

    assert [line.text for line in output_lines("out", raw_lines, 0.0)] == [
        _printable_line(raw) for raw in raw_lines
    ]
