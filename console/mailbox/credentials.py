"""How the console logs in to an account over IMAP: MAILCONSOLE_PASSWORD_<ACCOUNT>, a password file,
or a Dovecot master user (`account*master`). Passwords stay in Login.password and are never shown."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from console.errors import UserError
from console.settings import Settings


@dataclass(frozen=True)
class Login:
    """One IMAP login: the user name sent, where the password came from, and the password (not shown)."""

    username: str
    source: str
    password: str = field(repr=False)


def env_var(account: str) -> str:
    """The environment variable that holds an account's password (MAILCONSOLE_PASSWORD_BOB)."""
    return "MAILCONSOLE_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", account.upper())


def read_secret_file(path: Path, key: str) -> str:
    """A secrets file's text, refused (one sentence, never its content) when group or others may read
    or write it, or when it cannot be read."""
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise UserError(
                f"{path} (setting {key}) may be read by group or others (mode "
                f"{stat.S_IMODE(mode):04o}): run chmod 600 {path}"
            )
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {path} (setting {key}): {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} (setting {key}) is not UTF-8 text") from None


def password_file_entries(path: Path) -> dict[str, str]:
    """The `account:password` lines of imap_password_file (blank and `#` lines skipped)."""
    entries = {}
    for number, line in enumerate(read_secret_file(path, "imap_password_file").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        account, sep, password = line.partition(":")
        if not sep or not account.strip():
            raise UserError(f"{path}, line {number}: expected account:password")
        entries[account.strip()] = password
    return entries


def login_for(
    settings: Settings, account: str, env: Mapping[str, str] | None = None
) -> Login | None:
    """The login for `account`, first found of: the environment, the password file, the master user;
    None when the console has none (then the Maildirs on disk are read instead)."""
    env = os.environ if env is None else env
    var = env_var(account)
    if env.get(var):
        return Login(account, f"env {var}", env[var])
    if settings.imap_password_file:
        path = Path(settings.imap_password_file)
        entries = password_file_entries(path)
        if account in entries:
            return Login(account, str(path), entries[account])
    if settings.imap_master_user:
        path = Path(settings.imap_master_password_file)
        lines = read_secret_file(path, "imap_master_password_file").splitlines()
        if not lines or not lines[0]:
            raise UserError(f"{path} (setting imap_master_password_file) is empty")
        return Login(
            f"{account}*{settings.imap_master_user}",
            f"master user {settings.imap_master_user}",
            lines[0],
        )
    return None
