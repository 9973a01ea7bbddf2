#!/usr/bin/env python3
"""The Services screen's figures: start-up to a full services table vs a bare Textual app, idle CPU, and how soon
a state change shows.

Brings up a lab (or uses the one in --dir), then alternates runs of the bare Textual baseline
(../shared/bench/textual_baseline.py, waits for "ready") and of `mailconsole` on the lab (waits for the
last program's name in the services table), through the shared tmux harness, one of each per round (a
slow spell of these machines then hits both sides of a pair). Prints medians and ratios.

Idle CPU is measured apart, on the settled screen: the console (and the bare app, for reference) in a
tmux pane, --settle seconds after the table is up, over --idle-window seconds, from /proc's CPU ticks.
(The harness's post-ready figure also counts the work started just after the first frame.) Then the
first program is stopped and started --changes times (through the console's supervisord client, whose
calls return once supervisord has the new state), and the time until the table shows it is taken from the screen.

    python bench/services_bench.py [--dir /tmp/mc-bench-lab] [--rounds 9] [--runs 1] [--idle-window 30]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

from common import (
    BASELINE,
    compile_sources,
    harness_runs,
    lab_programs,
    median_of,
    paired_ratio,
    round_ratios,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/mc-bench-lab")
    parser.add_argument("--port-base", default="20800")
    parser.add_argument(
        "--rounds", type=int, default=9, help="rounds alternating baseline and mailconsole"
    )
    parser.add_argument("--runs", type=int, default=1, help="runs of each per round")
    parser.add_argument("--size", default="80x24")
    parser.add_argument(
        "--hold", type=float, default=2.0, help="seconds the harness holds after ready"
    )
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds before idle CPU is measured"
    )
    parser.add_argument(
        "--idle-window", type=float, default=30.0, help="seconds idle CPU is measured over"
    )
    parser.add_argument(
        "--changes", type=int, default=5, help="stop/start pairs timed on the screen"
    )
    parser.add_argument(
        "--quiet-wait",
        default="300",
        help="seconds the harness waits for a quiet machine before each run",
    )
    a = parser.parse_args()
    compile_sources()

    with lab_programs(a.dir, a.port_base) as names:
        marker = names[-1]
        cmd = f"{sys.executable} -m widgets --config {a.dir}/mailconsole.toml"
        base_cmd = f"{sys.executable} {BASELINE}"
        base: list[dict] = []
        mc: list[dict] = []
        for _ in range(a.rounds):
            common = ["--runs", str(a.runs), "--term-size", a.size, "--quiet-wait", a.quiet_wait]
            base += harness_runs(
                "startup",
                "textual-baseline",
                "--cmd",
                base_cmd,
                "--marker",
                "ready",
                "--hold",
                "0.5",
                *common,
            )
            mc += harness_runs(
                "startup",
                "mailconsole",
                "--cmd",
                cmd,
                "--marker",
                marker,
                "--hold",
                str(a.hold),
                *common,
            )
        idle = idle_cpu_pct(cmd, marker, a.size, a.settle, a.idle_window)
        idle_base = idle_cpu_pct(base_cmd, "ready", a.size, a.settle, a.idle_window)
        changes = state_change_latencies(cmd, marker, a.size, a.dir, names[0], a.changes)

    b, m = median_of(base, "latency_s"), median_of(mc, "latency_s")
    print(f"programs in the lab: {', '.join(names)} (marker {marker!r}), terminal {a.size}")
    print(f"bare Textual app start-up (median of {len(base)}): {b * 1000:.0f} ms")
    print(f"mailconsole to full services table (median of {len(mc)}): {m * 1000:.0f} ms")
    print(
        f"ratio of the medians: {m / b:.2f}; median of the rounds' ratios: {paired_ratio(mc, base):.2f} "
        "(target <= 1.3)"
    )
    print("rounds' ratios:", " ".join(f"{r:.2f}" for r in round_ratios(mc, base)))
    print(
        f"idle CPU on the services screen over {a.idle_window:g} s, {a.settle:g} s after the table: "
        f"{idle:.2f}% of a core (target < 2%); the bare app, the same way: {idle_base:.2f}%"
    )
    print(
        f"a state change on the screen, from supervisord having it ({len(changes)} stops and starts of "
        f"{names[0]}): median {statistics.median(changes) * 1000:.0f} ms, slowest {max(changes) * 1000:.0f} ms "
        "(target: within 1 s)"
    )
    print(f"peak RSS of mailconsole (median): {median_of(mc, 'peak_rss_mb'):.0f} MiB")
    return 0


@contextlib.contextmanager
def in_tmux(cmd: str, marker: str, size: str) -> Iterator[tuple[str, str]]:
    """Run `cmd` in a tmux pane of `size` until the block ends; yields (session, pid) once `marker`
    is on its screen."""
    session = f"mc-bench-{os.getpid()}"
    cols, rows = size.split("x")
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", cols, "-y", rows, f"exec {cmd}"],
        check=True,
    )
    try:
        pid = subprocess.run(
            ["tmux", "display", "-p", "-t", session, "#{pane_pid}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        wait_for_screen(session, lambda screen: marker in screen, 30)
        yield session, pid
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def wait_for_screen(session: str, check: Callable[[str], bool], timeout: float) -> float:
    """Poll the pane every 5 ms until `check(screen)`; the monotonic time it first held."""
    deadline = time.monotonic() + timeout
    while True:
        screen = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
        ).stdout
        if check(screen):
            return time.monotonic()
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for the screen of {session}:\n{screen}")
        time.sleep(0.005)


def idle_cpu_pct(cmd: str, marker: str, size: str, settle: float, window: float) -> float:
    """CPU of `cmd` in a tmux pane, as a percentage of a core, over `window` seconds from `settle`
    seconds after `marker` is on its screen."""
    with in_tmux(cmd, marker, size) as (_, pid):
        time.sleep(settle)
        before, t0 = _cpu_ticks(pid), time.monotonic()
        time.sleep(window)
        after, t1 = _cpu_ticks(pid), time.monotonic()
    return 100 * (after - before) / os.sysconf("SC_CLK_TCK") / (t1 - t0)


def _cpu_ticks(pid: str) -> int:
    """User plus system CPU ticks of a process so far (/proc/PID/stat fields 14 and 15)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def state_change_latencies(
    cmd: str, marker: str, size: str, lab_dir: str, program: str, times: int
) -> list[float]:
    """Seconds from supervisord having stopped (or started) `program` to the console's table showing
    it, `times` times each way. The program is started again at the end."""
    from console.settings import load_settings
    from console.supervisor.client import client_for

    client = client_for(load_settings(f"{lab_dir}/mailconsole.toml", env={}).settings)

    def row_says(state: str) -> Callable[[str], bool]:
        return lambda screen: any(
            line.split()[:2] == [program, state] for line in screen.splitlines()
        )

    latencies = []
    with in_tmux(cmd, marker, size) as (session, _):
        for _ in range(times):
            for verb, state in (("stop", "STOPPED"), ("start", "RUNNING")):
                wait_for_screen(
                    session, row_says("STOPPED" if state == "RUNNING" else "RUNNING"), 10
                )
                time.sleep(random.uniform(0.2, 0.7))  # not in step with the console's polls
                getattr(client, verb)(program)  # returns once supervisord has the new state
                done_at = time.monotonic()
                latencies.append(wait_for_screen(session, row_says(state), 10) - done_at)
    return latencies


if __name__ == "__main__":
    sys.exit(main())
