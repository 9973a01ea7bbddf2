"""console/files.py on its own: the file token, backup names, and what an atomic write leaves behind."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console import files
from console.errors import ActionFailed, UserError
from console.files import FileToken, backups, file_token, write_atomically
from tests.helpers import planted_link

NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Backup names carry local time: pin it to UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def hidden(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".")]


def test_a_token_round_trips_and_a_malformed_one_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "fdm.conf"
    path.write_bytes(b"match all action drop\n")
    token = file_token(path)
    assert token is not None and token.size == 22 and token.mtime_ns == path.stat().st_mtime_ns
    assert str(token) == f"{token.mtime_ns}:22:{token.sha256}"
    assert FileToken.parse(str(token)) == token
    for bad in ("", "1:2", "a:2:x", "1:2:3:4"):
        with pytest.raises(UserError) as caught:
            FileToken.parse(bad)
        assert str(caught.value) == f"not a file token: {bad!r}"


def test_a_token_changes_with_the_content_even_at_the_same_size_and_time(tmp_path: Path) -> None:
    path = tmp_path / "fdm.conf"
    path.write_bytes(b"aaaa\n")
    first = file_token(path)
    stat = path.stat()
    path.write_bytes(b"bbbb\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file_token(path) != first


def test_a_missing_file_has_no_token_and_an_unreadable_one_is_one_sentence(tmp_path: Path) -> None:
    assert file_token(tmp_path / "absent") is None
    with pytest.raises(UserError) as caught:
        file_token(tmp_path)
    assert str(caught.value) == f"cannot read {tmp_path}: Is a directory"


def test_backups_are_only_the_timestamped_copies_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "fdm.conf"
    names = [
        "fdm.conf.20240101-000000.bak",
        "fdm.conf.20240101-000000-1.bak",
        "fdm.conf.20250102-030405.bak",
        "fdm.conf.2024-01-01.bak",
        "fdm.conf.old.bak",
        "fdm.conf.20240101-000000.bak~",
        "other.conf.20240101-000000.bak",
        "xfdm.conf.20240101-000000.bak",
    ]
    for name in names:
        (tmp_path / name).write_text("x")
    assert [p.name for p in backups(path)] == [
        "fdm.conf.20250102-030405.bak",
        "fdm.conf.20240101-000000.bak",
        "fdm.conf.20240101-000000-1.bak",
    ]


@pytest.mark.usefixtures("utc")
def test_backups_are_named_by_the_save_time_with_a_serial_when_taken(tmp_path: Path) -> None:
    path = tmp_path / "fdm.conf"
    path.write_text("v1\n")
    kept = []
    for version in ("v2\n", "v3\n", "v4\n"):
        saved = write_atomically(path, version, file_token(path), now=NOW)
        kept.append(saved.backup.name if saved.backup else None)
    assert kept == [
        "fdm.conf.20231114-221320.bak",
        "fdm.conf.20231114-221320-1.bak",
        "fdm.conf.20231114-221320-2.bak",
    ]
    assert [p.read_text() for p in backups(path)] == ["v1\n", "v3\n", "v2\n"]  # by name
    assert path.read_text() == "v4\n" and hidden(tmp_path) == []


def test_a_new_file_is_written_private_and_has_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "vdomains"
    saved = write_atomically(path, "example.org\n", None)
    assert path.read_text() == "example.org\n"
    assert path.stat().st_mode & 0o7777 == 0o600
    assert saved.backup is None and saved.token == file_token(path) and saved.path == path
    assert backups(path) == [] and hidden(tmp_path) == []


def test_the_new_file_keeps_the_old_mode_and_owner(tmp_path: Path) -> None:
    path = tmp_path / "userdb"
    path.write_text("old\n")
    path.chmod(0o2640)
    if os.geteuid() == 0:
        os.chown(path, 1234, 5678)
    saved = write_atomically(path, "new\n", file_token(path))
    for written in (path, saved.backup):
        assert written is not None
        assert written.stat().st_mode & 0o7777 == 0o2640
        if os.geteuid() == 0:
            assert (written.stat().st_uid, written.stat().st_gid) == (1234, 5678)


def test_a_symbolic_link_is_kept_and_the_file_it_names_is_saved(tmp_path: Path) -> None:
    """A table linked into another directory (a mounted volume): the save replaces the file the link
    names and keeps its backup there; the link stays a link, so the two never part."""
    volume = tmp_path / "volume"
    volume.mkdir()
    real = volume / "vdomains"
    real.write_text("example.com\n")
    db = tmp_path / "db"
    db.mkdir()
    link = db / "vdomains"
    link.symlink_to(real)
    saved = write_atomically(link, "example.com\nexample.org\n", file_token(link))
    assert link.is_symlink() and link.readlink() == real
    assert real.read_text() == "example.com\nexample.org\n"
    assert saved.path == real and saved.backup is not None and saved.backup.parent == volume
    assert saved.backup.read_text() == "example.com\n"
    assert backups(link) == backups(real) == [saved.backup]
    assert sorted(p.name for p in db.iterdir()) == ["vdomains"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a link to another user needs root")
def test_a_symbolic_link_of_another_user_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    """Whoever may write the directory (here user 1234) must not steer root's save to another file."""
    victim = tmp_path / "victim"
    link = tmp_path / "fdm.conf"
    planted_link(link, victim)
    with pytest.raises(
        ActionFailed, match="symbolic link owned by user id 1234, not by root: refused"
    ):
        write_atomically(link, "match all action drop\n", file_token(link))
    assert victim.read_text() == "secret\n" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fdm.conf", "victim"]


def test_a_symbolic_link_loop_is_one_sentence(tmp_path: Path) -> None:
    link = tmp_path / "fdm.conf"
    link.symlink_to(link)
    with pytest.raises(
        UserError, match=f"^{link} is a symbolic link that leads nowhere \\(a loop\\)$"
    ):
        write_atomically(link, "x\n", None, force=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a link to another user needs root")
def test_a_link_of_user_1_is_refused_too(tmp_path: Path) -> None:
    """Only root's links and this process's own are followed (user 1, daemon, is neither)."""
    link = tmp_path / "fdm.conf"
    planted_link(link, tmp_path / "victim", uid=1)
    with pytest.raises(ActionFailed, match="owned by user id 1, not by root"):
        files.followed(link)


def test_a_link_to_a_file_not_made_yet_is_followed_to_it(tmp_path: Path) -> None:
    link = tmp_path / "fdm.conf"
    link.symlink_to(tmp_path / "volume" / "fdm.conf")
    (tmp_path / "volume").mkdir()
    assert files.followed(link) == tmp_path / "volume" / "fdm.conf"
    write_atomically(link, "match all action drop\n", None, force=True)
    assert link.is_symlink() and (tmp_path / "volume" / "fdm.conf").read_text() == (
        "match all action drop\n"
    )


def test_a_large_text_and_undecodable_bytes_are_written_exactly(tmp_path: Path) -> None:
    path = tmp_path / "fdm.conf"
    path.write_bytes(b"")
    text = "".join(f'match "^From:.*user{i}@" action "inbox"\n' for i in range(100_000))
    write_atomically(path, text + "# caf\udce9\n", file_token(path))
    assert path.read_bytes() == text.encode() + b"# caf\xe9\n"


def test_a_change_on_disk_is_refused_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "fdm.conf"
    path.write_text("mine\n")
    with pytest.raises(ActionFailed) as caught:
        write_atomically(path, "new\n", None)
    assert str(caught.value) == (
        f"{path} changed on disk since it was opened; reload it or confirm to overwrite"
    )
    assert path.read_text() == "mine\n" and backups(path) == []
    assert write_atomically(path, "new\n", None, force=True).backup is not None


def test_a_change_while_saving_replaces_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer changes the file after the backup was taken: the save stops, its backup goes."""
    path = tmp_path / "fdm.conf"
    path.write_text("mine\n")
    token = file_token(path)
    real_write_copy = files._write_copy

    def meanwhile(target: Path, data: bytes, like: os.stat_result | None) -> None:
        real_write_copy(target, data, like)
        if "-new-" in target.name:
            path.write_text("theirs\n")

    monkeypatch.setattr(files, "_write_copy", meanwhile)
    with pytest.raises(ActionFailed) as caught:
        write_atomically(path, "new\n", token)
    assert str(caught.value) == f"{path} changed on disk while saving; nothing was replaced"
    assert path.read_text() == "theirs\n" and backups(path) == [] and hidden(tmp_path) == []
    assert write_atomically(path, "new\n", token, force=True).backup is not None
    assert path.read_text() == "new\n"


def test_a_failed_write_names_the_reason(tmp_path: Path) -> None:
    """A name the file system takes, but not with the temporary suffix: the kernel's reason, the old
    file kept, nothing left behind."""
    path = tmp_path / ("f" * 230)
    path.write_text("old\n")
    with pytest.raises(ActionFailed) as caught:
        write_atomically(path, "new\n", file_token(path))
    assert (
        str(caught.value) == f"{path} was not saved (File name too long); the old file is unchanged"
    )
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_failed_directory_sync_says_the_file_was_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fdm.conf"
    path.write_text("old\n")

    def sync_fails(directory: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files, "fsync_directory", sync_fails)
    with pytest.raises(ActionFailed) as caught:
        write_atomically(path, "new\n", file_token(path))
    assert str(caught.value) == (
        f"{path} was saved, but syncing its directory failed (Input/output "
        "error); a crash now may bring back the old file"
    )
    assert path.read_text() == "new\n"


def test_read_regular_reads_a_file_and_names_anything_else(tmp_path: Path) -> None:
    path = tmp_path / "fdm.conf"
    path.write_bytes(b"match all action drop\n\xff")
    assert files.read_regular(path) == b"match all action drop\n\xff"
    assert files.read_regular(str(path)) == b"match all action drop\n\xff"
    with pytest.raises(IsADirectoryError) as directory:
        files.read_regular(tmp_path)
    error = directory.value
    assert (error.errno, error.strerror, error.filename) == (
        errno.EISDIR,
        "it is a directory",
        str(tmp_path),
    )
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    for special in (pipe, Path("/dev/null")):
        with pytest.raises(OSError) as refused:
            files.read_regular(special)
        other = refused.value
        assert type(other) is OSError
        assert (other.errno, other.strerror, other.filename) == (
            errno.EINVAL,
            "not a regular file (a pipe, a device or a socket)",
            str(special),
        )
