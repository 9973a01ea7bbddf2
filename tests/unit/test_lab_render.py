"""The lab's rendering of config_samples: paths, ports, programs and the settings file (no root)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import tomllib

from console.errors import UserError
from console.lab import run as lab_run
from console.lab.render import (
    DELIVER,
    LAB_PASSWORDS,
    LEFT_OUT_PROGRAMS,
    PERMFAIL_DOMAIN,
    PORT_BLOCK,
    UNREACHABLE_DOMAIN,
    Account,
    LabConfig,
    crypt_hash,
    map_article_ports,
    render_lab,
    sample,
)
from console.lab.run import check_requirements, down, make_certificate, status, up
from console.settings import load_settings

ARTICLE = Path(__file__).resolve().parents[3] / "shared" / "seed" / "mail-stack-article.txt"
VMAIL = Account("vmail", 2000, 2000)


def rendered(tmp_path: Path, filters: bool = False, port_base: int = 20500) -> LabConfig:
    cfg = LabConfig(tmp_path / "lab", port_base, filters)
    render_lab(cfg, VMAIL)
    return cfg


def lab_ports(text: str) -> set[int]:
    """Every number in a config that looks like a TCP port (4-5 digits; not part of a path such as
    pytest's /tmp/pytest-of-root/pytest-1215/)."""
    return {int(n) for n in re.findall(r"(?<![\d./-])(\d{4,5})(?![\d./-])", text)}


@pytest.mark.parametrize(
    "name",
    [
        "smtpd.conf",
        "fdm.conf",
        "supervisor.conf",
        "clamd.conf",
        "clamsmtpd.conf",
        "freshclam.conf",
        "dkimproxy_out.conf",
        "spamassassin-local.cf",
        "crontab",
        "bin/get_certs",
        "bin/certbot-deploy-hook",
        "bin/startup",
        "db/vdomains",
        "db/vusers",
        "db/addrs",
        "db/userdb",
    ],
)
def test_samples_are_the_articles_text(name: str) -> None:
    if not ARTICLE.exists():
        pytest.skip(f"the article is not at {ARTICLE}")
    assert sample(name) in ARTICLE.read_text()


def test_fdm_conf_is_the_articles_byte_for_byte_and_private(tmp_path: Path) -> None:
    cfg = rendered(tmp_path)
    fdm_conf = cfg.path("config", "fdm.conf")
    assert fdm_conf.read_text() == sample("fdm.conf")
    assert '"bob_notices"' in fdm_conf.read_text()  # the article's mistakes stay in
    assert fdm_conf.stat().st_mode & 0o777 == 0o600


def test_smtpd_conf_keeps_every_article_rule_in_order(tmp_path: Path) -> None:
    cfg = rendered(tmp_path, filters=True)
    text = cfg.path("config", "smtpd.conf").read_text()
    article_rules = [
        line for line in sample("smtpd.conf").splitlines() if line.startswith(("match", "action"))
    ]
    lab_rules = [line for line in text.splitlines() if line.startswith(("match", "action"))]
    assert [
        map_article_ports(r, cfg).replace(
            "/usr/bin/fdm -a stdin -f /mail/config/fdm.conf fetch",
            str(cfg.path("bin", "fdm-deliver")),
        )
        for r in article_rules
    ] == lab_rules[: len(article_rules)]
    assert "match from any for rcpt-to <addrs> action relay_clamav_out" in text


def test_smtpd_conf_lives_in_the_lab_on_loopback_ports(tmp_path: Path) -> None:
    cfg = rendered(tmp_path, port_base=20500)
    text = cfg.path("config", "smtpd.conf").read_text()
    live = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert "/mail/" not in live and "/etc/letsencrypt" not in live
    assert "$" not in live
    assert all(
        line.startswith("listen on 127.0.0.1 port ")
        for line in live.splitlines()
        if line.startswith("listen")
    )
    assert lab_ports(live) <= set(range(20500, 20500 + PORT_BLOCK))
    assert f"for domain {UNREACHABLE_DOMAIN} action lab_unreachable" in live
    assert "relay host smtp://127.0.0.1:9\n" in live
    assert f"for domain {PERMFAIL_DOMAIN} action lab_permfail" in live


def test_without_filters_incoming_mail_goes_straight_to_fdm(tmp_path: Path) -> None:
    text = rendered(tmp_path).path("config", "smtpd.conf").read_text()
    assert 'match from any for rcpt-to <addrs> action "deliver"' in text
    assert "rcpt-to <addrs> action relay_clamav_out" not in text


@pytest.mark.skipif(not shutil.which("smtpd"), reason="opensmtpd is not installed")
@pytest.mark.parametrize("filters", [False, True])
def test_real_smtpd_accepts_the_rendered_config(tmp_path: Path, filters: bool) -> None:
    cfg = rendered(tmp_path, filters)
    make_certificate(cfg)
    done = subprocess.run(
        ["smtpd", "-n", "-f", str(cfg.path("config", "smtpd.conf"))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not shutil.which("fdm"), reason="fdm is not installed")
def test_real_fdm_accepts_the_articles_fdm_conf(tmp_path: Path) -> None:
    cfg = rendered(tmp_path)
    done = subprocess.run(
        ["fdm", "-n", "-f", str(cfg.path("config", "fdm.conf"))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_supervisord_runs_the_article_programs_the_lab_has(tmp_path: Path) -> None:
    plain = rendered(tmp_path / "a").path("supervisord.conf").read_text()
    with_filters = rendered(tmp_path / "b", filters=True).path("supervisord.conf").read_text()
    assert re.findall(r"^\[program:(\w+)\]", plain, re.MULTILINE) == ["opensmtpd", "dovecot"]
    assert re.findall(r"^\[program:([\w-]+)\]", with_filters, re.MULTILINE) == [
        "opensmtpd",
        "dovecot",
        "clamsmtpd",
        "clamd",
        "spampd",
        "pebble",
        "lab-mirror",
    ]
    for left_out in LEFT_OUT_PROGRAMS:
        assert f"[program:{left_out}]" not in with_filters


def test_supervisord_conf_points_everything_into_the_lab(tmp_path: Path) -> None:
    cfg = rendered(tmp_path, filters=True)
    text = cfg.path("supervisord.conf").read_text()
    assert "/mail/" not in text
    assert f"serverurl = unix://{cfg.dir}/run/supervisor.sock" in text
    assert "nodaemon = true" in text
    spampd = next(
        line for line in text.splitlines() if line.startswith("command = /usr/sbin/spampd")
    )
    assert "--logsock=inet" in spampd and "--homedir" not in spampd
    assert (
        f"--port={cfg.ports['spampd']} --relayhost=127.0.0.1:{cfg.ports['spampd_return']}" in spampd
    )


def test_filter_chain_ports_line_up(tmp_path: Path) -> None:
    """smtpd relays to clamsmtpd, which hands back to CLAM_IN; CLAM_IN relays to spampd, which
    hands back to SPAMD_IN: the article's chain on the lab's ports."""
    cfg = rendered(tmp_path, filters=True)
    ports = cfg.ports
    smtpd = cfg.path("config", "smtpd.conf").read_text()
    clamsmtpd = cfg.path("config", "clamsmtpd.conf").read_text()
    assert f"relay_clamav_out relay host smtp://127.0.0.1:{ports['clamsmtpd']}" in smtpd
    assert f"Listen: 127.0.0.1:{ports['clamsmtpd']}" in clamsmtpd
    assert f"OutAddress: 127.0.0.1:{ports['clamsmtpd_return']}" in clamsmtpd
    assert f"port {ports['clamsmtpd_return']} tag CLAM_IN" in smtpd
    assert f"relay_spampd_out relay host smtp://127.0.0.1:{ports['spampd']}" in smtpd
    assert f"port {ports['spampd_return']} tag SPAMD_IN" in smtpd
    clamd = cfg.path("config", "clamd.conf").read_text()
    socket_line = next(line for line in clamd.splitlines() if line.startswith("LocalSocket "))
    assert f"ClamAddress: {socket_line.split()[1]}" in clamsmtpd


def test_userdb_has_the_articles_shape_with_known_passwords(tmp_path: Path) -> None:
    cfg = rendered(tmp_path)
    lines = cfg.path("db", "userdb").read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["bob", "sysmail"]
    for line in lines:
        user, hashed, uid, gid, _gecos, home, _shell, extra = line.split(":", 7)
        assert (uid, gid, home) == ("vmail", "2000", str(cfg.path("spool", user)))
        assert extra == f"userdb_mail=maildir:{cfg.path('spool', user, 'Mail')}"
        salt = hashed.split("$")[2]
        assert crypt_hash(LAB_PASSWORDS[user], salt) == hashed
        assert crypt_hash("wrong", salt) != hashed


def test_dovecot_conf_listens_on_the_lab_ports(tmp_path: Path) -> None:
    cfg = rendered(tmp_path)
    text = cfg.path("config", "dovecot.conf").read_text()
    assert f"port = {cfg.ports['imap']}" in text and f"port = {cfg.ports['imaps']}" in text
    assert f"mail_location = maildir:{cfg.path('spool')}/%n/Mail" in text
    assert "lda_mailbox_autocreate = yes" in text


def test_fdm_wrapper_keeps_dollar_out_of_smtpd(tmp_path: Path) -> None:
    cfg = rendered(tmp_path)
    wrapper = cfg.path("bin", "fdm-deliver").read_text()
    assert f"CONFIG_FILE={cfg.path('config', 'dovecot.conf')}" in wrapper
    assert f"-D '$deliver={DELIVER}'" in wrapper
    assert cfg.path("bin", "fdm-deliver").stat().st_mode & 0o111


def test_settings_file_is_loadable_and_points_at_the_lab(tmp_path: Path) -> None:
    cfg = rendered(tmp_path)
    toml_path = cfg.path("mailconsole.toml")
    assert set(tomllib.loads(toml_path.read_text())) == {
        "supervisor_config",
        "log_dir",
        "fdm_config",
        "table_vdomains",
        "table_vusers",
        "table_addrs",
        "table_userdb",
        "spool_dir",
        "smtpctl",
        "audit_log",
        "fdm_test_messages",
        "smtpd_config",
        "dkimproxy_config",
        "mail_dir",
        "queue_dir",
        "dovecot_config",
        "clamd_config",
        "spamassassin_update_dir",
        "health_smtps_ports",
        "imap_host",
        "imap_port",
        "imap_tls",
        "imap_self_signed",
        "imap_password_file",
        "smtp_address",
        "lab_dir",
        "jobs",
    }
    settings = load_settings(config=str(toml_path), env={}).settings
    # health reads the lab's own configs, spool and update directory, and knows its SMTPS port
    assert settings.smtpd_config == cfg.path("config", "smtpd.conf")
    assert settings.dovecot_config == cfg.path("config", "dovecot.conf")
    assert settings.queue_dir == cfg.path("smtpd-spool")
    assert settings.spamassassin_update_dir == cfg.path("db", "spamassassin")
    assert settings.health_smtps_ports == [str(cfg.ports["smtps"])]
    assert settings.smtp_address == f"127.0.0.1:{cfg.ports['smtp']}"
    assert settings.lab_dir == cfg.dir  # the lab commands find it from its settings file
    assert settings.supervisor_url == f"unix://{cfg.dir}/run/supervisor.sock"
    assert settings.smtpctl == [str(cfg.path("bin", "smtpctl"))]
    assert settings.fdm_config == cfg.path("config", "fdm.conf")
    assert settings.table_userdb == cfg.path("db", "userdb")
    assert settings.audit_log == cfg.path("log", "mailconsole-audit.log")
    assert settings.fdm_test_messages == cfg.path("config", "fdm-tests")
    assert len(list(settings.fdm_test_messages.glob("*.eml"))) == 7
    assert settings.smtpd_config == cfg.path("config", "smtpd.conf")
    # IMAP: the lab's implicit-TLS port, its self-signed certificate, a password file only root reads
    assert (settings.imap_port, settings.imap_tls, settings.imap_self_signed) == (
        cfg.ports["imaps"],
        "implicit",
        True,
    )
    passwords = Path(settings.imap_password_file)
    assert passwords.stat().st_mode & 0o777 == 0o600
    assert passwords.read_text() == "".join(f"{u}:{p}\n" for u, p in LAB_PASSWORDS.items())
    assert f"keyfile   {cfg.path('config', 'dkim.key')}" in settings.dkimproxy_config.read_text()
    assert cfg.path("config", "dkim.key").read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")


def test_smtpctl_wrapper_enters_the_labs_namespace(tmp_path: Path) -> None:
    cfg = rendered(tmp_path)
    wrapper = cfg.path("bin", "smtpctl").read_text()
    assert str(cfg.path("run", "supervisord.pid")) in wrapper
    assert 'nsenter --target "$pid" --mount smtpctl "$@"' in wrapper


def test_smtpctl_wrapper_says_when_the_lab_is_down(tmp_path: Path) -> None:
    cfg = rendered(tmp_path)
    done = subprocess.run(
        [str(cfg.path("bin", "smtpctl")), "show", "queue"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == f"smtpctl: the lab in {cfg.dir} is not running\n"


def test_missing_packages_are_one_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(
        lab_run, "REQUIRED_FILES", {"/nonexistent/smtpd": "opensmtpd", "/bin/sh": "dash"}
    )
    monkeypatch.setattr(lab_run, "FILTER_FILES", {"/nonexistent/clamd": "clamav-daemon"})
    with pytest.raises(UserError) as raised:
        check_requirements(filters=True)
    assert str(raised.value) == (
        "the lab needs Debian packages that are missing: apt-get install clamav-daemon opensmtpd"
    )


def test_not_root_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(UserError, match="needs root"):
        check_requirements(filters=False)


def test_port_base_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--port-base 70000 is out of range"):
        up(LabConfig(tmp_path / "lab", 70000))


def test_status_and_down_without_a_lab(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no lab is running in"):
        status(tmp_path)
    assert down(tmp_path) == []


@pytest.mark.parametrize("filters", [False, True])
def test_jobs_are_the_crontabs_with_lab_paths(tmp_path: Path, filters: bool) -> None:
    """sa-update installs the lab's own archive (offline); spampd is restarted when it runs."""
    cfg = rendered(tmp_path, filters)
    settings = load_settings(config=str(cfg.path("mailconsole.toml")), env={}).settings
    archive = cfg.path("mirror", "spamassassin", "1000001.tar.gz")
    assert {name: list(spec.argv) for name, spec in settings.jobs.items()} == {
        "get_certs": [str(cfg.path("bin", "get_certs"))],
        "freshclam": [
            "/usr/bin/freshclam",
            "--foreground",
            f"--config={cfg.path('config', 'freshclam.conf')}",
            f"--daemon-notify={cfg.path('config', 'clamd.conf')}",
        ],
        "sa-update": [
            "sa-update",
            "-v",
            "--nogpg",
            "--install",
            str(archive),
            "--updatedir",
            str(cfg.path("db", "spamassassin")),
        ],
    }
    assert [str(step) for step in settings.jobs["get_certs"].then] == [
        "signal opensmtpd HUP",
        "signal dovecot HUP",
    ]
    assert [str(step) for step in settings.jobs["sa-update"].then] == (
        ["restart spampd"] if filters else []
    )
    assert settings.jobs["sa-update"].meaning(1) == "no fresh updates were available"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "10_default_prefs.cf" in names and all("/" not in name for name in names)
    assert (
        archive.with_name(archive.name + ".sha256").read_text().split()[0]
        == hashlib.sha256(archive.read_bytes()).hexdigest()
    )
    assert (
        cfg.path("mirror", "clamav", "lab.hdb").read_bytes()
        == cfg.path("db", "clamav", "lab.hdb").read_bytes()
    )
    freshclam = cfg.path("config", "freshclam.conf").read_text()
    assert f"DatabaseCustomURL http://127.0.0.1:{cfg.ports['mirror']}/clamav/lab.hdb" in freshclam
    assert "ExcludeDatabase daily" in freshclam


def test_certbot_never_touches_the_machine_from_the_lab(tmp_path: Path) -> None:
    cfg = rendered(tmp_path)
    get_certs = cfg.path("bin", "get_certs").read_text()
    assert f"--deploy-hook {cfg.path('bin', 'certbot-deploy-hook')}" in get_certs
    assert f"--config-dir {cfg.path('letsencrypt')} " in get_certs
    assert f"--logs-dir {cfg.path('log', 'letsencrypt')}" in get_certs
    assert f"--server https://127.0.0.1:{cfg.ports['acme']}/dir" in get_certs
    assert f"--http-01-port {cfg.ports['http01']} " in get_certs
    assert f"REQUESTS_CA_BUNDLE={cfg.path('acme', 'cert.pem')}" in get_certs
    assert "/etc/letsencrypt" not in get_certs
    hook = cfg.path("bin", "certbot-deploy-hook").read_text()
    assert (
        f"-m supervisor.supervisorctl -c {cfg.path('supervisord.conf')} signal HUP dovecot" in hook
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--read-only", "lab", "up", "--port-base", "70000"], {}),
        (["lab", "up", "--port-base", "70000"], {"MAILCONSOLE_READ_ONLY": "1"}),
        (["--read-only", "lab", "down"], {}),
        (["lab", "down"], {"MAILCONSOLE_READ_ONLY": "1"}),
    ],
)
def test_lab_up_and_down_are_refused_read_only_and_audited(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    """Through the dispatcher: refused (exit 3, one line) before anything is rendered or stopped."""
    import json
    import subprocess

    from tests.helpers import MAILCONSOLE, command_env

    lab_dir = tmp_path / "lab"
    audit = tmp_path / "audit.log"
    done = subprocess.run(
        [*MAILCONSOLE, *args, "--dir", str(lab_dir)],
        env=command_env(**env, MAILCONSOLE_AUDIT_LOG=str(audit)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    action = "lab.up" if "up" in args else "lab.down"
    assert (done.returncode, done.stderr) == (
        3,
        f"mailconsole: refused: mailconsole is read-only ({action} {lab_dir})\n",
    )
    assert not lab_dir.exists()
    [record] = [json.loads(line) for line in audit.read_text().splitlines()]
    assert (record["action"], record["outcome"], record["target"]) == (
        action,
        "refused",
        str(lab_dir),
    )
