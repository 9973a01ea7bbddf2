"""Counts from a Maildir++ tree on disk (Dovecot's layout): new/ and cur/, unseen by the S flag,
sizes, folder names in modified UTF-7 decoded; and `mailconsole mailboxes` saying it shows the disk."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from imapclient.imap_utf7 import encode as encode_utf7

from console.mailbox.imap import server_says
from console.mailbox.maildir import folder_name, maildir_folders
from tests.helpers import MAILCONSOLE


def put(folder: Path, sub: str, name: str, body: bytes = b"Subject: x\r\n\r\nbody\r\n") -> None:
    (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "tmp").mkdir(exist_ok=True)
    (folder / sub / name).write_bytes(body)


def make_tree(maildir: Path) -> None:
    put(maildir, "new", "1.M1.host")
    put(maildir, "cur", "2.M2.host:2,S")
    put(maildir, "cur", "3.M3.host:2,RS", b"x" * 100)
    put(maildir, "cur", "4.M4.host:2,")
    put(maildir, "cur", "7.M7.host,S=10,W=12:2,S", b"1\n2\n3\n4\n5\n")  # Dovecot's sizes
    spam = maildir / ".Spam"
    put(spam, "cur", "5.M5.host:2,S")
    lists = maildir / ("." + encode_utf7("Mailing Lists").decode())
    (lists / "cur").mkdir(parents=True)
    (lists / "new").mkdir()
    accented = maildir / ("." + encode_utf7("Reçus.Été").decode())
    put(accented, "new", "6.M6.host")
    (maildir / ".not-a-maildir").mkdir()
    (maildir / "dovecot-uidlist").write_text("3 V1 N7\n")


def test_counts_per_folder(tmp_path: Path) -> None:
    maildir = tmp_path / "Mail"
    make_tree(maildir)
    found = {f.name: (f.messages, f.unseen, f.size) for f in maildir_folders(maildir)}
    body = len(b"Subject: x\r\n\r\nbody\r\n")
    assert found == {
        "INBOX": (5, 2, 3 * body + 100 + 12),
        "Spam": (1, 0, body),
        "Mailing Lists": (0, 0, 0),
        "Reçus.Été": (1, 1, body),
    }
    assert [f.name for f in maildir_folders(maildir)][0] == "INBOX"
    assert "&" in "".join(p.name for p in maildir.iterdir())  # the names on disk really are encoded


def test_names_that_are_not_modified_utf7_are_shown_as_on_disk(tmp_path: Path) -> None:
    assert folder_name("R&AOk-sum&AOk-") == "Résumé"
    assert folder_name("&Zm9v") == "&Zm9v"  # base64 of a partial UTF-16 character
    assert folder_name("&&&-") == "&&&-"
    assert folder_name("Reçus") == "Reçus"  # already UTF-8 on disk
    maildir = tmp_path / "Mail"
    put(maildir, "new", "1.M1.host")
    put(maildir / ".&Zm9v", "new", "2.M2.host")
    assert {f.name: f.messages for f in maildir_folders(maildir)} == {"INBOX": 1, "&Zm9v": 1}


def test_server_answers_lose_imapclients_prefix_and_dovecots_timing() -> None:
    from imapclient.exceptions import IMAPClientError

    answer = IMAPClientError("status failed: Mailbox doesn't exist: &Zm9v (0.001 + 0.000 secs).")
    assert server_says(answer) == "Mailbox doesn't exist: &Zm9v"
    assert server_says(IMAPClientError("something odd")) == "something odd"


def test_an_empty_or_missing_maildir_lists_nothing(tmp_path: Path) -> None:
    assert maildir_folders(tmp_path / "absent") == []


def test_cli_without_passwords_says_it_counts_the_disk(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    make_tree(spool / "bob" / "Mail")
    userdb = tmp_path / "userdb"
    userdb.write_text(
        f"bob:$6$x:2000:2000::{spool}/bob::userdb_mail=maildir:{spool}/bob/Mail\n"
        f"ghost:$6$x:2000:2000::{spool}/ghost::\n",
        encoding="utf-8",
    )
    conf = tmp_path / "mc.toml"
    conf.write_text(
        f'table_userdb = "{userdb}"\nspool_dir = "{spool}"\n'
        f'supervisor_config = "{tmp_path / "sv.conf"}"\n',
        encoding="utf-8",
    )
    (tmp_path / "sv.conf").write_text("[supervisord]\n", encoding="utf-8")
    run = [*MAILCONSOLE, "--config", str(conf), "mailboxes"]
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [*run, "bob"], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "counted from the Maildir on disk" in done.stdout
    assert any(line.split()[:3] == ["INBOX", "5", "2"] for line in done.stdout.splitlines())
    as_json = subprocess.run(
        [*run, "bob", "--json"], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    [box] = json.loads(as_json.stdout)
    assert box["source"] == "maildir"
    assert {f["name"]: f["messages"] for f in box["folders"]}["Reçus.Été"] == 1
    everyone = subprocess.run(run, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert everyone.returncode == 1
    assert everyone.stderr.strip().splitlines() == [
        f"mailconsole: ghost: no Maildir at {spool}/ghost/Mail"
    ]
    messages = subprocess.run(
        [*run, "bob", "--folder", "INBOX"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert messages.returncode == 1 and len(messages.stderr.strip().splitlines()) == 1
    assert "needs IMAP" in messages.stderr and "Traceback" not in messages.stderr
