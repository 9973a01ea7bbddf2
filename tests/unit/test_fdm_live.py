"""The live tester's child process answers exactly like the in-process lint and route, and survives death."""

from __future__ import annotations

from pathlib import Path

from console.fdm.lint import load_tables
from console.fdm.live import LiveTester, lint_and_route

CORPUS = Path(__file__).parent.parent / "fdm_corpus"
ARTICLE = (CORPUS / "configs" / "article.conf").read_text()
TABLES = load_tables(
    *(CORPUS / "tables" / name for name in ("addrs", "vusers", "vdomains", "userdb"))
)


def test_child_answers_like_the_in_process_call_and_restarts_after_dying() -> None:
    tester = LiveTester()
    try:
        for message in ("To: notifications@example.com\n\nb\n", "To: bob@example.com\n\nb\n"):
            findings, route = tester.check(ARTICLE, "fdm.conf", TABLES, message)
            local_findings, local_route = lint_and_route(ARTICLE, "fdm.conf", TABLES, message)
            assert findings == local_findings and route is not None and local_route is not None
            assert route.to_json("m") == local_route.to_json("m")
        assert tester._child is not None
        first = tester._child.pid
        tester._child.kill()
        tester._child.wait()
        _findings, route = tester.check(ARTICLE, "fdm.conf", TABLES, "To: bob@example.com\n\nb\n")
        assert route is not None and route.outcome == "delivered"
        _findings, route = tester.check("match", "fdm.conf", TABLES, "To: x\n\nb\n")
        assert route is None
        assert tester._child is not None and tester._child.pid != first
    finally:
        tester.close()
    assert tester._child is None
