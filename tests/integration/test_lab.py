"""The lab against the real programs: mail goes through smtpd and fdm into Dovecot, test domains
fill the queue, and the lab refuses to start twice and leaves nothing behind when it stops."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from console.lab.render import EICAR as EICAR_BYTES
from console.lab.render import PERMFAIL_DOMAIN, UNREACHABLE_DOMAIN
from console.lab.run import is_alive, lab_processes, running_pid, status
from tests.helpers import MAILCONSOLE, wait_for
from tests.integration.conftest import RunningLab

pytestmark = pytest.mark.lab

EICAR = EICAR_BYTES.decode("ascii")
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


ROOT = Path(__file__).resolve().parents[2]


def mailconsole(lab_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real `mailconsole` command line (its errors are one line on stderr), auditing to the
    lab's audit log."""
    full_env = {**os.environ, "MAILCONSOLE_AUDIT_LOG": str(audit_log(lab_dir)), **env}
    return subprocess.run(
        [*MAILCONSOLE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=full_env
    )


def audit_log(lab_dir: Path) -> Path:
    return lab_dir / "log" / "mailconsole-audit.log"


def audited(lab_dir: Path) -> list[tuple[str, str]]:
    """(action, outcome) of each line of the lab's audit log."""
    import json

    path = audit_log(lab_dir)
    lines = path.read_text().splitlines() if path.exists() else []
    return [(record["action"], record["outcome"]) for record in map(json.loads, lines)]


def send(
    lab: RunningLab, sender: str, rcpt: str, subject: str, body: str = "hello from the tests"
) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, rcpt, subject
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", lab.ports["smtp"], timeout=30) as smtp:
        smtp.send_message(message)


def maildir_texts(folder: Path) -> list[str]:
    """Every message in a Maildir folder (new and cur) as text."""
    return [
        p.read_text(errors="replace")
        for sub in ("new", "cur")
        if (folder / sub).is_dir()
        for p in (folder / sub).iterdir()
    ]


def queue(lab: RunningLab) -> list[str]:
    done = subprocess.run(
        [*lab.smtpctl, "show", "queue"], capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


def unique() -> str:
    return uuid.uuid4().hex[:10]


def test_every_program_is_running(lab: RunningLab) -> None:
    states = {p.name: p.state for p in status(lab.dir)}
    assert states == {"opensmtpd": "RUNNING", "dovecot": "RUNNING"}
    result = mailconsole(lab.dir, "lab", "status", "--dir", str(lab.dir))
    assert result.returncode == 0
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        ["dovecot", "RUNNING"],
        ["opensmtpd", "RUNNING"],
    ]


def test_mail_to_bob_reaches_his_maildir_and_imap(lab: RunningLab) -> None:
    subject = f"lab delivery {unique()}"
    send(lab, "sender@lab.test", "bob@example.com", subject)
    inbox = lab.dir / "spool" / "bob" / "Mail"
    wait_for(
        lambda: any(subject in text for text in maildir_texts(inbox)), what="mail in bob's Maildir"
    )
    with IMAPClient("127.0.0.1", lab.ports["imap"], ssl=False, timeout=30) as imap:
        imap.login("bob", lab.users["bob"])
        imap.select_folder("INBOX", readonly=True)
        assert len(imap.search(["SUBJECT", subject])) == 1


def test_wrong_imap_password_is_refused(lab: RunningLab) -> None:
    with (
        IMAPClient("127.0.0.1", lab.ports["imap"], ssl=False, timeout=30) as imap,
        pytest.raises(IMAPClient.Error),
    ):
        imap.login("bob", "not-the-password")


def test_mail_to_the_unreachable_domain_stays_queued(lab: RunningLab) -> None:
    rcpt = f"carol-{unique()}@{UNREACHABLE_DOMAIN}"
    send(lab, "sender@lab.test", rcpt, "to nowhere")
    line = wait_for(
        lambda: next(
            (line for line in queue(lab) if f"|{rcpt}|" in line and "|pending|" in line), None
        ),
        what=f"{rcpt} pending in the queue",
    )
    assert "|mta|" in str(line)


def test_permanent_failure_bounces_and_the_bounce_stays_queued(lab: RunningLab) -> None:
    sender = f"kim-{unique()}@lab.test"
    send(lab, sender, f"kim@{PERMFAIL_DOMAIN}", "refused by the mda")
    wait_for(
        lambda: any(f"|@|{sender}|" in line for line in queue(lab)),
        what=f"the bounce to {sender} in the queue",
    )


def test_up_twice_is_refused(lab: RunningLab) -> None:
    result = mailconsole(
        lab.dir, "lab", "up", "--dir", str(lab.dir), "--port-base", str(lab.ports["smtp"])
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"mailconsole: a lab is already running in {lab.dir}")
    assert {p.state for p in status(lab.dir)} == {"RUNNING"}


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line mentions text."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if entry.isdigit() and text.encode() in cmdline:
            found.append(int(entry))
    return found


def test_down_leaves_no_process(fresh_lab) -> None:  # type: ignore[no-untyped-def]
    running = fresh_lab()
    before = lab_processes(running.dir)
    assert len(before) >= 3 and processes_mentioning(str(running.dir))
    for flag, env in ((["--read-only"], {}), ([], {"MAILCONSOLE_READ_ONLY": "1"})):
        refused = mailconsole(running.dir, *flag, "lab", "down", "--dir", str(running.dir), **env)
        assert refused.returncode == 3
        assert refused.stderr == (
            f"mailconsole: refused: mailconsole is read-only (lab.down {running.dir})\n"
        )
        assert {p.state for p in status(running.dir)} == {"RUNNING"}
    assert audited(running.dir) == [("lab.down", "refused")] * 2
    result = mailconsole(running.dir, "lab", "down", "--dir", str(running.dir))
    assert result.returncode == 0, result.stdout
    assert result.stdout == f"lab in {running.dir} stopped\n"
    assert audited(running.dir)[2:] == [("lab.down", "started"), ("lab.down", "ok")]
    assert lab_processes(running.dir) == []
    assert processes_mentioning(str(running.dir)) == []
    assert not any(is_alive(pid) and pid in lab_processes(running.dir) for pid in before)


def test_filters_drop_eicar_and_tag_gtube(fresh_lab) -> None:  # type: ignore[no-untyped-def]
    running = fresh_lab(True)
    assert {p.name for p in status(running.dir)} == {
        "opensmtpd",
        "dovecot",
        "clamd",
        "clamsmtpd",
        "spampd",
        "pebble",
        "lab-mirror",
    }
    tag = unique()
    send(running, f"virus-{tag}@lab.test", "bob@example.com", f"virus {tag}", EICAR)
    send(running, f"spam-{tag}@lab.test", "bob@example.com", f"spam {tag}", GTUBE)
    spam_folder = running.dir / "spool" / "bob" / "Mail" / ".Spam"
    spam = wait_for(
        lambda: next((t for t in maildir_texts(spam_folder) if f"spam {tag}" in t), None),
        timeout=60,
        what="GTUBE in bob's Spam folder",
    )
    assert f"Subject: ***Spam*** spam {tag}" in str(spam)
    assert "X-Spam-Status: Yes" in str(spam)
    clamd_log = running.dir / "log" / "clamd.log"
    wait_for(
        lambda: "Lab.EICAR" in clamd_log.read_text() and "FOUND" in clamd_log.read_text(),
        what="clamd to find EICAR",
    )
    mail = running.dir / "spool" / "bob" / "Mail"
    everything = maildir_texts(mail) + maildir_texts(spam_folder)
    assert not any(f"virus {tag}" in text for text in everything)
    assert not any(f"virus-{tag}" in line for line in queue(running))


def test_down_after_a_supervisord_crash_kills_what_is_left(fresh_lab) -> None:  # type: ignore[no-untyped-def]
    running = fresh_lab()
    os.kill(int(running.info["pid"]), signal.SIGKILL)
    wait_for(lambda: running_pid(running.dir) is None, what="supervisord to die")
    orphans = lab_processes(running.dir)
    assert orphans, "smtpd and dovecot outlive a killed supervisord"
    refused = mailconsole(running.dir, "lab", "up", "--dir", str(running.dir))
    assert refused.returncode == 1 and "still running without supervisord" in refused.stderr
    result = mailconsole(running.dir, "lab", "down", "--dir", str(running.dir))
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("killed ") and "left behind" in result.stdout
    assert lab_processes(running.dir) == []
    assert processes_mentioning(str(running.dir)) == []


def test_the_labs_settings_file_is_enough_to_find_the_lab(fresh_lab) -> None:  # type: ignore[no-untyped-def]
    """`--config DIR/mailconsole.toml` and no --dir: status, send and down act on that lab (its
    settings file names its directory), not on /tmp/mailconsole-lab."""
    running = fresh_lab()
    config = ("--config", str(running.settings_path))
    listed = mailconsole(running.dir, *config, "lab", "status")
    assert listed.returncode == 0, listed.stderr
    assert {line.split()[0] for line in listed.stdout.splitlines()} == {"opensmtpd", "dovecot"}
    sent = mailconsole(running.dir, *config, "lab", "send")
    assert sent.returncode == 0, sent.stderr
    assert f"the queue: {running.dir}/bin/smtpctl show queue" in sent.stdout
    wait_for(
        lambda: any(f"|someone@{UNREACHABLE_DOMAIN}|" in line for line in queue(running)),
        what="lab send's message to the dead relay in this lab's queue",
    )
    stopped = mailconsole(running.dir, *config, "lab", "down")
    assert (stopped.returncode, stopped.stdout) == (0, f"lab in {running.dir} stopped\n")
    assert running_pid(running.dir) is None and lab_processes(running.dir) == []
    assert [(action, target) for action, target in audited_targets(running.dir)] == [
        ("lab.send", str(running.dir)),
        ("lab.send", str(running.dir)),
        ("lab.down", str(running.dir)),
        ("lab.down", str(running.dir)),
    ]


def audited_targets(lab_dir: Path) -> list[tuple[str, str]]:
    """(action, target) of each line of the lab's audit log."""
    import json

    lines = audit_log(lab_dir).read_text().splitlines()
    return [(record["action"], record["target"]) for record in map(json.loads, lines)]
