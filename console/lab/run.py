"""The lab running: the machine set up (root), supervisord started on the rendered files, `up`, `status`
and `down`, with nothing left behind."""

from __future__ import annotations

import grp
import json
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from console.errors import UserError
from console.lab import jobs as lab_jobs
from console.lab.jobs import last_line
from console.lab.render import (
    BOUNCE_NOTE,
    DELIVER,
    FILTER_PROGRAMS,
    LAB_PASSWORDS,
    LEFT_OUT_PROGRAMS,
    PERMFAIL_DOMAIN,
    PORT_BLOCK,
    UNREACHABLE_DOMAIN,
    Account,
    LabConfig,
    LabInfo,
    render_lab,
    sample,
    write_file,
)
from console.supervisor.client import Program, SupervisorClient

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
    lab_jobs.PEBBLE: "pebble",
    "/usr/bin/certbot": "certbot",
}

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


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
    """Without filters, a self-signed certificate for mail.example.com in place of Let's Encrypt's
    (kept once made). With filters, certbot's live files from the lab's ACME server, linked where
    Dovecot reads them as the article's startup script links them."""
    key, cert = cfg.path("certs", "privkey.pem"), cfg.path("certs", "fullchain.pem")
    if cfg.filters:
        lab_jobs.make_acme_certificate(cfg)
        first_certificate(cfg)
        for link in (key, cert):
            if link.exists() or link.is_symlink():
                link.unlink()
            link.symlink_to(lab_jobs.live_dir(cfg) / link.name)
        return
    if key.is_symlink() or cert.is_symlink():  # left by an earlier lab with filters
        key.unlink(missing_ok=True)
        cert.unlink(missing_ok=True)
    if key.exists() and cert.exists():
        return
    lab_jobs.self_signed(key, cert, "/CN=mail.example.com", "the lab certificate")


def first_certificate(cfg: LabConfig) -> None:
    """Before the stack starts (smtpd and Dovecot read certbot's live files): run pebble for a
    moment and the lab's get_certs once, so the first certificate is a real issue too."""
    if (lab_jobs.live_dir(cfg) / "fullchain.pem").exists():
        return
    log = open(cfg.path("log", "pebble-first.log"), "ab")  # noqa: SIM115 - closed below
    pebble = subprocess.Popen(
        [lab_jobs.PEBBLE, "-config", str(cfg.path("acme", "pebble.json"))],
        env={**os.environ, **lab_jobs.PEBBLE_ENV},
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + lab_jobs.FIRST_CERTIFICATE_TIMEOUT
        while not accepts_connections(cfg.ports["acme"]):
            if pebble.poll() is not None or time.monotonic() > deadline:
                raise UserError(
                    f"the lab's ACME server (pebble) did not start: see "
                    f"{cfg.path('log', 'pebble-first.log')}"
                )
            time.sleep(0.05)
        done = subprocess.run(
            [str(cfg.path("bin", "get_certs"))],
            capture_output=True,
            text=True,
            timeout=lab_jobs.FIRST_CERTIFICATE_TIMEOUT,
            check=False,
        )
        if done.returncode != 0 or not (lab_jobs.live_dir(cfg) / "fullchain.pem").exists():
            raise UserError(
                f"the lab's first certificate from pebble failed: "
                f"{last_line(done.stderr + done.stdout)}"
            )
    finally:
        pebble.terminate()
        pebble.wait(10)
        log.close()


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
    """True when clamd answers PING with PONG on its unix socket (the health check's PING)."""
    from console.health.stack import clamd_ping

    return clamd_ping({"LocalSocket": str(path)}, 2.0) == ""


def program_log_tail(cfg: LabConfig, name: str) -> str:
    """The last line a lab program wrote to its logs, to explain why it failed."""
    lab_client = client(cfg.dir)
    try:
        tail = lab_client.tail(name, 0, 2000).text + lab_client.tail(name, 0, 2000, "stderr").text
    except UserError:
        return "no log"
    return last_line(tail)


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
        info: dict[str, object] = json.loads((lab_dir / "lab.json").read_text())
        return info
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
