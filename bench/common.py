"""What the benchmark scripts share: byte-compiling the console, and runs of the shared tmux harness."""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT.parent / "shared" / "bench" / "tui_bench.py"
BASELINE = ROOT.parent / "shared" / "bench" / "textual_baseline.py"
MAKE_LOG = ROOT.parent / "shared" / "bench" / "make_log.py"


def compile_sources() -> None:
    """Byte-compile the console as an installed package is (pip compiles on install). A checkout run
    with PYTHONDONTWRITEBYTECODE=1, as on these machines, would otherwise compile it on every start."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "console", "widgets"], cwd=ROOT, check=True
    )


def harness_records(mode: str, label: str, *args: str) -> list[dict]:
    """Run one mode of ../shared/bench/tui_bench.py (one warm-up run first); the records it wrote."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as out:
        subprocess.run(
            [
                sys.executable,
                str(HARNESS),
                mode,
                "--label",
                label,
                "--warmup",
                "1",
                *args,
                "--cwd",
                str(ROOT),
                "--out",
                out.name,
                "--screens",
                "",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return [json.loads(line) for line in Path(out.name).read_text().splitlines() if line]


def harness_runs(mode: str, label: str, *args: str) -> list[dict]:
    """The per-run records of one harness mode (for medians over several rounds)."""
    return [run for record in harness_records(mode, label, *args) for run in record.get("runs", [])]


def median_of(runs: list[dict], key: str) -> float:
    """The median of one figure over runs (runs without it are skipped)."""
    return statistics.median(r[key] for r in runs if r.get(key) is not None)


def round_ratios(runs: list[dict], baseline: list[dict]) -> list[float]:
    """Each round's (run / the baseline run next to it), for rounds where both ran."""
    return [
        r["latency_s"] / b["latency_s"]
        for r, b in zip(runs, baseline, strict=False)
        if r.get("latency_s") and b.get("latency_s")
    ]


def paired_ratio(runs: list[dict], baseline: list[dict]) -> float:
    """The median of the rounds' ratios: with one run of each per round, a slow spell of the machine
    (runs here vary from 230 to 470 ms) hits both sides of a pair."""
    return statistics.median(round_ratios(runs, baseline))


def mailconsole(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `mailconsole ARGS` from this checkout."""
    return subprocess.run(
        [sys.executable, "-m", "widgets", *args], cwd=ROOT, text=True, capture_output=True
    )


@contextlib.contextmanager
def lab_programs(lab_dir: str, port_base: str) -> Iterator[list[str]]:
    """The names of the lab's programs in `lab_dir`; the lab is brought up for the block (and down
    after it) unless it is running already."""
    started = False
    if mailconsole("lab", "status", "--dir", lab_dir).returncode != 0:
        up = mailconsole("lab", "up", "--dir", lab_dir, "--port-base", port_base)
        if up.returncode != 0:
            raise SystemExit(up.stderr.strip())
        started = True
    try:
        status = json.loads(
            mailconsole("--config", f"{lab_dir}/mailconsole.toml", "status", "--json").stdout
        )
        yield [p["name"] for p in status["programs"]]
    finally:
        if started:
            mailconsole("lab", "down", "--dir", lab_dir)
