"""`mailconsole health --json` on the real lab with its filters: smtpd's failing handshakes and the
STARTTLS port 465 as findings, Dovecot's served certificate, a real clamd answering PING, and the JSON
following each change (a renewed certificate, HUP through the dispatcher, rules appearing and
vanishing, clamd stopped and started again, mail queued)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import smtplib
import subprocess
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from console.actions import dispatch
from console.settings import load_settings
from tests.helpers import MAILCONSOLE, wait_for
from tests.integration.conftest import RunningLab

pytestmark = pytest.mark.lab


def health(lab: RunningLab) -> tuple[int, dict[str, Any]]:
    """Exit code and JSON of the real `mailconsole health --json` on the lab."""
    # A generous network timeout: this test is about what the checks find, and a loaded machine
    # may take seconds to answer a handshake.
    env = {**os.environ, "MAILCONSOLE_HEALTH_TIMEOUT": "20"}
    done = subprocess.run(
        [*MAILCONSOLE, "--config", str(lab.settings_path), "health", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode in (0, 1, 2, 3), done.stderr
    return done.returncode, json.loads(done.stdout)


def find(report: dict[str, Any], group: str, name: str) -> dict[str, Any]:
    matches = [c for c in report["checks"] if c["group"] == group and c["name"] == name]
    assert len(matches) == 1, (
        f"{group} {name}: {[(c['group'], c['name']) for c in report['checks']]}"
    )
    return matches[0]


def renew_certificate(lab: RunningLab, days: int) -> None:
    """What certbot does on renewal: a new certificate for the same key, written over the file."""
    key = serialization.load_pem_private_key((lab.dir / "certs" / "privkey.pem").read_bytes(), None)
    # certbot's key (ECDSA, its default) when pebble issued the lab's certificate, else the lab's RSA key
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)), type(key)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.com")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )  # type: ignore[arg-type]
    (lab.dir / "certs" / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_health_on_the_lab_follows_every_change(fresh_lab) -> None:  # type: ignore[no-untyped-def]
    lab = fresh_lab(True)
    settings = load_settings(str(lab.settings_path), env={}).settings
    ports = lab.ports
    code, report = health(lab)
    assert code == 2 and report["state"] == "CRITICAL"

    # smtpd: every TLS listener fails its handshake (Debian 12, OpenSSL 3), each named with its cause
    for port in ("smtp", "smtps", "submission"):
        check = find(report, "tls", f"smtpd 127.0.0.1:{ports[port]}")
        assert check["state"] == "CRITICAL" and check["mode"] == "starttls", check
        assert "handshake failed" in check["summary"] and "OpenSSL 3" in check.get("cause", ""), (
            check
        )
    # the article's port 465 (the lab's smtps port) speaks STARTTLS: SMTPS clients get plaintext
    smtps = find(report, "tls", f"smtpd 127.0.0.1:{ports['smtps']} SMTPS")
    assert smtps["state"] == "CRITICAL" and "plaintext" in smtps["summary"], smtps
    assert "tls-require" in smtps["cause"] and f"port {ports['smtps']} smtps" in smtps["remedy"]
    # Dovecot: STARTTLS on IMAP and implicit TLS on IMAPS, serving the file on disk
    for port, mode in (("imap", "starttls"), ("imaps", "implicit")):
        check = find(report, "tls", f"dovecot 127.0.0.1:{ports[port]}")
        assert check["state"] == "OK" and check["mode"] == mode, check
    assert find(report, "clamav", "clamd")["summary"] == "answers PING with PONG"
    assert find(report, "clamav", "database")["state"] == "CRITICAL"  # the lab has no .cvd
    assert find(report, "spamassassin", "rules")["state"] == "CRITICAL"
    assert find(report, "programs", "supervisord")["state"] == "OK"

    # a renewed certificate that Dovecot has not loaded: a warning offering the HUP
    renew_certificate(lab, days=18)
    _, report = health(lab)
    assert (
        find(report, "certificates", str(lab.dir / "certs" / "fullchain.pem"))["state"] == "WARNING"
    )
    imaps = find(report, "tls", f"dovecot 127.0.0.1:{ports['imaps']}")
    assert imaps["state"] == "WARNING" and "renewed, not reloaded" in imaps["summary"]
    fix = imaps["fix"]
    assert (fix["action"], fix["target"], fix["params"]) == (
        "program.signal",
        "dovecot",
        {"signal": "HUP"},
    )
    dispatch(settings, fix["action"], fix["target"], fix["params"])

    def reloaded() -> dict[str, Any] | None:
        check = find(health(lab)[1], "tls", f"dovecot 127.0.0.1:{ports['imaps']}")
        return check if "serves mail.example.com" in check["summary"] else None

    served = wait_for(reloaded, what="Dovecot to serve the renewed certificate")
    assert isinstance(served, dict) and served["state"] == "WARNING" and served["figure"] < 19

    # SpamAssassin: rules appear (Debian's stock rules as an update), then vanish (a failed update)
    channel = settings.spamassassin_update_dir / "updates_spamassassin_org"
    channel.mkdir(parents=True)
    for rules in sorted(Path("/usr/share/spamassassin").glob("*.cf"))[:5]:
        shutil.copy(rules, channel)
    rules_check = find(health(lab)[1], "spamassassin", "rules")
    assert rules_check["state"] == "OK" and rules_check["rule_files"] == 5
    for rules in channel.iterdir():
        rules.unlink()
    emptied = find(health(lab)[1], "spamassassin", "rules")
    assert emptied["state"] == "CRITICAL" and "holds no rules" in emptied["summary"]

    # clamd stopped: PING fails, the program is not RUNNING, and starting it is the fix
    dispatch(settings, "program.stop", "clamd")
    _, report = health(lab)
    assert find(report, "clamav", "clamd")["state"] == "CRITICAL"
    stopped = find(report, "programs", "clamd")
    assert stopped["state"] == "CRITICAL" and stopped["summary"].startswith("STOPPED")
    dispatch(settings, stopped["fix"]["action"], stopped["fix"]["target"], stopped["fix"]["params"])
    wait_for(
        lambda: find(health(lab)[1], "clamav", "clamd")["state"] == "OK",
        timeout=60,
        what="clamd to answer PING again",
    )

    # mail to the unreachable domain stays queued: the queue's count follows
    before = find(health(lab)[1], "queue", "envelopes")["figure"]
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@lab.test", "carol@unreachable.test", "q"
    message.set_content("queued")
    with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=30) as smtp:
        smtp.send_message(message)
    wait_for(
        lambda: find(health(lab)[1], "queue", "envelopes")["figure"] > before,
        what="the queued envelope in the health JSON",
    )
