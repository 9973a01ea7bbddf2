"""Saving fdm.conf: validation blocks, backups, owner and mode kept, and no failure loses the old file."""

from __future__ import annotations

import os
import resource
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from console import files as files_module
from console.actions import ACTIONS, dispatch
from console.errors import ActionFailed, ReadOnlyRefused
from console.fdm.save import backups, file_token, load, revert, save, validate, write_atomically
from console.settings import Settings

OLD = 'account "stdin" stdin\naction "in" maildir "/m"\nmatch all action "in"\n'
NEW = 'account "stdin" stdin\naction "in" maildir "/n"\nmatch all action "in"\n'
FDM_INSTALLED = shutil.which("/usr/bin/fdm") is not None


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "fdm.conf"
    path.write_text(OLD)
    path.chmod(0o640)
    return path


def test_save_writes_keeps_a_backup_and_the_mode(conf: Path) -> None:
    loaded = load(conf)
    saved, _verdict = save(conf, NEW, loaded.token, fdm=None)
    assert conf.read_text() == NEW and oct(conf.stat().st_mode & 0o777) == "0o640"
    assert saved.backup is not None and saved.backup.read_text() == OLD
    assert backups(conf) == [saved.backup]
    assert [p.name for p in conf.parent.iterdir() if p.name.startswith(".")] == []


def test_errors_block_and_warnings_need_confirmation(conf: Path) -> None:
    token = file_token(conf)
    with pytest.raises(ActionFailed, match="not defined"):
        save(conf, OLD.replace('action "in"\n', 'action "nope"\n'), token, fdm=None)
    with pytest.raises(ActionFailed, match="warning"):
        save(conf, OLD + 'action "unused" drop\n', token, fdm=None)
    assert conf.read_text() == OLD
    save(conf, OLD + 'action "unused" drop\n', token, fdm=None, allow_warnings=True)
    assert "unused" in conf.read_text()


@pytest.mark.skipif(not FDM_INSTALLED, reason="the real fdm is not installed")
def test_fdm_n_error_is_shown_at_its_line(conf: Path) -> None:
    verdict = validate('account "stdin" stdin\nmatch "(" action drop\n', conf, fdm="/usr/bin/fdm")
    assert verdict.fdm_checked and verdict.fdm_line == 2 and "Unmatched" in verdict.fdm_error
    assert str(conf) not in verdict.fdm_error


def test_changed_on_disk_refuses_unless_forced(conf: Path) -> None:
    token = file_token(conf)
    conf.write_text(OLD + "# edited elsewhere\n")
    with pytest.raises(ActionFailed, match="changed on disk"):
        write_atomically(conf, NEW, token)
    assert conf.read_text().endswith("# edited elsewhere\n")
    write_atomically(conf, NEW, token, force=True)
    assert conf.read_text() == NEW


@pytest.mark.parametrize("step", ["backup", "write", "fsync", "fchmod", "replace", "fsync_dir"])
def test_a_failure_at_any_step_leaves_the_old_file_byte_for_byte(
    conf: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    before = conf.read_bytes()
    token = file_token(conf)
    calls = {"n": 0}

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if step == "backup":
        real = files_module._write_copy

        def first_fails(target: Path, data: bytes, like: object) -> None:
            if "backup" in target.name:
                boom()
            real(target, data, like)  # type: ignore[arg-type]

        monkeypatch.setattr(files_module, "_write_copy", first_fails)
    elif step == "write":
        real_write = os.write

        def write_fails(fd: int, data: bytes) -> int:
            calls["n"] += 1
            if calls["n"] == 2:
                boom()
            return real_write(fd, data)

        monkeypatch.setattr(files_module.os, "write", write_fails)
    elif step == "fsync":
        monkeypatch.setattr(files_module.os, "fsync", boom)
    elif step == "fchmod":
        monkeypatch.setattr(files_module.os, "fchmod", boom)
    elif step == "replace":
        monkeypatch.setattr(files_module.os, "replace", boom)
    else:
        monkeypatch.setattr(files_module, "fsync_directory", boom)
    if step == "fsync_dir":
        # The rename happened; only the directory sync failed: the new file is complete.
        with pytest.raises(ActionFailed, match="was saved, but syncing its directory failed"):
            write_atomically(conf, NEW, token)
        assert conf.read_text() == NEW
        assert [p.read_bytes() for p in backups(conf)] == [before]
    else:
        with pytest.raises(ActionFailed, match="not saved"):
            write_atomically(conf, NEW, token)
        assert conf.read_bytes() == before
        assert backups(conf) == []  # a failed save keeps no second copy of the old file
    assert [p.name for p in conf.parent.iterdir() if p.name.startswith(".")] == []


def test_revert_puts_a_backup_back_and_backs_up_the_current(conf: Path) -> None:
    saved, _ = save(conf, NEW, file_token(conf), fdm=None, now=1_000_000_000)
    assert saved.backup is not None
    reverted, _ = revert(conf, saved.backup, file_token(conf), fdm=None)
    assert conf.read_text() == OLD and reverted.backup is not None
    assert reverted.backup.read_text() == NEW
    with pytest.raises(ActionFailed, match="not a backup"):
        revert(conf, conf.parent / "elsewhere.bak", file_token(conf))


def test_a_linked_fdm_conf_is_saved_and_reverted_through_its_link(
    conf: Path, tmp_path: Path
) -> None:
    """/mail/config/fdm.conf a link into a volume: save and revert change the file it names, the
    link stays, and a backup given by a path with `..` in it is not taken for one."""
    link = tmp_path / "config" / "fdm.conf"
    link.parent.mkdir()
    link.symlink_to(conf)
    saved, _ = save(link, NEW, file_token(link), fdm=None, now=1_000_000_000)
    assert link.is_symlink() and conf.read_text() == NEW
    assert saved.backup is not None and backups(link) == [saved.backup]
    with pytest.raises(ActionFailed, match="not a backup"):
        revert(link, link.parent / ".." / saved.backup.name, file_token(link), fdm=None)
    revert(link, saved.backup, file_token(link), fdm=None)
    assert link.is_symlink() and conf.read_text() == OLD


def test_actions_are_declared_dangerous_and_refused_read_only(conf: Path, tmp_path: Path) -> None:
    assert ACTIONS["fdm.save"].dangerous and ACTIONS["fdm.revert"].dangerous
    settings = Settings(
        fdm_config=conf,
        read_only=True,
        audit_log=tmp_path / "audit.log",
        table_addrs=tmp_path / "none",
        table_vusers=tmp_path / "none",
        table_vdomains=tmp_path / "none",
        table_userdb=tmp_path / "none",
    )
    with pytest.raises(ReadOnlyRefused):
        dispatch(settings, "fdm.save", str(conf), {"text": NEW, "token": str(file_token(conf))})
    assert conf.read_text() == OLD
    writable = Settings(
        fdm_config=conf,
        read_only=False,
        audit_log=tmp_path / "audit.log",
        table_addrs=tmp_path / "none",
        table_vusers=tmp_path / "none",
        table_vdomains=tmp_path / "none",
        table_userdb=tmp_path / "none",
    )
    message = dispatch(writable, "fdm.save", "", {"text": NEW, "token": str(file_token(conf))})
    assert "saved" in message and conf.read_text() == NEW
    assert "fdm.save" in (tmp_path / "audit.log").read_text()


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Inside, no file may grow past `limit` bytes: writes beyond fail with EFBIG, as on a full disk."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_backup_that_cannot_be_written_whole_is_not_left_behind(conf: Path) -> None:
    """The disk fills while the backup is written: no partial backup exists, the file is as it was."""
    before = conf.read_bytes()
    with file_size_limit(10), pytest.raises(ActionFailed, match="not saved .*File too large"):
        save(conf, NEW, file_token(conf), fdm=None)
    assert conf.read_bytes() == before
    assert backups(conf) == []
    assert sorted(p.name for p in conf.parent.iterdir()) == ["fdm.conf"]


def test_a_failed_save_removes_its_backup(conf: Path) -> None:
    """The backup fits, the new text does not: the save fails and leaves no backup of it."""
    before = conf.read_bytes()
    longer = NEW + "# a longer version\n" * 10
    with file_size_limit(len(before)), pytest.raises(ActionFailed, match="not saved"):
        save(conf, longer, file_token(conf), fdm=None)
    assert conf.read_bytes() == before
    assert sorted(p.name for p in conf.parent.iterdir()) == ["fdm.conf"]


def test_revert_is_validated_like_a_save(conf: Path) -> None:
    """Errors block a revert (an empty backup loses every message), warnings need confirming."""
    empty = conf.with_name("fdm.conf.20240101-000000.bak")
    empty.write_bytes(b"")
    warned = conf.with_name("fdm.conf.20240102-000000.bak")
    warned.write_text(OLD + 'action "unused" drop\n')
    with pytest.raises(ActionFailed, match=r"not reverted: line 1: no account is named 'stdin'"):
        revert(conf, empty, file_token(conf), fdm=None)
    with pytest.raises(ActionFailed, match=r"not reverted: 1 warning\(s\) to confirm"):
        revert(conf, warned, file_token(conf), fdm=None)
    assert conf.read_text() == OLD and backups(conf) == [warned, empty]
    _saved, verdict = revert(conf, warned, file_token(conf), fdm=None, allow_warnings=True)
    assert conf.read_text() == warned.read_text() and len(verdict.warnings) == 1


def test_the_revert_action_refuses_an_empty_backup(conf: Path, tmp_path: Path) -> None:
    empty = conf.with_name("fdm.conf.20240101-000000.bak")
    empty.write_bytes(b"")
    settings = Settings(
        fdm_config=conf,
        audit_log=tmp_path / "audit.log",
        table_addrs=tmp_path / "none",
        table_vusers=tmp_path / "none",
        table_vdomains=tmp_path / "none",
        table_userdb=tmp_path / "none",
    )
    with pytest.raises(ActionFailed, match="not reverted"):
        dispatch(
            settings,
            "fdm.revert",
            str(conf),
            {"backup": str(empty), "token": str(file_token(conf))},
        )
    assert conf.read_text() == OLD
