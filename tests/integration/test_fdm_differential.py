"""The router against the real fdm: every corpus config x every corpus message must agree.

Debian ships fdm 1.9 (POSIX regexes), so the router runs in its POSIX dialect here (the C library's own
regcomp, as fdm 1.9 uses). What differs between POSIX and PCRE2 has its own unit tests
(tests/unit/test_fdm_router.py). Compared per message: the rules fdm reports matching (`matched to rule
N`), every action item it runs (`running action NAME:ITEM`), what the recorders wrote, whether the mail
was kept, and whether the message ended in an error.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from console.fdm.parser import EXTERNAL_ITEMS, Config, parse_file
from console.fdm.recorder import FDM, recorder_config, run_fdm
from console.fdm.regex import POSIX
from console.fdm.router import Route, Router

CORPUS = Path(__file__).parent.parent / "fdm_corpus"
CONFIGS = sorted((CORPUS / "configs").glob("*.conf"))
MESSAGES = sorted((CORPUS / "messages").glob("*.eml"))

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(shutil.which(FDM) is None, reason="the real fdm is not installed"),
]


def test_corpus_is_big_enough() -> None:
    assert len(CONFIGS) >= 21 and len(MESSAGES) >= 200


def _expected(route: Route) -> dict[str, object]:
    error = route.outcome == "error"
    return {
        "rules": route.rule_indexes,
        "runs": [(run.action, run.item) for run in route.runs],
        "recorded": [f"{run.action}:{run.item}" for run in route.runs if run.kind in EXTERNAL_ITEMS],
        "kept": None if error else route.decision == "keep",
        "error": error,
    }


def test_router_agrees_with_real_fdm() -> None:
    configs: list[tuple[Path, Config]] = [(path, parse_file(path)) for path in CONFIGS]
    local = threading.local()
    counter = iter(range(1000))
    lock = threading.Lock()

    def worker_dir() -> Path:
        # Actions run as `nobody` too (users { }): the recorder log must be writable by anyone.
        if not hasattr(local, "dir"):
            with lock:
                local.dir = Path(tempfile.mkdtemp(prefix=f"fdm-diff-{next(counter)}-"))
            local.dir.chmod(0o777)
            made.append(local.dir)
            local.written = set()
        return local.dir

    def one(job: tuple[int, Path]) -> str | None:
        config_index, message_path = job
        path, config = configs[config_index]
        directory = worker_dir()
        log = directory / "route.log"
        conf = directory / f"{config_index}.conf"
        if config_index not in local.written:
            conf.write_text(recorder_config(config, log))
            local.written.add(config_index)
        message = message_path.read_bytes()
        real = run_fdm(conf, message, log)
        got = {"rules": real.matched_rules, "runs": real.runs, "recorded": real.recorded,
               "kept": None if real.error else real.kept, "error": real.error}
        want = _expected(Router(config, POSIX).route(message))
        if got != want:
            return f"{path.name} + {message_path.name}: fdm {got} router {want}"
        return None

    jobs = [(ci, msg) for ci in range(len(configs)) for msg in MESSAGES]
    made: list[Path] = []
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            disagreements = [d for d in pool.map(one, jobs) if d is not None]
    finally:
        for directory in made:
            shutil.rmtree(directory, ignore_errors=True)
    assert not disagreements, f"{len(disagreements)} disagreements:\n" + "\n".join(disagreements[:15])


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_fdm_accepts_every_corpus_config(path: Path) -> None:
    import subprocess

    proc = subprocess.run([FDM, "-n", "-f", str(path)], capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    parse_file(path)
