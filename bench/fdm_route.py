"""Benchmark the live test: one message through the article's config, a 500-rule config, and the ratio
against the real fdm run per message with recorder actions (same run, medians).

    python bench/fdm_route.py [--repeat N]

Targets: article config <= 1 ms per message; 500 rules >= 1,000 messages/s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from console.fdm.parser import parse, parse_file
from console.fdm.recorder import FDM, recorder_config, run_fdm
from console.fdm.regex import PCRE2, POSIX
from console.fdm.router import Router

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fdm_corpus"


def big_config(rules: int) -> str:
    """A 500-rule config in the article's style: one action and one header rule per address."""
    lines = ['account "stdin" stdin', "$d = '/usr/libexec/dovecot/deliver'"]
    for i in range(rules):
        lines.append(f'action "user{i}" pipe "${{d}} -d user{i} -m INBOX"')
    for i in range(rules):
        lines.append(f'match "^(To|Cc|Received):.+user{i}@example\\\\.com" in headers '
                     f'action "user{i}"')
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    messages = [p.read_bytes() for p in sorted((CORPUS / "messages").glob("*.eml"))]
    article = parse_file(CORPUS / "configs" / "article.conf")
    print(f"corpus: {len(messages)} messages")
    for dialect in (PCRE2, POSIX):
        router = Router(article, dialect)
        median = statistics.median(per_message(router, messages, args.repeat))
        print(f"article config, {dialect:5}: {median * 1e3:.3f} ms/message "
              f"(target <= 1 ms: {'ok' if median <= 1e-3 else 'MISSED'})")
    start = time.perf_counter()
    big = parse(big_config(500), "big.conf")
    parse_ms = (time.perf_counter() - start) * 1e3
    probes = [f"To: user{i}@example.com\nSubject: hi\n\nx\n".encode() for i in range(0, 500, 5)]
    probes += messages[:100]
    for dialect in (PCRE2, POSIX):
        router = Router(big, dialect)
        median = statistics.median(per_message(router, probes, max(3, args.repeat // 2)))
        print(f"500-rule config, {dialect:5}: {1 / median:,.0f} messages/s "
              f"(target >= 1,000: {'ok' if 1 / median >= 1000 else 'MISSED'}); parse {parse_ms:.1f} ms")
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
        print(f"real fdm 1.9 with recorders: {fdm_median * 1e3:.2f} ms/message; router (posix) "
              f"{ours * 1e3:.3f} ms/message: {fdm_median / ours:,.0f}x faster")


if __name__ == "__main__":
    main()
