"""SHA-512 crypt hashes made by the real doveadm, else the real openssl, checked by openssl."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from console.accounts.passwords import hash_password
from console.errors import ActionFailed, UserError

PASSWORD = "a-long-enough-password"


def verify(hashed: str, password: str) -> bool:
    """openssl's own SHA-512 crypt of the password with the hash's salt gives the same hash."""
    salt = hashed.split("$")[2]
    again = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", salt, password],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return again == hashed


def only(tmp_path: Path, *programs: str) -> str:
    """A PATH holding only these programs (the real ones, linked)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for program in programs:
        found = shutil.which(program)
        if found is None:
            if os.environ.get("CI"):
                pytest.fail(f"CI must have {program}")
            pytest.skip(f"needs {program}")
        (directory / program).symlink_to(found)
    return str(directory)


@pytest.mark.parametrize(
    "programs", [("doveadm", "openssl"), ("openssl",)], ids=["doveadm", "openssl"]
)
def test_a_bare_sha512_crypt_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, programs: tuple[str, ...]
) -> None:
    openssl = shutil.which("openssl") or "openssl"
    monkeypatch.setenv("PATH", only(tmp_path, *programs))
    hashed = hash_password(PASSWORD)
    monkeypatch.setenv("PATH", str(Path(openssl).parent))
    assert hashed.startswith("$6$") and not hashed.startswith("{")
    assert verify(hashed, PASSWORD) and not verify(hashed, PASSWORD + "x")
    assert hashed != hash_password(PASSWORD)  # a new salt each time


@pytest.mark.parametrize(
    "programs", [("doveadm", "openssl"), ("openssl",)], ids=["doveadm", "openssl"]
)
def test_the_longest_password_allowed_is_hashed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, programs: tuple[str, ...]
) -> None:
    """256 characters, the most both hash whole: openssl hashed only the first 256 of a longer one
    (the password set was not the one typed), doveadm failed from 512 on."""
    openssl = shutil.which("openssl") or "openssl"
    monkeypatch.setenv("PATH", only(tmp_path, *programs))
    longest = "p" * 255 + "!"
    hashed = hash_password(longest)
    monkeypatch.setenv("PATH", str(Path(openssl).parent))
    assert verify(hashed, longest) and not verify(hashed, longest[:-1])


def test_no_hashing_program_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ActionFailed, match="neither doveadm nor openssl"):
        hash_password(PASSWORD)


@pytest.mark.parametrize(
    "bad", ["x7!q", "line\nbreak-password", "nul\0-in-the-password", "x" * 257, "y" * 100_000]
)
def test_passwords_the_userdb_cannot_hold_are_refused_without_echo(bad: str) -> None:
    with pytest.raises(UserError) as caught:
        hash_password(bad)
    assert bad not in str(caught.value)
