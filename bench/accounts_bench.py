"""Benchmark: `mailconsole accounts check` on generated tables with 10,000 addresses and 2,000 users.

Target: under 1 s wall time in all (interpreter start, reading the four tables and fdm.conf, every
check, routing each of the 10,000 addresses through fdm.conf). Baseline measured in the same run, in
alternating rounds: `mailconsole --version` (the same interpreter and command-line start-up, no work).
The generated fdm.conf delivers with one rule per domain that takes the user from the address
(`deliver -d %1`), as a stack of this size would; a rule per address would not scale in fdm either.
Run from the repository root: `python bench/accounts_bench.py [--users N] [--addresses N] [--rounds N]`.
"""

from __future__ import annotations

import argparse
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
        domain = domains[(index // (users * len(SUFFIXES))) % DOMAINS]
        rows.append(f"{user}{suffix}@{domain}")
    (db / "vdomains").write_text("# accepted domains\n" + "\n".join(domains) + "\n")
    (db / "vusers").write_text("# address -> system user\n" + "".join(f"{a} vmail\n" for a in rows))
    (db / "addrs").write_text("".join(f"{a}\n" for a in rows))
    hashed = "$6$benchsalt$" + "x" * 86
    (db / "userdb").write_text("".join(
        f"{name}:{hashed}:vmail:2000:2000:{spool}/{name}::userdb_mail=maildir:{spool}/{name}/Mail\n"
        for name in names))
    for name in names:
        (spool / name / "Mail").mkdir(parents=True)
    fdm = directory / "fdm.conf"
    fdm.write_text(
        "$deliver = '/usr/lib/dovecot/deliver'\n"
        'account "stdin" disabled stdin\n'
        'action "spam" pipe "${deliver} -d %1 -m Spam"\n'
        'action "inbox" pipe "${deliver} -d %1 -m INBOX"\n'
        + "".join(f'match "^To:.*[< ]?(u[0-9]+)(-[a-z]+)?@{d.replace(".", "[.]")}" in headers '
                  'action "inbox"\n' for d in domains))
    settings = directory / "settings.toml"
    settings.write_text("\n".join([
        f'table_vdomains = "{db / "vdomains"}"', f'table_vusers = "{db / "vusers"}"',
        f'table_addrs = "{db / "addrs"}"', f'table_userdb = "{db / "userdb"}"',
        f'spool_dir = "{spool}"', f'fdm_config = "{fdm}"',
        f'smtpd_config = "{directory / "smtpd.conf"}"', f'audit_log = "{directory / "audit.log"}"',
    ]) + "\n")
    return settings


def timed(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run([str(MAILCONSOLE), *args], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--addresses", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    compile_sources()
    with tempfile.TemporaryDirectory(prefix="accounts-bench-") as tmp:
        settings = generate(Path(tmp), args.users, args.addresses)
        check_args = ["--config", str(settings), "accounts", "check", "--json"]
        _seconds, first = timed(check_args)  # warm-up; also shows the check found nothing
        if first.returncode != 0:
            sys.exit(f"the generated tables are not clean (exit {first.returncode}):\n"
                     f"{first.stdout[:2000]}{first.stderr}")
        checks, versions = [], []
        for _round in range(args.rounds):
            checks.append(timed(check_args)[0])
            versions.append(timed(["--version"])[0])
        ratios = [c / v for c, v in zip(checks, versions, strict=True)]
        print(f"accounts check, {args.addresses:,} addresses, {args.users:,} users "
              f"({args.rounds} rounds, medians):")
        print(f"  accounts check --json   {statistics.median(checks) * 1000:7.0f} ms "
              f"(min {min(checks) * 1000:.0f}, max {max(checks) * 1000:.0f}); target < 1000 ms")
        print(f"  mailconsole --version   {statistics.median(versions) * 1000:7.0f} ms (baseline)")
        print(f"  ratio (median of the rounds' ratios): {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
