"""`mailconsole fdm lint|test`: exit codes and their JSON shapes."""

from __future__ import annotations

import json
import os
import resource
import subprocess
from pathlib import Path

from click.testing import CliRunner

from console.fdm.cli import fdm
from tests.helpers import MAILCONSOLE

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


def test_devices_and_named_pipes_are_refused_not_read_forever(tmp_path: Path) -> None:
    """`fdm test /dev/zero` read until memory ran out (a MemoryError traceback under a limit);
    a named pipe blocks until a writer comes. Each is one line on stderr, exit 1."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    message = tmp_path / "m.eml"
    message.write_text("To: bob@example.com\n\nhi\n")
    config = tmp_path / "mc.toml"
    config.write_text(f'fdm_config = "{ARTICLE}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCONSOLE_")}
    env["MAILCONSOLE_CONFIG"] = str(config)

    def limited() -> None:  # a regression fails here at 2 GiB instead of filling the machine
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    for args, shown in [
        (["fdm", "test", "/dev/zero"], "the message /dev/zero"),
        (["fdm", "test", str(fifo)], f"the message {fifo}"),
        (["fdm", "lint", "/dev/zero"], "/dev/zero"),
        (["fdm", "test", "--fdm-conf", str(fifo), str(message)], str(fifo)),
        (["queue", "--from", "/dev/zero"], "/dev/zero"),
        (["queue", "--from", str(fifo)], str(fifo)),
    ]:
        done = subprocess.run(
            [*MAILCONSOLE, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            preexec_fn=limited,
        )
        assert (done.returncode, done.stderr) == (
            1,
            f"mailconsole: cannot read {shown}: not a regular file (a pipe, a device or a socket)\n",
        ), args


def test_lint_json_is_valid_utf8_with_bytes_that_are_not(tmp_path: Path) -> None:
    """An fdm.conf byte that is not UTF-8, quoted in a finding, reached the JSON raw (jq and
    json.loads refuse such output): it is JSON's \\udcXX escape now."""
    conf = tmp_path / "fdm.conf"
    conf.write_bytes(b'account "stdin" disabled stdin\nmatch all action "n\xffx"\n')
    done = subprocess.run(
        [*MAILCONSOLE, "fdm", "lint", str(conf), "--json"], capture_output=True, timeout=60
    )
    rows = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert any("n\udcffx" in row["message"] for row in rows)


def test_lint_json_lines() -> None:
    result = CliRunner().invoke(fdm, ["lint", ARTICLE, "--json"])
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert {"severity", "line", "message", "fix", "code"} <= set(rows[0])
    assert any(r["code"] == "undefined-action" and r["line"] == 17 for r in rows)


def test_test_json_one_object_per_message(tmp_path: Path) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(b"To: bob@example.com\nSubject: hi\n\nx\n")
    result = CliRunner().invoke(
        fdm, ["test", "--config", ARTICLE, str(message), str(message), "--json"]
    )
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 2
    assert rows[0] == {
        "message": str(message),
        "rules": [16],
        "actions": ["bob_inbox"],
        "commands": ["/usr/libexec/dovecot/deliver -d bob -m INBOX"],
        "deliveries": [{"action": "bob_inbox", "user": "bob", "folder": "INBOX"}],
        "outcome": "delivered",
        "error": None,
        "not_modelled": [],
    }


def test_test_shows_untrusted_text_escaped(tmp_path: Path) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: \x1b[31mred\n\nx\n")
    config = tmp_path / "f.conf"
    config.write_text('account "stdin" stdin\nmatch "^Subject: (.*)" action exec "echo %1"\n')
    result = CliRunner().invoke(fdm, ["test", "--config", str(config), str(message)])
    assert "\x1b" not in result.output and "\\x1b" in result.output


ROOT = Path(__file__).resolve().parents[2]


def _mailconsole(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh process, with an empty settings file (never the host's)."""
    settings = tmp_path / "settings.toml"
    settings.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCONSOLE_")}
    env["MAILCONSOLE_CONFIG"] = str(settings)
    return subprocess.run(
        [*MAILCONSOLE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_include_after_an_account_defines_its_actions_and_a_missing_one_is_an_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "actions.conf").write_text('action "inc_a" maildir "/tmp/inc"\n')
    good = tmp_path / "fdm.conf"
    good.write_text('account "stdin" stdin\ninclude "actions.conf"\nmatch all action "inc_a"\n')
    result = CliRunner().invoke(fdm, ["lint", str(good)])
    assert "undefined" not in result.output and result.exit_code == 0, result.output
    missing = tmp_path / "missing.conf"
    missing.write_text('account "stdin" stdin\ninclude "nothere.conf"\nmatch all action drop\n')
    result = CliRunner().invoke(fdm, ["lint", str(missing)])
    assert result.exit_code == 2
    assert f"{missing}:2: error:" in result.output and "nothere.conf" in result.output


def test_a_regex_python_warns_about_prints_no_warning(tmp_path: Path) -> None:
    config = tmp_path / "fdm.conf"
    config.write_text('account "stdin" stdin\nmatch "[[x]" action drop\nmatch all action keep\n')
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: [x\n\nb\n")
    for args in (
        ("fdm", "lint", str(config)),
        ("fdm", "test", "--fdm-conf", str(config), str(message)),
    ):
        proc = _mailconsole(tmp_path, *args)
        assert "Warning" not in proc.stderr and ".py" not in proc.stderr, proc.stderr
    assert (
        "dropped"
        in _mailconsole(tmp_path, "fdm", "test", "--fdm-conf", str(config), str(message)).stdout
    )


def test_test_exits_1_when_a_message_would_be_lost_or_bounced(tmp_path: Path) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(b"To: notifications@example.com\nSubject: hi\n\nx\n")
    bounced = CliRunner().invoke(fdm, ["test", "--fdm-conf", ARTICLE, str(message)])
    assert bounced.exit_code == 1 and "error" in bounced.output
    assert "1 of 1 messages would be lost or bounced" in bounced.output
    config = tmp_path / "f.conf"
    config.write_text('account "stdin" stdin\nmatch "^Subject: no" action drop\n')
    kept = CliRunner().invoke(fdm, ["test", "--fdm-conf", str(config), str(message)])
    assert kept.exit_code == 1 and "kept" in kept.output
    config.write_text('account "stdin" stdin\nmatch all action drop\n')
    assert CliRunner().invoke(fdm, ["test", "--fdm-conf", str(config), str(message)]).exit_code == 0


def test_file_wide_findings_have_no_line_number(tmp_path: Path) -> None:
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "addrs").write_text("bob@example.com\nonly@example.com\n")
    (tables / "vusers").write_text("bob@example.com vmail\n")
    result = CliRunner().invoke(fdm, ["lint", FIXED, "--tables", str(tables)])
    assert f"{FIXED}: warning: only@example.com is in addrs but not in vusers" in result.output
    assert f"{FIXED}:0:" not in result.output


def test_fdm_conf_option_and_the_old_config_name(tmp_path: Path) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(b"To: bob@example.com\nSubject: hi\n\nx\n")
    for option in ("--fdm-conf", "--config"):
        result = CliRunner().invoke(fdm, ["test", option, ARTICLE, str(message)])
        assert result.exit_code == 0 and "bob_inbox" in result.output
    help_text = CliRunner().invoke(fdm, ["test", "--help"]).output
    assert "--fdm-conf FILE" in help_text and "Old name of --fdm-conf" in help_text


def test_lint_tables_says_which_were_found_and_warns_when_none(tmp_path: Path) -> None:
    found = CliRunner().invoke(fdm, ["lint", FIXED, "--tables", TABLES])
    assert "tables from" in found.output and "addrs, vusers, vdomains, userdb" in found.output
    empty = tmp_path / "empty"
    empty.mkdir()
    none = CliRunner().invoke(fdm, ["lint", FIXED, "--tables", str(empty)])
    assert "warning: none of the tables" in none.output and "did not run" in none.output


def test_not_modelled_is_said_per_message(tmp_path: Path) -> None:
    config = tmp_path / "f.conf"
    config.write_text(
        'account "stdin" stdin\nmatch attachment count > 0 action drop\nmatch all action drop\n'
    )
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: x\n\nb\n")
    result = CliRunner().invoke(fdm, ["test", "--fdm-conf", str(config), str(message)])
    assert "not modelled: line 2: attachment condition" in result.output
