#!/usr/bin/env python3
"""The Logs screen's figures, against the bare Textual app measured in the same run.

    python bench/logs_bench.py --big /tmp/mcbench/smtpd-1G.log --small /tmp/mcbench/smtpd-100M.log

Drives ../shared/bench/tui_bench.py (tmux, a real terminal) for: the bare Textual app's start-up,
`mailconsole tail` on a one-line file and on the big file (time until the last line is on screen,
peak RSS while the whole file gets indexed), follow latency and lag at 5,000 lines/s on the small
file; and, with its own tmux session, the time from Enter on a `/` search for the big file's first
line until that line is on screen, and how fast a key shows its effect while a search scans the
whole file. Prints medians and the ratios the issue sets limits on.
Make the files with ../shared/bench/make_log.py (keep them out of git).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    BASELINE,
    compile_sources,
    harness_records,
    harness_runs,
    median_of,
    paired_ratio,
    round_ratios,
)

ROOT = Path(__file__).resolve().parent.parent
MAILCONSOLE = (
    f"env MAILCONSOLE_SUPERVISOR_URL=unix:///nonexistent/supervisor.sock {sys.executable} -m widgets "
    "tail {file}"
)


def median(summary: dict, key: str) -> float:
    return float(summary[key]["median"])


def search_figures(path: Path, runs: int) -> tuple[list[float], list[float]]:
    """Per run: seconds from Enter on `/<first line's marker>` until that line is on screen, and
    seconds for a key (`b`, hide the file list) to show while a search for an absent string scans
    the whole file. Own tmux session, 200x50."""
    meta = json.loads(Path(str(path) + ".meta.json").read_text())
    begin, end = meta["begin_marker"], meta["end_marker"]
    tmux = ["tmux", "-L", f"logsbench-{os.getpid()}"]
    command = MAILCONSOLE.format(file=shlex.quote(str(path)))
    hits, keys = [], []
    try:
        for run in range(runs):
            target = ["-t", f"s{run}"]
            subprocess.run(
                [
                    *tmux,
                    "new-session",
                    "-d",
                    "-s",
                    f"s{run}",
                    "-x",
                    "200",
                    "-y",
                    "50",
                    "-c",
                    str(ROOT),
                    f"exec {command}",
                ],
                check=True,
            )

            def screen(target: list[str] = target) -> str:
                return subprocess.run(
                    [*tmux, "capture-pane", "-p", *target],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout

            def keys_in(*keys: str, literal: bool = False, target: list[str] = target) -> None:
                subprocess.run(
                    [*tmux, "send-keys", *target, *(["-l"] if literal else []), *keys], check=True
                )
                time.sleep(0.3)

            wait_for(lambda: end in screen(), 20, "the last line")
            time.sleep(1.5)  # let the background index finish, as a user reading the screen would
            keys_in("/")
            keys_in(begin, literal=True)
            start = time.monotonic()
            subprocess.run([*tmux, "send-keys", *target, "Enter"], check=True)
            wait_for(lambda: f"{begin} info: OpenSMTPD" in screen(), 30, "the first line")
            hits.append(time.monotonic() - start)

            keys_in("End")
            keys_in("/")
            keys_in("NOT-IN-THE-FILE-" + begin, literal=True)
            subprocess.run([*tmux, "send-keys", *target, "Enter"], check=True)
            wait_for(lambda: "searching" in screen(), 10, "the search progress")
            start = time.monotonic()
            subprocess.run([*tmux, "send-keys", *target, "b"], check=True)
            wait_for(lambda: "│" not in screen().splitlines()[5], 10, "the file list to hide")
            keys.append(time.monotonic() - start)
            subprocess.run([*tmux, "kill-session", *target], check=True)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)
    return hits, keys


def wait_for(check, timeout: float, what: str = "the screen") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"logs_bench: timed out waiting for {what}")
        time.sleep(0.005)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--big", type=Path, required=True, help="a make_log.py file of about 1 GiB")
    ap.add_argument(
        "--small", type=Path, required=True, help="a make_log.py file for the follow runs"
    )
    ap.add_argument(
        "--runs", type=int, default=1, help="runs per round of each start-up measurement"
    )
    ap.add_argument(
        "--rounds", type=int, default=9, help="rounds alternating baseline and mailconsole"
    )
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--open-only", action="store_true", help="only the start-up and open figures")
    args = ap.parse_args()
    compile_sources()

    with tempfile.TemporaryDirectory(prefix="logsbench-") as tmp:
        tiny = Path(tmp) / "tiny.log"
        tiny.write_text("2025-11-24T00:00:00+00:00 mail smtpd[1]: TINY-END one line\n")
        base: list[dict] = []
        tiny_runs: list[dict] = []
        big_runs: list[dict] = []
        for _ in range(args.rounds):  # alternating, so a drift of the machine hits both alike
            runs = ["--runs", str(args.runs)]
            base += harness_runs(
                "startup",
                "bare textual",
                "--cmd",
                f"{sys.executable} {BASELINE}",
                "--marker",
                "ready",
                *runs,
            )
            tiny_runs += harness_runs(
                "open",
                "mailconsole tiny",
                "--cmd",
                MAILCONSOLE,
                "--file",
                str(tiny),
                "--marker",
                "TINY-END",
                *runs,
            )
            big_runs += harness_runs(
                "open",
                "mailconsole big",
                "--cmd",
                MAILCONSOLE,
                "--file",
                str(args.big),
                "--hold",
                "4",
                *runs,
            )
        bare, tiny_open = median_of(base, "latency_s"), median_of(tiny_runs, "latency_s")
        big_open, big_rss = median_of(big_runs, "latency_s"), median_of(big_runs, "peak_rss_mb")
        paired = paired_ratio(big_runs, base)
        if args.open_only:
            print(
                f"bare Textual {bare * 1000:.0f} ms; mailconsole tail, one-line file {tiny_open * 1000:.0f} ms; "
                f"1 GiB file {big_open * 1000:.0f} ms = {big_open / bare:.2f} x bare, {paired:.2f} x as the median "
                f"of the rounds' ratios (limit 1.2); peak RSS {big_rss:.1f} MB (medians of {len(base)})"
            )
            print("rounds' ratios:", " ".join(f"{r:.2f}" for r in round_ratios(big_runs, base)))
            return 0
        follow = harness_records(
            "follow",
            "mailconsole",
            "--cmd",
            MAILCONSOLE,
            "--file",
            str(args.small),
            "--runs",
            "2",
            "--count",
            "10",
            "--rate",
            str(args.rate),
            "--duration",
            str(args.duration),
            "--workdir",
            tmp,
        )[-1]["summary"]
    hits, keys = search_figures(args.big, 3)

    size = args.big.stat().st_size / 2**30
    print(
        f"\nLogs screen figures (medians; {size:.2f} GiB big file, {args.rate} lines/s for {args.duration:.0f} s)"
    )
    rows = [
        ("bare Textual app start-up", f"{bare * 1000:.0f} ms", ""),
        (
            "mailconsole tail, one-line file",
            f"{tiny_open * 1000:.0f} ms",
            f"{tiny_open / bare:.2f} x bare",
        ),
        (
            "mailconsole tail, big file: last line on screen",
            f"{big_open * 1000:.0f} ms",
            f"{big_open / bare:.2f} x bare, {paired:.2f} x by rounds (limit 1.2), {big_open / tiny_open:.2f} x one-line",
        ),
        ("peak RSS, big file open + fully indexed", f"{big_rss:.1f} MB", "limit 80 MB"),
        (
            "follow latency (append -> on screen)",
            f"{median(follow, 'idle_latency_s') * 1000:.0f} ms",
            "limit 50 ms",
        ),
        (
            f"lag p95 at {args.rate}/s",
            f"{median(follow, 'load_lag_p95_s') * 1000:.0f} ms",
            f"limit 300 ms; keeps up: {follow['keeps_up']}",
        ),
        (f"CPU at {args.rate}/s", f"{median(follow, 'load_cpu_pct'):.0f}% of a core", "limit 50%"),
        (
            "search, rare string (first line of the big file)",
            f"{statistics.median(hits):.2f} s",
            "limit 3 s",
        ),
        (
            "a key's effect on screen during a whole-file search",
            f"{statistics.median(keys) * 1000:.0f} ms",
            "UI responsive",
        ),
    ]
    for name, value, note in rows:
        print(f"  {name:52} {value:>14}   {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
