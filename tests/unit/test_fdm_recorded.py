"""The router against answers recorded from the real fdm 1.9 and 2.x (tests/recordings/fdm_routes.json.gz,
made by tests/fdm_corpus/record_routes.py): the differential test's pairs without running fdm, fast
enough for every change (and for each mutant of a mutation run).
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

import pytest

from console.fdm.parser import EXTERNAL_ITEMS, Config, parse_file
from console.fdm.regex import PCRE2, POSIX
from console.fdm.router import Router, run_rewrite

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fdm_corpus"
RECORDED = json.loads(
    gzip.decompress((ROOT / "tests" / "recordings" / "fdm_routes.json.gz").read_bytes())
)
DIALECTS = {"1.9": POSIX, "2.x": PCRE2}
CONFIGS = sorted({key.split("|")[0] for key in RECORDED["versions"]["2.x"]})


@cache
def _config(name: str) -> Config:
    path = CORPUS / "configs" / name
    defines = {}
    for line in path.read_text().splitlines():
        if line.startswith("#-D "):
            macro, _, value = line[4:].partition("=")
            defines[macro.strip()] = value
    return parse_file(path, defines)


def test_every_corpus_config_and_both_versions_are_recorded() -> None:
    assert sorted(RECORDED["versions"]) == ["1.9", "2.x"]
    assert CONFIGS == sorted(p.name for p in (CORPUS / "configs").glob("*.conf"))
    assert len(RECORDED["versions"]["1.9"]) >= 3000


@pytest.mark.parametrize("version", sorted(DIALECTS))
@pytest.mark.parametrize("config_name", CONFIGS)
def test_router_matches_the_recorded_real_fdm(config_name: str, version: str) -> None:
    config = _config(config_name)
    router = Router(config, DIALECTS[version], hostname=RECORDED["hostname"], rewrite=run_rewrite)
    wrong = []
    compared = 0
    for key, real in RECORDED["versions"][version].items():
        name, message_name = key.split("|")
        if name != config_name:
            continue
        route = router.route((CORPUS / "messages" / message_name).read_bytes())
        if route.not_modelled:
            continue
        compared += 1
        got = {
            "rules": route.rule_indexes,
            "runs": [[run.action, run.item] for run in route.runs],
            "recorded": [
                f"{run.action}:{run.item}" for run in route.runs if run.kind in EXTERNAL_ITEMS
            ],
            "outcome": route.outcome,
        }
        if got != real:
            wrong.append(f"{message_name}: fdm {real} router {got}")
    assert compared or config_name == "35_not_modelled.conf"
    assert not wrong, f"{len(wrong)} of {compared} differ:\n" + "\n".join(wrong[:10])
