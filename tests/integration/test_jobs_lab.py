"""The maintenance jobs on the real lab, offline: get_certs against pebble issues a certificate that
Dovecot then serves, sa-update installs the lab's rules archive, freshclam fetches from the lab's
mirror; read-only refuses every run; without the filters' servers the jobs fail in one sentence."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.jobs.history import load_history
from console.settings import load_settings
from tests.helpers import MAILCONSOLE, wait_for
from tests.integration.conftest import RunningLab, require_lab, start_lab, stop_lab

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def filters_lab() -> Iterator[RunningLab]:
    """A lab with the filters, pebble and the mirror, for this module's tests."""
    require_lab(filters=True)
    running = start_lab(filters=True)
    try:
        yield running
    finally:
        stop_lab(running)


def run(lab: RunningLab, *args: str) -> subprocess.CompletedProcess[str]:
    """`mailconsole --config DIR/mailconsole.toml ARGS` as a user runs it."""
    return subprocess.run(
        [*MAILCONSOLE, "--config", str(lab.settings_path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def served_certificate(port: int) -> bytes:
    """The certificate a TLS listener on 127.0.0.1 serves (DER), whoever issued it."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def machine_letsencrypt() -> list[tuple[str, float]]:
    """Every file under the machine's /etc/letsencrypt with its mtime (the lab must not touch it)."""
    root = Path("/etc/letsencrypt")
    return sorted((str(p), p.lstat().st_mtime) for p in root.rglob("*")) if root.exists() else []


def program_pid(lab: RunningLab, name: str) -> int | None:
    status = json.loads(run(lab, "status", "--json").stdout)
    return next(p["pid"] for p in status["programs"] if p["name"] == name)


def test_get_certs_issues_a_certificate_and_dovecot_serves_it(filters_lab: RunningLab) -> None:
    live = filters_lab.dir / "letsencrypt" / "live" / "mail.example.com" / "fullchain.pem"
    before_file = live.read_bytes()
    etc_before = machine_letsencrypt()
    before = served_certificate(filters_lab.ports["imaps"])
    done = run(filters_lab, "run", "--json", "get_certs")
    record = json.loads(done.stdout)
    assert done.returncode == 0, record["sentence"]
    assert record["outcome"] == "ok" and record["exit_code"] == 0
    assert record["sentence"].startswith("get_certs: the certificate was issued or renewed (exit 0")
    assert [t.split(" (pid")[0] for t in record["then"]] == [
        "SIGHUP sent to opensmtpd",
        "SIGHUP sent to dovecot",
    ]
    assert ["out", "Successfully received certificate."] in record["tail"]
    assert live.read_bytes() != before_file
    after = wait_for(
        lambda: (c := served_certificate(filters_lab.ports["imaps"])) != before and c,
        what="Dovecot to serve the new certificate",
    )
    assert after != before
    leaf = live.read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    assert after == ssl.PEM_cert_to_DER_cert(leaf)  # Dovecot serves certbot's new live file
    assert machine_letsencrypt() == etc_before
    audit = [
        json.loads(line)
        for line in (filters_lab.dir / "log" / "mailconsole-audit.log").read_text().splitlines()
        if '"started"' not in line
    ]
    assert [(a["action"], a["target"], a["outcome"]) for a in audit[-3:]] == [
        ("program.signal", "opensmtpd", "ok"),
        ("program.signal", "dovecot", "ok"),
        ("job.run", "get_certs", "ok"),
    ]


def test_sa_update_fills_the_update_directory_and_restarts_spampd(filters_lab: RunningLab) -> None:
    updates = filters_lab.dir / "db" / "spamassassin"
    subprocess.run(["rm", "-rf", str(updates)], check=True)
    spampd = program_pid(filters_lab, "spampd")
    done = run(filters_lab, "run", "sa-update")
    assert done.returncode == 0, done.stderr
    assert "Update was available, and was downloaded and installed successfully" in done.stdout
    assert "sa-update: updates were downloaded and installed (exit 0" in done.stdout
    rules = sorted(p.name for p in (updates / "updates_spamassassin_org").iterdir())
    assert "10_default_prefs.cf" in rules and len(rules) > 40
    assert (updates / "updates_spamassassin_org.cf").is_file()
    wait_for(
        lambda: program_pid(filters_lab, "spampd") not in (None, spampd), what="spampd restarted"
    )


def test_freshclam_fetches_the_labs_database_from_the_mirror(filters_lab: RunningLab) -> None:
    mirror = filters_lab.dir / "mirror" / "clamav" / "lab.ndb"
    installed = filters_lab.dir / "db" / "clamav" / "lab.ndb"
    mirror.write_text(mirror.read_text() + "Lab.Mirror.Marker:0:*:6c61622d6d6972726f72\n")
    done = run(filters_lab, "run", "freshclam")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "freshclam: the virus databases are up to date (downloaded where needed) (exit 0"
        in done.stdout
    )
    assert "Lab.Mirror.Marker" in installed.read_text()
    assert "GET /clamav/lab.ndb" in (filters_lab.dir / "log" / "lab-mirror.log").read_text()


def test_read_only_refuses_every_job(filters_lab: RunningLab) -> None:
    settings = load_settings(config=str(filters_lab.settings_path), env={}).settings
    before = len(load_history(settings))
    for name in settings.jobs:
        done = run(filters_lab, "--read-only", "run", name)
        assert done.returncode == 3, name
        assert done.stderr == f"mailconsole: refused: mailconsole is read-only (job.run {name})\n"
    assert len(load_history(settings)) == before


def test_without_the_filters_get_certs_and_freshclam_fail_in_a_sentence(lab: RunningLab) -> None:
    """The plain lab runs no ACME server and no mirror: each job fails, and says how."""
    certs = run(lab, "run", "--json", "get_certs")
    record = json.loads(certs.stdout)
    assert certs.returncode == 1
    assert record["outcome"] == "failed" and record["exit_code"] == 1
    assert record["sentence"].startswith("get_certs: certbot failed (exit 1")
    assert record["then"] == []  # no HUP after a failed run
    clam = json.loads(run(lab, "run", "--json", "freshclam").stdout)
    assert clam["outcome"] == "failed" and clam["exit_code"] not in (0, 1)
    assert clam["sentence"].startswith("freshclam: ")
