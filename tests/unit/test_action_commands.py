"""Commands built from the registry's declarations: every kind of `Arg` and `Cli` field reaches the
command line, its --help and the handler's parameters (an action declared here, as a new one would
be, in the registry and nowhere else)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from console import actions
from console.actions import Action, ActionContext, Arg, Cli
from console.settings import Settings
from tests.helpers import run_mailconsole

DEFAULT_COUNT = 7
RUNS: list[tuple[str, str, dict[str, str], dict[str, Any]]] = []


def poke(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    return f"poked {target} {json.dumps(dict(params), sort_keys=True)}"


def poke_all(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    return f"poked everything {json.dumps(dict(params), sort_keys=True)}"


def own_body(
    settings: Settings, action: Action, target: str, params: dict[str, str], options: dict[str, Any]
) -> None:
    """A declared `Cli.run`: called instead of dispatching and printing."""
    RUNS.append((action.name, target, params, options))


def declared(run: str = "") -> dict[str, Action]:
    cli = Cli(
        "test poke",
        "Poke PROGRAM, or all.",
        Arg("name", metavar="PROGRAM"),
        (
            Arg("more", param="more", many=True),
            Arg(
                "--count",
                param="count",
                type="int",
                help="How many times.",
                default_from=f"{__name__}:DEFAULT_COUNT",
            ),
            Arg("--into", param="into", type="dir", setting="log_dir", metavar="DIR"),
            Arg("--hard", param="hard", help="Poke it hard.", flag=("yes", "no")),
            Arg("--quiet", param="quiet", flag=("yes", "")),
            Arg("--json", "as_json", help="Print JSON.", flag=("", "")),
            Arg("--note"),  # read by no handler: only a body given `run` would see it
        ),
        instead=(("all", "test.poke_all"),),
        **({"run": run} if run else {}),
    )
    return {
        "test.poke": Action("test.poke", "Poke a program", False, poke, target="program", cli=cli),
        "test.poke_all": Action("test.poke_all", "Poke every program", True, poke_all),
    }


def run_cli(tmp_path: Path, *args: str) -> int:
    conf = tmp_path / "mailconsole.toml"
    conf.write_text(
        f'audit_log = "{tmp_path / "audit.log"}"\nlog_dir = "{tmp_path}"\noperator = "dana"\n'
    )
    return run_mailconsole(conf, *args)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(actions, "ACTIONS", {**actions.ACTIONS, **declared()})


@pytest.mark.usefixtures("registry")
def test_help_shows_every_declared_argument(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(tmp_path, "test", "poke", "--help") == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert help_text.startswith(
        "Usage: mailconsole test poke [OPTIONS] PROGRAM [MORE]... Poke PROGRAM, or all. Options:"
    )
    for shown in (
        "--count INTEGER How many times. [default: 7]",
        "--into DIR",
        "--hard Poke it hard.",
        "--json Print JSON.",
    ):
        assert shown in help_text
    # Options declared without help have none.
    assert "--into DIR --hard" in help_text and "--note TEXT -h, --help" in help_text


@pytest.mark.usefixtures("registry")
def test_each_argument_fills_its_parameter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run_cli(
            tmp_path, "test", "poke", "dovecot", "a", "b", "--hard", "--count", "3", "--note", "n"
        )
        == 0
    )
    params = {"count": "3", "hard": "yes", "into": str(tmp_path), "more": "a,b"}
    assert capsys.readouterr().out == f"poked dovecot {json.dumps(params, sort_keys=True)}\n"
    # Defaults: the declared default, the setting, a flag's value when not given; a flag whose
    # value is "" leaves its parameter out.
    assert run_cli(tmp_path, "test", "poke", "smtpd", "--into", "/", "--json") == 0
    params = {"count": "7", "hard": "no", "into": "/", "more": ""}
    assert json.loads(capsys.readouterr().out) == {
        "action": "test.poke",
        "target": "smtpd",
        "message": f"poked smtpd {json.dumps(params, sort_keys=True)}",
    }
    assert run_cli(tmp_path, "test", "poke", "smtpd", "--count", "x") == 2  # an int option
    assert run_cli(tmp_path, "test", "poke", "smtpd", "--into", str(tmp_path / "audit.log")) == 2
    capsys.readouterr()
    # A target declared `instead` runs that other action (any case).
    assert run_cli(tmp_path, "test", "poke", "ALL", "--quiet") == 0
    params = {"count": "7", "hard": "no", "into": str(tmp_path), "more": "", "quiet": "yes"}
    assert capsys.readouterr().out == f"poked everything {json.dumps(params, sort_keys=True)}\n"
    records = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert [(r["action"], r["target"], r["outcome"]) for r in records] == [
        ("test.poke", "dovecot", "started"),
        ("test.poke", "dovecot", "ok"),
        ("test.poke", "smtpd", "started"),
        ("test.poke", "smtpd", "ok"),
        ("test.poke_all", "ALL", "started"),
        ("test.poke_all", "ALL", "ok"),
    ]


def test_a_declared_body_runs_instead_of_the_dispatcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(actions, "ACTIONS", {**actions.ACTIONS, **declared(f"{__name__}:own_body")})
    RUNS.clear()
    assert run_cli(tmp_path, "test", "poke", "dovecot", "--json") == 0
    assert [(name, target, params) for name, target, params, _options in RUNS] == [
        ("test.poke", "dovecot", {"count": "7", "hard": "no", "into": str(tmp_path), "more": ""})
    ]
    assert RUNS[0][3]["as_json"] is True
    assert not (tmp_path / "audit.log").exists()  # the body dispatches (and audits) itself


def test_the_question_asked_before_an_action() -> None:
    action = declared()["test.poke"]
    assert action.question("dovecot") == "Poke a program: dovecot?"
    asked = action._replace(confirm="Really poke {target} ({description})?")
    assert asked.question("dovecot") == "Really poke dovecot (Poke a program)?"


def test_progress_goes_to_the_callback_given_and_nowhere_without_one() -> None:
    steps: list[str] = []
    settings = Settings()
    ActionContext(settings, steps.append).progress("one")
    assert steps == ["one"]
    assert ActionContext(settings).progress("dropped") is None
