"""`mailconsole fdm lint|test`: exit codes and their JSON shapes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from console.fdm.cli import fdm

CORPUS = Path(__file__).parent.parent / "fdm_corpus"
ARTICLE = str(CORPUS / "configs" / "article.conf")
FIXED = str(CORPUS / "configs" / "01_article_fixed.conf")
TABLES = str(CORPUS / "tables")


def test_lint_exit_codes() -> None:
    runner = CliRunner()
    assert runner.invoke(fdm, ["lint", ARTICLE, "--tables", TABLES]).exit_code == 2
    assert runner.invoke(fdm, ["lint", FIXED, "--tables", TABLES]).exit_code == 0
    warned = CORPUS / "configs" / "03_escapes.conf"
    assert runner.invoke(fdm, ["lint", str(warned)]).exit_code == 1


def test_lint_json_lines() -> None:
    result = CliRunner().invoke(fdm, ["lint", ARTICLE, "--json"])
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert {"severity", "line", "message", "fix", "code"} <= set(rows[0])
    assert any(r["code"] == "undefined-action" and r["line"] == 17 for r in rows)


def test_test_json_one_object_per_message(tmp_path: Path) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(b"To: bob@example.com\nSubject: hi\n\nx\n")
    result = CliRunner().invoke(fdm, ["test", "--config", ARTICLE, str(message), str(message),
                                      "--json"])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 2
    assert rows[0] == {"message": str(message), "rules": [16], "actions": ["bob_inbox"],
                       "commands": ["/usr/libexec/dovecot/deliver -d bob -m INBOX"],
                       "deliveries": [{"action": "bob_inbox", "user": "bob", "folder": "INBOX"}],
                       "outcome": "delivered", "error": None}


def test_test_shows_untrusted_text_escaped(tmp_path: Path) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: \x1b[31mred\n\nx\n")
    config = tmp_path / "f.conf"
    config.write_text('account "stdin" stdin\nmatch "^Subject: (.*)" action exec "echo %1"\n')
    result = CliRunner().invoke(fdm, ["test", "--config", str(config), str(message)])
    assert "\x1b" not in result.output and "\\x1b" in result.output
