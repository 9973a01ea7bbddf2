#!/usr/bin/env python3
"""Issue 2's figures: start-up to a full services table vs a bare Textual app, and idle CPU.

Brings up a lab (or uses the one in --dir), then alternates runs of the bare Textual baseline
(../shared/bench/textual_baseline.py, waits for "ready") and of `mailconsole` on the lab (waits for the
last program's name in the services table), through the shared tmux harness. Prints medians and ratios.

    python bench/services_bench.py [--dir /tmp/mc-bench-lab] [--rounds 3] [--runs 3]
"""

from __future__ import annotations

import argparse
import sys

from common import BASELINE, compile_sources, harness_runs, lab_programs, median_of


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/mc-bench-lab")
    parser.add_argument("--port-base", default="20800")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", default="80x24")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds of idle after ready")
    a = parser.parse_args()
    compile_sources()

    with lab_programs(a.dir, a.port_base) as names:
        marker = names[-1]
        cmd = f"{sys.executable} -m console --config {a.dir}/mailconsole.toml"
        base_cmd = f"{sys.executable} {BASELINE}"
        base: list[dict] = []
        mc: list[dict] = []
        for _ in range(a.rounds):
            common = ["--runs", str(a.runs), "--term-size", a.size]
            base += harness_runs("startup", "textual-baseline", "--cmd", base_cmd, "--marker", "ready",
                                 "--hold", "0.5", *common)
            mc += harness_runs("startup", "mailconsole", "--cmd", cmd, "--marker", marker,
                               "--hold", str(a.hold), *common)

    b, m = median_of(base, "latency_s"), median_of(mc, "latency_s")
    idle = median_of(mc, "post_ready_cpu_pct")
    print(f"programs in the lab: {', '.join(names)} (marker {marker!r}), terminal {a.size}")
    print(f"bare Textual app start-up (median of {len(base)}): {b * 1000:.0f} ms")
    print(f"mailconsole to full services table (median of {len(mc)}): {m * 1000:.0f} ms")
    print(f"ratio: {m / b:.2f} (target <= 1.3)")
    print(f"idle CPU on the services screen over {a.hold:g} s (median): {idle:.1f}% of a core "
          "(target < 2%)")
    print(f"peak RSS of mailconsole (median): {median_of(mc, 'peak_rss_mb'):.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
