#!/usr/bin/env python3
"""`mailconsole health --json` on the lab with its filters: its wall time, against `mailconsole status
--json` (one supervisord call: the cost of starting the CLI at all) in the same rounds.

Brings up a lab with --filters (or uses the one in --dir), then runs one of each per round, in
alternating order, and prints each side's median, the median of the rounds' ratios, and how many
health runs stayed under the one-second target. Every health run must answer with a plugin code
(0-3) and JSON; a run that does not stops the bench.

    .venv/bin/python bench/health_bench.py [--dir /tmp/mc-health-bench] [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import mailconsole

SCRIPT = Path(sys.executable).parent / "mailconsole"


def timed(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall time of one run of the installed `mailconsole` with `args`."""
    started = time.perf_counter()
    done = subprocess.run([str(SCRIPT), *args], text=True, capture_output=True)
    return time.perf_counter() - started, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/mc-health-bench")
    parser.add_argument("--port-base", default="20900")
    parser.add_argument("--rounds", type=int, default=15)
    a = parser.parse_args()

    started = False
    if mailconsole("lab", "status", "--dir", a.dir).returncode != 0:
        up = mailconsole("lab", "up", "--dir", a.dir, "--port-base", a.port_base, "--filters")
        if up.returncode != 0:
            raise SystemExit(up.stderr.strip())
        started = True
    config = ["--config", f"{a.dir}/mailconsole.toml"]
    health_times: list[float] = []
    base_times: list[float] = []
    ratios: list[float] = []
    try:
        timed([*config, "health", "--json"])  # warm-up: page cache, bytecode
        for n in range(a.rounds):
            order = [
                ("health", [*config, "health", "--json"]),
                ("status", [*config, "status", "--json"]),
            ]
            if n % 2:
                order.reverse()
            this_round: dict[str, float] = {}
            for name, args in order:
                seconds, done = timed(args)
                if name == "health":
                    if done.returncode not in (0, 1, 2, 3):
                        raise SystemExit(f"health exited {done.returncode}: {done.stderr.strip()}")
                    report = json.loads(done.stdout)
                    this_round["checks"] = len(report["checks"])
                    this_round["inside_ms"] = report["duration_ms"]
                elif done.returncode != 0:
                    raise SystemExit(f"status --json failed: {done.stderr.strip()}")
                this_round[name] = seconds
            health_times.append(this_round["health"])
            base_times.append(this_round["status"])
            ratios.append(this_round["health"] / this_round["status"])
            print(
                f"round {n + 1}: health {this_round['health'] * 1000:.0f} ms "
                f"({this_round['checks']} checks, {this_round['inside_ms']:.0f} ms inside), "
                f"status {this_round['status'] * 1000:.0f} ms, ratio {ratios[-1]:.2f}"
            )
    finally:
        if started:
            mailconsole("lab", "down", "--dir", a.dir)
    under = sum(t < 1.0 for t in health_times)
    print(
        f"health --json: median {statistics.median(health_times) * 1000:.0f} ms, "
        f"slowest {max(health_times) * 1000:.0f} ms, {under}/{len(health_times)} under 1 s"
    )
    print(f"status --json (baseline): median {statistics.median(base_times) * 1000:.0f} ms")
    print(f"ratio health/status: median of rounds {statistics.median(ratios):.2f}")
    return 0 if under == len(health_times) else 1


if __name__ == "__main__":
    sys.exit(main())
