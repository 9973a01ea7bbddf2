"""The router's work in CPU instructions (valgrind callgrind), against another git revision: the
500-rule config of bench/fdm_route.py, its load and each message, for both dialects.

    python bench/fdm_route_instructions.py --against REV [--messages N]

Each side runs in a fresh process with the `console` package of its revision (the working tree, and
REV by `git archive`), once with no message (the load: parse and Router) and once with N messages;
the difference over N is the cost of one message. Instructions do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ONE_RUN = """
import sys
sys.path.insert(0, sys.argv[1])
from bench_config import big_config
from console.fdm.parser import parse
from console.fdm.regex import PCRE2, POSIX
from console.fdm.router import Router
router = Router(parse(big_config(500)), POSIX if sys.argv[2] == "posix" else PCRE2)
for i in range(int(sys.argv[3])):
    router.route(
        f"To: user{i * 37 % 500}@example.com\\nSubject: hello {i}\\n"
        f"Date: Mon, 2 Mar 2020 10:11:12 +0000\\n\\nbody {i}\\n".encode()
    )
"""


def instructions(code: Path, dialect: str, messages: int, work: Path) -> int:
    out = work / "callgrind.out"
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(work / "one_run.py"),
            str(code),
            dialect,
            str(messages),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    assert found, proc.stderr
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, metavar="REV")
    parser.add_argument("--messages", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "one_run.py").write_text(ONE_RUN)
        source = (ROOT / "bench" / "fdm_route.py").read_text()
        start = source.index("def big_config")
        end = source.index("\ndef ", start + 1)
        (work / "bench_config.py").write_text(source[start:end])
        old = work / "old"
        old.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.against, "console"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        n = args.messages
        print(f"500-rule config, {n} messages, instructions (callgrind), new vs {args.against}:")
        for dialect in ("pcre2", "posix"):
            figures = {}
            for side, code in (("new", ROOT), ("old", old)):
                load = instructions(code, dialect, 0, work)
                total = instructions(code, dialect, n, work)
                figures[side] = (load, (total - load) / n)
            (new_load, new_one), (old_load, old_one) = figures["new"], figures["old"]
            print(
                f"  {dialect}: load {new_load / 1e6:,.0f} M vs {old_load / 1e6:,.0f} M "
                f"({new_load / old_load:.3f}x); a message {new_one / 1e6:,.2f} M vs "
                f"{old_one / 1e6:,.2f} M ({new_one / old_one:.2f}x)"
            )


if __name__ == "__main__":
    main()
