"""The router against the real fdm binaries: every corpus config x every corpus message must agree.

Two real fdm versions, each with its own regex dialect: Debian's fdm 1.9 (POSIX, the C library's own
regcomp) and fdm 2.x built from upstream by tests/setup.sh (PCRE2, the article's Alpine build).
Compared per message: the rules fdm reports matching (`matched to rule N`), every action item it runs
(`running action NAME:ITEM`), what the recorders wrote, and the outcome (delivered, kept, dropped,
error).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from console.fdm.parser import parse_file
from tests.integration.fdm_diff import VERSIONS, Differ, defines_of, require_fdm

CORPUS = Path(__file__).parent.parent / "fdm_corpus"
CONFIGS = sorted((CORPUS / "configs").glob("*.conf"))
MESSAGES = sorted((CORPUS / "messages").glob("*.eml"))

pytestmark = pytest.mark.lab


@pytest.fixture(params=sorted(VERSIONS))
def fdm_version(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(binary, dialect) of one real fdm."""
    return require_fdm(request.param)


def test_corpus_is_big_enough() -> None:
    assert len(CONFIGS) >= 37 and len(MESSAGES) >= 260
    names = {path.stem for path in MESSAGES}
    assert {
        "e_empty",
        "e_lone_newline",
        "e_no_final_newline",
        "e_no_blank_line",
        "e_crlf",
        "e_long_folded_to",
        "e_8bit_latin1",
        "e_duplicate_headers",
        "e_size_65537",
    } <= names


def test_router_agrees_with_real_fdm(fdm_version: tuple[str, str]) -> None:
    binary, dialect = fdm_version
    configs = [(path, parse_file(path, defines_of(path)), defines_of(path)) for path in CONFIGS]
    messages = [(path.name, path.read_bytes()) for path in MESSAGES]
    differ = Differ(binary, dialect)

    def one(job: tuple[int, int]) -> tuple[str, str | None]:
        (path, config, defines), (name, message) = configs[job[0]], messages[job[1]]
        return path.name, differ.disagreement(
            path.name, config, message, f"{path.name} + {name}", defines
        )

    jobs = [(ci, mi) for ci in range(len(configs)) for mi in range(len(messages))]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            named = list(pool.map(one, jobs))
    finally:
        differ.close()
    answers = [answer for _, answer in named]
    declined = answers.count("declined")
    disagreements = [d for d in answers if d is not None and d != "declined"]
    print(
        f"fdm {binary}: {len(jobs)} pairs, {len(jobs) - declined} compared, "
        f"{len(jobs) - declined - len(disagreements)} agree, {declined} declined (not modelled)"
    )
    # Only the config made of conditions the router does not model may be declined.
    assert {name for name, answer in named if answer == "declined"} == {"35_not_modelled.conf"}
    assert not disagreements, f"{len(disagreements)} of {len(jobs)} pairs disagree:\n" + "\n".join(
        disagreements[:15]
    )


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_fdm_accepts_every_corpus_config(path: Path, fdm_version: tuple[str, str]) -> None:
    import subprocess

    defines = [f"-D{name}={value}" for name, value in defines_of(path).items()]
    proc = subprocess.run(
        [fdm_version[0], "-n", "-f", str(path), *defines], capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    parse_file(path, defines_of(path))
