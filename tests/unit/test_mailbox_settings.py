"""IMAP settings: plain text and unverified certificates only on loopback, the TLS mode named, the
master user complete; credentials from the environment, a mode-checked file, or a master user; no
password in `mailconsole config` or in any refusal."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from console.errors import ConfigError, UserError
from console.mailbox.credentials import env_var, login_for
from console.settings import LoadedSettings, Settings, load_settings, render_effective
from tests.helpers import MAILCONSOLE

SECRET = "s3cret-that-must-never-show"


def load(tmp_path: Path, text: str) -> LoadedSettings:
    conf = tmp_path / "mc.toml"
    conf.write_text(f'supervisor_config = "{tmp_path / "sv.conf"}"\n{text}', encoding="utf-8")
    (tmp_path / "sv.conf").write_text("[supervisord]\n", encoding="utf-8")
    return load_settings(str(conf), env={})


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('imap_tls = "tls"\n', "imap_tls", "expected one of implicit, starttls, plain"),
        ('imap_host = "mail.example.com"\nimap_tls = "plain"\n', "imap_tls", "only on loopback"),
        (
            'imap_host = "10.0.0.5"\nimap_self_signed = true\n',
            "imap_self_signed",
            "only on loopback",
        ),
        (
            'imap_self_signed = true\nimap_ca_file = "/etc/hostname"\n',
            "imap_self_signed",
            "not both",
        ),
        ('imap_ca_file = "/no/such/ca.pem"\n', "imap_ca_file", "no such file"),
        ("imap_port = 70000\n", "imap_port", "expected a port"),
        ('imap_master_user = "console"\n', "imap_master_user", "go together"),
        ('imap_master_password_file = "/x"\n', "imap_master_password_file", "go together"),
        (
            'imap_master_user = "a*b"\nimap_master_password_file = "/x"\n',
            "imap_master_user",
            "without",
        ),
    ],
)
def test_refused_imap_settings_name_the_key(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    assert f"key '{key}'" in message and words in message and "\n" not in message
    assert str(tmp_path / "mc.toml") in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "::1", "localhost"])
def test_plain_and_self_signed_are_allowed_on_loopback(tmp_path: Path, host: str) -> None:
    loaded = load(tmp_path, f'imap_host = "{host}"\nimap_tls = "plain"\nimap_self_signed = true\n')
    assert loaded.settings.imap_tls == "plain" and loaded.settings.imap_self_signed


def test_starttls_to_a_remote_host_with_a_ca_file(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x", encoding="utf-8")
    loaded = load(
        tmp_path,
        f'imap_host = "mail.example.com"\nimap_tls = "starttls"\n'
        f'imap_ca_file = "{ca}"\nimap_port = 143\n',
    )
    assert (loaded.settings.imap_tls, loaded.settings.imap_port) == ("starttls", 143)
    assert f'imap_ca_file = "{ca}"' in render_effective(loaded)


def secret_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_login_from_env_then_file_then_master(tmp_path: Path) -> None:
    passwords = secret_file(tmp_path / "pw", f"# accounts\nbob:{SECRET}:with:colons\n\ncarol:c\n")
    master = secret_file(tmp_path / "master", "master-secret\n")
    settings = Settings(
        imap_password_file=str(passwords),
        imap_master_user="console",
        imap_master_password_file=str(master),
    )
    from_env = login_for(settings, "bob", env={env_var("bob"): "from-env"})
    assert from_env is not None
    assert (from_env.username, from_env.password, from_env.source) == (
        "bob",
        "from-env",
        "env MAILCONSOLE_PASSWORD_BOB",
    )
    from_file = login_for(settings, "bob", env={})
    assert from_file is not None and from_file.password == f"{SECRET}:with:colons"
    assert SECRET not in repr(from_file)
    by_master = login_for(settings, "dave", env={})
    assert by_master is not None
    assert (by_master.username, by_master.password) == ("dave*console", "master-secret")
    assert login_for(Settings(), "bob", env={}) is None


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_password_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    passwords = secret_file(tmp_path / "pw", f"bob:{SECRET}\n", mode)
    with pytest.raises(UserError) as caught:
        login_for(Settings(imap_password_file=str(passwords)), "bob", env={})
    assert f"mode {mode:04o}" in str(caught.value) and "chmod 600" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_malformed_password_file_line_is_named_without_its_content(tmp_path: Path) -> None:
    passwords = secret_file(tmp_path / "pw", f"bob:x\n{SECRET}\n")
    with pytest.raises(UserError) as caught:
        login_for(Settings(imap_password_file=str(passwords)), "bob", env={})
    assert "line 2" in str(caught.value) and SECRET not in str(caught.value)


def test_mailconsole_config_shows_imap_settings_but_no_password(tmp_path: Path) -> None:
    passwords = secret_file(tmp_path / "pw", f"bob:{SECRET}\n")
    conf = tmp_path / "mc.toml"
    conf.write_text(
        f'imap_port = 143\nimap_tls = "starttls"\nimap_password_file = "{passwords}"\n'
        f'supervisor_config = "{tmp_path / "sv.conf"}"\n',
        encoding="utf-8",
    )
    (tmp_path / "sv.conf").write_text("[supervisord]\n", encoding="utf-8")
    done = subprocess.run(
        [*MAILCONSOLE, "--config", str(conf), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "MAILCONSOLE_PASSWORD_BOB": SECRET},
    )
    assert done.returncode == 0, done.stderr
    assert "imap_port = 143" in done.stdout and 'imap_tls = "starttls"' in done.stdout
    assert f'imap_password_file = "{passwords}"' in done.stdout
    assert SECRET not in done.stdout + done.stderr
