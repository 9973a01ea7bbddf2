"""Record what the real fdm binaries do with the corpus, for the fast unit test of the router.

    python tests/fdm_corpus/record_routes.py     # needs /usr/bin/fdm and fdm 2.x (tests/setup.sh)

Writes tests/recordings/fdm_routes.json.gz: per fdm version, for every config and a sample of the
messages (every edge message, every fifth generated one), the rules matched, the action items run,
what the recorders wrote and the outcome. The hostname fdm put in its Received header is kept too
(sizes depend on it). tests/unit/test_fdm_recorded.py routes the same pairs and compares.
"""

from __future__ import annotations

import gzip
import json
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from console.fdm.parser import parse_file  # noqa: E402
from tests.integration.fdm_diff import VERSIONS, Differ, defines_of  # noqa: E402

CORPUS = ROOT / "tests" / "fdm_corpus"
OUT = ROOT / "tests" / "recordings" / "fdm_routes.json.gz"


def sample() -> list[Path]:
    """Every edge message and every fifth generated one."""
    messages = sorted((CORPUS / "messages").glob("*.eml"))
    return [p for i, p in enumerate(messages) if p.name.startswith("e_") or i % 5 == 0]


def main() -> None:
    configs = sorted((CORPUS / "configs").glob("*.conf"))
    messages = sample()
    recorded: dict[str, object] = {"hostname": socket.getfqdn(), "versions": {}}
    for version, (binary, dialect) in VERSIONS.items():
        differ = Differ(binary, dialect)
        parsed = {c.name: (parse_file(c, defines_of(c)), defines_of(c)) for c in configs}

        def one(
            job: tuple[str, Path], differ: Differ = differ, parsed: dict[str, tuple] = parsed
        ) -> tuple[str, dict[str, object]]:
            name, message = job
            config, defines = parsed[name]
            answer = differ.real_answer(name, config, message.read_bytes(), defines)
            return f"{name}|{message.name}", answer

        jobs = [(c.name, m) for c in configs for m in messages]
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                answers = dict(pool.map(one, jobs))
        finally:
            differ.close()
        recorded["versions"][version] = answers  # type: ignore[index]
        print(f"fdm {version}: {len(answers)} pairs")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_bytes(gzip.compress(json.dumps(recorded, sort_keys=True).encode(), mtime=0))


if __name__ == "__main__":
    main()
