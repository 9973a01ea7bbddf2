"""How long `lab up` takes until every program answers, and how much memory the lab uses, with and
without filters; baseline: the same supervisord starting one `sleep` program, in the same run."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from console.errors import UserError
from console.lab.render import LabConfig
from console.lab.run import down, free_port_bases, lab_processes, up
from console.supervisor.client import SupervisorClient

BASELINE_CONF = """\
[unix_http_server]
file={dir}/supervisor.sock
[supervisord]
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[program:sleeper]
command=sleep 100000
"""


def baseline_seconds() -> float:
    """supervisord with one program, from launch until that program is RUNNING."""
    with tempfile.TemporaryDirectory(prefix="mc-bench-") as tmp:
        conf = Path(tmp) / "supervisord.conf"
        conf.write_text(BASELINE_CONF.format(dir=tmp))
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = SupervisorClient(f"unix://{tmp}/supervisor.sock")
        while True:
            try:
                if client.program("sleeper").state == "RUNNING":
                    break
            except UserError:
                pass
            time.sleep(0.02)
        seconds = time.monotonic() - started
        process.terminate()
        process.wait()
    return seconds


def lab_pss_mb(lab_dir: Path) -> float:
    """Proportional set size of every process in the lab, in MB."""
    total_kb = 0
    for pid in lab_processes(lab_dir):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total_kb += sum(
            int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")
        )
    return total_kb / 1024


def measure(filters: bool, port_base: int) -> tuple[float, float]:
    """One `lab up` (seconds until every program answers) and the lab's memory, then `lab down`."""
    lab_dir = Path(tempfile.mkdtemp(prefix="mc-bench-lab-", dir="/tmp"))
    try:
        started = time.monotonic()
        up(LabConfig(lab_dir, port_base, filters))
        seconds = time.monotonic() - started
        memory = lab_pss_mb(lab_dir)
    finally:
        down(lab_dir)
        subprocess.run(["rm", "-rf", str(lab_dir)], check=False)
    return seconds, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ports", default="20000-20999", help="range to find a free block in")
    args = parser.parse_args()
    base = statistics.median(baseline_seconds() for _ in range(args.runs))
    print(f"baseline supervisord + 1 program RUNNING: {base:.2f} s (median of {args.runs})")
    for filters in (False, True):
        first, last = (int(n) for n in args.ports.split("-"))
        runs = [
            measure(filters, next(free_port_bases(range(first, last + 1))))
            for _ in range(args.runs)
        ]
        seconds = statistics.median(r[0] for r in runs)
        memory = statistics.median(r[1] for r in runs)
        name = "lab --filters" if filters else "lab"
        print(
            f"{name:<14} up: {seconds:.2f} s (x{seconds / base:.2f} baseline), "
            f"memory {memory:.0f} MB PSS (median of {args.runs})"
        )


if __name__ == "__main__":
    main()
