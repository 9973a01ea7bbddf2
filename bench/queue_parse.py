"""Benchmark: `mailconsole queue --from FILE --json` on a generated 100,000-envelope dump.

Target: <= 1 s wall time in all (interpreter start, parse, summary, JSON out). Baselines measured in
the same run: `python -c pass` (interpreter start) and `wc -l` on the same file (reading it once).
Run from the repository root: `python bench/queue_parse.py [--envelopes N] [--runs N]`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOMAINS = [
    "unreachable.test",
    "example.com",
    "gmail.test",
    "lab.test",
    "tempfail.test",
    "mx.example.org",
    "very-long-subdomain.mail.example.net",
]
ERRORS = [
    "Network error on destination MXs",
    '"\\\\M-C\\\\M-)chec temporaire: bo\\\\M-C\\\\M-.te pleine"',
    '"quota|exceeded: a|b\there \\\\^[[31mred"',
    "",
    "Connection timed out",
]


def generate(count: int, now: int, seed: int = 1) -> str:
    """A `show queue` dump of `count` envelopes in smtpctl's format, with the traps mixed in."""
    rng = random.Random(seed)
    lines = []
    msgid = rng.getrandbits(32)
    for index in range(count):
        if index % 3 == 0:
            msgid = rng.getrandbits(32)
        evpid = f"{msgid:08x}{rng.getrandbits(32):08x}"
        domain = rng.choice(DOMAINS)
        local = f"user{index}" if index % 50 else f"a|b{index}"
        sender = "@" if index % 17 == 0 else "sender@lab.test"
        ctime = now - rng.randrange(0, 4 * 86400)
        runstate = rng.choice(["pending", "pending", "pending", "inflight"])
        delay = str(rng.randrange(-1, 3600))
        lines.append(
            "|".join(
                [
                    evpid,
                    "inet4",
                    rng.choice(["mta", "mta", "mda", "bounce"]),
                    "suspend" if index % 23 == 0 else "",
                    sender,
                    f"{local}@{domain}",
                    f"{local}@{domain}",
                    str(ctime),
                    str(ctime),
                    str(ctime + 60),
                    str(rng.randrange(0, 30)),
                    runstate,
                    delay,
                    rng.choice(ERRORS),
                ]
            )
        )
    return "\n".join(lines) + "\n"


def timed(argv: list[str], runs: int) -> tuple[float, int]:
    """Median wall time of `argv` over `runs` runs, and the size of its output."""
    times = []
    size = 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
        size = len(done.stdout)
    return statistics.median(times), size


def main() -> None:
    """Generate the dump, time the command and the baselines, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "queue.txt"
        dump.write_text(generate(args.envelopes, int(time.time())), encoding="utf-8")
        dump_mb = dump.stat().st_size / 1e6
        command = [sys.executable, "-m", "widgets", "queue", "--from", str(dump), "--json"]
        check = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
        assert len(check["envelopes"]) == args.envelopes and not check["bad_lines"], (
            "parse mismatch"
        )

        python_start, _ = timed([sys.executable, "-c", "pass"], args.runs)
        wc, _ = timed(["wc", "-l", str(dump)], args.runs)
        queue_json, out_size = timed(command, args.runs)

    print(f"envelopes:                     {args.envelopes}")
    print(f"dump size:                     {dump_mb:.1f} MB")
    print(f"runs (median of):              {args.runs}")
    print(f"baseline python -c pass:       {python_start * 1000:8.1f} ms")
    print(f"baseline wc -l:                {wc * 1000:8.1f} ms")
    print(
        f"queue --from FILE --json:      {queue_json * 1000:8.1f} ms"
        f"  ({out_size / 1e6:.1f} MB of JSON)"
    )
    print(f"ratio to python startup:       {queue_json / python_start:8.1f}x")
    print(
        f"per envelope (minus startup):  {(queue_json - python_start) / args.envelopes * 1e6:8.2f} us"
    )
    verdict = "OK" if queue_json <= 1.0 else "OVER"
    print(f"target <= 1000 ms:             {verdict}")


if __name__ == "__main__":
    main()
