"""Health checks on real files: certificates made here at several expiry dates, a real TLS server on
loopback serving another certificate than the file, ClamAV database headers, sa-update directories,
free space, the report's states and exit codes, and the settings that hold the thresholds."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from console.errors import ConfigError
from console.health import stack, tls
from console.health.model import Check, State, worst
from console.health.run import CHECKS, HealthReport, run_checks
from console.settings import Settings, load_settings

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
SAMPLES = Path(__file__).resolve().parents[2] / "config_samples"
NOW = time.time()


def make_cert(
    directory: Path, name: str, days_left: float, cn: str = "mail.example.com"
) -> tuple[Path, Path]:
    """A self-signed certificate expiring in `days_left` days, as fullchain-style PEM, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.fromtimestamp(NOW, dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + dt.timedelta(days=days_left))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# --------------------------------------------------------------------------- certificate files


@pytest.mark.parametrize(
    ("days_left", "state"),
    [
        (90, State.OK),
        (20.5, State.OK),
        (19.5, State.WARNING),
        (15.5, State.WARNING),
        (14.5, State.CRITICAL),
        (-3, State.CRITICAL),
    ],
)
def test_certificate_file_expiry_against_the_thresholds(
    tmp_path: Path, days_left: float, state: State
) -> None:
    cert, _ = make_cert(tmp_path, "fullchain", days_left)
    check = tls.cert_file_check(Settings(), cert, "smtpd", NOW)
    assert check.state == state
    assert check.figure == pytest.approx(days_left, abs=0.1)
    assert (check.warning, check.critical) == (20.0, 15.0)
    assert ("expired" in check.summary) == (days_left < 0)


def test_certificate_thresholds_come_from_the_settings(tmp_path: Path) -> None:
    cert, _ = make_cert(tmp_path, "fullchain", 40)
    settings = replace(Settings(), health_cert_warning_days=60.0, health_cert_critical_days=45.0)
    assert tls.cert_file_check(settings, cert, "smtpd", NOW).state == State.CRITICAL


def test_missing_or_garbled_certificate_file_is_critical(tmp_path: Path) -> None:
    missing = tls.cert_file_check(Settings(), tmp_path / "nope.pem", "dovecot", NOW)
    assert missing.state == State.CRITICAL and "cannot read" in missing.summary
    (tmp_path / "bad.pem").write_text("not a certificate\n")
    bad = tls.cert_file_check(Settings(), tmp_path / "bad.pem", "dovecot", NOW)
    assert bad.state == State.CRITICAL and "no PEM certificate" in bad.summary


# --------------------------------------------------------------------------- reading the configs


def test_the_articles_smtpd_conf_gives_its_pki_file_and_six_tls_listeners() -> None:
    found = tls.parse_smtpd_conf((SAMPLES / "smtpd.conf").read_text())
    fullchain = Path("/etc/letsencrypt/live/mail.example.com/fullchain.pem")
    assert found.certs == {"mail.example.com": fullchain}
    where = [(lst.address, lst.port, lst.mode) for lst in found.listeners]
    assert where == [
        ("127.0.0.1", 25, "starttls"),
        ("::1", 25, "starttls"),
        ("127.0.0.1", 465, "starttls"),
        ("::1", 465, "starttls"),  # tls-require: STARTTLS, not SMTPS
        ("127.0.0.1", 587, "starttls"),
        ("::1", 587, "starttls"),
    ]
    assert all(
        lst.cert_file == fullchain and lst.server_name == "mail.example.com"
        for lst in found.listeners
    )
    assert found.listeners[2].label == "port smtps tls-require"


def test_smtps_keyword_means_implicit_tls() -> None:
    found = tls.parse_smtpd_conf(
        'pki x cert "/c.pem"\nlisten on 0.0.0.0 port 465 smtps pki x\n'
        "listen on lo port 10028 tag CLAM_IN\n"
    )
    assert [(lst.port, lst.mode, lst.cert_file) for lst in found.listeners] == [
        (465, "implicit", Path("/c.pem"))
    ]


def test_doveconf_output_of_the_lab_gives_its_certificate_and_imap_listeners() -> None:
    conf = tls.parse_doveconf((RECORDINGS / "doveconf-lab.txt").read_text())
    cert, listeners = tls.dovecot_listeners(conf)
    assert cert == Path("/tmp/e2-lab/certs/fullchain.pem")
    assert [(lst.address, lst.port, lst.mode, lst.protocol) for lst in listeners] == [
        ("127.0.0.1", 26703, "starttls", "imap"),
        ("127.0.0.1", 26704, "implicit", "imap"),
    ]


def test_debian_stock_doveconf_listens_on_every_address_with_the_default_ports() -> None:
    conf = tls.parse_doveconf((RECORDINGS / "doveconf-debian-stock.txt").read_text())
    cert, listeners = tls.dovecot_listeners(conf)
    assert cert == Path("/etc/dovecot/private/dovecot.pem")
    assert [(lst.address, lst.port, lst.mode) for lst in listeners] == [
        ("127.0.0.1", 143, "starttls"),
        ("::1", 143, "starttls"),
        ("127.0.0.1", 993, "implicit"),
        ("::1", 993, "implicit"),
    ]


def test_dovecot_with_ssl_off_has_no_tls_listener() -> None:
    text = (
        (RECORDINGS / "doveconf-lab.txt")
        .read_text()
        .replace("ssl = yes\nssl_cert", "ssl = no\nssl_cert")
    )
    assert tls.dovecot_listeners(tls.parse_doveconf(text))[1] == []


def test_real_doveconf_reads_a_config(tmp_path: Path) -> None:
    conf = tmp_path / "dovecot.conf"
    cert, _ = make_cert(tmp_path, "cert", 30)
    conf.write_text(
        f"protocols = imap\nlisten = 127.0.0.1\nssl = yes\nssl_cert = <{cert}\n"
        f"ssl_key = <{tmp_path / 'cert.key'}\n"
    )
    found_cert, listeners = tls.read_dovecot_tls(conf)
    assert found_cert == cert
    assert {(lst.port, lst.mode) for lst in listeners} == {(143, "starttls"), (993, "implicit")}
    conf.write_text("no_such_setting = 1\n")
    with pytest.raises(ValueError, match="no_such_setting"):
        tls.read_dovecot_tls(conf)


# --------------------------------------------------------------------------- a real TLS server


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A real TLS server on loopback (Python's ssl) serving served.pem; yields (port, served.pem)."""
    cert, key = make_cert(tmp_path, "served", 50)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                conn.settimeout(5)
                with context.wrap_socket(conn, server_side=True) as tls_conn:
                    tls_conn.recv(1)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], cert
    finally:
        stop.set()
        thread.join()
        listener.close()


def _listener(port: int, cert_file: Path, daemon: str = "dovecot") -> tls.Listener:
    return tls.Listener(
        daemon, "127.0.0.1", port, "implicit", "imap", cert_file, "", "inet_listener imaps"
    )


def test_served_certificate_equal_to_the_file_is_ok(tls_server: tuple[int, Path]) -> None:
    port, served = tls_server
    [check] = tls.handshake_checks(Settings(), _listener(port, served), NOW)
    assert check.state == State.OK and check.fix is None
    assert check.figure == pytest.approx(50, abs=0.1)
    assert check.data["tls_version"].startswith("TLSv1")


def test_served_certificate_that_is_not_the_file_is_a_warning_offering_the_hup(
    tls_server: tuple[int, Path], tmp_path: Path
) -> None:
    port, _ = tls_server
    renewed, _ = make_cert(tmp_path, "renewed", 89)
    [check] = tls.handshake_checks(Settings(), _listener(port, renewed), NOW)
    assert check.state == State.WARNING
    assert "renewed, not reloaded" in check.summary
    assert check.fix is not None
    assert (check.fix.action, check.fix.target, check.fix.params) == (
        "program.signal",
        "dovecot",
        {"signal": "HUP"},
    )
    [smtpd] = tls.handshake_checks(Settings(), _listener(port, renewed, "smtpd"), NOW)
    assert smtpd.fix is not None and smtpd.fix.target == "opensmtpd"


def test_served_certificate_close_to_expiry_is_critical(tls_server: tuple[int, Path]) -> None:
    port, served = tls_server
    settings = replace(Settings(), health_cert_warning_days=70.0, health_cert_critical_days=60.0)
    [check] = tls.handshake_checks(settings, _listener(port, served), NOW)
    assert check.state == State.CRITICAL


def test_a_listener_that_is_not_there_is_critical_with_its_cause() -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    [check] = tls.handshake_checks(Settings(), _listener(port, Path("/nonexistent")), NOW)
    assert check.state == State.CRITICAL
    assert "refused" in check.summary and "does not listen" in check.cause


def test_plaintext_on_an_implicit_tls_port_is_named(tmp_path: Path) -> None:
    """A server that answers with a plaintext banner where TLS was expected."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def banner() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"220 plain banner ESMTP\r\n")
            conn.recv(1024)

    thread = threading.Thread(target=banner, daemon=True)
    thread.start()
    try:
        [check] = tls.handshake_checks(Settings(), _listener(port, tmp_path / "x.pem"), NOW)
    finally:
        thread.join(5)
        server.close()
    assert check.state == State.CRITICAL
    assert "WRONG_VERSION_NUMBER" in check.summary and "plaintext" in check.cause


# --------------------------------------------------------------------------- ClamAV


def write_cvd(path: Path, version: int, built: float, signatures: int = 2076987) -> None:
    """A database file with the 512-byte header freshclam's files start with."""
    stamp = time.strftime("%d %b %Y %H:%M +0000", time.gmtime(built))
    header = (
        f"ClamAV-VDB:{stamp}:{version}:{signatures}:90:0123456789abcdef:sig:raynman:{int(built)}"
    )
    path.write_bytes(header.encode("ascii").ljust(512, b" ") + b"\x1f\x8b compressed body")


def test_cvd_header_is_read_with_the_colon_inside_the_build_time(tmp_path: Path) -> None:
    write_cvd(tmp_path / "daily.cvd", 27700, 1752496128)
    db = stack.read_cvd_header(tmp_path / "daily.cvd")
    assert (db.version, db.signatures, db.built) == (27700, 2076987, 1752496128.0)
    assert db.built_text.startswith("14 Jul 2025 12:28")


@pytest.mark.parametrize(
    ("age_days", "state"), [(0.5, State.OK), (4, State.WARNING), (8, State.CRITICAL)]
)
def test_clamav_age_is_the_newest_databases(tmp_path: Path, age_days: float, state: State) -> None:
    write_cvd(tmp_path / "main.cvd", 62, NOW - 400 * 86400)
    write_cvd(tmp_path / "daily.cld", 27700, NOW - age_days * 86400)
    write_cvd(tmp_path / "bytecode.cvd", 335, NOW - 30 * 86400)
    check = stack.database_check(Settings(), tmp_path, NOW)
    assert check.state == state
    assert check.figure == pytest.approx(age_days, abs=0.01)
    assert {d["file"]: d["version"] for d in check.data["databases"]} == {
        "bytecode.cvd": 335,
        "daily.cld": 27700,
        "main.cvd": 62,
    }
    assert "daily 27700" in check.summary


def test_clamav_without_signed_databases_is_critical(tmp_path: Path) -> None:
    (tmp_path / "lab.hdb").write_text("44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n")
    check = stack.database_check(Settings(), tmp_path, NOW)
    assert check.state == State.CRITICAL and "lab.hdb" in check.summary
    assert stack.database_check(Settings(), tmp_path / "missing", NOW).state == State.CRITICAL


def test_a_database_without_a_header_is_named(tmp_path: Path) -> None:
    write_cvd(tmp_path / "daily.cvd", 27700, NOW - 3600)
    (tmp_path / "main.cvd").write_bytes(b"\0" * 600)
    check = stack.database_check(Settings(), tmp_path, NOW)
    assert check.state == State.WARNING and "main.cvd" in check.summary


def test_clamd_ping_names_a_missing_socket(tmp_path: Path) -> None:
    problem = stack.clamd_ping({"LocalSocket": str(tmp_path / "clamd.sock")}, 1.0)
    assert "clamd is not running" in problem
    assert "neither" in stack.clamd_ping({}, 1.0)


# --------------------------------------------------------------------------- SpamAssassin


def test_spamassassin_missing_empty_fresh_and_old(tmp_path: Path) -> None:
    updates = tmp_path / "spamassassin"
    settings = replace(Settings(), spamassassin_update_dir=updates)
    missing = stack.spamassassin_check(settings, NOW)
    assert missing.state == State.CRITICAL and "does not exist" in missing.summary
    (updates / "updates_spamassassin_org").mkdir(parents=True)  # what a failed sa-update leaves
    empty = stack.spamassassin_check(settings, NOW)
    assert empty.state == State.CRITICAL and "holds no rules" in empty.summary
    (updates / "updates_spamassassin_org" / "20_head_tests.cf").write_text("header X exists:X\n")
    (updates / "updates_spamassassin_org.cf").write_text(
        "include updates_spamassassin_org/20_head_tests.cf\n"
    )
    fresh = stack.spamassassin_check(settings, time.time())
    assert fresh.state == State.OK and fresh.data["rule_files"] == 2
    for age_days, state in ((12, State.WARNING), (31, State.CRITICAL)):
        old = time.time() - age_days * 86400
        for entry in updates.iterdir():
            os.utime(entry, (old, old))
        check = stack.spamassassin_check(settings, time.time())
        assert check.state == state
        assert check.figure == pytest.approx(age_days, abs=0.01)


# --------------------------------------------------------------------------- free space


def test_free_space_is_measured_against_the_thresholds(tmp_path: Path) -> None:
    st = os.statvfs(tmp_path)
    percent = 100.0 * st.f_bavail / st.f_blocks
    base = replace(Settings(), mail_dir=tmp_path, queue_dir=tmp_path / "missing")
    ok = replace(
        base, health_disk_warning_percent=percent / 2, health_disk_critical_percent=percent / 4
    )
    warn = replace(
        base, health_disk_warning_percent=percent + 1, health_disk_critical_percent=percent / 2
    )
    crit = replace(
        base, health_disk_warning_percent=percent + 2, health_disk_critical_percent=percent + 1
    )
    states = [stack.disk_checks(s)[0].state for s in (ok, warn, crit)]
    assert states == [State.OK, State.WARNING, State.CRITICAL]
    mail, queue = stack.disk_checks(ok)
    assert mail.figure == pytest.approx(percent, abs=0.5)
    assert queue.state == State.UNKNOWN and "queue directory" in queue.summary


# --------------------------------------------------------------------------- the report


def test_overall_state_is_the_worst_critical_first() -> None:
    assert worst([]) == State.OK
    assert worst([State.OK, State.UNKNOWN]) == State.UNKNOWN
    assert worst([State.UNKNOWN, State.WARNING]) == State.WARNING
    assert worst([State.WARNING, State.CRITICAL, State.UNKNOWN]) == State.CRITICAL


def test_report_json_counts_and_headline() -> None:
    report = HealthReport(
        [
            Check("disk", "/mail", State.OK, "50 % free", 50.0, "%", 30.0, 15.0),
            Check(
                "tls",
                "smtpd 127.0.0.1:465",
                State.CRITICAL,
                "handshake failed",
                cause="why",
                remedy="how",
            ),
            Check("certificates", "/c.pem", State.WARNING, "expires soon"),
        ],
        NOW,
    )
    data = json.loads(json.dumps(report.as_json()))
    assert data["state"] == "CRITICAL" and data["exit_code"] == 2
    assert data["counts"] == {"OK": 1, "WARNING": 1, "CRITICAL": 1, "UNKNOWN": 0}
    assert [c["group"] for c in data["checks"]] == ["certificates", "tls", "disk"]
    assert data["checks"][1]["cause"] == "why" and data["checks"][1]["fix"] is None
    assert report.headline().startswith("MAILCONSOLE CRITICAL: 1 critical, 1 warning; tls smtpd")
    assert report.perfdata() == "'disk /mail'=50%;30;15"


def test_a_check_that_raises_is_unknown_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(settings: Settings, now: float) -> list[Check]:
        raise RuntimeError("boom")

    monkeypatch.setitem(CHECKS, "disk", broken)
    report = run_checks(Settings(), NOW, groups=("disk",))
    assert [(c.state, c.summary) for c in report.checks] == [
        (State.UNKNOWN, "the check failed: boom")
    ]
    assert report.state == State.UNKNOWN


# --------------------------------------------------------------------------- settings


def test_thresholds_load_from_the_file_and_must_be_ordered(tmp_path: Path) -> None:
    conf = tmp_path / "mailconsole.toml"
    conf.write_text("health_cert_warning_days = 30\nhealth_queue_warning_envelopes = 5\n")
    settings = load_settings(str(conf), env={}).settings
    assert (
        settings.health_cert_warning_days == 30.0 and settings.health_queue_warning_envelopes == 5
    )
    conf.write_text("health_cert_critical_days = 25\n")
    with pytest.raises(
        ConfigError, match="health_cert_critical_days': expected at most health_cert_warning_days"
    ):
        load_settings(str(conf), env={})
    conf.write_text("health_queue_warning_envelopes = 2.5\n")
    with pytest.raises(ConfigError, match="expected a positive whole number"):
        load_settings(str(conf), env={})
    assert (
        load_settings(
            None, env={"MAILCONSOLE_HEALTH_QUEUE_CRITICAL_ENVELOPES": "5000"}
        ).settings.health_queue_critical_envelopes
        == 5000
    )


# --------------------------------------------------------------------------- the command


def test_a_fixs_command_quotes_its_target_for_the_shell() -> None:
    """`fix: Start x (mailconsole start x)` is meant to be pasted: a hostile name stays one word."""
    from console.health.cli import _command
    from console.health.model import Fix

    assert _command(Fix("program.start", "dovecot", "Start dovecot")) == "start dovecot"
    assert _command(Fix("program.start", "x$(reboot)", "Start")) == "start 'x$(reboot)'"
    assert _command(Fix("program.signal", "a b", "HUP", {"signal": "HUP"})) == "signal 'a b' HUP"
    assert _command(Fix("job.run", "ev[red]il;id", "Run")) == "run 'ev[red]il;id'"


def test_health_command_exits_with_the_plugin_code_and_prints_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Everything pointed at this temp dir: fresh rules, and free space under lenient thresholds is
    OK; supervisord is not running there, which is critical (exit 2)."""
    from console.cli import run

    updates = tmp_path / "sa"
    (updates / "updates_spamassassin_org").mkdir(parents=True)
    (updates / "updates_spamassassin_org" / "72_active.cf").write_text("body X /x/\n")
    conf = tmp_path / "mailconsole.toml"
    conf.write_text(
        f'supervisor_url = "unix://{tmp_path}/supervisor.sock"\n'
        f'mail_dir = "{tmp_path}"\nqueue_dir = "{tmp_path}"\n'
        f'spamassassin_update_dir = "{updates}"\n'
        "health_disk_warning_percent = 0.002\nhealth_disk_critical_percent = 0.001\n"
    )
    with pytest.raises(SystemExit) as exited:
        run(["--config", str(conf), "health", "--json"], None)
    assert exited.value.code == 2
    data = json.loads(capsys.readouterr().out)
    by_group = {c["group"]: c for c in data["checks"]}
    assert by_group["programs"]["state"] == "CRITICAL"
    assert "supervisord is not running" in by_group["programs"]["summary"]
    assert by_group["spamassassin"]["state"] == "OK" and by_group["disk"]["state"] == "OK"
    with pytest.raises(SystemExit) as exited:
        run(["--config", str(conf), "health", "--problems"], None)
    assert exited.value.code == 2
    out = capsys.readouterr().out
    assert out.startswith("MAILCONSOLE CRITICAL: ")
    assert f"'disk {tmp_path}'=" in out.splitlines()[0]  # performance data after the headline
    listed = "\n".join(out.splitlines()[1:])
    assert "spamassassin" not in listed and "CRITICAL  programs" in listed


def test_a_saved_report_reads_back_as_it_was() -> None:
    data = json.loads((RECORDINGS / "health-lab.json").read_text())
    report = HealthReport.from_json(data)
    assert report.as_json()["checks"] == data["checks"]
    assert report.state == State.CRITICAL and report.as_json()["counts"] == data["counts"]
