#!/usr/bin/env python3
"""The Queue screen's figures: the Queue screen with 100,000 envelopes, against a bare Textual app.

First paint: from starting the console (opened on the Queue screen) until the summary strip shows the
whole queue, through the shared tmux harness, alternating with the bare Textual baseline
(../shared/bench/textual_baseline.py, "ready"). smtpctl is replaced by `cat` of a generated dump
(`sh -c 'cat "$0"' DUMP`: the same bytes smtpctl would print). Then, in process: the cost of a
re-sort, a filter and of rendering one screen of rows, which must not grow with the queue.

    python bench/queue_screen.py [--envelopes 100000] [--rounds 2] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import compile_sources
from queue_parse import generate

from console.queue.parse import parse_queue
from console.queue.summary import table_rows
from widgets.queue import row_text

ROOT = Path(__file__).resolve().parents[1]

HARNESS = ROOT.parent / "shared" / "bench" / "tui_bench.py"
BASELINE = ROOT.parent / "shared" / "bench" / "textual_baseline.py"
LAUNCH = (
    "import sys; from console.settings import load_settings; from widgets.launch import run_console; "
    "run_console(load_settings(sys.argv[1]).settings, initial_screen='queue')"
)


def measure(
    label: str, cmd: str, marker: str, runs: int, size: str, hold: float = 1.0
) -> list[dict]:
    """The harness's startup mode: per-run records (latency_s, peak_rss_mb, post_ready_cpu_pct...)."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as out:
        subprocess.run(
            [
                sys.executable,
                str(HARNESS),
                "startup",
                "--cmd",
                cmd,
                "--marker",
                marker,
                "--label",
                label,
                "--runs",
                str(runs),
                "--warmup",
                "1",
                "--term-size",
                size,
                "--hold",
                str(hold),
                "--cwd",
                str(ROOT),
                "--out",
                out.name,
                "--screens",
                "",
                "--timeout",
                "60",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        records = [json.loads(line) for line in Path(out.name).read_text().splitlines() if line]
    return [run for record in records for run in record.get("runs", [])]


def best_of(func: object, repeat: int = 3) -> float:
    """Median seconds of calling func() `repeat` times."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    """Generate the dump, measure first paint against the baseline, then the in-process costs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", default="160x50")
    parser.add_argument(
        "--idle-hold",
        type=float,
        default=20.0,
        help="seconds of idle watched after first paint (live refresh cost)",
    )
    a = parser.parse_args()
    compile_sources()

    with tempfile.TemporaryDirectory(prefix="mc-queue-bench-") as tmp:
        dump = Path(tmp) / "queue.txt"
        text = generate(a.envelopes, int(time.time()))
        dump.write_text(text, encoding="utf-8")
        config = Path(tmp) / "mailconsole.toml"
        # Prints the dump for `show queue` and a running status for `show status`, as smtpctl would.
        answer = 'case "$2" in queue) cat "$0";; status) printf "MDA running\\nMTA running\\nSMTP running\\n";; esac'
        smtpctl = ["sh", "-c", answer, str(dump)]
        values = {
            "smtpctl": smtpctl,
            "audit_log": f"{tmp}/audit.log",
            "supervisor_url": f"unix://{tmp}/none.sock",
            "log_dir": tmp,
        }
        config.write_text(
            "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
        )
        marker = f"{a.envelopes} envelopes"
        cmd = f'{sys.executable} -c "{LAUNCH}" {config}'
        base_cmd = f"{sys.executable} {BASELINE}"
        base: list[dict] = []
        screen: list[dict] = []
        for _ in range(a.rounds):
            base += measure("textual-baseline", base_cmd, "ready", a.runs, a.size)
            screen += measure("queue-screen", cmd, marker, a.runs, a.size)
        idle = measure("queue-screen-idle", cmd, marker, 1, a.size, hold=a.idle_hold)

    envelopes, bad = parse_queue(text)
    now = time.time()
    resort = best_of(lambda: table_rows(envelopes, bad, sort="sender"))
    filtered = best_of(lambda: table_rows(envelopes, bad, query="domain:gmail state:pending"))
    rows = table_rows(envelopes, bad)
    page = best_of(lambda: [row_text(r, now, "", 160) for r in rows[50_000:50_050]], repeat=5)

    def med(runs: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in runs if r.get(key) is not None)

    b, s = med(base, "latency_s"), med(screen, "latency_s")
    print(f"envelopes: {a.envelopes}, terminal {a.size}, medians of {len(screen)} runs")
    print(f"bare Textual app start-up:               {b * 1000:7.0f} ms")
    print(f"Queue screen first paint (whole queue):  {s * 1000:7.0f} ms  (target <= 1500 ms)")
    print(f"ratio to the bare app:                   {s / b:7.2f}")
    print(f"peak RSS of the console:                 {med(screen, 'peak_rss_mb'):7.0f} MiB")
    print(
        f"CPU while refreshing live, {a.idle_hold:g} s:        {med(idle, 'post_ready_cpu_pct'):7.1f} % of a core"
    )
    print(f"re-sort by sender (worker thread):       {resort * 1000:7.0f} ms")
    print(f"filter domain:gmail state:pending:       {filtered * 1000:7.0f} ms")
    print(f"render one 50-row screen (any position): {page * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
