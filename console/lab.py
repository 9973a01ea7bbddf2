"""The lab: the article's real mail stack (OpenSMTPD, Dovecot, fdm; with filters ClamAV and spampd)
rendered from config_samples into one directory and run under supervisord, for demos and tests."""

from __future__ import annotations

import configparser
import grp
import io
import json
import os
import pwd
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from console.errors import UserError
from console.supervisor import Program, SupervisorClient

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "config_samples"
DEFAULT_DIR = Path("/tmp/mailconsole-lab")
DEFAULT_PORT_BASE = 20000
PORT_BLOCK = 16
"""How many consecutive ports one lab uses, starting at its port base."""

PORT_OFFSETS = {
    "smtp": 0,
    "smtps": 1,
    "submission": 2,
    "imap": 3,
    "imaps": 4,
    "spampd": 5,
    "clamsmtpd": 6,
    "spampd_return": 7,
    "clamsmtpd_return": 8,
    "dkimproxy": 9,
    "dkimproxy_return": 10,
}
"""Where each listener sits relative to the port base."""

ARTICLE_FILTER_PORTS = {
    10025: "spampd",
    10026: "clamsmtpd",
    10027: "spampd_return",
    10028: "clamsmtpd_return",
    10029: "dkimproxy",
    10030: "dkimproxy_return",
}
"""The article's loopback filter ports and the lab listener each one becomes."""

LAB_PASSWORDS = {"bob": "bob-lab-password", "sysmail": "sysmail-lab-password"}
"""The article's two mail users, with known passwords so tests and demos can log in over IMAP."""

UNREACHABLE_DOMAIN = "unreachable.test"
PERMFAIL_DOMAIN = "permfail.test"
"""Test domains the lab adds: one relayed to a dead port, one whose mda always fails."""
BOUNCE_NOTE = (
    "bounces and delay warnings are injected as authenticated local mail, so the article's "
    "`match auth from auth` rule relays them to dkimproxy's port, dead in the lab: they stay queued"
)

DELIVER = "/usr/lib/dovecot/deliver"
LETSENCRYPT_LIVE = "/etc/letsencrypt/live/mail.example.com/"
ARTICLE_FDM_COMMAND = "/usr/bin/fdm -a stdin -f /mail/config/fdm.conf fetch"
LEFT_OUT_PROGRAMS = {
    "dkimproxy": "dkimproxy is not packaged in Debian 12",
    "cron": "the crontab's jobs need the network (and an offline sa-update empties "
    "SpamAssassin's rules); run them on demand from the console instead",
}
"""Programs of the article's supervisor.conf the lab does not run, and why."""

FILTER_PROGRAMS = ("clamd", "clamsmtpd", "spampd")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

REQUIRED_FILES = {
    "/usr/sbin/smtpd": "opensmtpd",
    "/usr/libexec/opensmtpd/table-passwd": "opensmtpd-extras",
    "/usr/sbin/dovecot": "dovecot-core",
    "/usr/lib/dovecot/imap": "dovecot-imapd",
    DELIVER: "dovecot-core",
    "/usr/bin/fdm": "fdm",
    "/usr/bin/openssl": "openssl",
    "/usr/bin/unshare": "util-linux",
    "/usr/bin/nsenter": "util-linux",
}
"""Files the lab runs, and the Debian package that ships each."""

FILTER_FILES = {
    "/usr/sbin/clamd": "clamav-daemon",
    "/usr/sbin/clamsmtpd": "clamsmtp",
    "/usr/sbin/spampd": "spampd",
}

EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode("ascii")
"""The standard antivirus test string: the lab's ClamAV database knows only this one."""


@dataclass(frozen=True)
class LabConfig:
    """What `lab up` was asked for: the directory, the first port, whether to run the filters."""

    dir: Path = DEFAULT_DIR
    port_base: int = DEFAULT_PORT_BASE
    filters: bool = False

    @property
    def ports(self) -> dict[str, int]:
        """Every listener's 127.0.0.1 port."""
        return {name: self.port_base + offset for name, offset in PORT_OFFSETS.items()}

    def path(self, *parts: str) -> Path:
        """A path inside the lab directory."""
        return self.dir.joinpath(*parts)


@dataclass(frozen=True)
class Account:
    """The system account mail is stored as (vmail), by numbers so rendering needs no root."""

    name: str
    uid: int
    gid: int


@dataclass
class LabInfo:
    """A running lab, as written to DIR/lab.json for the console, tests and people."""

    dir: str
    port_base: int
    filters: bool
    ports: dict[str, int]
    users: dict[str, dict[str, object]]
    domains: list[str]
    test_domains: dict[str, str]
    paths: dict[str, str]
    pid: int
    supervisor_url: str
    programs: list[str]
    left_out: dict[str, str]
    start_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- rendering (no root needed)


def sample(name: str) -> str:
    """The text of one file of config_samples (the article's version)."""
    try:
        return (SAMPLES_DIR / name).read_text()
    except OSError as exc:
        raise UserError(
            f"the lab renders the project's config_samples/, and {SAMPLES_DIR / name} cannot be "
            f"read ({exc.strerror}): run it from a source checkout"
        ) from None


def map_article_ports(text: str, cfg: LabConfig) -> str:
    """Replace the article's loopback filter ports (10025-10030) by the lab's."""
    ports = cfg.ports
    return re.sub(
        r"\b(100(?:2[5-9]|30))\b", lambda m: str(ports[ARTICLE_FILTER_PORTS[int(m[1])]]), text
    )


def render_smtpd_conf(cfg: LabConfig) -> str:
    """The article's smtpd.conf with lab paths, 127.0.0.1 ports, the fdm wrapper, and test domains.

    Without filters, incoming mail goes straight to "deliver" instead of through clamsmtpd."""
    ports = cfg.ports
    named_ports = {
        "smtp": ports["smtp"],
        "smtps": ports["smtps"],
        "submission": ports["submission"],
    }
    lines = []
    for line in sample("smtpd.conf").splitlines():
        if line.startswith("listen on :: "):
            lines.append(f"# lab: no IPv6 listener: {line}")
            continue
        line = line.replace(LETSENCRYPT_LIVE, f"{cfg.dir}/certs/")
        line = line.replace(ARTICLE_FDM_COMMAND, str(cfg.path("bin", "fdm-deliver")))
        line = line.replace("/mail/", f"{cfg.dir}/")
        line = re.sub(
            r"^listen on 0\.0\.0\.0 port (smtp|smtps|submission)\b",
            lambda m: f"listen on 127.0.0.1 port {named_ports[m[1]]}",
            line,
        )
        line = map_article_ports(line, cfg)
        if not cfg.filters and line.endswith("action relay_clamav_out") and "rcpt-to" in line:
            lines.append("# lab without --filters: straight to fdm instead of relay_clamav_out")
            line = line.replace("relay_clamav_out", '"deliver"')
        lines.append(line)
    lines += [
        "",
        "# lab: test domains that keep the queue busy (not in the article)",
        "action lab_unreachable relay host smtp://127.0.0.1:9",
        f'action lab_permfail mda "{cfg.path("bin", "lab-permfail")}" virtual {{ "@" = vmail }}',
        f"match from any for domain {UNREACHABLE_DOMAIN} action lab_unreachable",
        f"match from any for domain {PERMFAIL_DOMAIN} action lab_permfail",
    ]
    return "\n".join(lines) + "\n"


def render_supervisord_conf(cfg: LabConfig) -> str:
    """The article's supervisor.conf with lab paths and ports, in the foreground, without the
    programs the lab leaves out (and without the filters unless asked)."""
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";",))
    parser.read_string(sample("supervisor.conf"))
    run = cfg.path("run")
    parser["unix_http_server"]["file"] = f"{run}/supervisor.sock"
    parser["supervisorctl"]["serverurl"] = f"unix://{run}/supervisor.sock"
    main = parser["supervisord"]
    main["logfile"] = str(cfg.path("log", "supervisord.log"))
    main["pidfile"] = f"{run}/supervisord.pid"
    main["nodaemon"] = "true"
    main["childlogdir"] = str(cfg.path("log"))
    overrides = {
        "dovecot": f"dovecot -F -c {cfg.path('config', 'dovecot.conf')}",
        "spampd": (
            f"/usr/sbin/spampd --port={cfg.ports['spampd']}"
            f" --relayhost=127.0.0.1:{cfg.ports['spampd_return']} --tagall --nodetach"
            f" --logsock=inet --pid={run}/spampd.pid"
            f" --saconfig={cfg.path('config', 'spamassassin-local.cf')} -u vmail -g vmail"
        ),
    }
    for section in parser.sections():
        if not section.startswith("program:"):
            continue
        name = section.removeprefix("program:")
        if name in LEFT_OUT_PROGRAMS or (name in FILTER_PROGRAMS and not cfg.filters):
            parser.remove_section(section)
            continue
        program = parser[section]
        command = overrides.get(name, program["command"].strip())
        program["command"] = map_article_ports(command.replace("/mail/", f"{cfg.dir}/"), cfg)
        for key in ("stdout_logfile",):
            if key in program:
                program[key] = program[key].replace("/mail/", f"{cfg.dir}/")
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def render_key_value_conf(name: str, cfg: LabConfig, overrides: dict[str, str]) -> str:
    """An article config of `Key value` (or `Key: value`) lines, with lab paths and some keys
    replaced."""
    lines = []
    for line in sample(name).splitlines():
        key = re.split(r"[:\s]", line, maxsplit=1)[0]
        if key in overrides:
            sep = ": " if line.startswith(key + ":") else " "
            line = f"{key}{sep}{overrides.pop(key)}"
        lines.append(line.replace("/mail/", f"{cfg.dir}/"))
    sep = ": " if name == "clamsmtpd.conf" else " "
    lines += [f"{key}{sep}{value}" for key, value in overrides.items()]
    return "\n".join(lines) + "\n"


def render_clamd_conf(cfg: LabConfig) -> str:
    """The article's clamd.conf with the socket inside the lab, reachable by clamsmtpd."""
    return render_key_value_conf(
        "clamd.conf",
        cfg,
        {"LocalSocket": str(cfg.path("run", "clamav", "clamd.sock")), "LocalSocketMode": "666"},
    )


def render_clamsmtpd_conf(cfg: LabConfig) -> str:
    """The article's clamsmtpd.conf on lab ports; Debian's clamsmtpd must run as clamsmtp."""
    return render_key_value_conf(
        "clamsmtpd.conf",
        cfg,
        {
            "OutAddress": f"127.0.0.1:{cfg.ports['clamsmtpd_return']}",
            "Listen": f"127.0.0.1:{cfg.ports['clamsmtpd']}",
            "ClamAddress": str(cfg.path("run", "clamav", "clamd.sock")),
            "TempDirectory": str(cfg.path("tmp", "clamsmtpd")),
            "User": "clamsmtp",
        },
    )


def render_userdb(cfg: LabConfig, vmail: Account, hashes: dict[str, str]) -> str:
    """The article's userdb (passwd format, read by Dovecot and smtpd's table-passwd) with lab
    paths, the real vmail gid, and crypt hashes of the known lab passwords."""
    lines = []
    for line in sample("db/userdb").splitlines():
        user, _hash, uid, _gid, gecos, rest = line.split(":", 5)
        rest = rest.replace("/mail/", f"{cfg.dir}/")
        lines.append(":".join([user, hashes[user], uid, str(vmail.gid), gecos, rest]))
    return "\n".join(lines) + "\n"


def render_dovecot_conf(cfg: LabConfig, vmail: Account) -> str:
    """Dovecot's own config for the lab (Debian's stock one needs a certificate), following what
    the article's startup script sets: maildir under the spool, IMAP only, log to stderr."""
    return f"""\
# The lab's Dovecot: IMAP on 127.0.0.1, users from the article's userdb (passwd-file).
base_dir = {cfg.path("run", "dovecot")}
state_dir = {cfg.path("lib", "dovecot")}
log_path = /dev/stderr
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cfg.path("certs", "fullchain.pem")}
ssl_key = <{cfg.path("certs", "privkey.pem")}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{cfg.path("spool")}/%n/Mail
mail_uid = {vmail.uid}
mail_gid = {vmail.gid}
first_valid_uid = {vmail.uid}
last_valid_uid = {vmail.uid}
first_valid_gid = {vmail.gid}
last_valid_gid = {vmail.gid}
passdb {{
  driver = passwd-file
  args = {cfg.path("db", "userdb")}
}}
userdb {{
  driver = passwd-file
  args = {cfg.path("db", "userdb")}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {cfg.ports["imap"]}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {cfg.ports["imaps"]}
    ssl = yes
  }}
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
protocol lda {{
  log_path = {cfg.path("log", "dovecot-lda.log")}
  lda_mailbox_autocreate = yes
}}
"""


def render_fdm_wrapper(cfg: LabConfig) -> str:
    """The mda smtpd runs: fdm on the article's fdm.conf, with Debian's deliver and the lab's
    Dovecot config (kept out of smtpd.conf, which mangles `$`)."""
    return f"""\
#!/bin/sh
# smtpd's mda for the lab: the article's fdm command line, pointed at the lab.
CONFIG_FILE={cfg.path("config", "dovecot.conf")}
export CONFIG_FILE
exec /usr/bin/fdm -m -a stdin -f {cfg.path("config", "fdm.conf")} -D '$deliver={DELIVER}' fetch
"""


def render_namespace_wrapper(cfg: LabConfig) -> str:
    """Runs supervisord in the lab's private mount namespace, with the lab's own smtpd queue and
    /run, so the lab's smtpd never meets another smtpd on the machine."""
    return f"""\
#!/bin/sh
# Started as `unshare --mount --propagation private` this script: private /var/spool/smtpd and /run.
set -e
mkdir -p /var/spool/smtpd
mount --bind {cfg.path("smtpd-spool")} /var/spool/smtpd
mount --bind {cfg.path("run")} /run
exec {sys.executable} -m supervisor.supervisord -n -c {cfg.path("supervisord.conf")}
"""


def render_smtpctl_wrapper(cfg: LabConfig) -> str:
    """`DIR/bin/smtpctl`: the real smtpctl, run inside the lab's mount namespace."""
    return f"""\
#!/bin/sh
# smtpctl for the lab's smtpd, which lives in a private mount namespace.
pid=$(cat {cfg.path("run", "supervisord.pid")} 2>/dev/null) || {{
  echo "smtpctl: the lab in {cfg.dir} is not running" >&2; exit 1; }}
exec nsenter --target "$pid" --mount smtpctl "$@"
"""


PERMFAIL_SCRIPT = """\
#!/bin/sh
# The mda of the lab's permfail.test domain: always a permanent failure, so smtpd bounces.
echo "lab permfail" >&2
exit 1
"""


def render_get_certs(cfg: LabConfig) -> str:
    """The article's get_certs with certbot's state kept inside the lab, never /etc/letsencrypt."""
    text = sample("bin/get_certs").replace("/mail/", f"{cfg.dir}/").rstrip("\n")
    letsencrypt = cfg.path("letsencrypt")
    return (
        f"{text} \\\n   --config-dir {letsencrypt} --work-dir {letsencrypt}/work"
        f" --logs-dir {cfg.path('log', 'letsencrypt')}\n"
    )


def render_deploy_hook(cfg: LabConfig) -> str:
    """The article's certbot deploy hook, with supervisorctl pointed at the lab's supervisord."""
    supervisorctl = (
        f"{sys.executable} -m supervisor.supervisorctl -c {cfg.path('supervisord.conf')}"
    )
    return sample("bin/certbot-deploy-hook").replace("supervisorctl ", f"{supervisorctl} ")


def lab_jobs(cfg: LabConfig) -> dict[str, list[str]]:
    """The article's crontab jobs with lab paths: what the console's job runner runs on the lab."""
    jobs = {}
    for line in sample("crontab").splitlines():
        argv = shlex.split(line.replace("/mail/", f"{cfg.dir}/"))[5:]
        jobs[Path(argv[0]).name] = argv
    return jobs


def render_settings_toml(cfg: LabConfig) -> str:
    """mailconsole settings that point the console at the lab."""

    def q(path: Path) -> str:
        return json.dumps(str(path))

    jobs = "".join(
        f"{json.dumps(name)} = {json.dumps(argv)}\n" for name, argv in lab_jobs(cfg).items()
    )

    return f"""\
# mailconsole settings for the lab in {cfg.dir} (written by `mailconsole lab up`).
supervisor_config = {q(cfg.path("supervisord.conf"))}
log_dir = {q(cfg.path("log"))}
fdm_config = {q(cfg.path("config", "fdm.conf"))}
table_vdomains = {q(cfg.path("db", "vdomains"))}
table_vusers = {q(cfg.path("db", "vusers"))}
table_addrs = {q(cfg.path("db", "addrs"))}
table_userdb = {q(cfg.path("db", "userdb"))}
spool_dir = {q(cfg.path("spool"))}
smtpctl = [{q(cfg.path("bin", "smtpctl"))}]
audit_log = {q(cfg.path("log", "mailconsole-audit.log"))}
fdm_test_messages = {q(cfg.path("config", "fdm-tests"))}

[jobs]
{jobs}"""


def crypt_hash(password: str, salt: str) -> str:
    """A SHA-512 crypt hash (`$6$...`) like the article's userdb, by openssl."""
    done = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", salt, password],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def write_file(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    """Write one lab file with its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    path.chmod(mode)


def render_lab(cfg: LabConfig, vmail: Account) -> None:
    """Write the lab's whole tree into cfg.dir (files and modes; ownership is `own_lab`'s job)."""
    for sub in ("config", "db", "log", "spool", "bin", "run", "lib", "certs", "smtpd-spool", "tmp"):
        cfg.path(sub).mkdir(parents=True, exist_ok=True)
    cfg.dir.chmod(0o755)
    cfg.path("smtpd-spool").chmod(0o711)
    for name in ("freshclam.conf", "dkimproxy_out.conf", "spamassassin-local.cf"):
        write_file(cfg.path("config", name), sample(name).replace("/mail/", f"{cfg.dir}/"))
    write_file(cfg.path("config", "fdm.conf"), sample("fdm.conf"), 0o600)
    write_file(cfg.path("config", "smtpd.conf"), render_smtpd_conf(cfg))
    write_file(cfg.path("config", "dovecot.conf"), render_dovecot_conf(cfg, vmail))
    write_file(cfg.path("config", "clamd.conf"), render_clamd_conf(cfg))
    write_file(cfg.path("config", "clamsmtpd.conf"), render_clamsmtpd_conf(cfg))
    write_file(cfg.path("supervisord.conf"), render_supervisord_conf(cfg))
    write_file(cfg.path("crontab"), sample("crontab").replace("/mail/", f"{cfg.dir}/"))
    for name in ("vdomains", "vusers", "addrs"):
        write_file(cfg.path("db", name), sample(f"db/{name}"))
    hashes = {
        user: crypt_hash(password, "mailconsolelab") for user, password in LAB_PASSWORDS.items()
    }
    write_file(cfg.path("db", "userdb"), render_userdb(cfg, vmail, hashes))
    write_file(cfg.path("bin", "get_certs"), render_get_certs(cfg), 0o755)
    write_file(cfg.path("bin", "certbot-deploy-hook"), render_deploy_hook(cfg), 0o755)
    startup = sample("bin/startup").replace("/mail/", f"{cfg.dir}/")
    write_file(cfg.path("bin", "startup"), startup, 0o755)
    write_file(cfg.path("bin", "fdm-deliver"), render_fdm_wrapper(cfg), 0o755)
    write_file(cfg.path("bin", "lab-permfail"), PERMFAIL_SCRIPT, 0o755)
    write_file(cfg.path("bin", "lab-namespace"), render_namespace_wrapper(cfg), 0o755)
    write_file(cfg.path("bin", "smtpctl"), render_smtpctl_wrapper(cfg), 0o755)
    eicar_md5 = "44d88612fea8a8f36de82e1278abb02f"
    write_file(cfg.path("db", "clamav", "lab.hdb"), f"{eicar_md5}:{len(EICAR)}:Lab.EICAR.Hash\n")
    write_file(cfg.path("db", "clamav", "lab.ndb"), f"Lab.EICAR.Body:0:*:{EICAR.hex()}\n")
    write_file(cfg.path("mailconsole.toml"), render_settings_toml(cfg))
    tests = cfg.path("config", "fdm-tests")
    tests.mkdir(exist_ok=True)
    for message in sorted((SAMPLES_DIR / "fdm-tests").glob("*.eml")):
        write_file(tests / message.name, message.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- machine setup (root)


def check_requirements(filters: bool) -> None:
    """Refuse in one line when not root or when a Debian package the lab runs is missing."""
    if os.geteuid() != 0:
        raise UserError(
            "the lab needs root (it runs smtpd, dovecot and bind mounts): run it as root"
        )
    needed = dict(REQUIRED_FILES, **(FILTER_FILES if filters else {}))
    missing = sorted({package for path, package in needed.items() if not os.path.exists(path)})
    if missing:
        raise UserError(
            f"the lab needs Debian packages that are missing: apt-get install {' '.join(missing)}"
        )


def ensure_vmail() -> Account:
    """The vmail account the article stores mail as; created (uid/gid 2000 if free) when missing."""
    try:
        entry = pwd.getpwnam("vmail")
    except KeyError:
        command = [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
        ]
        id_free = not _uid_taken(2000) and not _gid_taken(2000)
        command += ["--uid", "2000"] if id_free else []
        done = subprocess.run(command + ["vmail"], capture_output=True, text=True, check=False)
        try:
            entry = pwd.getpwnam("vmail")
        except KeyError:
            raise UserError(f"could not create the vmail user: {done.stderr.strip()}") from None
    return Account("vmail", entry.pw_uid, entry.pw_gid)


def _uid_taken(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def _gid_taken(gid: int) -> bool:
    try:
        grp.getgrgid(gid)
        return True
    except KeyError:
        return False


def own_lab(cfg: LabConfig, vmail: Account) -> None:
    """Give each daemon's user the files it writes: mail to vmail, ClamAV's to clamav/clamsmtp."""
    os.chown(cfg.path("spool"), vmail.uid, vmail.gid)
    os.chown(cfg.path("config", "fdm.conf"), vmail.uid, vmail.gid)
    lda_log = cfg.path("log", "dovecot-lda.log")
    lda_log.touch()
    os.chown(lda_log, vmail.uid, vmail.gid)
    key = cfg.path("certs", "privkey.pem")
    os.chown(key, 0, vmail.gid)
    key.chmod(0o640)
    clamav = pwd.getpwnam("clamav")
    freshclam_log = cfg.path("log", "freshclam.log")
    freshclam_log.touch()
    os.chown(freshclam_log, clamav.pw_uid, clamav.pw_gid)
    os.chown(cfg.path("db", "clamav"), clamav.pw_uid, clamav.pw_gid)
    if cfg.filters:
        clamsmtp = pwd.getpwnam("clamsmtp")
        clamd_log = cfg.path("log", "clamd.log")
        clamd_log.touch()
        os.chown(clamd_log, clamav.pw_uid, clamav.pw_gid)
        clamd_run = cfg.path("run", "clamav")
        clamd_run.mkdir(exist_ok=True)
        os.chown(clamd_run, clamav.pw_uid, clamav.pw_gid)
        temp = cfg.path("tmp", "clamsmtpd")
        temp.mkdir(exist_ok=True)
        os.chown(temp, clamsmtp.pw_uid, clamsmtp.pw_gid)
        temp.chmod(0o750)


def make_certificate(cfg: LabConfig) -> None:
    """A self-signed certificate for mail.example.com in place of Let's Encrypt's (kept once
    made)."""
    key, cert = cfg.path("certs", "privkey.pem"), cfg.path("certs", "fullchain.pem")
    if key.exists() and cert.exists():
        return
    done = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            "/CN=mail.example.com",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise UserError(f"openssl could not make the lab certificate: {last_line(done.stderr)}")


def check_ports_free(cfg: LabConfig) -> None:
    """Refuse when one of the lab's ports is taken by something else."""
    for name, port in cfg.ports.items():
        if not port_is_free(port):
            raise UserError(
                f"port {port} ({name}) on 127.0.0.1 is in use: choose another --port-base"
            )


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_bases(ports: range) -> Iterator[int]:
    """Port bases in `ports` whose whole block of PORT_BLOCK ports is free right now."""
    for base in range(ports.start, ports.stop - PORT_BLOCK + 1, PORT_BLOCK):
        if all(port_is_free(base + i) for i in range(PORT_BLOCK)):
            yield base


def check_traversable(path: Path) -> None:
    """Refuse a lab directory the mail users cannot reach (for example inside a 0700 home)."""
    for parent in path.parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise UserError(
                f"{parent} is not searchable by other users (vmail, clamav): choose another --dir"
            )


# ---------------------------------------------------------------- supervisord


def socket_path(lab_dir: Path) -> Path:
    """The lab supervisord's XML-RPC unix socket."""
    return lab_dir / "run" / "supervisor.sock"


def client(lab_dir: Path) -> SupervisorClient:
    """The console's supervisord client, on the lab's socket."""
    return SupervisorClient(f"unix://{socket_path(lab_dir)}")


def shutdown(lab_dir: Path) -> None:
    """Ask the lab's supervisord to stop its programs and exit (XML-RPC supervisor.shutdown)."""
    client(lab_dir).shutdown()


def running_pid(lab_dir: Path) -> int | None:
    """The pid of the lab's supervisord when it is running, else None."""
    try:
        pid = int((lab_dir / "run" / "supervisord.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    conf = str(lab_dir / "supervisord.conf").encode()
    return pid if b"supervisord" in cmdline and conf in cmdline.split(b"\0") else None


def program_states(lab_dir: Path) -> list[Program]:
    """Every program of the lab's supervisord with its state."""
    return list(client(lab_dir).snapshot().programs)


def wait_until_running(cfg: LabConfig, pid: int, timeout: float = START_TIMEOUT) -> list[Program]:
    """Poll supervisord until every program is RUNNING; a program that fails stops the wait."""
    deadline = time.monotonic() + timeout
    states: list[Program] = []
    while time.monotonic() < deadline:
        if not is_alive(pid):
            log = cfg.path("log", "lab-namespace.log")
            raise UserError(f"the lab's supervisord exited: {last_line(read_text(log))}")
        try:
            states = program_states(cfg.dir)
        except UserError:
            time.sleep(0.1)
            continue
        failed = [s for s in states if s.state in ("FATAL", "EXITED", "STOPPED", "UNKNOWN")]
        if failed:
            raise UserError(
                f"lab program {failed[0].name} is {failed[0].state}: "
                f"{program_log_tail(cfg, failed[0].name)}"
            )
        if states and all(s.state == "RUNNING" for s in states) and not_listening(cfg) == []:
            return states
        time.sleep(0.1)
    waiting = [f"{s.name} {s.state}" for s in states if s.state != "RUNNING"] or not_listening(cfg)
    raise UserError(
        f"the lab did not start within {timeout:.0f} s (waiting for {', '.join(waiting)})"
    )


def not_listening(cfg: LabConfig) -> list[str]:
    """The lab's listeners that do not answer yet: RUNNING in supervisord is not ready (spampd
    loads SpamAssassin's rules for seconds after it started)."""
    names = ["smtp", "smtps", "submission", "imap", "imaps"]
    names += ["spampd", "clamsmtpd"] if cfg.filters else []
    waiting = [name for name in names if not accepts_connections(cfg.ports[name])]
    if cfg.filters and not clamd_answers(cfg.path("run", "clamav", "clamd.sock")):
        waiting.append("clamd")
    return waiting


def accepts_connections(port: int) -> bool:
    """True when something accepts a TCP connection on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def clamd_answers(path: Path) -> bool:
    """True when clamd answers PING with PONG on its unix socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2.0)
            sock.connect(str(path))
            sock.sendall(b"zPING\0")
            return sock.recv(16).startswith(b"PONG")
    except OSError:
        return False


def program_log_tail(cfg: LabConfig, name: str) -> str:
    """The last line a lab program wrote to its logs, to explain why it failed."""
    lab_client = client(cfg.dir)
    try:
        tail = lab_client.tail(name, 0, 2000).text + lab_client.tail(name, 0, 2000, "stderr").text
    except UserError:
        return "no log"
    return last_line(tail)


def last_line(text: str) -> str:
    """The last non-empty line of a program's output, or a note that there was none."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def read_text(path: Path) -> str:
    """A file's text, or nothing when it cannot be read."""
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# ---------------------------------------------------------------- up, status, down


def up(cfg: LabConfig, progress: Callable[[str], None] = lambda _msg: None) -> LabInfo:
    """Render the lab into cfg.dir, start it in its own mount namespace, wait until every program
    is RUNNING, and write DIR/lab.json and DIR/mailconsole.toml."""
    cfg = LabConfig(cfg.dir.resolve(), cfg.port_base, cfg.filters)
    pid = running_pid(cfg.dir)
    if pid is not None:
        raise UserError(
            f"a lab is already running in {cfg.dir} (supervisord pid {pid}): "
            f"run `mailconsole lab down --dir {cfg.dir}` first"
        )
    if lab_processes(cfg.dir):
        raise UserError(
            f"processes of an earlier lab in {cfg.dir} are still running without supervisord: "
            f"run `mailconsole lab down --dir {cfg.dir}` first"
        )
    if not 1024 <= cfg.port_base <= 65535 - PORT_BLOCK:
        raise UserError(
            f"--port-base {cfg.port_base} is out of range: choose 1024-{65535 - PORT_BLOCK}"
        )
    check_requirements(cfg.filters)
    check_ports_free(cfg)
    cfg.dir.mkdir(parents=True, exist_ok=True)
    check_traversable(cfg.dir)
    started = time.monotonic()
    vmail = ensure_vmail()
    render_lab(cfg, vmail)
    make_certificate(cfg)
    own_lab(cfg, vmail)
    check_rendered_configs(cfg)
    progress(f"starting supervisord in {cfg.dir}")
    with open(cfg.path("log", "lab-namespace.log"), "ab") as log:
        process = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                str(cfg.path("bin", "lab-namespace")),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            cwd=cfg.dir,
        )
    try:
        states = wait_until_running(cfg, process.pid)
    except UserError:
        down(cfg.dir)
        raise
    info = lab_info(cfg, process.pid, states, time.monotonic() - started)
    write_file(cfg.path("lab.json"), json.dumps(info.__dict__, indent=2) + "\n")
    return info


def check_rendered_configs(cfg: LabConfig) -> None:
    """Let smtpd, dovecot and fdm check their rendered configs before anything starts."""
    checks = [
        ["smtpd", "-n", "-f", str(cfg.path("config", "smtpd.conf"))],
        ["dovecot", "-n", "-c", str(cfg.path("config", "dovecot.conf"))],
        ["fdm", "-n", "-f", str(cfg.path("config", "fdm.conf"))],
    ]
    for command in checks:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise UserError(
                f"{command[0]} rejects the lab's config: {last_line(done.stderr + done.stdout)}"
            )


def lab_info(cfg: LabConfig, pid: int, states: list[Program], seconds: float) -> LabInfo:
    """Everything a person or a test needs to use the running lab."""
    addresses: dict[str, list[str]] = {user: [] for user in LAB_PASSWORDS}
    for line in sample("db/vusers").splitlines():
        address = line.split()[0]
        user = "sysmail" if address.endswith("@example.net") else "bob"
        addresses[user].append(address)
    return LabInfo(
        dir=str(cfg.dir),
        port_base=cfg.port_base,
        filters=cfg.filters,
        ports=cfg.ports,
        users={
            user: {
                "password": password,
                "maildir": str(cfg.path("spool", user, "Mail")),
                "addresses": addresses[user],
            }
            for user, password in LAB_PASSWORDS.items()
        },
        domains=sample("db/vdomains").split(),
        test_domains={
            UNREACHABLE_DOMAIN: "relayed to 127.0.0.1:9 (nothing listens): stays queued",
            PERMFAIL_DOMAIN: "the mda exits 1: smtpd bounces to the sender",
        },
        notes=[BOUNCE_NOTE],
        paths={
            "config": str(cfg.path("config")),
            "db": str(cfg.path("db")),
            "log": str(cfg.path("log")),
            "spool": str(cfg.path("spool")),
            "smtpd_spool": str(cfg.path("smtpd-spool")),
            "supervisor_config": str(cfg.path("supervisord.conf")),
            "settings": str(cfg.path("mailconsole.toml")),
            "smtpctl": str(cfg.path("bin", "smtpctl")),
        },
        pid=pid,
        supervisor_url=f"unix://{socket_path(cfg.dir)}",
        programs=[s.name for s in states],
        left_out={name: why for name, why in LEFT_OUT_PROGRAMS.items()}
        | (
            {}
            if cfg.filters
            else {name: "run `lab up --filters` for it" for name in FILTER_PROGRAMS}
        ),
        start_seconds=round(seconds, 2),
    )


def read_info(lab_dir: Path) -> dict[str, object]:
    """DIR/lab.json of a lab brought up earlier."""
    try:
        return json.loads((lab_dir / "lab.json").read_text())
    except (OSError, ValueError):
        raise UserError(
            f"no lab in {lab_dir} (no readable lab.json): run `mailconsole lab up --dir {lab_dir}`"
        ) from None


def status(lab_dir: Path) -> list[Program]:
    """The lab's programs and their states; one line of error when it is not running."""
    lab_dir = lab_dir.resolve()
    if running_pid(lab_dir) is None:
        leftovers = lab_processes(lab_dir)
        if leftovers:
            raise UserError(
                f"the lab's supervisord in {lab_dir} is gone but {len(leftovers)} of its processes "
                "are still running: run `mailconsole lab down` to stop them"
            )
        raise UserError(f"no lab is running in {lab_dir}")
    return program_states(lab_dir)


def lab_processes(lab_dir: Path) -> list[int]:
    """Pids of every process in the lab's mount namespace. The namespace is found through a member
    that sees DIR/run as its /run; chrooted members (smtpd's, dovecot's) are found by namespace."""
    try:
        lab_run = os.stat(lab_dir / "run")
    except OSError:
        return []
    own_namespace = os.readlink("/proc/self/ns/mnt")
    lab_namespaces: set[str] = set()
    by_namespace: dict[str, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            namespace = os.readlink(f"/proc/{entry}/ns/mnt")
            by_namespace.setdefault(namespace, []).append(int(entry))
            seen = os.stat(f"/proc/{entry}/root/run")
        except OSError:
            continue
        if (seen.st_dev, seen.st_ino) == (lab_run.st_dev, lab_run.st_ino):
            lab_namespaces.add(namespace)
    lab_namespaces.discard(own_namespace)
    return sorted(pid for namespace in lab_namespaces for pid in by_namespace[namespace])


def down(lab_dir: Path, timeout: float = STOP_TIMEOUT) -> list[int]:
    """Stop the lab: supervisord shuts its programs down, then any process left in the lab's
    namespace is killed. Returns the pids that had to be killed."""
    lab_dir = lab_dir.resolve()
    pid = running_pid(lab_dir)
    if pid is not None:
        try:
            shutdown(lab_dir)
        except UserError:
            os.kill(pid, signal.SIGTERM)
        wait_for_exit([pid], timeout)
    leftovers = lab_processes(lab_dir)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for leftover in leftovers:
            try:
                os.kill(leftover, sig)
            except ProcessLookupError:
                pass
        wait_for_exit(leftovers, 5.0)
        if not lab_processes(lab_dir):
            break
    remaining = lab_processes(lab_dir)
    if remaining:
        raise UserError(f"lab processes would not stop: {' '.join(map(str, remaining))}")
    return leftovers


def wait_for_exit(pids: list[int], timeout: float) -> None:
    """Wait until none of pids is alive (zombies of other parents count as gone), or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_alive(pid) for pid in pids):
        time.sleep(0.05)


def is_alive(pid: int) -> bool:
    """True when pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
