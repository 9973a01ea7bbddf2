"""`mailconsole probe` against the real lab: a probe to bob lands in INBOX as predicted and is gone
afterwards (kept with --keep); with the filters, GTUBE lands in Spam and EICAR is stopped by
ClamAV, each hop named; a probe to notifications@ (a rule naming an undefined action) is lost, with
the rule's line; read-only refuses and sends nothing; an unreachable port is one line."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from console.lab.render import LAB_MASTER_PASSWORD
from console.mailbox.probe import (
    DEFAULT_TIMEOUT,
    FILTERS_TIMEOUT,
    Hop,
    ProbeOptions,
    dispatch_probe,
)
from console.settings import load_settings
from tests.helpers import MAILCONSOLE, command_env
from tests.integration.conftest import RunningLab, forward_team

pytestmark = pytest.mark.lab


def probe(lab: RunningLab, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*MAILCONSOLE, "--config", str(lab.settings_path), "probe", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=command_env(**env),
    )
    assert "Traceback" not in done.stderr
    for secret in [*lab.users.values(), LAB_MASTER_PASSWORD]:
        assert secret not in done.stdout + done.stderr
    return done


def probe_json(
    lab: RunningLab, *args: str, code: int = 0, timeout: str | None = "90", **env: str
) -> dict[str, Any]:
    """`probe --json` with `--timeout` (None: the probe's default for its path)."""
    given = ["--timeout", timeout] if timeout is not None else []
    done = probe(lab, *args, "--json", *given, **env)
    assert done.returncode == code, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def hop_names(result: dict[str, Any]) -> list[str]:
    return [hop["name"] for hop in result["hops"]]


def in_folder(lab: RunningLab, message_id: str, folder: str, user: str = "bob") -> list[int]:
    """The UIDs of the probe (by its Message-ID) in one of the user's folders, over real IMAP."""
    with IMAPClient("127.0.0.1", lab.ports["imap"], ssl=False, timeout=30) as client:
        client.login(user, lab.users[user])
        client.select_folder(folder, readonly=True)
        return list(client.search(["HEADER", "Message-ID", message_id]))


def audit_lines(lab: RunningLab) -> list[dict[str, Any]]:
    path = lab.dir / "log" / "mailconsole-audit.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rule_line(lab: RunningLab, action: str) -> int:
    """fdm.conf's line of the rule that names `action`."""
    lines = (lab.dir / "config" / "fdm.conf").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith("match") and action in line)


def test_probe_to_bob_lands_in_inbox_as_predicted_and_is_removed(lab: RunningLab) -> None:
    before = len(audit_lines(lab))
    result = probe_json(lab, "bob@example.com")
    audited = audit_lines(lab)[before:]
    assert [(r["action"], r["target"], r["outcome"]) for r in audited] == [
        ("mailbox.probe", "bob@example.com", "started"),
        ("mailbox.probe", "bob@example.com", "ok"),
    ]
    assert audited[0]["params"] == {"kind": "clean", "timeout": "90", "keep": "no"}
    assert result["outcome"] == "delivered" and result["as_predicted"]
    assert (result["prediction"]["user"], result["prediction"]["folder"]) == ("bob", "INBOX")
    assert result["prediction"]["rule_line"] == rule_line(lab, "bob_inbox")
    assert (result["user"], result["folder"]) == ("bob", "INBOX")
    # no filters in this lab: smtpd hands the message straight to fdm
    assert hop_names(result) == ["sent", "accepted", "delivered", "fdm", "imap", "removed"]
    times = [hop["at"] for hop in result["hops"]]
    assert times == sorted(times) and all(t >= 0 for t in times)
    assert result["total"] is not None and result["total"] >= 0
    assert all(hop["status"] == "ok" for hop in result["hops"])
    assert "smtp envelope evpid=" in result["hops"][1]["line"]
    assert "saved mail to INBOX" in result["hops"][3]["line"]
    assert result["removed"] and in_folder(lab, result["message_id"], "INBOX") == []

    text = probe(lab, "bob@example.com")
    assert text.returncode == 0, text.stderr
    for name in ("accepted", "delivered", "fdm", "imap"):
        assert re.search(rf"^\+ *\d+\.\d{{3}} s  {name} +ok ", text.stdout, re.M), text.stdout
    assert "delivered: as predicted, to bob's folder INBOX" in text.stdout
    assert re.search(r"^total: \d+\.\d{3} s from accepted to visible$", text.stdout, re.M)


def test_keep_leaves_the_probe_in_its_folder(lab: RunningLab) -> None:
    result = probe_json(lab, "bob@example.com", "--keep")
    assert result["kept"] and not result["removed"]
    assert "removed" not in hop_names(result)
    uids = in_folder(lab, result["message_id"], "INBOX")
    assert len(uids) == 1
    with IMAPClient("127.0.0.1", lab.ports["imap"], ssl=False, timeout=30) as client:
        client.login("bob", lab.users["bob"])
        client.select_folder("INBOX")
        client.delete_messages(uids)
        client.uid_expunge(uids)


def test_probe_to_an_undefined_action_is_lost_with_the_rules_line(lab: RunningLab) -> None:
    line = rule_line(lab, "bob_notices")
    result = probe_json(lab, "notifications@example.com", code=1)
    assert result["outcome"] == "lost" and not result["as_predicted"]
    assert result["prediction"]["expect"] == "lost"
    assert result["prediction"]["rule_line"] == line
    assert hop_names(result) == ["sent", "accepted", "delivered", "imap"]
    assert result["hops"][2]["detail"].endswith("Delivered")
    assert result["hops"][3]["status"] == "failed"
    assert f"rule at line {line}" in result["verdict"] and "bob_notices" in result["verdict"]
    assert "no folder has it" in result["verdict"]

    text = probe(lab, "notifications@example.com", "--timeout", "90")
    assert text.returncode == 1
    [error] = text.stderr.strip().splitlines()
    assert error.startswith("mailconsole: lost: ") and f"line {line}" in error


def test_without_smtpds_log_the_folder_is_looked_at_directly(
    lab: RunningLab, tmp_path: Path
) -> None:
    result = probe_json(lab, "bob@example.com", MAILCONSOLE_LOG_DIR=str(tmp_path))
    assert result["outcome"] == "delivered" and result["folder"] == "INBOX"
    assert hop_names(result) == ["sent", "logs", "imap", "removed"]
    assert str(tmp_path) in result["hops"][1]["detail"]


def test_a_probe_that_cannot_leave_the_queue_says_so_with_smtpds_error(lab: RunningLab) -> None:
    # unreachable.test is relayed to a port nothing listens on: smtpd keeps it and retries
    done = probe(lab, "someone@unreachable.test", "--json", "--timeout", "30")
    result = json.loads(done.stdout)
    msgid = result["hops"][0]["detail"].split()[4]
    try:
        assert done.returncode == 1
        assert result["outcome"] == "queued" and result["prediction"]["expect"] == "relayed"
        assert f"envelope {msgid}" in result["verdict"]
        assert "Network error on destination MXs" in result["verdict"]
        assert f"mailconsole queue remove {msgid}" in result["verdict"]
    finally:
        subprocess.run([*lab.smtpctl, "remove", msgid], capture_output=True, check=False)


def test_read_only_refuses_and_sends_nothing(lab: RunningLab) -> None:
    before = len(audit_lines(lab))
    smtpd_log = lab.dir / "log" / "smtpd.log"
    accepted_before = smtpd_log.read_text().count(" smtp message msgid=")
    done = subprocess.run(
        [
            *MAILCONSOLE,
            "--config",
            str(lab.settings_path),
            "--read-only",
            "probe",
            "bob@example.com",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=command_env(),
    )
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        "mailconsole: refused: mailconsole is read-only (mailbox.probe bob@example.com)"
    ]
    new = audit_lines(lab)[before:]
    assert [(r["action"], r["outcome"]) for r in new] == [("mailbox.probe", "refused")]
    assert smtpd_log.read_text().count(" smtp message msgid=") == accepted_before


def test_unreachable_port_is_one_line(lab: RunningLab) -> None:
    closed = lab.ports["dkimproxy"]  # the lab leaves dkimproxy out: nothing listens there
    done = probe(lab, "bob@example.com", "--via", f"127.0.0.1:{closed}")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"mailconsole: cannot send the probe to 127.0.0.1:{closed}: connection refused "
        "(nothing listens there)"
    ]
    bad = probe(lab, "bob@example.com", "--via", "nowhere")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "is not HOST:PORT" in bad.stderr
    kind = probe(lab, "bob@example.com", "--kind", "worm")
    assert kind.returncode == 2 and "one of clean, spam, virus" in kind.stderr


def test_the_core_reports_each_hop_as_it_happens(lab: RunningLab) -> None:
    settings = load_settings(config=str(lab.settings_path), env={}).settings
    seen: list[tuple[Hop, int]] = []
    result = dispatch_probe(
        settings,
        "bob@example.com",
        ProbeOptions(),
        on_hop=lambda hop: seen.append((hop, threading.get_ident())),
    )
    assert result.as_predicted and result.exit_code == 0
    assert result.timeout == DEFAULT_TIMEOUT == 30  # no filters on the path: the short default
    assert [hop for hop, _ in seen] == result.hops
    assert {thread for _, thread in seen} == {threading.get_ident()}


def test_with_filters_gtube_lands_in_spam_and_eicar_is_stopped_by_clamav(fresh_lab: Any) -> None:
    lab = fresh_lab(True)
    spam = probe_json(lab, "bob@example.com", "--kind", "spam")
    assert spam["outcome"] == "delivered" and spam["as_predicted"]
    assert (spam["prediction"]["folder"], spam["folder"]) == ("Spam", "Spam")
    assert spam["prediction"]["rule_line"] == rule_line(lab, "bob_spam")
    assert [f.split(" ")[0] for f in spam["prediction"]["filters"]] == ["clamsmtpd", "spampd"]
    assert hop_names(spam) == [
        "sent",
        "accepted",
        "clamsmtpd",
        "spampd",
        "delivered",
        "fdm",
        "imap",
        "removed",
    ]
    assert in_folder(lab, spam["message_id"], "Spam") == []

    virus = probe_json(lab, "bob@example.com", "--kind", "virus")
    assert virus["outcome"] == "stopped" and virus["as_predicted"]
    assert virus["prediction"]["expect"] == "stopped"
    assert hop_names(virus) == ["sent", "accepted", "clamsmtpd"]
    stopped = virus["hops"][-1]
    assert stopped["status"] == "stopped" and "Virus Detected" in stopped["detail"]
    assert "Lab.EICAR" in virus["verdict"]  # clamd's FOUND line names the signature
    assert virus["folder"] == ""

    # a vusers forward to another domain: smtpd matches it again under the filters' tag, finds no
    # line for it and refuses it to spampd's relay, so it bounces, as predicted
    forward_team(lab)
    forwarded = probe_json(lab, "team@example.com", code=1)
    assert (forwarded["prediction"]["expect"], forwarded["outcome"]) == ("bounced", "bounced")
    assert "forwards it to second@unreachable.test" in forwarded["prediction"]["sentence"]
    assert "Mailing list expansion problem" in forwarded["verdict"]
    assert hop_names(forwarded)[-1] == "spampd"

    before = len(audit_lines(lab))
    clean = probe_json(lab, "bob@example.com", timeout=None)
    assert clean["outcome"] == "delivered" and clean["folder"] == "INBOX"
    assert hop_names(clean)[2:4] == ["clamsmtpd", "spampd"]
    # no --timeout: the longer default of a path through the filters
    assert clean["timeout"] == FILTERS_TIMEOUT == 90
    assert audit_lines(lab)[before]["params"] == {"kind": "clean", "keep": "no"}


def test_a_probe_beyond_a_folders_newest_messages_is_found_by_the_whole_search(
    lab: RunningLab,
) -> None:
    """While waiting the probe searches only a folder's newest messages (a header search over a big
    folder takes seconds); the whole folder is searched before anything is called missing, and the
    removal finds the message wherever it is."""
    from console.mailbox.probe import NEWEST, _Mailboxes

    folder = "ProbeWindow"
    old_id = "<old-probe@mailconsole.test>"

    def message(message_id: str) -> bytes:
        return f"Message-ID: {message_id}\r\nSubject: filler\r\n\r\nbody\r\n".encode()

    with IMAPClient("127.0.0.1", lab.ports["imap"], ssl=False, timeout=30) as client:
        client.login("bob", lab.users["bob"])
        client.create_folder(folder)
        try:
            client.append(folder, message(old_id))
            client.multiappend(
                folder, [message(f"<filler-{n}@mailconsole.test>") for n in range(NEWEST)]
            )
            mailboxes = _Mailboxes(load_settings(config=str(lab.settings_path), env={}).settings)
            try:
                assert mailboxes.find("bob", [folder], old_id) is None
                assert mailboxes.find("bob", [folder], "<filler-0@mailconsole.test>") is not None
                hit = mailboxes.find("bob", [folder], old_id, newest=None)
                assert hit is not None and hit[0] == folder and len(hit[1]) == 1
                assert mailboxes.remove("bob", folder, old_id) == 1
                assert mailboxes.find("bob", [folder], old_id, newest=None) is None
            finally:
                mailboxes.close()
        finally:
            client.delete_folder(folder)
