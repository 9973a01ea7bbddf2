"""Mutation score per module from mutmut's results: `python tests/mutation_score.py [MODULE_PREFIX]`.

Counts every mutant mutmut generated for a module; a mutant is caught when a test failed ("killed") or
hung until mutmut's timeout ("timeout": an endless loop, which the suite's own timeout fails too).
One with no covering test or that survived is not; those are listed by name for `mutmut show NAME`.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path


def main(prefix: str = "") -> int:
    """Print `module killed/total percent` for each mutated module, then each mutant not killed."""
    mutmut = Path(sys.executable).with_name("mutmut")
    listing = subprocess.run(
        [str(mutmut), "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    not_killed: list[str] = []
    for line in listing.splitlines():
        name, _, status = line.strip().partition(": ")
        if "__mutmut_" not in name or not name.startswith(prefix):
            continue
        module = name.split(".x")[0]
        statuses[module][status] += 1
        if status not in ("killed", "timeout"):
            not_killed.append(f"{status:12} {name}")
    for module, counts in sorted(statuses.items()):
        total = sum(counts.values())
        killed = counts["killed"] + counts["timeout"]
        print(f"{module:28} {killed:4}/{total:<4} {100 * killed / total:5.1f} %  {dict(counts)}")
    print("\n".join(line for line in not_killed if "not checked" not in line))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
