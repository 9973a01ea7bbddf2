"""`mailconsole run` and `mailconsole jobs` as a user runs them: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.helpers import MAILCONSOLE

ROOT = Path(__file__).resolve().parents[2]


def mailconsole(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    conf = tmp_path / "mc.toml"
    conf.write_text(f"""\
audit_log = "{tmp_path / "audit.log"}"
operator = "carol"
[jobs]
good = ["sh", "-c", "echo '[bold]out'; echo err >&2"]
bad = ["sh", "-c", "echo doomed; exit 4"]
""")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILCONSOLE_")}
    return subprocess.run(
        [*MAILCONSOLE, "--config", str(conf), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def test_run_streams_stdout_and_stderr_apart_and_exits_0(tmp_path: Path) -> None:
    done = mailconsole(tmp_path, "run", "good")
    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == "[bold]out"
    assert done.stdout.splitlines()[1].startswith("good: succeeded (exit 0, ")
    assert done.stderr == "err\n"


def test_run_failure_exits_1_with_the_sentence_on_stderr(tmp_path: Path) -> None:
    done = mailconsole(tmp_path, "run", "bad")
    assert done.returncode == 1
    assert done.stdout == "doomed\n"
    assert done.stderr.startswith("bad: failed (exit 4, ")


def test_run_json_prints_the_record(tmp_path: Path) -> None:
    done = mailconsole(tmp_path, "run", "--json", "bad")
    assert done.returncode == 1
    record = json.loads(done.stdout)
    assert record["job"] == "bad" and record["outcome"] == "failed" and record["exit_code"] == 4
    assert record["tail"] == [["out", "doomed"]] and record["operator"] == "carol"


def test_run_read_only_exits_3_and_unknown_job_exits_1(tmp_path: Path) -> None:
    done = mailconsole(tmp_path, "--read-only", "run", "good")
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr == "mailconsole: refused: mailconsole is read-only (job.run good)\n"
    done = mailconsole(tmp_path, "run", "nope")
    assert done.returncode == 1
    assert done.stderr == "mailconsole: there is no job named 'nope' (jobs: good, bad)\n"


def test_a_reader_that_goes_away_does_not_fail_the_run(tmp_path: Path) -> None:
    """`mailconsole run get_certs | head -1`: the job ran to its end (its follow-ups, the HUPs, must
    still run), so its outcome is the job's, kept in the history, not a broken pipe."""
    go = tmp_path / "go"
    conf = tmp_path / "mc.toml"
    conf.write_text(f"""\
audit_log = "{tmp_path / "audit.log"}"
[jobs.chatty]
argv = ["sh", "-c", "echo one; while [ ! -e {go} ]; do sleep 0.05; done; seq 2 5000"]
""")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILCONSOLE_")}
    with subprocess.Popen(
        [*MAILCONSOLE, "--config", str(conf), "run", "chatty"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"one\n"
        proc.stdout.close()  # the reader is gone; what the job prints next has nowhere to go
        go.touch()
        stderr = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 0
    assert "Broken pipe" not in stderr and "Traceback" not in stderr
    outcomes = [
        json.loads(line)["outcome"] for line in (tmp_path / "audit.log").read_text().splitlines()
    ]
    assert outcomes == ["started", "ok"]
    [record] = [
        json.loads(line) for line in (tmp_path / "mailconsole-jobs.jsonl").read_text().splitlines()
    ]
    assert (record["outcome"], record["exit_code"], record["lines"]) == ("ok", 0, 5000)


def test_jobs_lists_each_job_with_its_last_run(tmp_path: Path) -> None:
    mailconsole(tmp_path, "run", "bad")
    listing = mailconsole(tmp_path, "jobs")
    assert listing.returncode == 0
    assert "good  never run" in listing.stdout and "bad   failed at " in listing.stdout
    data = json.loads(mailconsole(tmp_path, "jobs", "--json").stdout)
    assert [job["name"] for job in data] == ["good", "bad"]
    assert data[0]["last_run"] is None and data[1]["last_run"]["exit_code"] == 4
