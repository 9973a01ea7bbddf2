"""The lab's files: config_samples (the article's configs) rendered into one directory with 127.0.0.1
ports, paths inside it and test users. Pure rendering: no root, no processes."""

from __future__ import annotations

import configparser
import io
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from console.errors import UserError
from console.lab import jobs as lab_jobs
from console.settings import DEFAULT_LAB_DIR

SAMPLES_DIR = Path(str(resources.files("console").joinpath("config_samples")))
"""The article's files, shipped in the package (in a checkout, console/config_samples links to the
top-level config_samples/)."""
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
    **lab_jobs.JOB_PORT_OFFSETS,
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

LAB_MASTER_USER = "console"
LAB_MASTER_PASSWORD = "console-lab-master-password"
"""A Dovecot master user (log in as `bob*console`): how an operator inside the container reads any
mailbox without its owner's password."""

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

EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode("ascii")
"""The standard antivirus test string: the lab's ClamAV database knows only this one."""


@dataclass(frozen=True)
class LabConfig:
    """What `lab up` was asked for: the directory, the first port, whether to run the filters."""

    dir: Path = DEFAULT_LAB_DIR
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


def sample(name: str) -> str:
    """The text of one file of config_samples (the article's version)."""
    try:
        return (SAMPLES_DIR / name).read_text()
    except OSError as exc:
        raise UserError(
            f"the lab renders the project's config_samples/, and {SAMPLES_DIR / name} cannot be "
            f"read ({exc.strerror}): the installation is incomplete"
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
        # With --filters the pki lines name certbot's live files, as the article's do.
        certs = f"{lab_jobs.live_dir(cfg)}/" if cfg.filters else f"{cfg.dir}/certs/"
        line = line.replace(LETSENCRYPT_LIVE, certs)
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
    if cfg.filters:
        for name, keys in lab_jobs.supervisor_programs(cfg, sys.executable).items():
            parser[f"program:{name}"] = keys
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
auth_master_user_separator = *
passdb {{
  driver = passwd-file
  args = {cfg.path("db", "masters")}
  master = yes
}}
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
    """The article's get_certs against the lab's ACME server, its state inside the lab, never
    /etc/letsencrypt."""
    return lab_jobs.render_get_certs(sample("bin/get_certs"), cfg)


def render_deploy_hook(cfg: LabConfig) -> str:
    """The article's certbot deploy hook, with supervisorctl pointed at the lab's supervisord."""
    supervisorctl = (
        f"{sys.executable} -m supervisor.supervisorctl -c {cfg.path('supervisord.conf')}"
    )
    return sample("bin/certbot-deploy-hook").replace("supervisorctl ", f"{supervisorctl} ")


def jobs_of(cfg: LabConfig) -> dict[str, dict[str, object]]:
    """The article's crontab jobs with lab paths: what the console's job runner runs on the lab."""
    return lab_jobs.lab_jobs(cfg, sample("crontab"))


def render_settings_toml(cfg: LabConfig) -> str:
    """mailconsole settings that point the console at the lab."""

    def q(path: Path) -> str:
        return json.dumps(str(path))

    jobs = lab_jobs.render_jobs_toml(jobs_of(cfg))

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
smtpd_config = {q(cfg.path("config", "smtpd.conf"))}
dkimproxy_config = {q(cfg.path("config", "dkimproxy_out.conf"))}
mail_dir = {q(cfg.dir)}
queue_dir = {q(cfg.path("smtpd-spool"))}
dovecot_config = {q(cfg.path("config", "dovecot.conf"))}
clamd_config = {q(cfg.path("config", "clamd.conf"))}
spamassassin_update_dir = {q(cfg.path("db", "spamassassin"))}
health_smtps_ports = [{json.dumps(str(cfg.ports["smtps"]))}]
imap_host = "127.0.0.1"
imap_port = {cfg.ports["imaps"]}
imap_tls = "implicit"
imap_self_signed = true
imap_password_file = {q(cfg.path("db", "imap-passwords"))}
smtp_address = "127.0.0.1:{cfg.ports["smtp"]}"
lab_dir = {q(cfg.dir)}

{jobs}"""


def dkim_key() -> bytes:
    """A fresh 2048-bit RSA key in PEM, as the article's dkim.key (dkimproxy's keyfile): the lab
    leaves dkimproxy out, but the Accounts screen derives each domain's DKIM record from it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


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
    for name in ("dkimproxy_out.conf", "spamassassin-local.cf"):
        write_file(cfg.path("config", name), sample(name).replace("/mail/", f"{cfg.dir}/"))
    write_file(cfg.path("config", "fdm.conf"), sample("fdm.conf"), 0o600)
    write_file(cfg.path("config", "dkim.key"), dkim_key(), 0o600)
    write_file(cfg.path("config", "smtpd.conf"), render_smtpd_conf(cfg))
    write_file(cfg.path("config", "dovecot.conf"), render_dovecot_conf(cfg, vmail))
    write_file(cfg.path("config", "clamd.conf"), render_clamd_conf(cfg))
    write_file(cfg.path("config", "clamsmtpd.conf"), render_clamsmtpd_conf(cfg))
    write_file(
        cfg.path("config", "freshclam.conf"),
        lab_jobs.render_freshclam_conf(sample("freshclam.conf"), cfg),
    )
    write_file(cfg.path("acme", "pebble.json"), lab_jobs.render_pebble_config(cfg))
    write_file(cfg.path("supervisord.conf"), render_supervisord_conf(cfg))
    write_file(cfg.path("crontab"), sample("crontab").replace("/mail/", f"{cfg.dir}/"))
    for name in ("vdomains", "vusers", "addrs"):
        write_file(cfg.path("db", name), sample(f"db/{name}"))
    hashes = {
        user: crypt_hash(password, "mailconsolelab") for user, password in LAB_PASSWORDS.items()
    }
    write_file(cfg.path("db", "userdb"), render_userdb(cfg, vmail, hashes))
    master_hash = crypt_hash(LAB_MASTER_PASSWORD, "mailconsolelab")
    write_file(cfg.path("db", "masters"), f"{LAB_MASTER_USER}:{master_hash}\n")
    passwords = "".join(f"{user}:{password}\n" for user, password in LAB_PASSWORDS.items())
    write_file(cfg.path("db", "imap-passwords"), passwords, 0o600)
    write_file(cfg.path("db", "imap-master-password"), LAB_MASTER_PASSWORD + "\n", 0o600)
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
    lab_jobs.make_mirror(cfg)
    write_file(cfg.path("mailconsole.toml"), render_settings_toml(cfg))
    tests = cfg.path("config", "fdm-tests")
    tests.mkdir(exist_ok=True)
    for message in sorted((SAMPLES_DIR / "fdm-tests").glob("*.eml")):
        write_file(tests / message.name, message.read_text(encoding="utf-8"))
