"""An account change interrupted by a real full disk: the tables and fdm.conf live on a small tmpfs
filled up to a few free pages, so writing a backup or a new file fails part-way through the change.
Either every file has its new text, or every file is as before, byte for byte, with no backup or
temporary file left. Needs root (mount); skipped otherwise, but failed when CI is set."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.actions import dispatch
from console.errors import ActionFailed
from console.settings import Settings
from tests.unit.test_accounts_check import article_stack, snapshot

PAGE = 4096


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted on tmp_path/disk, unmounted at the end whatever happened."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the full-disk test as root")
        pytest.skip("needs root to mount a tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def fill(disk: Path, free_pages: int) -> None:
    """Leave exactly `free_pages` pages free on the tmpfs."""
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    (disk / "filler").write_bytes(b"\0" * (free - free_pages * PAGE))
    stat = os.statvfs(disk)
    assert stat.f_bavail * stat.f_frsize == free_pages * PAGE


@pytest.mark.parametrize("free_pages", range(0, 7))
def test_a_full_disk_changes_all_files_or_none(
    small_disk: Path, tmp_path: Path, free_pages: int
) -> None:
    settings: Settings = article_stack(small_disk)
    settings.audit_log = tmp_path / "audit.log"  # the audit log is elsewhere: it must be written
    settings.smtpctl = [str(tmp_path / "no-smtpctl")]  # smtpd is not there: a reload fails
    before = snapshot(settings)
    fill(small_disk, free_pages)
    try:
        dispatch(settings, "accounts.add_address", "team@example.com", {"user": "bob"})
    except ActionFailed as exc:
        failed = str(exc)
    else:
        failed = ""
    after = {name: data for name, data in snapshot(settings).items() if name != "filler"}
    if "smtpd did not take" in failed or not failed:
        # everything was written (then smtpd could not be told)
        changed = {name for name in before if after.get(name) != before[name]}
        assert changed == {"db/vusers", "db/addrs", "config/fdm.conf"}
        assert "team@example.com" in after["db/vusers"].decode()
    else:
        assert "No space left on device" in failed and "nothing was changed" in failed
        assert after == before, failed
    assert not [p for p in small_disk.rglob(".*mailconsole*")]


def test_the_smallest_disks_do_interrupt_the_change(small_disk: Path, tmp_path: Path) -> None:
    """With no page free, the first backup cannot be written: the change fails and says why."""
    settings = article_stack(small_disk)
    settings.audit_log = tmp_path / "audit.log"
    before = snapshot(settings)
    fill(small_disk, 0)
    with pytest.raises(ActionFailed, match="No space left on device"):
        dispatch(settings, "accounts.add_address", "team@example.com", {"user": "bob"})
    assert {n: d for n, d in snapshot(settings).items() if n != "filler"} == before
