"""Benchmark: the Jobs screen answers keys while jobs stream output, against the same screen idle.

The console runs in a real terminal (tmux at 80x24, through the shared harness's control-mode client)
on its Jobs screen with two jobs, each a writer of --rate lines a second (a line in a hundred on
stderr with an escape sequence, markup in every line). Each key (down, up, ...) moves the cursor to the other job;
the time until tmux shows that job's description is the key's latency. The same keys are timed first
with nothing running (the baseline, same run), then while both jobs stream, so whichever job is shown
writes --rate lines a second. Prints median, p95 and worst of each and their ratio.

    python bench/jobs_bench.py [--rate 5000] [--keys 60] [--size 80x24]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rules_typing import load_harness, wait_for

ROOT = Path(__file__).resolve().parent.parent

DESCRIPTIONS = {"flood-a": "first writer AAAA", "flood-b": "second writer BBBB"}
PAUSES = (0.05, 0.12, 0.2, 0.08, 0.3)


def flood(rate: float, seconds: float) -> None:
    """Write `rate` lines a second for `seconds`, in 10 ms slices, as a job would."""
    start = time.monotonic()
    written = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate)
        if due > written:
            out = []
            for n in range(written, due):
                if n % 100 == 99:
                    sys.stdout.flush()
                    sys.stderr.write(f"warning {n}: \x1b[31m[red]not markup[/red]\n")
                    sys.stderr.flush()
                else:
                    out.append(f"line {n}: [bold]markup[/bold] is text, as job output usually is\n")
            sys.stdout.write("".join(out))
            sys.stdout.flush()
            written = due
        time.sleep(0.005)


def serve(conf: str) -> None:
    """Run the console on its Jobs screen with the bench's settings."""
    from console.settings import load_settings
    from widgets.app import ConsoleApp

    settings = load_settings(conf, env={}).settings
    ConsoleApp(settings, initial_screen="jobs", hostname="bench").run()


def write_settings(work: Path, rate: float, seconds: float) -> Path:
    conf = work / "mc.toml"
    lines = [
        f'audit_log = "{work / "audit.log"}"',
        'supervisor_url = "unix:///nonexistent/sv.sock"',
        "refresh_interval = 3600",
    ]
    for name, description in DESCRIPTIONS.items():
        argv = [sys.executable, str(Path(__file__).resolve()), "--flood", str(rate), str(seconds)]
        lines += [
            f"[jobs.{name}]",
            f"argv = {json.dumps(argv)}",
            f"description = {json.dumps(description)}",
            "timeout = 600",
        ]
    conf.write_text("\n".join(lines) + "\n")
    return conf


def press(tmux: Any, name: str, key: str) -> None:
    tmux.ctl.cmd(f"send-keys -t ={name}: {key}")


def time_keys(tmux: Any, name: str, keys: int, on: str) -> list[float]:
    """Alternate down/up `keys` times; each key's time until the other job's description shows."""
    times = []
    for index in range(keys):
        key, target = ("Down", "flood-b") if on == "flood-a" else ("Up", "flood-a")
        start = time.perf_counter()
        press(tmux, name, key)
        wait_for(tmux, name, lambda s, t=DESCRIPTIONS[target]: t in s)
        times.append(time.perf_counter() - start)
        on = target
        time.sleep(PAUSES[index % len(PAUSES)])
    return times


def summary(times: list[float]) -> tuple[str, float]:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return (
        f"median {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   worst {ms[-1]:6.1f} ms",
        p95,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0, help="lines a second each job writes")
    parser.add_argument("--keys", type=int, default=60)
    parser.add_argument("--size", default="80x24")
    parser.add_argument("--serve", metavar="CONF", help=argparse.SUPPRESS)
    parser.add_argument(
        "--flood", nargs=2, type=float, metavar=("RATE", "SECONDS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.flood:
        flood(*args.flood)
        return
    if args.serve:
        serve(args.serve)
        return
    from common import compile_sources

    compile_sources()
    harness = load_harness()
    width, height = (int(v) for v in args.size.split("x"))
    tmux = harness.Tmux(width, height)
    work = Path(tempfile.mkdtemp(prefix="jobs-bench-"))
    seconds = 30 + args.keys * 0.6  # long enough for every streaming key
    try:
        conf = write_settings(work, args.rate, seconds)
        name, _pid = tmux.new_session(
            f"exec {sys.executable} {__file__} --serve {conf}", cwd=str(ROOT)
        )
        wait_for(tmux, name, lambda s: DESCRIPTIONS["flood-a"] in s)
        time.sleep(1.0)
        idle = time_keys(tmux, name, args.keys, "flood-a")
        for key in ("Home", "r", "y", "Down", "r", "y", "Up"):  # both jobs start (each after a yes)
            press(tmux, name, key)
            time.sleep(0.4)
        wait_for(tmux, name, lambda s: s.count("running") >= 2)
        time.sleep(2.0)
        streaming = time_keys(tmux, name, args.keys, "flood-a")
        for key in ("c", "Down", "c"):
            press(tmux, name, key)
            time.sleep(0.3)
        wait_for(tmux, name, lambda s: s.count("cancelled") >= 2, timeout=60)
        history = [
            json.loads(line) for line in (work / "mailconsole-jobs.jsonl").read_text().splitlines()
        ]
        rates = [r["lines"] / r["duration_s"] for r in history]
        idle_text, idle_p95 = summary(idle)
        busy_text, busy_p95 = summary(streaming)
        print(
            f"Jobs screen at {args.size} (tmux {tmux.version}), {args.keys} keys each, "
            f"cursor moves between two jobs"
        )
        print(f"  idle (baseline)            {idle_text}")
        print(f"  both jobs streaming        {busy_text}")
        print(
            f"  jobs wrote {', '.join(f'{r:,.0f}' for r in rates)} lines/s "
            f"({sum(r['lines'] for r in history):,} lines in all)"
        )
        print(
            f"  ratio p95 streaming / idle: {busy_p95 / idle_p95:.2f};  p95 under 100 ms: "
            f"{'yes' if busy_p95 < 100 else 'NO'}"
        )
    finally:
        tmux.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
