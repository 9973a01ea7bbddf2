"""The linter: the article's own mistakes, each check, and the table cross-checks."""

from __future__ import annotations

from pathlib import Path

from console.fdm.lint import exit_code, lint, lint_text, tables_in
from console.fdm.parser import parse, parse_file

CORPUS = Path(__file__).parent.parent / "fdm_corpus"


def codes(text: str) -> list[tuple[str, int, str]]:
    _config, findings = lint_text('account "stdin" stdin\n' + text)
    return [(f.code, f.line, f.severity) for f in findings]


def test_article_findings_are_the_ones_the_issue_names() -> None:
    config = parse_file(CORPUS / "configs" / "article.conf")
    findings = lint(config, tables_in(CORPUS / "tables"))
    got = {(f.code, f.line) for f in findings}
    assert ("undefined-action", 17) in got and (
        "undefined-action",
        18,
    ) in got  # bob_notices, bob_lists
    assert ("unused-action", 8) in got and (
        "unused-action",
        9,
    ) in got  # notifications, mailinglists
    assert ("unaccepted-address", 22) in got  # network@ vs networking@
    assert ("lost-address", 0) in got  # networking@ reaches nothing
    assert ("lost-escape", 9) in got  # "Mailing\ Lists"
    undefined = next(f for f in findings if f.code == "undefined-action" and f.line == 17)
    assert "bob_notifications" in undefined.fix
    unaccepted = next(f for f in findings if f.code == "unaccepted-address")
    assert "networking@example.net" in unaccepted.fix
    assert exit_code(findings) == 2


def test_fixed_article_is_clean() -> None:
    config = parse_file(CORPUS / "configs" / "01_article_fixed.conf")
    assert lint(config, tables_in(CORPUS / "tables")) == []


def test_unreachable_after_catch_all() -> None:
    assert ("unreachable", 4, "warning") in codes(
        'action "a" drop\nmatch all action "a"\nmatch "x" action "a"\n'
    )
    assert not [
        c
        for c in codes('action "a" drop\nmatch all action "a" continue\nmatch "x" action "a"\n')
        if c[0] == "unreachable"
    ]


def test_regex_checks() -> None:
    found = codes(
        'action "a" drop\nmatch "a\\.b" action "a"\nmatch "(" action "a"\n'
        'match "100%" action "a"\nmatch "a\\\\.b 100%%" action "a"\n'
        'match "(?=x)" action "a"\n'
    )
    assert ("lost-escape", 3, "warning") in found
    assert ("bad-regex", 4, "error") in found
    assert ("percent", 5, "warning") in found
    assert not [c for c in found if c[1] == 6]
    assert ("bad-regex", 7, "warning") in found  # compiles for PCRE2, not for Debian's POSIX


def test_undefined_macro_and_no_account() -> None:
    assert ("undefined-macro", 2, "warning") in codes(
        'action "a" exec "${nope}"\nmatch all action "a"\n'
    )
    _config, findings = lint_text('action "a" drop\nmatch all action "a"\n')
    assert [f.code for f in findings] == ["no-account"]


def test_syntax_error_is_one_error_finding_at_its_line() -> None:
    _config, findings = lint_text('account "stdin" stdin\nmatch all actoin drop\n')
    assert [(f.code, f.line) for f in findings] == [("syntax", 2)]


def test_tables_must_agree(tmp_path: Path) -> None:
    (tmp_path / "addrs").write_text("a@x.org\nb@x.org\n")
    (tmp_path / "vusers").write_text("a@x.org vmail\nc@x.org vmail\n")
    (tmp_path / "vdomains").write_text("x.org\n")
    config = parse('account "stdin" stdin\naction "in" maildir "/m"\nmatch all action "in"\n')
    messages = [f.message for f in lint(config, tables_in(tmp_path))]
    assert any("b@x.org is in addrs but not in vusers" in m for m in messages)
    assert any("c@x.org is in vusers but not in addrs" in m for m in messages)


def test_what_the_router_does_not_model_is_warned() -> None:
    from console.fdm.lint import lint_text

    text = (
        'account "stdin" stdin\naction "rw" rewrite "sed s/a/b/"\n'
        'match attachment count > 0 action drop\nmatch all action "rw" continue\n'
        "match all action drop\n"
    )
    _config, findings = lint_text(text)
    warned = {(f.line, f.code) for f in findings if f.severity == "warning"}
    assert (2, "not-modelled") in warned and (3, "unsupported") in warned
