"""SHA-512 crypt hashes for the userdb, made by Dovecot's own `doveadm pw` where it is installed,
else by `openssl passwd -6`. The password goes to either on stdin, never on a command line.

table-passwd (OpenSMTPD) checks the bare `$6$...` hash with crypt(3); Dovecot reads it too. doveadm
prints `{SHA512-CRYPT}$6$...`, so the prefix is removed.
"""

from __future__ import annotations

import shutil
import subprocess

from console.errors import ActionFailed, UserError

SCHEME_PREFIX = "{SHA512-CRYPT}"
MIN_LENGTH = 8
"""Shorter passwords are refused: this one guards a mailbox reachable from the internet."""
MAX_LENGTH = 256
"""Longer ones are refused, as neither hasher takes them whole (measured, Debian 12): `openssl passwd
-6 -stdin` hashes only the first 256 characters, so the password set would not be the one typed;
`doveadm pw` answers its failure hash `*0` from 512 characters on."""


def check_password(password: str) -> None:
    """Refuse a password the userdb cannot hold or that is too short (one sentence, no echo of it)."""
    if len(password) < MIN_LENGTH:
        raise UserError(f"the password is too short (at least {MIN_LENGTH} characters)")
    if len(password) > MAX_LENGTH:
        raise UserError(f"the password is too long (at most {MAX_LENGTH} characters)")
    if any(char in password for char in "\n\r\0"):
        raise UserError("the password cannot contain a line break or a NUL character")


def hash_password(password: str) -> str:
    """A bare SHA-512 crypt hash (`$6$...`) of the password, with a random salt."""
    check_password(password)
    if shutil.which("doveadm"):
        # Two lines: doveadm asks twice. No terminal (new session): it reads stdin, not /dev/tty.
        command = ["doveadm", "pw", "-s", "SHA512-CRYPT"]
        stdin = f"{password}\n{password}\n"
    elif shutil.which("openssl"):
        command = ["openssl", "passwd", "-6", "-stdin"]
        stdin = f"{password}\n"
    else:
        raise ActionFailed("neither doveadm nor openssl is installed: cannot hash the password")
    try:
        done = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            start_new_session=True,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ActionFailed(f"{command[0]} could not hash the password ({exc})") from None
    hashed = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if hashed.startswith(SCHEME_PREFIX):
        hashed = hashed[len(SCHEME_PREFIX) :]
    if done.returncode != 0 or not hashed.startswith("$6$"):
        error = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise ActionFailed(f"{command[0]} could not hash the password: {error}")
    return hashed
