"""Benchmark the live test: one message through the article's config, a 500-rule config, and the ratio
against the real fdm run per message with recorder actions (same run, medians).

    python bench/fdm_route.py [--repeat N] [--against REV]

`--against REV` also times the router of git revision REV on the same messages, alternating old and
new in rounds (each a fresh process), and prints new/old per figure: the median of the rounds' ratios.
Targets: article config <= 1 ms per message; 500 rules >= 1,000 messages/s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `--code DIR` (used by --against) times another checkout's console package.
CODE = Path(sys.argv[sys.argv.index("--code") + 1]) if "--code" in sys.argv else ROOT
sys.path.insert(0, str(CODE))

from console.fdm.parser import parse, parse_file  # noqa: E402
from console.fdm.recorder import FDM, recorder_config, run_fdm  # noqa: E402
from console.fdm.regex import PCRE2, POSIX  # noqa: E402
from console.fdm.router import Router  # noqa: E402

CORPUS = ROOT / "tests" / "fdm_corpus"


def big_config(rules: int) -> str:
    """A 500-rule config in the article's style: one action and one header rule per address."""
    lines = ['account "stdin" stdin', "$d = '/usr/libexec/dovecot/deliver'"]
    for i in range(rules):
        lines.append(f'action "user{i}" pipe "${{d}} -d user{i} -m INBOX"')
    for i in range(rules):
        lines.append(
            f'match "^(To|Cc|Received):.+user{i}@example\\\\.com" in headers action "user{i}"'
        )
    lines.append('match all action "user0"')
    return "\n".join(lines) + "\n"


def per_message(router: Router, messages: list[bytes], repeat: int) -> list[float]:
    """Median seconds per message over `repeat` passes."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for message in messages:
            router.route(message)
        samples.append((time.perf_counter() - start) / len(messages))
    return samples


def figures(repeat: int) -> dict[str, float]:
    """ms per message on the article's config and messages/s on 500 rules, per dialect."""
    messages = [p.read_bytes() for p in sorted((CORPUS / "messages").glob("*.eml"))]
    article = parse_file(CORPUS / "configs" / "article.conf")
    out: dict[str, float] = {}
    for dialect in (PCRE2, POSIX):
        router = Router(article, dialect)
        out[f"article {dialect} ms/message"] = (
            statistics.median(per_message(router, messages, repeat)) * 1e3
        )
    big = parse(big_config(500), "big.conf")
    probes = [f"To: user{i}@example.com\nSubject: hi\n\nx\n".encode() for i in range(0, 500, 5)]
    probes += messages[:100]
    for dialect in (PCRE2, POSIX):
        router = Router(big, dialect)
        out[f"500 rules {dialect} messages/s"] = 1 / statistics.median(
            per_message(router, probes, max(3, repeat // 2))
        )
    return out


def against(rev: str, rounds: int, repeat: int) -> None:
    """New vs REV's router in alternating fresh processes; the median of each figure's ratios."""
    with tempfile.TemporaryDirectory() as old:
        archive = subprocess.run(
            ["git", "archive", rev, "console"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
        runs: dict[str, list[dict[str, float]]] = {"new": [], "old": []}
        for _ in range(rounds):
            for side, code in (("old", old), ("new", str(ROOT))):
                proc = subprocess.run(
                    [sys.executable, __file__, "--json", "--repeat", str(repeat), "--code", code],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                runs[side].append(json.loads(proc.stdout))
    print(f"against {rev} ({rounds} rounds, each side a fresh process; median of new/old):")
    for key in runs["new"][0]:
        ratios = [n[key] / o[key] for n, o in zip(runs["new"], runs["old"], strict=True)]
        new = statistics.median(r[key] for r in runs["new"])
        old_value = statistics.median(r[key] for r in runs["old"])
        print(
            f"  {key}: new {new:,.3f}, {rev} {old_value:,.3f}, ratio {statistics.median(ratios):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--against", metavar="REV", help="also time this git revision's router")
    parser.add_argument("--rounds", type=int, default=5, help="rounds for --against")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        print(json.dumps(figures(args.repeat)))
        return
    if args.against:
        against(args.against, args.rounds, args.repeat)
    messages = [p.read_bytes() for p in sorted((CORPUS / "messages").glob("*.eml"))]
    article = parse_file(CORPUS / "configs" / "article.conf")
    print(f"corpus: {len(messages)} messages")
    for dialect in (PCRE2, POSIX):
        router = Router(article, dialect)
        median = statistics.median(per_message(router, messages, args.repeat))
        print(
            f"article config, {dialect:5}: {median * 1e3:.3f} ms/message "
            f"(target <= 1 ms: {'ok' if median <= 1e-3 else 'MISSED'})"
        )
    start = time.perf_counter()
    big = parse(big_config(500), "big.conf")
    parse_ms = (time.perf_counter() - start) * 1e3
    probes = [f"To: user{i}@example.com\nSubject: hi\n\nx\n".encode() for i in range(0, 500, 5)]
    probes += messages[:100]
    for dialect in (PCRE2, POSIX):
        router = Router(big, dialect)
        median = statistics.median(per_message(router, probes, max(3, args.repeat // 2)))
        print(
            f"500-rule config, {dialect:5}: {1 / median:,.0f} messages/s "
            f"(target >= 1,000: {'ok' if 1 / median >= 1000 else 'MISSED'}); parse {parse_ms:.1f} ms"
        )
    if shutil.which(FDM) is None:
        print("real fdm: not installed, no ratio")
        return
    with tempfile.TemporaryDirectory() as directory:
        conf = Path(directory) / "rec.conf"
        log = Path(directory) / "route.log"
        conf.write_text(recorder_config(article, log))
        sample = messages[:60]
        fdm_times = []
        for message in sample:
            start = time.perf_counter()
            run_fdm(conf, message, log)
            fdm_times.append(time.perf_counter() - start)
        fdm_median = statistics.median(fdm_times)
        router = Router(article, POSIX)
        ours = statistics.median(per_message(router, sample, args.repeat))
        print(
            f"real fdm 1.9 with recorders: {fdm_median * 1e3:.2f} ms/message; router (posix) "
            f"{ours * 1e3:.3f} ms/message: {fdm_median / ours:,.0f}x faster"
        )


if __name__ == "__main__":
    main()
