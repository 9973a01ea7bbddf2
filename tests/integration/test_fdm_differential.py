"""The router against the real fdm binaries: every corpus config x every corpus message must agree.

Two real fdm versions, each with its own regex dialect: Debian's fdm 1.9 (POSIX, the C library's own
regcomp) and fdm 2.x built from upstream by tests/setup.sh (PCRE2, the article's Alpine build).
Compared per message: the rules fdm reports matching (`matched to rule N`), every action item it runs
(`running action NAME:ITEM`), what the recorders wrote, and the outcome (delivered, kept, dropped,
error).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from console.fdm.parser import EXTERNAL_ITEMS, Config, parse_file
from console.fdm.recorder import FDM, FDM2, recorder_config, run_fdm
from console.fdm.regex import PCRE2, POSIX
from console.fdm.router import Route, Router

CORPUS = Path(__file__).parent.parent / "fdm_corpus"
CONFIGS = sorted((CORPUS / "configs").glob("*.conf"))
MESSAGES = sorted((CORPUS / "messages").glob("*.eml"))
# version -> (binary, the router's dialect for it)
VERSIONS = {"1.9": (FDM, POSIX), "2.x": (FDM2, PCRE2)}

pytestmark = pytest.mark.lab


@pytest.fixture(params=sorted(VERSIONS))
def fdm_version(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(binary, dialect) of one real fdm; missing is a skip here and a failure under CI."""
    binary, dialect = VERSIONS[request.param]
    if shutil.which(binary) is None:
        why = f"fdm {request.param} is not installed at {binary} (tests/setup.sh builds it)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return binary, dialect


def test_corpus_is_big_enough() -> None:
    assert len(CONFIGS) >= 21 and len(MESSAGES) >= 200


def router_answer(config: Config, message: bytes, dialect: str) -> dict[str, object]:
    """What the router says, in the terms the real run is read in."""
    route: Route = Router(config, dialect).route(message)
    return {
        "rules": route.rule_indexes,
        "runs": [(run.action, run.item) for run in route.runs],
        "recorded": [f"{run.action}:{run.item}" for run in route.runs if run.kind in EXTERNAL_ITEMS],
        "outcome": route.outcome,
    }


class Differ:
    """Runs pairs on the real fdm in per-thread scratch directories (removed by `close`)."""

    def __init__(self, binary: str, dialect: str) -> None:
        self.binary = binary
        self.dialect = dialect
        self.local = threading.local()
        self.lock = threading.Lock()
        self.made: list[Path] = []

    def _dir(self) -> Path:
        # Actions run as `nobody` too (users { }): the recorder log must be writable by anyone.
        if not hasattr(self.local, "dir"):
            directory = Path(tempfile.mkdtemp(prefix="fdm-diff-"))
            directory.chmod(0o777)
            with self.lock:
                self.made.append(directory)
            self.local.dir = directory
            self.local.written = {}
        return self.local.dir

    def real_answer(self, key: str, config: Config, message: bytes) -> dict[str, object]:
        directory = self._dir()
        log = directory / "route.log"
        conf = directory / f"{key}.conf"
        if self.local.written.get(key) is not config:
            conf.write_text(recorder_config(config, log), encoding="utf-8", errors="surrogateescape")
            self.local.written[key] = config
        real = run_fdm(conf, message, log, fdm=self.binary)
        return {"rules": real.matched_rules, "runs": real.runs, "recorded": real.recorded,
                "outcome": real.outcome(config)}

    def disagreement(self, key: str, config: Config, message: bytes, name: str) -> str | None:
        got = self.real_answer(key, config, message)
        want = router_answer(config, message, self.dialect)
        if got != want:
            return f"{name}: fdm {got} router {want}"
        return None

    def close(self) -> None:
        for directory in self.made:
            shutil.rmtree(directory, ignore_errors=True)


def test_router_agrees_with_real_fdm(fdm_version: tuple[str, str]) -> None:
    binary, dialect = fdm_version
    configs = [(path, parse_file(path)) for path in CONFIGS]
    messages = [(path.name, path.read_bytes()) for path in MESSAGES]
    differ = Differ(binary, dialect)

    def one(job: tuple[int, int]) -> str | None:
        (path, config), (name, message) = configs[job[0]], messages[job[1]]
        return differ.disagreement(path.name, config, message, f"{path.name} + {name}")

    jobs = [(ci, mi) for ci in range(len(configs)) for mi in range(len(messages))]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            disagreements = [d for d in pool.map(one, jobs) if d is not None]
    finally:
        differ.close()
    assert not disagreements, f"{len(disagreements)} of {len(jobs)} pairs disagree:\n" + \
        "\n".join(disagreements[:15])


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_fdm_accepts_every_corpus_config(path: Path, fdm_version: tuple[str, str]) -> None:
    import subprocess

    proc = subprocess.run([fdm_version[0], "-n", "-f", str(path)], capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    parse_file(path)
