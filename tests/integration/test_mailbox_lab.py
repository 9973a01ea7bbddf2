"""`mailconsole mailboxes` against the lab's real Dovecot: mail delivered through the real smtpd and
fdm is counted per folder; listing leaves every \\Seen flag as it was; the Maildir fallback counts
what Dovecot counts; a folder name in modified UTF-7 round trips; a wrong password, an unreachable
port, a TLS failure and a silent server each read as one line; no password in any output."""

from __future__ import annotations

import json
import os
import smtplib
import socket
import subprocess
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from imapclient import IMAPClient
from imapclient.imap_utf7 import encode as encode_utf7

from console.lab.render import LAB_MASTER_PASSWORD, LAB_MASTER_USER
from console.mailbox.imap import list_folders
from tests.helpers import MAILCONSOLE, wait_for
from tests.integration.conftest import RunningLab

pytestmark = pytest.mark.lab


class Runner:
    """Runs `mailconsole --config LAB mailboxes ...` and keeps every output, to grep for passwords."""

    def __init__(self, lab: RunningLab) -> None:
        self.lab = lab
        self.outputs: list[str] = []

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILCONSOLE_")}
        done = subprocess.run(
            [*MAILCONSOLE, "--config", str(self.lab.settings_path), "mailboxes", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**clean, **env},
        )
        self.outputs += [done.stdout, done.stderr]
        return done

    def folders(self, *args: str, **env: str) -> dict[str, list[dict[str, Any]]]:
        """account -> its folders as --json gives them."""
        done = self(*args, "--json", **env)
        assert done.returncode == 0, done.stderr
        return {box["account"]: box["folders"] for box in json.loads(done.stdout)}

    def json(self, *args: str, **env: str) -> dict[str, dict[str, tuple[int, int]]]:
        """account -> folder -> (messages, unseen), from --json."""
        return {
            account: {f["name"]: (f["messages"], f["unseen"]) for f in folders}
            for account, folders in self.folders(*args, **env).items()
        }

    def one_line_failure(self, *args: str, **env: str) -> str:
        done = self(*args, **env)
        assert done.returncode == 1, done.stdout
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mailconsole: "), done.stderr
        assert "Traceback" not in done.stderr
        return lines[0]

    def assert_no_password(self) -> None:
        secrets = [*self.lab.users.values(), LAB_MASTER_PASSWORD]
        for output in self.outputs:
            for secret in secrets:
                assert secret not in output
        audit = self.lab.dir / "log" / "mailconsole-audit.log"
        if audit.exists():
            text = audit.read_text(encoding="utf-8", errors="replace")
            assert not any(secret in text for secret in secrets)


@pytest.fixture
def run(lab: RunningLab) -> Iterator[Runner]:
    runner = Runner(lab)
    yield runner
    runner.assert_no_password()


def imap(lab: RunningLab, user: str = "bob") -> IMAPClient:
    client = IMAPClient("127.0.0.1", lab.ports["imap"], ssl=False, timeout=30)
    client.login(user, lab.users[user])
    return client


def send(lab: RunningLab, rcpt: str, subject: str, spam: bool = False) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "sender@lab.test", rcpt, subject
    if spam:
        message["X-Spam-Status"] = "Yes, score=9.9 required=5.0"
        message["X-Spam-Flag"] = "YES"
    message.set_content("hello from the mailbox tests")
    with smtplib.SMTP("127.0.0.1", lab.ports["smtp"], timeout=30) as smtp:
        smtp.send_message(message)


def subjects_in(lab: RunningLab, folder: str) -> set[str]:
    with imap(lab) as client:
        if not client.folder_exists(folder):
            return set()
        client.select_folder(folder, readonly=True)
        fetched = client.fetch(client.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
        return {
            data[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().strip().removeprefix("Subject: ")
            for data in fetched.values()
        }


def test_counts_match_what_was_delivered(lab: RunningLab, run: Runner) -> None:
    before = run.json()
    tag = uuid.uuid4().hex[:8]
    inbox = [f"inbox {tag} {n}" for n in range(3)]
    for subject in inbox:
        send(lab, "bob@example.com", subject)
    send(lab, "bob@example.com", f"spam {tag}", spam=True)
    wait_for(lambda: set(inbox) <= subjects_in(lab, "INBOX"), timeout=60, what="bob's three mails")
    wait_for(lambda: f"spam {tag}" in subjects_in(lab, "Spam"), timeout=60, what="the spam in Spam")
    after = run.json()
    old_inbox = before["bob"].get("INBOX", (0, 0))
    assert after["bob"]["INBOX"] == (old_inbox[0] + 3, old_inbox[1] + 3)
    old_spam = before["bob"].get("Spam", (0, 0))
    assert after["bob"]["Spam"] == (old_spam[0] + 1, old_spam[1] + 1)
    assert after["sysmail"] == before["sysmail"]

    with imap(lab) as client:  # one of them read: one fewer unseen
        client.select_folder("INBOX")
        [uid] = client.search(["SUBJECT", inbox[0]])
        client.add_flags([uid], [b"\\Seen"])
    assert run.json("bob")["bob"]["INBOX"] == (old_inbox[0] + 3, old_inbox[1] + 2)

    text = run("bob")
    assert text.returncode == 0 and "IMAP 127.0.0.1:" in text.stdout and "as bob" in text.stdout

    # Dovecot has STATUS=SIZE; servers without it are summed with FETCH RFC822.SIZE: the same sizes.
    with imap(lab) as client:
        assert client.has_capability("STATUS=SIZE")
        by_status = list_folders(client)
        assert list_folders(client, status_size=False) == by_status
        assert any(folder.size for folder in by_status)

    # Without a password, the Maildirs on disk give the same counts, and the output says so.
    no_passwords = {"MAILCONSOLE_IMAP_PASSWORD_FILE": ""}
    assert run.folders(**no_passwords) == run.folders()  # sizes included
    assert "counted from the Maildir on disk" in run("bob", **no_passwords).stdout


def tagged(lab: RunningLab, tag: str) -> list[int]:
    """The UIDs of bob's INBOX messages whose subject has the tag (the server's own search)."""
    with imap(lab) as client:
        client.select_folder("INBOX", readonly=True)
        return list(client.search(["SUBJECT", tag]))


def seen_flags(lab: RunningLab) -> dict[int, bool]:
    """UID -> whether the message is \\Seen, for bob's whole INBOX."""
    with imap(lab) as client:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags(client.search("ALL"))
        return {uid: b"\\Seen" in value for uid, value in flags.items()}


def test_listing_messages_leaves_seen_flags_as_they_were(lab: RunningLab, run: Runner) -> None:
    tag = uuid.uuid4().hex[:8]
    send(lab, "bob@example.com", f"peek {tag}")
    send(lab, "bob@example.com", f"=?utf-8?q?=5Bbold=5D_caf=C3=A9?= {tag}")
    wait_for(lambda: len(tagged(lab, tag)) == 2, timeout=60, what="both mails in the INBOX")
    seen_before = seen_flags(lab)
    assert not any(seen_before[uid] for uid in tagged(lab, tag))
    done = run("bob", "--folder", "INBOX", "--limit", "1000")
    assert done.returncode == 0, done.stderr
    assert f"peek {tag}" in done.stdout and f"[bold] café {tag}" in done.stdout
    data = json.loads(run("bob", "--folder", "INBOX", "--json", "-n", "2").stdout)
    newest = data[0]["messages"]
    assert len(newest) == 2 and newest[0]["sender"] == "sender@lab.test"
    assert not newest[0]["seen"] and newest[0]["date"]
    assert seen_flags(lab) == seen_before


def test_spam_headers_are_listed(lab: RunningLab, run: Runner) -> None:
    tag = uuid.uuid4().hex[:8]
    send(lab, "bob@example.com", f"flagged {tag}", spam=True)
    wait_for(lambda: f"flagged {tag}" in subjects_in(lab, "Spam"), timeout=60, what="the spam")
    done = run("bob", "--folder", "Spam", "--json", "-n", "1000")
    [message] = [m for m in json.loads(done.stdout)[0]["messages"] if tag in m["subject"]]
    assert message["spam_flag"] == "YES" and message["spam_status"].startswith("Yes, score=9.9")


def test_utf7_folder_name_round_trip(lab: RunningLab, run: Runner) -> None:
    name = f"Reçus & Été {uuid.uuid4().hex[:6]}"
    with imap(lab) as client:
        client.create_folder(name)
        try:
            message = b"From: a@lab.test\r\nSubject: utf7\r\n\r\nbody\r\n"
            client.append(name, message)
            encoded = encode_utf7(name).decode()  # the name as Dovecot stores it
            assert "&" in encoded and "ç" not in encoded
            assert (lab.dir / "spool" / "bob" / "Mail" / f".{encoded}").is_dir()
            assert run.json("bob")["bob"][name] == (1, 1)
            assert run.json("bob", MAILCONSOLE_IMAP_PASSWORD_FILE="")["bob"][name] == (1, 1)
            listed = run("bob", "--folder", name, "--json")
            assert json.loads(listed.stdout)[0]["messages"][0]["subject"] == "utf7"
        finally:
            client.delete_folder(name)


def test_folder_names_a_user_chooses_never_hide_the_account(lab: RunningLab, run: Runner) -> None:
    """Dovecot sends `a[b` as a bare atom and imapclient, reading `[` as a response code, refused
    the whole LIST: one folder name bob chose hid all his folders from the operator (and from the
    probe's search for a lost message). Markup and a bidi override in names stay text."""
    tag = uuid.uuid4().hex[:6]
    names = [f"a[b{tag}", f"[@click=app.quit]{tag}", f"x]y{tag}", f"\u202eevil{tag}"]
    with imap(lab) as client:
        for name in names:
            client.create_folder(name)
        client.append(names[1], b"From: a@lab.test\r\nSubject: odd\r\n\r\nbody\r\n")
        try:
            folders = run.json("bob")["bob"]
            assert [folders[name] for name in names] == [(0, 0), (1, 1), (0, 0), (0, 0)]
            assert "INBOX" in folders
            text = run("bob").stdout
            assert f"\\u202eevil{tag}" in text and "\u202e" not in text
            listed = run("bob", "--folder", names[0], "--json")
            assert listed.returncode == 0 and json.loads(listed.stdout)[0]["messages"] == []
            # The probe's search for a lost message goes through bob's folders too.
            lost = subprocess.run(
                [
                    *MAILCONSOLE,
                    "--config",
                    str(lab.settings_path),
                    "probe",
                    "notifications@example.com",
                ],
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
                env={k: v for k, v in os.environ.items() if not k.startswith("MAILCONSOLE_")},
            )
            assert lost.returncode == 1 and "searched every folder of bob, sysmail" in lost.stdout
        finally:
            for name in names:
                client.delete_folder(name)


@pytest.mark.parametrize(
    ("env_name", "settings"),
    [
        ("starttls", {"MAILCONSOLE_IMAP_TLS": "starttls", "port": "imap"}),
        ("plain", {"MAILCONSOLE_IMAP_TLS": "plain", "port": "imap"}),
        (
            "master user",
            {
                "MAILCONSOLE_IMAP_PASSWORD_FILE": "",
                "MAILCONSOLE_IMAP_MASTER_USER": LAB_MASTER_USER,
                "MAILCONSOLE_IMAP_MASTER_PASSWORD_FILE": "master",
            },
        ),
    ],
)
def test_other_ways_in(
    lab: RunningLab, run: Runner, env_name: str, settings: dict[str, str]
) -> None:
    env = dict(settings)
    if env.pop("port", None):
        env["MAILCONSOLE_IMAP_PORT"] = str(lab.ports["imap"])
    if env.get("MAILCONSOLE_IMAP_MASTER_PASSWORD_FILE") == "master":
        env["MAILCONSOLE_IMAP_MASTER_PASSWORD_FILE"] = str(lab.dir / "db" / "imap-master-password")
    done = run("bob", **env)
    assert done.returncode == 0, done.stderr
    assert "INBOX" in done.stdout and "IMAP 127.0.0.1:" in done.stdout
    if env_name == "master user":
        assert f"as bob*{LAB_MASTER_USER}" in done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_failures_read_as_one_line(lab: RunningLab, run: Runner) -> None:
    wrong = run.one_line_failure("bob", MAILCONSOLE_PASSWORD_BOB="not-the-password")
    assert "login as bob refused" in wrong and "MAILCONSOLE_PASSWORD_BOB" in wrong
    assert "not-the-password" not in wrong

    port = free_port()
    refused = run.one_line_failure("bob", MAILCONSOLE_IMAP_PORT=str(port))
    assert f"127.0.0.1:{port}" in refused and "connection refused" in refused

    untrusted = run.one_line_failure("bob", MAILCONSOLE_IMAP_SELF_SIGNED="0")
    assert "TLS failed: the certificate was not accepted" in untrusted

    tls_to_plain = run.one_line_failure("bob", MAILCONSOLE_IMAP_PORT=str(lab.ports["imap"]))
    assert "TLS failed" in tls_to_plain

    with socket.socket() as silent:  # accepts connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        timeout = run.one_line_failure(
            "bob", MAILCONSOLE_IMAP_PORT=str(port), MAILCONSOLE_IMAP_TIMEOUT="1"
        )
    assert "no answer in time" in timeout

    all_accounts = run(MAILCONSOLE_PASSWORD_SYSMAIL="wrong")
    assert all_accounts.returncode == 1 and "bob: IMAP" in all_accounts.stdout
    assert (
        all_accounts.stderr.strip().splitlines()
        == [
            line
            for line in all_accounts.stderr.strip().splitlines()
            if line.startswith("mailconsole: sysmail: IMAP")
        ]
        and all_accounts.stderr.count("\n") == 1
    )

    mode = run.lab.dir / "db" / "imap-passwords"
    mode.chmod(0o644)
    try:
        readable = run.one_line_failure("bob")
    finally:
        mode.chmod(0o600)
    assert "may be read by group or others" in readable
