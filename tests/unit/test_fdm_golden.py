"""Everything the linter and the router say about the corpus, word for word, against reviewed files.

tests/recordings/fdm_lint_golden.txt: the findings for every corpus config (both dialects, with and
without the corpus tables). tests/recordings/fdm_route_golden.json: for every corpus config and edge
message, the router's outcome, decision, error, notes, not-modelled list, commands and deliveries.
After an intended change, regenerate with `python tests/unit/test_fdm_golden.py` and read the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))

from console.fdm.lint import lint_text, tables_in  # noqa: E402
from console.fdm.parser import parse_file  # noqa: E402
from console.fdm.regex import DIALECTS  # noqa: E402
from console.fdm.router import Router, run_rewrite  # noqa: E402

CORPUS = ROOT / "tests" / "fdm_corpus"
LINT_GOLDEN = ROOT / "tests" / "recordings" / "fdm_lint_golden.txt"
ROUTE_GOLDEN = ROOT / "tests" / "recordings" / "fdm_route_golden.json"
CONFIGS = sorted((CORPUS / "configs").glob("*.conf"))
EDGES = [
    CORPUS / "messages" / f"e_{name}.eml"
    for name in (
        "empty",
        "lone_newline",
        "no_final_newline",
        "no_blank_line",
        "crlf",
        "folded_subject",
        "8bit_latin1",
        "nul_byte",
        "duplicate_headers",
        "return_path",
        "late_received",
        "tags_source",
        "from_line_no_body",
        "size_65537",
        "malformed_headers",
    )
]
# Routes whose text depends on the clock (ages, dates) stay out of the word-for-word file.
CLOCKED = {"17_size_age.conf", "34_age.conf"}


def _defines(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if line.startswith("#-D "):
            name, _, value = line[4:].partition("=")
            found[name.strip()] = value
    return found


def lint_lines() -> list[str]:
    tables = tables_in(CORPUS / "tables")
    lines = []
    for path in CONFIGS:
        text = path.read_text()
        for dialect in DIALECTS:
            for with_tables in (False, True):
                _config, findings = lint_text(
                    text, path.name, tables if with_tables else None, dialect
                )
                for f in findings:
                    lines.append(
                        f"{path.name} {dialect} tables={with_tables}: {f.severity} "
                        f"{f.line} {f.code}: {f.message} | {f.fix}"
                    )
    return lines


def route_answers() -> dict[str, object]:
    answers: dict[str, object] = {}
    for path in CONFIGS:
        if path.name in CLOCKED:
            continue
        config = parse_file(path, _defines(path))
        for dialect in DIALECTS:
            router = Router(config, dialect, hostname="mx.test", rewrite=run_rewrite)
            for message in EDGES:
                route = router.route(message.read_bytes())
                answer = {
                    "outcome": route.outcome,
                    "decision": route.decision,
                    "error": route.error,
                    "notes": route.notes,
                    "not_modelled": route.not_modelled,
                    "commands": route.commands,
                    "actions": route.actions,
                    "rules": route.rules,
                    "deliveries": [
                        [d.action, d.kind, d.user, d.folder, d.path, d.extra_args]
                        for d in route.deliveries
                    ],
                }
                answers[f"{path.name}|{dialect}|{message.name}"] = {
                    key: value for key, value in answer.items() if value
                }
    return answers


def test_lint_findings_are_the_reviewed_ones() -> None:
    want = LINT_GOLDEN.read_text().splitlines()
    got = lint_lines()
    assert got == want


def test_route_texts_are_the_reviewed_ones() -> None:
    want = json.loads(ROUTE_GOLDEN.read_text())
    got = route_answers()
    assert sorted(got) == sorted(want)
    wrong = [key for key in want if got[key] != want[key]]
    assert not wrong, [(key, got[key], want[key]) for key in wrong[:3]]


if __name__ == "__main__":
    LINT_GOLDEN.write_text("\n".join(lint_lines()) + "\n")
    routes = route_answers()
    ROUTE_GOLDEN.write_text(
        "{\n"
        + ",\n".join(f"{json.dumps(key)}: {json.dumps(routes[key])}" for key in sorted(routes))
        + "\n}\n"
    )
