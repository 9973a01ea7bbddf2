"""The lab's maintenance jobs and their offline success paths, so each job can be seen to succeed:

- get_certs: certbot against a real ACME server in the lab, Debian's `pebble` (its challenge check
  switched off by its own switch, PEBBLE_VA_ALWAYS_VALID: nothing here resolves mail.example.com),
  with pebble's CA trusted through REQUESTS_CA_BUNDLE; state in DIR/letsencrypt, never /etc.
- freshclam: a loopback HTTP mirror of the lab's own ClamAV database (DatabaseCustomURL), the
  standard databases excluded (their signatures cannot be made here).
- sa-update: a local rules archive made from Debian's stock rules (`sa-update --install`), into
  the lab's own update directory.

pebble and the mirror run under the lab's supervisord with --filters only; without them get_certs and
freshclam fail, each with a clear sentence.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.errors import UserError

if TYPE_CHECKING:
    from console.lab.render import LabConfig

JOB_PORT_OFFSETS = {"acme": 11, "acme_management": 12, "http01": 13, "acme_tls": 14, "mirror": 15}
"""Where the job servers listen, relative to the lab's port base (inside its block)."""

SA_ARCHIVE_VERSION = "1000001"
"""sa-update --install wants a version number of at least three digits as the archive's name."""
SA_STOCK_RULES = Path("/usr/share/spamassassin")
PEBBLE = "/usr/bin/pebble"
PEBBLE_ENV = {
    "PEBBLE_VA_ALWAYS_VALID": "1",
    "PEBBLE_VA_NOSLEEP": "1",
    "PEBBLE_WFE_NONCEREJECT": "0",
}
"""pebble's switches: every challenge is valid, no random sleeps, no nonces rejected on purpose."""
FIRST_CERTIFICATE_TIMEOUT = 60.0


def acme_url(cfg: LabConfig) -> str:
    """The ACME directory URL of the lab's pebble."""
    return f"https://127.0.0.1:{cfg.ports['acme']}/dir"


def mirror_url(cfg: LabConfig) -> str:
    """The lab's loopback HTTP mirror."""
    return f"http://127.0.0.1:{cfg.ports['mirror']}"


def sa_archive(cfg: LabConfig) -> Path:
    """The rules archive sa-update installs from."""
    return cfg.path("mirror", "spamassassin", f"{SA_ARCHIVE_VERSION}.tar.gz")


def live_dir(cfg: LabConfig) -> Path:
    """certbot's live directory of the lab's certificate."""
    return cfg.path("letsencrypt", "live", "mail.example.com")


def render_pebble_config(cfg: LabConfig) -> str:
    """pebble's JSON config: its listeners on the lab's ports, its own TLS certificate."""
    ports = cfg.ports
    return (
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"127.0.0.1:{ports['acme']}",
                    "managementListenAddress": f"127.0.0.1:{ports['acme_management']}",
                    "certificate": str(cfg.path("acme", "cert.pem")),
                    "privateKey": str(cfg.path("acme", "key.pem")),
                    "httpPort": ports["http01"],
                    "tlsPort": ports["acme_tls"],
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                }
            },
            indent=2,
        )
        + "\n"
    )


def supervisor_programs(cfg: LabConfig, python: str) -> dict[str, dict[str, str]]:
    """The job servers as supervisord programs (with --filters): pebble and the HTTP mirror."""
    env = ",".join(f'{key}="{value}"' for key, value in PEBBLE_ENV.items())
    return {
        "pebble": {
            "command": f"{PEBBLE} -config {cfg.path('acme', 'pebble.json')}",
            "environment": env,
            "autorestart": "true",
            "stdout_logfile": str(cfg.path("log", "pebble.log")),
            "redirect_stderr": "true",
        },
        "lab-mirror": {
            "command": f"{python} -m http.server --bind 127.0.0.1 --directory {cfg.path('mirror')}"
            f" {cfg.ports['mirror']}",
            "autorestart": "true",
            "stdout_logfile": str(cfg.path("log", "lab-mirror.log")),
            "redirect_stderr": "true",
        },
    }


def render_freshclam_conf(article: str, cfg: LabConfig) -> str:
    """The article's freshclam.conf with lab paths, fetching the lab's own database from the mirror;
    the standard databases (main, daily, bytecode: signed by ClamAV) are left out."""
    text = article.replace("/mail/", f"{cfg.dir}/").rstrip("\n")
    lines = [
        "",
        "# lab: the standard databases need clamav.net (and ClamAV's signatures);",
        "# the lab's own database comes from its loopback mirror instead.",
    ]
    lines += [f"ExcludeDatabase {name}" for name in ("main", "daily", "bytecode")]
    lines += [
        f"DatabaseCustomURL {mirror_url(cfg)}/clamav/{name}" for name in ("lab.hdb", "lab.ndb")
    ]
    return text + "\n" + "\n".join(lines) + "\n"


def certbot_options(cfg: LabConfig) -> str:
    """What the lab adds to the article's certbot line: the lab's ACME server, certbot's state in
    the lab, and a challenge port inside the lab's block (port 80 is the machine's)."""
    letsencrypt = cfg.path("letsencrypt")
    return (
        f"--server {acme_url(cfg)} --config-dir {letsencrypt} --work-dir {letsencrypt}/work"
        f" --logs-dir {cfg.path('log', 'letsencrypt')}"
    )


def render_get_certs(article: str, cfg: LabConfig) -> str:
    """The article's get_certs pointed at the lab's pebble, whose CA it trusts, never /etc/letsencrypt."""
    text = article.replace("/mail/", f"{cfg.dir}/").rstrip("\n")
    text = text.replace("--http-01-port 80 ", f"--http-01-port {cfg.ports['http01']} ")
    shebang, _, rest = text.partition("\n")
    trust = (
        f"# lab: certbot talks to the lab's ACME server (pebble) and trusts its certificate;\n"
        f"# pebble forgets its accounts when it restarts, so each run registers afresh.\n"
        f"REQUESTS_CA_BUNDLE={cfg.path('acme', 'cert.pem')}\nexport REQUESTS_CA_BUNDLE\n"
        f"rm -rf {cfg.path('letsencrypt', 'accounts')}\n"
    )
    return f"{shebang}\n{trust}{rest} \\\n   {certbot_options(cfg)}\n"


def self_signed(key: Path, cert: Path, subject: str, what: str, *extra: str) -> None:
    """A self-signed RSA certificate for ten years (`extra`: more `openssl req` arguments); a failure
    is one line naming `what`."""
    key.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650"]
        + ["-subj", subject, *extra, "-keyout", str(key), "-out", str(cert)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise UserError(f"openssl could not make {what}: {last_line(done.stderr)}")


def last_line(text: str) -> str:
    """The last non-empty line of a program's output, or a note that there was none."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def make_acme_certificate(cfg: LabConfig) -> None:
    """pebble ships no certificate for its own listener: a self-signed one for 127.0.0.1."""
    key, cert = cfg.path("acme", "key.pem"), cfg.path("acme", "cert.pem")
    if key.exists() and cert.exists():
        return
    self_signed(
        key,
        cert,
        "/CN=127.0.0.1",
        "the ACME server's certificate",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
    )


def make_mirror(cfg: LabConfig) -> None:
    """The mirror's files: the lab's ClamAV database, and a SpamAssassin rules archive (Debian's stock
    rules) with the .sha256 and .sha512 files sa-update checks."""
    clamav = cfg.path("mirror", "clamav")
    clamav.mkdir(parents=True, exist_ok=True)
    for name in ("lab.hdb", "lab.ndb"):
        (clamav / name).write_bytes(cfg.path("db", "clamav", name).read_bytes())
    archive = sa_archive(cfg)
    archive.parent.mkdir(parents=True, exist_ok=True)
    rules = sorted(SA_STOCK_RULES.glob("*.cf"))
    if not rules:
        raise UserError(f"no SpamAssassin rules in {SA_STOCK_RULES}: apt-get install spamassassin")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for rule in rules:  # files only: sa-update refuses an archive holding "./"
            tar.add(rule, arcname=rule.name)
    data = buffer.getvalue()
    archive.write_bytes(data)
    for algorithm in ("sha256", "sha512"):
        digest = hashlib.new(algorithm, data).hexdigest()
        archive.with_name(archive.name + f".{algorithm}").write_text(f"{digest}  {archive.name}\n")


def lab_jobs(cfg: LabConfig, crontab: str) -> dict[str, dict[str, Any]]:
    """The jobs the console runs on the lab, as [jobs.NAME] tables: the crontab's commands with lab
    paths; sa-update installs the lab's rules archive; spampd runs (and is restarted) with --filters."""
    from console.jobs.spec import article_jobs

    defaults = article_jobs()
    jobs: dict[str, dict[str, Any]] = {}
    for line in crontab.splitlines():
        import shlex

        argv = shlex.split(line.replace("/mail/", f"{cfg.dir}/"))[5:]
        name = Path(argv[0]).name
        data = defaults[name].as_toml_data()
        data["argv"] = argv
        jobs[name] = data
    jobs["sa-update"]["argv"] = [
        "sa-update",
        "-v",
        "--nogpg",
        "--install",
        str(sa_archive(cfg)),
        "--updatedir",
        str(cfg.path("db", "spamassassin")),
    ]
    jobs["sa-update"]["description"] = (
        "Install the lab's SpamAssassin rules archive (Debian's stock "
        "rules)" + (", then restart spampd" if cfg.filters else "")
    )
    if not cfg.filters:
        jobs["sa-update"]["then"] = []  # no spampd to restart without the filters
    return jobs


def render_jobs_toml(jobs: dict[str, dict[str, Any]]) -> str:
    """The jobs as TOML tables for the lab's mailconsole.toml."""
    out = []
    for name, data in jobs.items():
        out.append(f"\n[jobs.{name}]")
        for key, value in data.items():
            if key == "exit_codes":
                continue
            out.append(f"{key} = {json.dumps(value)}")
        if data.get("exit_codes"):
            out.append(f"[jobs.{name}.exit_codes]")
            out += [f"{code} = {json.dumps(text)}" for code, text in data["exit_codes"].items()]
    return "\n".join(out) + "\n"
