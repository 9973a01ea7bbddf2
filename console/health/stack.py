"""The stack's other health checks: ClamAV's database and clamd, SpamAssassin's rules, free space,
the queue and supervisord's programs. Each returns findings (console.health.model.Check).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from console.errors import UserError
from console.health.model import Check, Fix, State, above, below
from console.health.tls import job_fix
from console.settings import Settings

CLAMD_PROGRAM = "clamd"
"""clamd's supervisord program in the article's supervisor.conf."""

CVD_HEADER_SIZE = 512
CLAMAV_SIGNED = (".cvd", ".cld", ".cud")
"""ClamAV database files that start with the 512-byte "ClamAV-VDB:" header."""


# --------------------------------------------------------------------------- ClamAV


@dataclass
class ClamavDatabase:
    """One database file's header: `ClamAV-VDB:build time:version:signatures:level:md5:dsig:builder:stime`."""

    path: Path
    version: int
    signatures: int
    built: float
    """When it was built (Unix time, the header's last field)."""
    built_text: str
    """The build time as the header writes it."""


def read_cvd_header(path: Path) -> ClamavDatabase:
    """The header of a .cvd/.cld/.cud file; ValueError when it has none."""
    with path.open("rb") as handle:
        head = handle.read(CVD_HEADER_SIZE)
    text = head.decode("ascii", "replace").rstrip(" \0")
    fields = text.split(":")
    if len(fields) < 10 or fields[0] != "ClamAV-VDB":
        raise ValueError(f"{path.name} has no ClamAV-VDB header")
    # The build time holds a colon itself ("14 Jul 2025 08:24 -0400"): count fields from the end.
    stime, version, signatures = fields[-1].strip(), fields[-7], fields[-6]
    if not (stime.isdigit() and version.isdigit() and signatures.isdigit()):
        raise ValueError(f"{path.name} has a malformed ClamAV-VDB header")
    built_text = ":".join(fields[1:-7])
    return ClamavDatabase(path, int(version), int(signatures), float(stime), built_text)


def read_clamd_conf(path: Path) -> dict[str, str]:
    """clamd.conf as {key: value} (the last value of a repeated key wins). OSError."""
    values = {}
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        values[key] = value.strip()
    return values


def clamd_ping(conf: dict[str, str], timeout: float) -> str:
    """PING clamd on its socket: an empty string when it answers PONG, else why not (a sentence)."""
    if conf.get("LocalSocket"):
        family, address, where = socket.AF_UNIX, conf["LocalSocket"], conf["LocalSocket"]
    elif conf.get("TCPSocket", "").isdigit():
        host = conf.get("TCPAddr") or "127.0.0.1"
        family, where = (
            socket.AF_INET6 if ":" in host else socket.AF_INET,
            f"{host}:{conf['TCPSocket']}",
        )
        address = (host, int(conf["TCPSocket"]))  # type: ignore[assignment]
    else:
        return "clamd.conf names neither a LocalSocket nor a TCPSocket"
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.sendall(b"zPING\0")
            answer = sock.recv(16)
    except FileNotFoundError:
        return f"no socket at {where}: clamd is not running"
    except ConnectionRefusedError:
        return f"nothing answers on {where}: clamd is not running"
    except TimeoutError:
        return f"clamd did not answer PING on {where} within {timeout:g} s"
    except OSError as exc:
        return f"cannot reach clamd on {where}: {exc.strerror or exc}"
    if not answer.startswith(b"PONG"):
        return f"clamd answered {answer[:16]!r} to PING, not PONG"
    return ""


def clamav_checks(settings: Settings, now: float) -> list[Check]:
    """ClamAV's databases (version, build date, age) and clamd's answer to PING."""
    try:
        conf = read_clamd_conf(settings.clamd_config)
    except OSError as exc:
        return [
            Check(
                "clamav",
                str(settings.clamd_config),
                State.UNKNOWN,
                f"cannot read clamd's config: {exc.strerror or exc}",
            )
        ]
    checks = [database_check(settings, Path(conf.get("DatabaseDirectory", "/var/lib/clamav")), now)]
    problem = clamd_ping(conf, settings.health_timeout)
    restart = Fix("program.restart", CLAMD_PROGRAM, f"Restart {CLAMD_PROGRAM}")
    if problem:
        checks.append(
            Check(
                "clamav",
                "clamd",
                State.CRITICAL,
                problem,
                fix=restart,
                data={"socket": conf.get("LocalSocket") or conf.get("TCPSocket", "")},
            )
        )
    else:
        checks.append(
            Check(
                "clamav",
                "clamd",
                State.OK,
                "answers PING with PONG",
                data={"socket": conf.get("LocalSocket") or conf.get("TCPSocket", "")},
            )
        )
    return checks


def database_check(settings: Settings, directory: Path, now: float) -> Check:
    """The age of the newest signed ClamAV database in `directory`, with every file's version."""
    warn, crit = settings.health_clamav_warning_days, settings.health_clamav_critical_days
    fix = job_fix(settings, "freshclam", "Run freshclam")
    name = "database"
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        return Check(
            "clamav",
            name,
            State.CRITICAL,
            f"cannot read the database directory {directory}: {exc.strerror or exc}",
            warning=warn,
            critical=crit,
            fix=fix,
        )
    databases, unreadable = [], []
    for entry in names:
        if entry.endswith(CLAMAV_SIGNED):
            try:
                databases.append(read_cvd_header(directory / entry))
            except (OSError, ValueError):
                unreadable.append(entry)
    if not databases:
        others = [n for n in names if not n.startswith(".")]
        extra = f" (only {', '.join(others[:4])})" if others else ""
        return Check(
            "clamav",
            name,
            State.CRITICAL,
            f"no signed ClamAV database (.cvd/.cld) in {directory}{extra}: freshclam has "
            "never installed one there",
            warning=warn,
            critical=crit,
            fix=fix,
            data={"directory": str(directory), "unreadable": unreadable},
        )
    newest = max(databases, key=lambda db: db.built)
    age_days = (now - newest.built) / 86400
    state = above(age_days, warn, crit)
    if unreadable:
        state = max(state, State.WARNING)
    built = datetime.fromtimestamp(newest.built, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    listing = ", ".join(f"{db.path.stem} {db.version}" for db in databases)
    summary = f"{listing}; newest built {built} ({age_days:.1f} days ago)"
    if unreadable:
        summary += f"; no header in {', '.join(unreadable)}"
    return Check(
        "clamav",
        name,
        state,
        summary,
        round(age_days, 2),
        "days",
        warn,
        crit,
        fix=fix if state != State.OK else None,
        data={
            "directory": str(directory),
            "databases": [
                {
                    "file": db.path.name,
                    "version": db.version,
                    "signatures": db.signatures,
                    "built": datetime.fromtimestamp(db.built, timezone.utc).isoformat(),
                }
                for db in databases
            ],
        },
    )


# --------------------------------------------------------------------------- SpamAssassin


def spamassassin_check(settings: Settings, now: float) -> Check:
    """sa-update's directory: rules exist at all (a failed update leaves it empty), and their age."""
    directory = settings.spamassassin_update_dir
    warn, crit = (
        settings.health_spamassassin_warning_days,
        settings.health_spamassassin_critical_days,
    )
    fix = job_fix(settings, "sa-update", "Run sa-update")
    name = "rules"
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return Check(
            "spamassassin",
            name,
            State.CRITICAL,
            f"{directory} does not exist: sa-update has never installed rules there, and "
            "spampd finds no rules to score with",
            warning=warn,
            critical=crit,
            fix=fix,
        )
    except OSError as exc:
        return Check(
            "spamassassin",
            name,
            State.UNKNOWN,
            f"cannot read {directory}: {exc.strerror or exc}",
            fix=fix,
        )
    rules = [p for p in directory.rglob("*.cf") if p.is_file()]
    if not rules:
        return Check(
            "spamassassin",
            name,
            State.CRITICAL,
            f"{directory} holds no rules: SpamAssassin scores nothing and spampd passes "
            "every mail (a failed sa-update leaves the directory empty)",
            0,
            "rule files",
            warn,
            crit,
            fix=fix,
            data={"directory": str(directory)},
        )
    installed = max(entry.stat().st_mtime for entry in entries)
    age_days = (now - installed) / 86400
    state = above(age_days, warn, crit)
    return Check(
        "spamassassin",
        name,
        state,
        f"{len(rules)} rule files, installed {age_days:.1f} days ago",
        round(age_days, 2),
        "days",
        warn,
        crit,
        fix=fix if state != State.OK else None,
        data={
            "directory": str(directory),
            "rule_files": len(rules),
            "installed": datetime.fromtimestamp(installed, timezone.utc).isoformat(),
        },
    )


# --------------------------------------------------------------------------- free space


def disk_checks(settings: Settings) -> list[Check]:
    """Free space (percent of the filesystem, as df's Avail) of the mail volume and the queue."""
    warn, crit = settings.health_disk_warning_percent, settings.health_disk_critical_percent
    checks = []
    for what, path in (("mail", settings.mail_dir), ("queue", settings.queue_dir)):
        try:
            st = os.statvfs(path)
        except OSError as exc:
            checks.append(
                Check(
                    "disk",
                    str(path),
                    State.UNKNOWN,
                    f"cannot read the free space of the {what} directory: {exc.strerror or exc}",
                    warning=warn,
                    critical=crit,
                )
            )
            continue
        percent = 100.0 * st.f_bavail / st.f_blocks if st.f_blocks else 0.0
        free_gib = st.f_bavail * st.f_frsize / 2**30
        checks.append(
            Check(
                "disk",
                str(path),
                below(percent, warn, crit),
                f"{percent:.0f} % free ({free_gib:.1f} GiB) on the {what} directory's filesystem",
                round(percent, 1),
                "%",
                warn,
                crit,
                data={
                    "free_bytes": st.f_bavail * st.f_frsize,
                    "size_bytes": st.f_blocks * st.f_frsize,
                },
            )
        )
    return checks


# --------------------------------------------------------------------------- queue and programs


def queue_checks(settings: Settings, now: float) -> list[Check]:
    """The queue's size and its oldest envelope's age (read with smtpctl, as the Queue screen does)."""
    from console.queue.smtpctl import read_queue
    from console.queue.summary import human_age

    try:
        snapshot = read_queue(settings, now)
    except UserError as exc:
        return [Check("queue", "queue", State.UNKNOWN, f"cannot read the queue: {exc}")]
    envelopes = snapshot.envelopes
    size_state = above(
        len(envelopes),
        settings.health_queue_warning_envelopes,
        settings.health_queue_critical_envelopes,
    )
    note = f" ({snapshot.problem})" if snapshot.problem else ""
    checks = [
        Check(
            "queue",
            "envelopes",
            size_state,
            f"{len(envelopes)} envelopes queued{note}",
            len(envelopes),
            "envelopes",
            settings.health_queue_warning_envelopes,
            settings.health_queue_critical_envelopes,
        )
    ]
    oldest = max((e.age(now) for e in envelopes), default=0)
    hours = oldest / 3600
    age_state = above(
        hours, settings.health_queue_warning_hours, settings.health_queue_critical_hours
    )
    summary = (
        f"oldest envelope queued {human_age(oldest)} ago" if envelopes else "the queue is empty"
    )
    checks.append(
        Check(
            "queue",
            "oldest envelope",
            age_state,
            summary,
            round(hours, 2),
            "hours",
            settings.health_queue_warning_hours,
            settings.health_queue_critical_hours,
            fix=Fix("queue.schedule", "all", "Retry every envelope now")
            if age_state != State.OK
            else None,
        )
    )
    return checks


def program_checks(settings: Settings) -> list[Check]:
    """supervisord's programs that are not RUNNING (each one a finding), or one OK line."""
    from console.supervisor.client import client_for

    client = client_for(settings)
    try:
        snapshot = client.snapshot()
    except UserError as exc:
        return [Check("programs", "supervisord", State.CRITICAL, str(exc))]
    finally:
        client.close()
    checks = []
    for program in snapshot.programs:
        if program.state == "RUNNING":
            continue
        state = State.WARNING if program.state in ("STARTING", "STOPPING") else State.CRITICAL
        verb = "program.restart" if program.state == "BACKOFF" else "program.start"
        detail = (
            f": {program.spawnerr}"
            if program.spawnerr
            else (f" (exit {program.exitstatus})" if program.state == "EXITED" else "")
        )
        checks.append(
            Check(
                "programs",
                program.fullname,
                state,
                f"{program.state}{detail}",
                fix=Fix(
                    verb,
                    program.fullname,
                    f"{'Restart' if verb == 'program.restart' else 'Start'} {program.fullname}",
                ),
            )
        )
    if not checks:
        checks.append(
            Check(
                "programs",
                "supervisord",
                State.OK,
                f"all {len(snapshot.programs)} programs RUNNING",
                len(snapshot.programs),
                "programs",
            )
        )
    return checks
