#!/usr/bin/env python3
"""Start-up in CPU instructions (valgrind callgrind): the console vs the bare Textual app, same run.

Wall-clock start-up on these machines moves by 20 % between runs; an instruction count by under 1 %.
Each program runs in a tmux pane under callgrind until its first frame carries the marker
(bench/exit_at_marker.py): the baseline's "ready", the last program of the lab on the services screen
(80x24), the last line of a one-line log and of a screenful of smtpd lines for `mailconsole tail`
(200x50). Needs valgrind (`apt-get install valgrind`); a lab is brought up for the services figure.

    python bench/startup_instructions.py [--dir /tmp/mc-bench-lab] [--runs N] [--no-services]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BASELINE, MAKE_LOG, ROOT, compile_sources, lab_programs

TMUX = ["tmux", "-L", "mc-instructions"]


def instructions(argv: str, size: str) -> float:
    """Millions of instructions until the marker is on screen, for one shell command run in tmux."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        width, height = size.split("x")
        command = (
            f"cd {ROOT} && PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file={out} "
            f"{sys.executable} bench/exit_at_marker.py {argv} 2>{tmp}/stderr"
        )
        subprocess.run(
            [*TMUX, "new-session", "-d", "-s", "run", "-x", width, "-y", height, command],
            check=True,
        )
        deadline = time.monotonic() + 180
        while (
            time.monotonic() < deadline
            and subprocess.run(
                [*TMUX, "has-session", "-t", "run"], stderr=subprocess.DEVNULL
            ).returncode
            == 0
        ):
            time.sleep(0.5)
        found = re.search(
            r"^(?:summary|totals): (\d+)", out.read_text() if out.exists() else "", re.M
        )
        if not found:
            raise SystemExit(f"no count for {argv}: {(Path(tmp) / 'stderr').read_text()[-500:]}")
        return int(found[1]) / 1e6


def smtpd_log(path: Path) -> str:
    """Write a few screenfuls of realistic smtpd lines (../shared/bench/make_log.py); its end marker."""
    subprocess.run(
        [sys.executable, str(MAKE_LOG), str(path), "--size", "300K", "--seed", "1"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return str(json.loads(Path(f"{path}.meta.json").read_text())["end_marker"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/mc-bench-lab")
    parser.add_argument("--port-base", default="20800")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--no-services", action="store_true", help="only the bare app and `tail` (no lab)"
    )
    a = parser.parse_args()
    compile_sources()
    subprocess.run(
        [*TMUX, "new-session", "-d", "-s", "keep"], check=True
    )  # one server for every run
    try:
        with (
            (
                contextlib.nullcontext(["-"]) if a.no_services else lab_programs(a.dir, a.port_base)
            ) as names,
            tempfile.TemporaryDirectory() as tmp,
        ):
            log = Path(tmp) / "one.log"
            log.write_text("2025-11-24T00:00:00+00:00 mail smtpd[1]: ONE-LINE-END\n")
            screenful = Path(tmp) / "smtpd.log"
            screen_end = smtpd_log(screenful)
            runs = {
                "bare Textual app": (f"ready {BASELINE}", "200x50"),
                "mailconsole, services (80x24)": (
                    f"{names[-1]} -m widgets --config {a.dir}/mailconsole.toml",
                    "80x24",
                ),
                "mailconsole tail, one line (200x50)": (
                    f"ONE-LINE-END -m widgets --supervisor-url unix:///nonexistent.sock tail {log}",
                    "200x50",
                ),
                "mailconsole tail, a screenful of smtpd lines (200x50)": (
                    f"{screen_end} -m widgets --supervisor-url unix:///nonexistent.sock tail {screenful}",
                    "200x50",
                ),
            }
            if a.no_services:
                del runs["mailconsole, services (80x24)"]
            counts = {
                label: [instructions(*how) for _ in range(a.runs)] for label, how in runs.items()
            }
    finally:
        subprocess.run([*TMUX, "kill-server"], stderr=subprocess.DEVNULL)
    base = min(counts["bare Textual app"])
    for label, values in counts.items():
        print(
            f"{label}: {min(values):.0f} M instructions ({', '.join(f'{v:.0f}' for v in values)}), "
            f"{min(values) / base:.2f}x the bare app"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
