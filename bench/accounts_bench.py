"""Benchmark: `mailconsole accounts check` on generated tables with 10,000 addresses and 2,000 users.

Target: under 1 s wall time in all (interpreter start, reading the four tables and fdm.conf, every
check, routing each of the 10,000 addresses through fdm.conf). Baseline measured in the same run, in
alternating rounds: `mailconsole --version` (the same interpreter and command-line start-up, no work).
The generated fdm.conf delivers with one rule per domain that takes the user from the address
(`deliver -d %1`), as a stack of this size would; a rule per address would not scale in fdm either.
Run from the repository root: `python bench/accounts_bench.py [--users N] [--addresses N] [--rounds N]
[--callgrind]`. On a loaded machine the wall time mostly measures the wait for a core: `--callgrind` also
counts the instructions of one run of each under valgrind (the same to about 1 % between runs).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compile_sources  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MAILCONSOLE = Path(sys.executable).parent / "mailconsole"
DOMAINS = 20
SUFFIXES = ["", "-lists", "-shop", "-news", "-work", "-bank", "-home", "-misc"]


def generate(directory: Path, users: int, addresses: int) -> Path:
    """The four tables, the Maildirs, fdm.conf and a settings file; returns the settings file."""
    db, spool = directory / "db", directory / "spool"
    db.mkdir()
    domains = [f"d{i:02d}.example" for i in range(DOMAINS)]
    names = [f"u{i:05d}" for i in range(users)]
    rows = []
    for index in range(addresses):
        user = names[index % users]
        suffix = SUFFIXES[(index // users) % len(SUFFIXES)]
        domain = domains[index % DOMAINS]
        rows.append(f"{user}{suffix}@{domain}")
    (db / "vdomains").write_text("# accepted domains\n" + "\n".join(domains) + "\n")
    (db / "vusers").write_text("# address -> system user\n" + "".join(f"{a} vmail\n" for a in rows))
    (db / "addrs").write_text("".join(f"{a}\n" for a in rows))
    hashed = "$6$benchsalt$" + "x" * 86
    (db / "userdb").write_text(
        "".join(
            f"{name}:{hashed}:vmail:2000:2000:{spool}/{name}::userdb_mail=maildir:{spool}/{name}/Mail\n"
            for name in names
        )
    )
    for name in names:
        (spool / name / "Mail").mkdir(parents=True)
    fdm = directory / "fdm.conf"
    fdm.write_text(
        "$deliver = '/usr/lib/dovecot/deliver'\n"
        'account "stdin" disabled stdin\n'
        'action "spam" pipe "${deliver} -d %1 -m Spam"\n'
        'action "inbox" pipe "${deliver} -d %1 -m INBOX"\n'
        + "".join(
            f'match "^To:.*[< ]?(u[0-9]+)(-[a-z]+)?@{d.replace(".", "[.]")}" in headers '
            'action "inbox"\n'
            for d in domains
        )
    )
    settings = directory / "settings.toml"
    settings.write_text(
        "\n".join(
            [
                f'table_vdomains = "{db / "vdomains"}"',
                f'table_vusers = "{db / "vusers"}"',
                f'table_addrs = "{db / "addrs"}"',
                f'table_userdb = "{db / "userdb"}"',
                f'spool_dir = "{spool}"',
                f'fdm_config = "{fdm}"',
                f'smtpd_config = "{directory / "smtpd.conf"}"',
                f'audit_log = "{directory / "audit.log"}"',
            ]
        )
        + "\n"
    )
    return settings


def timed(args: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall time, CPU time (user + system, of the child) and the run itself."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [str(MAILCONSOLE), *args], capture_output=True, text=True, cwd=ROOT, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def instructions(args: list[str]) -> int:
    """Instructions of one run of `mailconsole ARGS` under valgrind's callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                str(MAILCONSOLE),
                *args,
            ],
            capture_output=True,
            cwd=ROOT,
            check=False,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        found = re.search(
            r"^(?:summary|totals): (\d+)", out.read_text() if out.exists() else "", re.M
        )
        if not found:
            sys.exit(f"valgrind gave no count for {args}")
        return int(found[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--addresses", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--callgrind", action="store_true", help="also count instructions")
    args = parser.parse_args()
    compile_sources()
    with tempfile.TemporaryDirectory(prefix="accounts-bench-") as tmp:
        settings = generate(Path(tmp), args.users, args.addresses)
        check_args = ["--config", str(settings), "accounts", "check", "--json"]
        _wall, _cpu, first = timed(check_args)  # warm-up; also shows the tables are clean
        if first.returncode != 0:
            sys.exit(
                f"the generated tables are not clean (exit {first.returncode}):\n"
                f"{first.stdout[:2000]}{first.stderr}"
            )
        checks, versions = [], []
        for _round in range(args.rounds):
            checks.append(timed(check_args)[:2])
            versions.append(timed(["--version"])[:2])
        print(
            f"accounts check, {args.addresses:,} addresses, {args.users:,} users, "
            f"{args.rounds} rounds (medians; load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores):"
        )
        for label, runs in (("accounts check --json", checks), ("mailconsole --version", versions)):
            wall = statistics.median(w for w, _c in runs)
            cpu = statistics.median(c for _w, c in runs)
            print(f"  {label:<22} wall {wall * 1000:6.0f} ms   CPU {cpu * 1000:6.0f} ms")
        for kind, at in (("wall", 0), ("CPU", 1)):
            ratios = [c[at] / v[at] for c, v in zip(checks, versions, strict=True) if v[at]]
            print(
                f"  ratio to --version ({kind}, median of the rounds): "
                f"{statistics.median(ratios):.2f}x"
            )
        print(
            "  target: under 1 s (on a shared machine the CPU time is the check's own cost; the "
            "wall time adds the wait for a core)"
        )
        if args.callgrind:
            check_count, version_count = instructions(check_args), instructions(["--version"])
            print(
                f"  callgrind: check {check_count / 1e6:,.0f} M instructions, --version "
                f"{version_count / 1e6:,.0f} M: {check_count / version_count:.1f}x"
            )


if __name__ == "__main__":
    main()
