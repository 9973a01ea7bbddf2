"""`mailconsole queue` as a user runs it: output, JSON, exit codes, read-only refusal."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from tests.helpers import MAILCONSOLE

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "tests" / "captures" / "smtpctl"
REPLAY = str(Path(__file__).resolve().parent / "smtpctl_replay.py")


def run(
    tmp_path: Path,
    *args: str,
    stdin: bytes = b"",
    mapping: dict[str, str] | None = None,
    read_only: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`mailconsole ARGS` with settings isolated in tmp_path and a replaying smtpctl."""
    config = tmp_path / "mailconsole.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCONSOLE_")}
    env.update(
        {
            "MAILCONSOLE_CONFIG": str(config),
            "MAILCONSOLE_AUDIT_LOG": str(tmp_path / "audit.log"),
            "MAILCONSOLE_SMTPCTL": shlex.join([sys.executable, REPLAY, json.dumps(mapping or {})]),
            "MAILCONSOLE_READ_ONLY": "1" if read_only else "0",
        }
    )
    done = subprocess.run(
        [*MAILCONSOLE, *args], cwd=ROOT, env=env, input=stdin, capture_output=True
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
    )


def test_json_from_a_saved_dump(tmp_path: Path) -> None:
    done = run(tmp_path, "queue", "--json", "--from", str(CAPTURES / "show-queue-offline.out"))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"envelopes", "bad_lines", "summary"}
    first = document["envelopes"][0]
    assert first == {
        "evpid": "d52b644b4ffc44e9",
        "msgid": "d52b644b",
        "family": "inet4",
        "type": "mta",
        "flags": [],
        "sender": "sender@lab.test",
        "rcpt": "a|b@unreachable.test",
        "dest": "a|b@unreachable.test",
        "ctime": 1795542851,
        "expire": 1795542851,
        "lasttry": 0,
        "retry": 2,
        "runstate": "offline",
        "delay": None,
        "error": "Network error on destination MXs",
    }
    assert document["summary"]["total"] == 9
    assert document["summary"]["by_state"] == {"offline": 9}
    assert document["summary"]["smtpd_running"] is False


def test_dump_on_stdin_with_a_bad_line(tmp_path: Path) -> None:
    dump = (CAPTURES / "show-queue-pipes.out").read_bytes() + b"garbage line\n"
    done = run(tmp_path, "queue", "--json", "--from", "-", stdin=dump)
    document = json.loads(done.stdout)
    assert len(document["envelopes"]) == 11
    assert document["bad_lines"] == ["garbage line"]
    eve = next(e for e in document["envelopes"] if e["evpid"] == "04f155e8b486f107")
    assert eve["error"] == '"quota|exceeded: a|b\there [bold]x[/bold] \x1b[31mred"'


def test_table_never_prints_raw_escapes(tmp_path: Path) -> None:
    done = run(tmp_path, "queue", "--from", str(CAPTURES / "show-queue-pipes.out"))
    assert done.returncode == 0
    assert "\x1b" not in done.stdout
    assert "\\x1b[31mred" in done.stdout
    assert "o|brien@lab.test" in done.stdout
    assert "11 envelopes in 10 messages" in done.stdout


def test_missing_dump_is_exit_1(tmp_path: Path) -> None:
    done = run(tmp_path, "queue", "--from", str(tmp_path / "nope"))
    assert done.returncode == 1
    assert done.stderr.startswith("mailconsole: cannot read") and "Traceback" not in done.stderr


def test_offline_queue_is_shown_with_one_line_on_stderr(tmp_path: Path) -> None:
    done = run(tmp_path, "queue", mapping={"show queue": "show-queue-offline"})
    assert done.returncode == 0
    assert (
        done.stderr
        == "mailconsole: smtpd is not running: the queue is read from the spool (offline)\n"
    )
    assert "9 envelopes in 9 messages: 9 offline" in done.stdout


def test_not_root_is_exit_1(tmp_path: Path) -> None:
    done = run(tmp_path, "queue", mapping={"show queue": "not-root"})
    assert done.returncode == 1
    assert done.stderr.startswith("mailconsole: smtpctl needs root")


def test_remove_prints_the_count_and_zero_is_a_failure(tmp_path: Path) -> None:
    mapping = {"remove ffb57d30": "remove-msgid", "remove deadbeef": "remove-unknown"}
    done = run(tmp_path, "queue", "remove", "ffb57d30", mapping=mapping)
    assert (done.returncode, done.stdout) == (0, "2 envelopes removed (ffb57d30)\n")
    done = run(tmp_path, "queue", "remove", "deadbeef", mapping=mapping)
    assert done.returncode == 1
    assert done.stderr.startswith("mailconsole: 0 envelopes removed")


def test_pause_subsystem_already_paused(tmp_path: Path) -> None:
    mapping = {"pause mta": "pause-mta-again", "show status": "show-status-paused"}
    done = run(tmp_path, "queue", "pause", "mta", mapping=mapping)
    assert done.returncode == 1
    assert done.stderr == "mailconsole: mta is already paused (smtpctl said 'command failed')\n"


def test_read_only_refuses_with_exit_3(tmp_path: Path) -> None:
    done = run(tmp_path, "queue", "remove", "all", read_only=True)
    assert done.returncode == 3
    assert done.stderr.startswith("mailconsole: refused: mailconsole is read-only")
    record = json.loads((tmp_path / "audit.log").read_text())
    assert (record["action"], record["outcome"]) == ("queue.remove", "refused")


def test_show_with_times_no_date_has_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """A damaged envelope's times (past datetime's range) are shown as they are, and said once."""
    mapping = {
        "show envelope 99c1e639b21b3591": "show-envelope-far-future",
        "show message 99c1e639b21b3591": "show-message-tempfail",
    }
    done = run(tmp_path, "queue", "show", "99c1e639b21b3591", mapping=mapping)
    assert done.returncode == 1
    assert done.stderr == (
        "mailconsole: envelope 99c1e639b21b3591 has times no date has (ctime "
        "9223372036854775807, last-try 999999999999): its envelope file may be "
        "damaged\n"
    )
    assert "ctime: 9223372036854775807 (no date has it)\n" in done.stdout
    assert "rcpt: tim@tempfail.test\n" in done.stdout


def test_one_envelope_is_counted_in_the_singular(tmp_path: Path) -> None:
    """The summary line reads "1 envelope in 1 message", not "1 envelopes in 1 messages"."""
    dump = (CAPTURES / "show-queue-offline.out").read_bytes().splitlines(keepends=True)[0]
    done = run(tmp_path, "queue", "--from", "-", stdin=dump)
    assert done.returncode == 0, done.stderr
    assert "1 envelope in 1 message: 1 offline" in done.stdout
