"""Account changes on the real lab, through the real command line: after each change a real IMAP login
with the new password and a real delivery (SMTP to the lab's smtpd, fdm, Dovecot's deliver) to the
new address; smtpd refusing a table reload; read-only refusing; the passwords in no output or log."""

from __future__ import annotations

import json
import smtplib
import subprocess
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from console.accounts.check import check
from console.accounts.model import load_accounts
from console.queue.parse import parse_queue
from console.settings import load_settings
from tests.helpers import MAILCONSOLE, wait_for
from tests.integration.conftest import RunningLab, forward_team

pytestmark = pytest.mark.lab

PASSWORDS = ["carol-first-password", "carol-second-password"]


def accounts(
    lab: RunningLab, *args: str, password: str | None = None, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`mailconsole --config LAB accounts ARGS`, the password (if any) on stdin."""
    return subprocess.run(
        [
            *MAILCONSOLE,
            "--config",
            str(config or lab.settings_path),
            "accounts",
            *args,
            *(["--password-stdin"] if password else []),
        ],
        input=f"{password}\n" if password else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def send(lab: RunningLab, rcpt: str, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "sender@lab.test", rcpt, subject
    message.set_content("hello from the accounts tests")
    with smtplib.SMTP("127.0.0.1", lab.ports["smtp"], timeout=30) as smtp:
        smtp.send_message(message)


def inbox_subjects(lab: RunningLab, user: str, password: str) -> list[str]:
    """Log in over IMAP (a failed login raises) and list the INBOX's subjects."""
    with IMAPClient("127.0.0.1", lab.ports["imap"], ssl=False, timeout=30) as imap:
        imap.login(user, password)
        imap.select_folder("INBOX", readonly=True)
        found = imap.fetch(imap.search(), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
        return [data[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().strip() for data in found.values()]


def delivered(lab: RunningLab, rcpt: str, user: str, password: str) -> None:
    """Send to rcpt and wait until user sees it over IMAP."""
    subject = f"accounts {uuid.uuid4().hex[:10]}"
    send(lab, rcpt, subject)
    wait_for(
        lambda: f"Subject: {subject}" in inbox_subjects(lab, user, password),
        timeout=30,
        what=f"mail to {rcpt} in {user}'s INBOX",
    )


def login_fails(lab: RunningLab, user: str, password: str) -> bool:
    try:
        inbox_subjects(lab, user, password)
    except IMAPClient.Error:
        return True
    return False


def login_refused(lab: RunningLab, user: str, password: str) -> None:
    """Wait until Dovecot refuses the login (it looks at a changed passwd-file at most once a
    second)."""
    wait_for(
        lambda: login_fails(lab, user, password),
        timeout=10,
        what=f"Dovecot to refuse {user}'s old password",
    )


def test_every_change_then_a_login_and_a_delivery(fresh_lab) -> None:  # type: ignore[no-untyped-def]
    lab: RunningLab = fresh_lab()
    outputs: list[str] = []

    def ok(*args: str, password: str | None = None) -> str:
        done = accounts(lab, *args, password=password)
        outputs.extend([done.stdout, done.stderr])
        assert done.returncode == 0, done.stderr
        return done.stdout

    added = ok("add-user", "carol", "carol@example.com", password=PASSWORDS[0])
    assert "smtpctl update table passwd: command succeeded" in added
    assert "smtpctl update table vusers: command succeeded" in added
    maildir = lab.dir / "spool" / "carol" / "Mail"
    assert maildir.owner() == "vmail" and (maildir / "new").is_dir()
    delivered(lab, "carol@example.com", "carol", PASSWORDS[0])

    ok("passwd", "carol", password=PASSWORDS[1])
    login_refused(lab, "carol", PASSWORDS[0])
    delivered(lab, "carol@example.com", "carol", PASSWORDS[1])

    ok("add-address", "carol.alias@example.com", "carol")
    delivered(lab, "carol.alias@example.com", "carol", PASSWORDS[1])

    ok("add-domain", "example.org")
    ok("add-address", "carol@example.org", "carol")
    delivered(lab, "carol@example.org", "carol", PASSWORDS[1])

    ok("del-address", "carol.alias@example.com")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(lab, "carol.alias@example.com", "no longer accepted")

    ok("del-address", "carol@example.org")
    ok("del-domain", "example.org")

    refused = accounts(lab, "del-user", "carol")
    assert (
        refused.returncode == 1
        and "message(s)" in refused.stderr
        and "Maildir is kept" in refused.stderr
    )
    assert not login_fails(lab, "carol", PASSWORDS[1])
    removed = ok("del-user", "carol", "--yes")
    assert "is kept" in removed and (maildir / "new").is_dir()
    login_refused(lab, "carol", PASSWORDS[1])
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(lab, "carol@example.com", "user gone")

    # bob was never touched
    assert inbox_subjects(lab, "bob", lab.users["bob"]) is not None
    check = accounts(lab, "check", "--json")
    assert '"code": "not-in-vusers"' not in check.stdout and '"unknown-domain"' not in check.stdout

    # the passwords appear in no output and no log of the lab (the audit log included)
    logs = [p for p in (lab.dir / "log").rglob("*") if p.is_file()]
    assert lab.dir / "log" / "mailconsole-audit.log" in logs
    for password in PASSWORDS:
        assert not any(password in text for text in outputs)
        assert not [p for p in logs if password in p.read_text(errors="replace")]


def test_a_table_reload_smtpd_refuses(fresh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """smtpd.conf names the vusers file `virtuals`, a table smtpd does not have: smtpctl says
    `command failed`, the new files stay in place, and the message says what to do."""
    lab: RunningLab = fresh_lab()
    smtpd_conf = tmp_path / "smtpd.conf"
    smtpd_conf.write_text(
        (lab.dir / "config" / "smtpd.conf").read_text().replace("table vusers ", "table virtuals ")
    )
    settings = tmp_path / "settings.toml"
    lines = [
        line
        for line in lab.settings_path.read_text().splitlines()
        if not line.startswith("smtpd_config")
    ]
    settings.write_text(f'smtpd_config = "{smtpd_conf}"\n' + "\n".join(lines) + "\n")
    done = accounts(lab, "add-address", "late@example.com", "bob", config=settings)
    assert done.returncode == 1
    assert "smtpctl update table virtuals: command failed" in done.stderr
    assert (
        "the new files are in place" in done.stderr
        and "smtpctl update table virtuals" in done.stderr
    )
    assert "late@example.com" in (lab.dir / "db" / "vusers").read_text()
    assert "smtpctl update table addrs: command succeeded" in done.stderr


def test_a_key_listed_twice_maps_to_its_last_line_as_in_smtpd(fresh_lab) -> None:  # type: ignore[no-untyped-def]
    """The real smtpd, after `smtpctl update table`, forwards mail for a vusers key listed twice
    (the second time in other case) to the last line's target; the accounts model and its check
    say the same."""
    lab: RunningLab = fresh_lab()
    forward_team(lab)
    send(lab, "team@example.com", "which team")

    def forwarded_to() -> str | None:
        shown = subprocess.run(
            [*lab.smtpctl, "show", "queue"], capture_output=True, text=True, check=True
        ).stdout
        for envelope in parse_queue(shown)[0]:
            if envelope.rcpt == "team@example.com":
                return envelope.dest
        return None

    dest = wait_for(forwarded_to, what="the envelope for team@example.com in smtpd's queue")
    assert dest == "second@unreachable.test"
    settings = load_settings(config=str(lab.settings_path), env={}).settings
    accounts = load_accounts(settings)
    assert accounts.targets("team@example.com") == [dest]
    [duplicate] = [f for f in check(accounts, settings.fdm_config) if f.code == "duplicate-key"]
    assert duplicate.message.endswith(f": smtpd uses the last one, line {duplicate.line} ({dest})")
    # the probe predicts the same forward: relayed to the last line's target, where it waits
    done = subprocess.run(
        [*MAILCONSOLE, "--config", str(lab.settings_path), "probe", "team@example.com"]
        + ["--json", "--timeout", "10"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    result = json.loads(done.stdout)
    msgid = result["hops"][0]["detail"].split()[4]
    subprocess.run([*lab.smtpctl, "remove", msgid], capture_output=True, check=False)
    assert (done.returncode, result["outcome"]) == (1, "queued")
    assert result["prediction"]["expect"] == "relayed"
    assert result["prediction"]["sentence"] == (
        f"vusers line {duplicate.line} (the last of its 2 lines: smtpd uses the last) forwards "
        f"it to {dest}, which smtpd relays off this machine (action lab_unreachable)"
    )


def test_read_only_refuses_every_change_and_changes_nothing(lab: RunningLab) -> None:
    files = {
        p: p.read_bytes()
        for p in [*(lab.dir / "db").iterdir(), lab.dir / "config" / "fdm.conf"]
        if p.is_file()
    }
    for args in (
        ["add-user", "dave"],
        ["passwd", "bob"],
        ["del-user", "bob", "--yes"],
        ["add-address", "x@example.com", "bob"],
        ["del-address", "bob@example.com"],
        ["add-domain", "example.org"],
        ["del-domain", "example.net"],
    ):
        done = subprocess.run(
            [*MAILCONSOLE, "--config", str(lab.settings_path), "--read-only", "accounts", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 3, (args, done.stderr)
        assert done.stderr.startswith("mailconsole: refused: mailconsole is read-only")
    assert {p: p.read_bytes() for p in files} == files
