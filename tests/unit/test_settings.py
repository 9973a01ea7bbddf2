"""Settings: precedence, sources, one-line errors naming file, key and expectation, the sample in sync."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

import console.settings as settings_module
from console.errors import ConfigError
from console.settings import FIELDS, Settings, load_settings, render_effective

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SAMPLE = Path(__file__).resolve().parents[2] / "config_samples" / "mailconsole.toml"


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def field_docs() -> dict[str, str]:
    """Each Settings field's one-line docstring, read from console/settings.py's source."""
    tree = ast.parse(Path(settings_module.__file__).read_text(encoding="utf-8"))
    docs: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            body = node.body
            for stmt, nxt in zip(body, body[1:], strict=False):
                if (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)
                ):
                    docs[stmt.target.id] = nxt.value.value.strip()
    return docs


def test_defaults_are_the_articles_layout(tmp_path: Path) -> None:
    no_serverurl = write(tmp_path / "supervisord.conf", "[supervisord]\n")
    loaded = load_settings(env={}, overrides={"supervisor_config": no_serverurl})
    s = loaded.settings
    assert s.log_dir == Path("/mail/log")
    assert s.fdm_config == Path("/mail/config/fdm.conf")
    assert s.table_addrs == Path("/mail/db/addrs")
    assert s.smtpctl == ["smtpctl"]
    assert s.supervisor_url == "unix:///run/supervisor.sock"
    assert s.jobs["sa-update"].argv == ("sa-update", "-v", "--updatedir", "/mail/db/spamassassin")
    assert [str(step) for step in s.jobs["get_certs"].then] == [
        "signal opensmtpd HUP",
        "signal dovecot HUP",
    ]
    assert s.read_only is False


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "mc.toml",
        'log_dir = "/from/file"\noperator = "file-op"\nrefresh_interval = 2\nread_only = false\n',
    )
    env = {"MAILCONSOLE_OPERATOR": "env-op", "MAILCONSOLE_READ_ONLY": "1"}
    loaded = load_settings(conf, {"operator": "flag-op"}, env=env)
    assert loaded.settings.log_dir == Path("/from/file")
    assert loaded.sources["log_dir"] == conf
    assert loaded.settings.operator == "flag-op"
    assert loaded.sources["operator"] == "command line"
    assert loaded.settings.read_only is True
    assert loaded.sources["read_only"] == "env MAILCONSOLE_READ_ONLY"
    assert loaded.settings.refresh_interval == 2.0


def test_read_only_on_in_the_file_is_not_turned_off_by_the_environment(tmp_path: Path) -> None:
    """An on-call settings file says read_only = true: MAILCONSOLE_READ_ONLY=0 (or false, no) in
    the environment must not turn the guard rail off."""
    conf = write(tmp_path / "mc.toml", "read_only = true\n")
    for off in ("0", "false", "no"):
        loaded = load_settings(conf, {"read_only": None}, env={"MAILCONSOLE_READ_ONLY": off})
        assert loaded.settings.read_only is True
        assert loaded.sources["read_only"] == conf
    off_file = write(tmp_path / "off.toml", "read_only = false\n")
    loaded = load_settings(off_file, env={"MAILCONSOLE_READ_ONLY": "0"})
    assert loaded.settings.read_only is False


def test_config_file_from_env_variable(tmp_path: Path) -> None:
    conf = write(tmp_path / "mc.toml", 'spool_dir = "/x"\n')
    loaded = load_settings(env={"MAILCONSOLE_CONFIG": conf})
    assert loaded.settings.spool_dir == Path("/x")
    assert loaded.config_file == Path(conf)


def test_serverurl_and_credentials_come_from_supervisord_conf(tmp_path: Path) -> None:
    sv = write(
        tmp_path / "supervisord.conf",
        "[supervisorctl]\nserverurl=unix:///tmp/x.sock ; comment\nusername=u\npassword=p\n",
    )
    loaded = load_settings(env={}, overrides={"supervisor_config": sv})
    assert loaded.settings.supervisor_url == "unix:///tmp/x.sock"
    assert (loaded.settings.supervisor_username, loaded.settings.supervisor_password) == ("u", "p")
    assert "[supervisorctl]" in loaded.sources["supervisor_url"]
    # an explicit URL wins over the file
    loaded = load_settings(
        env={"MAILCONSOLE_SUPERVISOR_URL": "http://127.0.0.1:9001"},
        overrides={"supervisor_config": sv},
    )
    assert loaded.settings.supervisor_url == "http://127.0.0.1:9001"


@pytest.mark.parametrize(
    "text, message",
    [
        ("bogus = 1\n", r"unknown key 'bogus' \(expected one of: supervisor_config,"),
        (
            'refresh_interval = "fast"\n',
            r"key 'refresh_interval': expected a positive number, got 'fast'",
        ),
        ("read_only = 1\n", r"key 'read_only': expected true or false, got 1"),
        ("smtpctl = []\n", r"key 'smtpctl': expected a non-empty list of strings"),
        ("log_dir = 5\n", r"key 'log_dir': expected a path \(string\), got 5"),
        ("jobs = { x = 1 }\n", r"key 'jobs': job 'x': expected an argv list or a table with argv"),
        ('jobs = { x = "certbot renew" }\n', r"job 'x': expected an argv list"),
        ("[jobs.x]\nargv = []\n", r"job 'x': argv must be a non-empty list of strings"),
        ('[jobs.x]\nargv = ["a"]\ntimeout = -1\n', r"job 'x': timeout must be a positive number"),
        (
            '[jobs.x]\nargv = ["a"]\nthen = ["reboot now"]\n',
            r"then step 'reboot now' must start with",
        ),
        (
            '[jobs.x]\nargv = ["a"]\nthen = ["signal dovecot"]\n',
            r"must read 'signal PROGRAM SIGNAL'",
        ),
        ('[jobs.x]\nargv = ["a"]\nok_codes = ["0"]\n', r"ok_codes must be a list of exit codes"),
        ('[jobs.x]\nargv = ["a"]\n[jobs.x.exit_codes]\nzero = "ok"\n', r"exit_codes key 'zero'"),
        ('[jobs.x]\nargv = ["a"]\nshell = true\n', r"job 'x': unknown key 'shell'"),
        ("[[nope\n", r"not valid TOML"),
        (
            'supervisor_url = "ftp://x"\n',
            r"key 'supervisor_url': expected a unix:// or http:// URL",
        ),
    ],
)
def test_bad_file_is_one_line_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    conf = write(tmp_path / "mc.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_settings(conf, env={})
    assert str(caught.value).startswith(conf + ": ")
    assert re.search(message, str(caught.value))
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_missing_file_and_bad_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such settings file \(given by --config\)"):
        load_settings(str(tmp_path / "absent.toml"), env={})
    with pytest.raises(ConfigError, match="MAILCONSOLE_CONFIG"):
        load_settings(env={"MAILCONSOLE_CONFIG": str(tmp_path / "absent.toml")})
    with pytest.raises(ConfigError, match="MAILCONSOLE_READ_ONLY: expected 1/0"):
        load_settings(env={"MAILCONSOLE_READ_ONLY": "maybe"})


def test_env_lists_are_shell_words() -> None:
    loaded = load_settings(env={"MAILCONSOLE_SMTPCTL": "docker exec 'my mail' smtpctl"})
    assert loaded.settings.smtpctl == ["docker", "exec", "my mail", "smtpctl"]


def test_render_effective_names_every_field_and_hides_password() -> None:
    loaded = load_settings(env={"MAILCONSOLE_SUPERVISOR_PASSWORD": "hunter2"})
    text = render_effective(loaded)
    for name in FIELDS:
        if name != "jobs":
            assert re.search(rf"^{name} = ", text, re.M), name
    assert "hunter2" not in text
    rendered = tomllib.loads(text.split("# jobs: ", 1)[1].split("\n", 1)[1])
    assert rendered["jobs"] == {name: spec.as_toml_data() for name, spec in Settings().jobs.items()}
    assert "env MAILCONSOLE_SUPERVISOR_PASSWORD" in text


def test_every_field_has_a_docstring() -> None:
    docs = field_docs()
    assert set(docs) == set(FIELDS)
    assert all(docs.values())


def test_sample_documents_every_field_with_its_default() -> None:
    """config_samples/mailconsole.toml: each field's docstring, then its default, commented out."""
    text = SAMPLE.read_text(encoding="utf-8")
    docs = field_docs()
    defaults = Settings()
    setting = re.compile(r'^# (\[[\w.-]+\]|"?[\w-]+"? = .*)$')
    uncommented = "\n".join(line[2:] for line in text.splitlines() if setting.match(line))
    parsed = tomllib.loads(uncommented)
    for name in FIELDS:
        assert f"# {docs[name]}" in text, f"docstring of {name} missing from the sample"
        assert name in parsed, f"{name} missing from the sample"
        value = getattr(defaults, name)
        if name == "jobs":
            value = {job: spec.as_toml_data() for job, spec in value.items()}
        assert str(parsed[name]) == str(value) if isinstance(value, Path) else parsed[name] == value


def test_jobs_short_form_keeps_a_known_jobs_meaning_and_table_form_sets_everything(
    tmp_path: Path,
) -> None:
    conf = write(
        tmp_path / "mc.toml",
        """\
[jobs]
sa-update = ["sa-update", "--updatedir", "/x"]
hello = ["echo", "hi"]

[jobs.renew]
argv = ["certbot", "renew"]
description = "Renew"
timeout = 30
then = ["signal dovecot sighup", "restart spampd"]
ok_codes = [0, 3]
[jobs.renew.exit_codes]
3 = "nothing to renew"
""",
    )
    jobs = load_settings(conf, env={}).settings.jobs
    assert list(jobs) == ["sa-update", "hello", "renew"]
    assert jobs["sa-update"].argv == ("sa-update", "--updatedir", "/x")
    assert jobs["sa-update"].meaning(1) == "no fresh updates were available"
    assert [str(s) for s in jobs["sa-update"].then] == ["restart spampd"]
    assert jobs["hello"].then == () and jobs["hello"].ok_codes == (0,)
    assert jobs["hello"].meaning(0) == "succeeded" and jobs["hello"].meaning(2) == "failed"
    renew = jobs["renew"]
    assert renew.timeout == 30.0 and renew.description == "Renew"
    assert [(s.action, s.program, s.params) for s in renew.then] == [
        ("program.signal", "dovecot", {"signal": "HUP"}),
        ("program.restart", "spampd", {}),
    ]
    assert renew.ok_codes == (0, 3) and renew.meaning(3) == "nothing to renew"


def test_jobs_from_the_environment_are_json() -> None:
    env = {"MAILCONSOLE_JOBS": '{"x": ["true"], "y": {"argv": ["false"], "timeout": 5}}'}
    jobs = load_settings(env=env).settings.jobs
    assert jobs["x"].argv == ("true",) and jobs["y"].timeout == 5.0
    with pytest.raises(ConfigError, match="MAILCONSOLE_JOBS: key 'jobs': job 'x': argv must be"):
        load_settings(env={"MAILCONSOLE_JOBS": '{"x": {"argv": "rm -rf /"}}'})


def test_a_directory_as_settings_file_is_said(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(str(tmp_path), env={})
    assert (
        str(caught.value) == f"{tmp_path}: is a directory, not a settings file (given by --config)"
    )
    with pytest.raises(
        ConfigError, match=r"is a directory, not a settings file \(given by MAILCONSOLE_CONFIG\)"
    ):
        load_settings(env={"MAILCONSOLE_CONFIG": str(tmp_path)})


@pytest.mark.parametrize("where", ["file", "env", "flag"])
def test_a_missing_or_directory_supervisor_config_is_said(tmp_path: Path, where: str) -> None:
    """Given but unusable, it is one line naming where it was given (only the default may be absent)."""
    for bad, problem in (
        (tmp_path / "none.conf", "no such supervisord config file"),
        (tmp_path, "a directory, not supervisord's config file"),
    ):
        config, env, overrides = None, {}, {}
        if where == "file":
            config = write(tmp_path / "mc.toml", f'supervisor_config = "{bad}"\n')
            source = config
        elif where == "env":
            env = {"MAILCONSOLE_SUPERVISOR_CONFIG": str(bad)}
            source = "env MAILCONSOLE_SUPERVISOR_CONFIG"
        else:
            overrides = {"supervisor_config": str(bad)}
            source = "command line"
        with pytest.raises(ConfigError) as caught:
            load_settings(config, overrides, env=env)
        assert str(caught.value) == f"{source}: key 'supervisor_config': {bad}: {problem}"
        assert caught.value.exit_code == 2


def test_a_directory_on_the_search_path_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker run -v /host/missing.toml:/mail/config/mailconsole.toml` makes a directory there."""
    from console import settings as settings_module

    monkeypatch.setattr(settings_module, "CONFIG_SEARCH_PATH", (tmp_path / "absent.toml", tmp_path))
    with pytest.raises(ConfigError) as caught:
        load_settings(env={})
    assert (
        str(caught.value)
        == f"{tmp_path}: is a directory, not a settings file (given by the search path)"
    )
