#!/usr/bin/env python3
"""Headless figures for the log core: open cost against file size, full index, search first hit.

    python bench/logs_core_bench.py /tmp/mcbench/smtpd-1G.log [more files...]

Each file is measured in a fresh subprocess (clean RSS); medians of --repeat runs. The baseline in
the same run is a 1 KiB file: opening must cost the same for 1 KiB and 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(path: str, needle: str) -> dict[str, float]:
    """One run in this process: open + last screen, full index, search for `needle` from the end."""
    from console.logs.follow import FollowedLog
    from console.logs.search import Hit, compile_pattern, find

    t0 = time.perf_counter()
    log = FollowedLog(path)
    count = len(log)
    screen = [log.line(n).text for n in range(max(0, count - 50), count)]
    opened = time.perf_counter() - t0
    assert screen
    log.segments[0].index.wait_scanned(0)
    indexed = time.perf_counter() - t0
    t1 = time.perf_counter()
    hit = find(log, compile_pattern(needle), Hit(*log.locate(len(log) - 1)), backwards=True)
    searched = time.perf_counter() - t1
    assert hit is not None, needle
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "open_ms": opened * 1000,
        "index_s": indexed,
        "search_first_hit_s": searched,
        "peak_rss_mb": rss,
        "lines": len(log),
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("files", nargs="+")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.log"
        small.write_text("BENCH-BEGIN-small first line\n" + "x" * 1000 + "\n")
        runs: list[tuple[str, str]] = [(str(small), "BENCH-BEGIN")]
        for name in args.files:
            meta = Path(name + ".meta.json")
            needle = (
                json.loads(meta.read_text())["begin_marker"] if meta.exists() else "BENCH-BEGIN"
            )
            runs.append((name, needle))
        rows = []
        for name, needle in runs:
            results = []
            for _ in range(args.repeat):
                out = subprocess.run(
                    [sys.executable, __file__, "x", "--one", name, needle],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results.append(json.loads(out.stdout))
            row = {k: statistics.median(r[k] for r in results) for k in results[0]}
            row["size_mb"] = os.path.getsize(name) / 2**20
            rows.append((Path(name).name, row))
    base = rows[0][1]["open_ms"]
    print(
        f"{'file':24} {'size MiB':>9} {'lines':>10} {'open+last screen':>17} {'x 1KiB':>7} "
        f"{'full index':>10} {'rare hit (first line)':>22} {'peak RSS':>9}"
    )
    for name, r in rows:
        print(
            f"{name:24} {r['size_mb']:9.1f} {int(r['lines']):10d} {r['open_ms']:14.2f} ms {r['open_ms'] / base:7.2f} "
            f"{r['index_s']:9.2f}s {r['search_first_hit_s']:21.2f}s {r['peak_rss_mb']:6.1f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
