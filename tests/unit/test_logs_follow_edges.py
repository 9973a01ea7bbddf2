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
from console.logs.follow import READ_CHUNK, FollowedLog, NewLines, Rotation
from console.logs.index import MAX_LINE_BYTES

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


def texts(log: FollowedLog) -> list[str]:
    """The file lines of the view, markers left out."""
    return [line.text for line in map(log.line, range(len(log))) if not line.marker]


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as out:
        out.write(data)


@pytest.mark.parametrize("scan", ["at once", "when asked"])
def test_a_large_file_is_indexed_backwards_at_once_or_when_asked(tmp_path: Path, scan: str) -> None:
    """Opening indexes the last block only; the rest is indexed in the background, at once by
    default, or from `start_scan` (the Logs screen starts it once its first frame is drawn)."""
    path = tmp_path / "smtpd.log"
    path.write_bytes(lines(30_000))  # about 260 KB: several blocks
    log = FollowedLog(path) if scan == "at once" else FollowedLog(path, scan=False)
    try:
        if scan == "when asked":
            assert not log.index.wait_scanned(0)  # nothing indexes the start yet
            assert 0 < len(log) < 30_000
            assert log.view_line(0, 0) is None  # the first line is not indexed yet
            log.start_scan()
        assert log.index.wait_scanned(0)
        assert len(log) == log.prepended == 30_000  # every line added at the top by the scan
        assert log.view_line(0, 0) == 0
        assert [log.line(0).text, log.line(29_999).text] == ["line 0", "line 29999"]
    finally:
        log.close()


def test_locate_gives_a_line_start_and_for_a_marker_or_past_the_end_a_segment_end(
    tmp_path: Path,
) -> None:
    """A search starts from where `locate` says: the start of the line, so that a match in the line
    itself is found in either direction."""
    path = tmp_path / "smtpd.log"
    path.write_bytes(b"first\nsecond\n")
    log = followed(path)
    try:
        os.rename(path, tmp_path / "smtpd.log.1")
        path.write_bytes(b"third\n")
        log.poll()
        assert [line.marker for line in map(log.line, range(len(log)))] == [0, 0, 1, 0]
        assert [log.locate(n) for n in range(len(log))] == [(0, 0), (0, 6), (0, 13), (1, 0)]
        assert log.locate(len(log)) == log.locate(len(log) + 10) == (1, 6)
    finally:
        log.close()


def test_one_poll_reads_at_most_max_bytes_and_the_next_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "smtpd.log"
    path.write_bytes(b"")
    log = followed(path)
    try:
        append(path, lines(10))  # 7 bytes a line
        assert log.poll(max_bytes=21) == [NewLines(["line 0", "line 1", "line 2"])]
        assert log.poll(max_bytes=10) == [NewLines(["line 3"])]  # and 3 bytes of line 4
        assert log.poll() == [NewLines([f"line {n}" for n in range(4, 10)])]
    finally:
        log.close()


def test_a_renamed_file_is_read_to_its_end_before_the_marker_whatever_the_bound(
    tmp_path: Path,
) -> None:
    """The lines a rotated file held when the rotation was seen come before its marker, even when
    they are more than one poll reads."""
    path = tmp_path / "smtpd.log"
    path.write_bytes(b"")
    log = followed(path)
    try:
        append(path, lines(10))
        os.rename(path, tmp_path / "smtpd.log.1")
        path.write_bytes(b"new\n")
        events = log.poll(max_bytes=7)
        assert [type(e) for e in events] == [NewLines, Rotation, NewLines]
        assert events[0] == NewLines([f"line {n}" for n in range(10)])
        assert events[2] == NewLines(["new"])
    finally:
        log.close()


def test_copytruncate_of_a_small_file_is_found_after_lines_were_appended(tmp_path: Path) -> None:
    """The bytes that identify the copy are the last ones read, also when the file is shorter than
    they usually are."""
    path = tmp_path / "smtpd.log"
    path.write_bytes(b"one\n")
    log = followed(path)
    try:
        append(path, b"two\n")
        assert log.poll() == [NewLines(["two"])]
        shutil.copyfile(path, tmp_path / "smtpd.log.1")
        os.truncate(path, 0)
        append(path, b"3\n")
        [rotation] = rotations(log.poll())
        assert rotation.text.endswith("(copytruncate), lines above now in smtpd.log.1 ──")
        assert texts(log) == ["one", "two", "3"]
    finally:
        log.close()


def rotated_for_good(tmp_path: Path) -> tuple[FollowedLog, Path, Path]:
    """A log renamed away (logrotate's `create`) whose writer may write on to it for an hour."""
    path = tmp_path / "dovecot.log"
    path.write_bytes(b"a\n")
    log = FollowedLog(path, scan=False, late_quiet=3600)
    old = tmp_path / "dovecot.log.1"
    os.rename(path, old)
    path.write_bytes(b"")
    assert [type(e) for e in log.poll()] == [Rotation]
    return log, path, old


def test_late_and_new_lines_alternating_each_keep_their_file_order(tmp_path: Path) -> None:
    log, path, old = rotated_for_good(tmp_path)
    try:
        assert log.poll() == []  # nothing late yet: the old file is still read on
        for n in range(3):
            append(old, b"late %d\n" % n)
            append(path, b"new %d\n" % n)
            assert log.poll() == [NewLines([f"late {n}"]), NewLines([f"new {n}"])]
        assert texts(log) == ["a"] + [f"{kind} {n}" for n in range(3) for kind in ("late", "new")]
    finally:
        log.close()


def test_a_late_line_is_shown_once_whole(tmp_path: Path) -> None:
    log, path, old = rotated_for_good(tmp_path)
    try:
        append(old, b"l1\npa")
        assert log.poll(max_bytes=5) == [NewLines(["l1"])]
        append(old, b"rt")
        assert log.poll() == []
        append(old, b"ial\n")
        assert log.poll() == [NewLines(["partial"])]
        assert texts(log) == ["a", "l1", "partial"]
    finally:
        log.close()


def test_while_a_renamed_file_is_read_on_the_new_one_gives_whole_lines(tmp_path: Path) -> None:
    """Either file's lines may come next, so each gives whole lines only; a line longer than one
    read still arrives (in pieces that make one line)."""
    log, path, old = rotated_for_good(tmp_path)
    try:
        append(path, b"x\npar")
        assert log.poll() == [NewLines(["x"])]
        append(old, b"late\n")
        assert log.poll() == [NewLines(["late"])]
        append(path, b"tial\n")
        assert log.poll() == [NewLines(["partial"])]
        assert texts(log) == ["a", "x", "late", "partial"]
        append(path, b"L" * (2 * READ_CHUNK) + b"\n")
        truncated = f"{'L' * MAX_LINE_BYTES} … [line truncated: {2 * READ_CHUNK:,} bytes]"
        assert log.poll() == [NewLines([truncated])]
        assert texts(log)[-1] == truncated
    finally:
        log.close()


def test_the_line_cap_at_its_boundary(tmp_path: Path) -> None:
    """A line of exactly MAX_LINE_BYTES is whole; one byte more is cut there and says so, whether it
    arrived in one read, in two, or was the unterminated last line when the file was opened."""
    cap = MAX_LINE_BYTES
    path = tmp_path / "smtpd.log"
    path.write_bytes(b"head\n" + b"A" * (cap - 1) + b"B" * 5)
    log = followed(path)
    try:
        append(path, b"C\n")
        assert log.poll() == [NewLines(["A" * (cap - 1) + "B … [line truncated: 8,197 bytes]"])]
        append(path, b"first\n" + b"E" * cap + b"\n" + b"O" * (cap + 1) + b"\n")
        assert log.poll() == [
            NewLines(["first", "E" * cap, "O" * cap + " … [line truncated: 8,193 bytes]"])
        ]
        append(path, b"P" * (cap - 1) + b"Q")
        assert log.poll() == []
        append(path, b"RS\n")
        assert log.poll() == [NewLines(["P" * (cap - 1) + "Q … [line truncated: 8,194 bytes]"])]
    finally:
        log.close()
