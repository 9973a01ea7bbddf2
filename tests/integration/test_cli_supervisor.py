"""The CLI against a real supervisord: status JSON, actions, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import Supervisord
from tests.helpers import MAILCONSOLE, command_env

ROOT = Path(__file__).resolve().parents[2]


def mc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAILCONSOLE, *args],
        cwd=ROOT,
        env=command_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=60,
    )


def sv_env(sv: Supervisord, **extra: str) -> dict[str, str]:
    return {
        "MAILCONSOLE_SUPERVISOR_URL": sv.url,
        "MAILCONSOLE_AUDIT_LOG": str(sv.dir / "audit.log"),
        **extra,
    }


def test_status_json_matches_supervisord(supervisord: Supervisord) -> None:
    result = mc("status", "--json", env=sv_env(supervisord))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["supervisor"] == {"url": supervisord.url, "state": "RUNNING", "version": "4.3.0"}
    by_name = {p["name"]: p for p in data["programs"]}
    assert set(by_name) == {"ticker", "sleeper", "broken"}
    sleeper = by_name["sleeper"]
    assert sleeper["pid"] == supervisord.client().program("sleeper").pid
    assert sleeper["state"] == "RUNNING" and isinstance(sleeper["uptime_s"], int)
    assert sleeper["stdout_logfile"] == str(supervisord.dir / "sleeper.log")
    assert set(sleeper) == {
        "name",
        "group",
        "state",
        "pid",
        "uptime_s",
        "description",
        "exitstatus",
        "stdout_logfile",
    }
    assert by_name["broken"]["pid"] is None and by_name["broken"]["uptime_s"] is None


def test_restart_stop_start_and_their_faults(supervisord: Supervisord) -> None:
    env = sv_env(supervisord, MAILCONSOLE_OPERATOR="ops")
    before = supervisord.client().program("sleeper").pid
    result = mc("restart", "sleeper", env=env)
    assert result.returncode == 0, result.stderr
    assert supervisord.client().program("sleeper").pid != before
    assert mc("stop", "sleeper", env=env).returncode == 0
    again = mc("stop", "sleeper", env=env)
    assert again.returncode == 1
    assert again.stderr == "mailconsole: Sleeper is not running\n"
    assert mc("start", "sleeper", env=env).returncode == 0
    bad = mc("start", "nosuch", env=env)
    assert (bad.returncode, bad.stderr) == (1, "mailconsole: There is no program named nosuch\n")
    sig = mc("signal", "sleeper", "NOPE", env=env)
    assert sig.returncode == 1 and "not a signal name" in sig.stderr
    audit = [json.loads(rec) for rec in (supervisord.dir / "audit.log").read_text().splitlines()]
    assert [a["outcome"] for a in audit[0::2]] == ["started"] * 6  # each written before its outcome
    assert [a["outcome"] for a in audit[1::2]] == ["ok", "ok", "failed", "ok", "failed", "failed"]
    assert {a["operator"] for a in audit} == {"ops"}


def test_read_only_refuses_with_exit_3(supervisord: Supervisord) -> None:
    before = supervisord.client().program("sleeper").pid
    for flag_args, env in (
        (["--read-only"], {}),
        (["--readonly"], {}),
        ([], {"MAILCONSOLE_READ_ONLY": "1"}),
    ):
        result = mc(*flag_args, "restart", "sleeper", env={**sv_env(supervisord), **env})
        assert result.returncode == 3, result.stderr
        assert result.stderr.count("\n") == 1 and "read-only" in result.stderr
    assert supervisord.client().program("sleeper").pid == before
    audit = [json.loads(rec) for rec in (supervisord.dir / "audit.log").read_text().splitlines()]
    assert len(audit) == 3 and all(a["refused"] for a in audit)


def test_supervisord_down_is_one_line(tmp_path: Path) -> None:
    result = mc("status", env={"MAILCONSOLE_SUPERVISOR_URL": f"unix://{tmp_path}/none.sock"})
    assert result.returncode == 1
    assert (
        result.stderr
        == f"mailconsole: supervisord is not running: no socket at {tmp_path}/none.sock\n"
    )


def test_usage_and_config_errors_exit_2(tmp_path: Path) -> None:
    assert mc("nosuch").returncode == 2
    bad = tmp_path / "mc.toml"
    bad.write_text("colour = 'blue'\n")
    result = mc("--config", str(bad), "status")
    assert result.returncode == 2
    assert result.stderr.startswith(f"mailconsole: {bad}: unknown key 'colour'")
    assert result.stderr.count("\n") == 1
    assert mc("--version").stdout.startswith("mailconsole, version ")


def test_http_url_with_credentials(tmp_path: Path) -> None:
    """An http:// supervisord with a user name and password: right ones work, wrong ones are a line."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"[inet_http_server]\nport=127.0.0.1:{port}\nusername=ops\npassword=s3cret\n"
        f"[supervisord]\nlogfile={tmp_path}/sd.log\npidfile={tmp_path}/sd.pid\nnodaemon=true\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
        f"[supervisorctl]\nserverurl=http://127.0.0.1:{port}\nusername=ops\npassword=s3cret\n"
        f"[program:sleeper]\ncommand=sleep 100000\nstdout_logfile={tmp_path}/sleeper.log\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        env = {"MAILCONSOLE_SUPERVISOR_CONFIG": str(conf)}
        from tests.helpers import wait_for

        wait_for(lambda: mc("status", env=env).returncode == 0, what="supervisord over http")
        assert "sleeper" in mc("status", env=env).stdout
        wrong = mc("status", env={**env, "MAILCONSOLE_SUPERVISOR_PASSWORD": "nope"})
        assert wrong.returncode == 1
        assert wrong.stderr == (
            f"mailconsole: supervisord at http://127.0.0.1:{port} refused the "
            "user name or password\n"
        )
    finally:
        proc.terminate()
        proc.wait(10)


def test_no_started_line_no_restart(supervisord: Supervisord) -> None:
    """The audit log on a full device: the restart is refused before supervisord is asked."""
    before = supervisord.client().program("sleeper").pid
    result = mc("restart", "sleeper", env=sv_env(supervisord, MAILCONSOLE_AUDIT_LOG="/dev/full"))
    assert (result.returncode, result.stderr) == (
        1,
        "mailconsole: cannot write the audit log /dev/full (No space left on device); "
        "nothing was done\n",
    )
    assert supervisord.client().program("sleeper").pid == before


def test_an_unwritable_outcome_line_is_one_line_and_the_started_line_stays(
    supervisord: Supervisord, tmp_path: Path
) -> None:
    """The file size limit lets exactly the started line in, so the outcome line fails (EFBIG) after
    the restart: the restart is done, said in one line with exit 1, and the started line records it."""
    import resource

    env = sv_env(supervisord, MAILCONSOLE_OPERATOR="ops")
    probe_log = tmp_path / "probe.log"
    assert (
        mc("restart", "sleeper", env={**env, "MAILCONSOLE_AUDIT_LOG": str(probe_log)}).returncode
        == 0
    )
    started_size = len(probe_log.read_bytes().splitlines(keepends=True)[0])
    audit = tmp_path / "audit.log"
    before = supervisord.client().program("sleeper").pid

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (started_size, started_size))

    result = subprocess.run(
        [*MAILCONSOLE, "restart", "sleeper"],
        cwd=ROOT,
        env=command_env(**{**env, "MAILCONSOLE_AUDIT_LOG": str(audit)}),
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit_file_size,
    )
    after = supervisord.client().program("sleeper").pid
    assert after != before
    assert result.returncode == 1
    assert result.stderr == (
        f"mailconsole: sleeper restarted (pid {after}). But the outcome could not be written to the "
        f"audit log {audit} (File too large); only the attempt is recorded.\n"
    )
    [started] = [json.loads(line) for line in audit.read_text().splitlines()]
    assert (started["action"], started["target"], started["outcome"], started["operator"]) == (
        "program.restart",
        "sleeper",
        "started",
        "ops",
    )


def test_operator_without_user_variables_is_the_uid_name(supervisord: Supervisord) -> None:
    """As under `docker exec`: neither USER nor SUDO_USER is set."""
    import pwd

    full_env = {
        k: v
        for k, v in command_env(**sv_env(supervisord)).items()
        if k not in ("USER", "SUDO_USER")
    }
    result = subprocess.run(
        [*MAILCONSOLE, "restart", "sleeper"],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    audit = [json.loads(rec) for rec in (supervisord.dir / "audit.log").read_text().splitlines()]
    assert {a["operator"] for a in audit} == {pwd.getpwuid(os.getuid()).pw_name}
