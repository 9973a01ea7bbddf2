"""The follower's markers, its one-sentence errors, and how it finds logrotate's copy among
neighbours that are not it (another file with the same bytes, a compressed generation, a broken link)."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import socket
from collections.abc import Sequence
from pathlib import Path

import pytest

from console.errors import UserError
from console.logs.follow import FollowedLog, NewLines, Rotation

STAMP = r"\d\d:\d\d:\d\d"


def lines(n: int, start: int = 0) -> bytes:
    return b"".join(b"line %d\n" % i for i in range(start, start + n))


def followed(path: Path) -> FollowedLog:
    log = FollowedLog(path, scan=False)
    log.poll()
    return log


def rotations(events: Sequence[object]) -> list[Rotation]:
    return [e for e in events if isinstance(e, Rotation)]


def test_each_marker_names_the_rotation_and_its_time(tmp_path: Path) -> None:
    path = tmp_path / "smtpd.log"
    path.write_bytes(lines(2))
    log = followed(path)
    try:
        os.rename(path, tmp_path / "smtpd.log.1")
        path.write_bytes(lines(1, start=2))
        [renamed] = rotations(log.poll())
        assert re.fullmatch(
            f"── smtpd.log rotated {STAMP}, lines above now in smtpd.log.1 ──", renamed.text
        ), renamed
        path.unlink()
        path.write_bytes(lines(1, start=3))
        [recreated] = rotations(log.poll())
        assert re.fullmatch(f"── smtpd.log deleted and recreated {STAMP} ──", recreated.text)
        os.truncate(path, 0)
        [truncated] = rotations(log.poll())
        assert re.fullmatch(
            f"── smtpd.log truncated {STAMP}, lines above are gone ──", truncated.text
        )
    finally:
        log.close()


def test_copytruncate_finds_its_copy_among_look_alikes(tmp_path: Path) -> None:
    path = tmp_path / "smtpd.log"
    path.write_bytes(lines(4))
    log = followed(path)
    try:
        (tmp_path / "backup-smtpd.log").write_bytes(lines(4))  # same bytes, another name
        (tmp_path / "smtpd.log-20231114.gz").write_bytes(gzip.compress(lines(4)))
        os.symlink("smtpd.log.0", tmp_path / "smtpd.log.0")  # cannot be opened
        shutil.copyfile(path, tmp_path / "smtpd.log.1")  # nothing new: same size
        os.truncate(path, 0)
        with path.open("ab") as out:
            out.write(lines(1, start=10))
        events = log.poll()
        [rotation] = rotations(events)
        assert re.fullmatch(
            f"── smtpd.log truncated {STAMP} \\(copytruncate\\), lines above now in smtpd.log.1 ──",
            rotation.text,
        ), rotation
        assert [log.line(n).text for n in range(len(log))] == [
            "line 0",
            "line 1",
            "line 2",
            "line 3",
            rotation.text,
            "line 10",
        ]
    finally:
        log.close()


@pytest.mark.parametrize("rotate", ["recreate", "truncate"])
def test_a_partial_last_line_is_shown_once_its_file_is_left(tmp_path: Path, rotate: str) -> None:
    """An unterminated last line is kept back while the writer may finish it; once the file is
    rotated away and quiet (at once here), or truncated, it is shown as it is."""
    path = tmp_path / "smtpd.log"
    path.write_bytes(b"whole\nhalf a li")
    log = FollowedLog(path, scan=False, late_quiet=0.0)
    try:
        events = log.poll()
        assert events == []
        if rotate == "recreate":
            path.unlink()
        else:
            os.truncate(path, 0)
        with path.open("ab") as out:
            out.write(b"new\n")
        events += log.poll() + log.poll()
        texts = [line for e in events if isinstance(e, NewLines) for line in e.lines]
        assert sorted(texts) == ["half a li", "new"]
        shown = [log.line(n).text for n in range(len(log))]
        assert shown.count("new") == 1
        assert ("half a li" in shown) is (rotate == "recreate")  # a truncated file's lines are gone
    finally:
        log.close()


def test_a_name_that_cannot_be_read_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "smtpd.log"
    path.write_bytes(lines(1))
    log = followed(path)
    try:
        path.unlink()
        os.symlink(path.name, path)  # a link to itself
        with pytest.raises(UserError) as caught:
            log.poll()
        assert str(caught.value) == f"cannot read {path}: Too many levels of symbolic links."
    finally:
        log.close()


def test_a_name_that_cannot_be_opened_is_one_sentence(tmp_path: Path) -> None:
    """A socket where the log was: it can be looked at, not opened."""
    path = tmp_path / "smtpd.log"
    path.write_bytes(lines(1))
    log = followed(path)
    server = socket.socket(socket.AF_UNIX)
    try:
        path.unlink()
        server.bind(str(path))
        with pytest.raises(UserError) as caught:
            log.poll()
        assert str(caught.value) == f"cannot open {path}: No such device or address."
    finally:
        server.close()
        log.close()
