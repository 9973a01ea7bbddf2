"""The follower keeps every line through rotation while a writer appends, with a marker at each one.

A writer thread appends 10,000 numbered lines and rotates the file three times; the test polls
concurrently, so rotations land at arbitrary points between polls. Copytruncate is done the way
logrotate does it, but with the writer held between copy and truncate: lines written in that
window exist in no file and no reader can see them (logrotate's documented race), so "exactly
once" is asserted for the lines that were in the file or its copy. The writer does not rotate
again before the follower has seen the previous rotation and a line after it: a file rotated
away before it was read at all is outside what following a name can promise.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from console.errors import UserError
from console.logs.follow import FollowedLog, NewLines, Rotation, Unavailable

TOTAL = 10_000
ROTATE_AT = (2_500, 5_000, 7_500)


def rename_and_create(path: Path, generation: int) -> None:
    os.rename(path, path.with_name(f"{path.name}.{generation}"))
    path.touch()


def copytruncate(path: Path, generation: int) -> None:
    shutil.copyfile(path, path.with_name(f"{path.name}.{generation}"))
    os.truncate(path, 0)


def delete_and_recreate(path: Path, generation: int) -> None:
    path.unlink()
    path.touch()


class Writer(threading.Thread):
    """Appends numbered lines with O_APPEND, rotating the file with `rotate` at ROTATE_AT."""

    def __init__(self, path: Path, rotate: Callable[[Path, int], None]) -> None:
        super().__init__(daemon=True)
        self.path, self.rotate = path, rotate
        self.rotation_seen = threading.Semaphore(0)

    def run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        for n in range(TOTAL):
            if n in ROTATE_AT:
                if n != ROTATE_AT[0]:
                    self.rotation_seen.acquire()
                os.close(fd)
                self.rotate(self.path, ROTATE_AT.index(n) + 1)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            os.write(fd, f"line {n:05d}\n".encode())
        os.close(fd)


def follow_while_writing(
    path: Path, rotate: Callable[[Path, int], None]
) -> tuple[FollowedLog, list]:
    path.write_text("old 1\nold 2\n")
    log = FollowedLog(path)
    writer = Writer(path, rotate)
    events: list = []
    writer.start()
    waiting_for_line = False
    while writer.is_alive():
        batch = log.poll()
        events.extend(batch)
        for event in batch:
            if isinstance(event, Rotation):
                waiting_for_line = True
            elif isinstance(event, NewLines) and waiting_for_line:
                waiting_for_line = False
                writer.rotation_seen.release()
    writer.join()
    events.extend(log.poll())
    return log, events


@pytest.mark.parametrize(
    ("rotate", "kind"),
    [
        (rename_and_create, "renamed"),
        (copytruncate, "truncated"),
        (delete_and_recreate, "recreated"),
    ],
)
def test_every_line_exactly_once_in_order_with_a_marker_at_each_rotation(tmp_path, rotate, kind):
    log, events = follow_while_writing(tmp_path / "smtpd.log", rotate)
    stream: list[str] = []
    for event in events:
        if isinstance(event, NewLines):
            stream.extend(event.lines)
        elif isinstance(event, Rotation):
            assert event.kind == kind
            stream.append("MARKER")
        else:
            assert isinstance(event, Unavailable)  # between delete and recreate
    expected = [f"line {n:05d}" for n in range(TOTAL)]
    for at in reversed(ROTATE_AT):
        expected.insert(at, "MARKER")
    assert stream == expected

    view = [log.line(i) for i in range(len(log))]
    assert [line.text for line in view if not line.marker] == ["old 1", "old 2"] + [
        f"line {n:05d}" for n in range(TOTAL)
    ]
    assert sum(line.marker for line in view) == len(ROTATE_AT)
    log.close()


def test_copytruncate_finishes_lines_from_the_copy_that_were_not_read_yet(tmp_path):
    path = tmp_path / "dovecot.log"
    path.write_text("a\n")
    log = FollowedLog(path)
    with path.open("a") as f:
        f.write("b\nc\n")
    copytruncate(path, 1)
    path.write_text("d\n")
    events = log.poll()
    assert events[0] == NewLines(["b", "c"])
    assert isinstance(events[1], Rotation) and "dovecot.log.1" in events[1].text
    assert events[2] == NewLines(["d"])
    assert [log.line(i).text for i in range(len(log)) if not log.line(i).marker] == [
        "a",
        "b",
        "c",
        "d",
    ]
    log.close()


def test_truncation_without_a_copy_marks_the_old_lines_unreadable(tmp_path):
    path = tmp_path / "fdm.log"
    path.write_text("first\nsecond\n")
    log = FollowedLog(path)
    path.write_text("fresh\n")  # truncated and rewritten past nothing: shorter than before
    events = log.poll()
    assert [type(e) for e in events] == [Rotation, NewLines]
    assert "gone" in events[0].text
    texts = [log.line(i) for i in range(len(log))]
    assert texts[0].marker and "no longer readable" in texts[0].text
    assert texts[-1].text == "fresh"
    log.close()


def test_truncation_that_regrew_past_the_old_end_is_noticed(tmp_path):
    path = tmp_path / "clamd.log"
    path.write_text("short\n")
    log = FollowedLog(path)
    path.write_text("a much longer first line after truncation\n")
    events = log.poll()
    assert isinstance(events[0], Rotation)
    assert events[1] == NewLines(["a much longer first line after truncation"])
    log.close()


def test_a_removed_file_is_reported_once_and_followed_again_when_it_returns(tmp_path):
    path = tmp_path / "spampd.log"
    path.write_text("one\n")
    log = FollowedLog(path)
    path.unlink()
    removed = Unavailable("spampd.log was removed; waiting for it to reappear")
    assert log.poll() == [removed]
    assert log.poll() == []
    path.write_text("two\n")
    events = log.poll()
    assert isinstance(events[0], Rotation) and events[0].kind == "recreated"
    assert events[1] == NewLines(["two"])
    path.unlink()
    assert log.poll() == [removed]  # said again once it had come back
    log.close()


def test_partial_line_is_emitted_once_complete(tmp_path):
    path = tmp_path / "x.log"
    path.write_text("head\npart")
    log = FollowedLog(path)
    assert log.line(len(log) - 1).text == "part"
    with path.open("a") as f:
        f.write("ial\nnext")
    assert log.poll() == [NewLines(["partial"])]
    assert [log.line(i).text for i in range(len(log))] == ["head", "partial", "next"]
    with path.open("a") as f:
        f.write("\n")
    assert log.poll() == [NewLines(["next"])]
    log.close()


def test_a_huge_line_without_newline_is_truncated_and_memory_stays_bounded(tmp_path):
    path = tmp_path / "x.log"
    path.write_bytes(b"start\n")
    log = FollowedLog(path)
    with path.open("ab") as f:
        for _ in range(10):
            f.write(b"A" * (1 << 20))
            log.poll()
        f.write(b"\nafter\n")
    assert len(log._partial) <= 8 * 1024 + 1
    events = log.poll()
    (batch,) = events
    assert batch.lines[0].startswith("A" * 100)
    assert batch.lines[0].endswith("[line truncated: 10,485,760 bytes]")
    assert len(batch.lines[0]) < 9000
    assert batch.lines[1] == "after"
    line = log.line(1)
    assert line.text.endswith("[line truncated: 10,485,760 bytes]")
    log.close()


def test_invalid_utf8_becomes_replacement_characters(tmp_path):
    path = tmp_path / "x.log"
    path.write_bytes(b"caf\xe9 \xff\xfe ok\n")
    log = FollowedLog(path)
    assert log.line(0).text == "caf\ufffd \ufffd\ufffd ok"
    log.close()


def test_a_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="cannot open .*nope.log: No such file"):
        FollowedLog(tmp_path / "nope.log")


LATE_WRITER = r'''
"""A daemon through logrotate's `create`: the file is renamed and recreated, and the daemon writes on
to the renamed file (while another process already writes to the new one) until it reopens its log.
Lines are numbered across both files; stdout gets the number written in all."""
import os, sys, time
path, flag, buffered = sys.argv[1], sys.argv[2], sys.argv[3] == "buffered"
def opened(name):
    fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    # Buffered like stdio: 4 KiB writes that cut lines anywhere.
    return os.fdopen(fd, "w", buffering=4096 if buffered else 1)
n = 0
def line(out, tag):
    global n
    out.write(f"{tag} {n:06d}\n")
    n += 1
old = opened(path)
for _ in range(1000):
    line(old, "old")
old.flush()
os.rename(path, path + ".1")
new = opened(path)
renamed = time.monotonic()
while not os.path.exists(flag) or time.monotonic() - renamed < 0.3:
    for _ in range(5):
        line(old, "late")
        line(new, "new")
    old.flush(); new.flush()
    time.sleep(0.002)  # the daemons' pace, about 2,500 lines a second each
for _ in range(50):
    line(old, "late")  # written after the reader has shown lines of the new file
old.close()
for _ in range(500):
    line(new, "new")
new.close()
print(n)
'''


@pytest.mark.parametrize("buffered", ["lines", "buffered"])
def test_a_renamed_file_is_read_on_until_quiet_with_its_late_lines_interleaved(tmp_path, buffered):
    """Nothing is lost or repeated when the writer keeps writing to the renamed file for a while."""
    import subprocess
    import sys
    from collections import Counter

    from tests.helpers import wait_for

    path = tmp_path / "smtpd.log"
    path.write_text("")
    flag = tmp_path / "reader-saw-the-new-file"
    log = FollowedLog(path)
    writer = subprocess.Popen(
        [sys.executable, "-c", LATE_WRITER, str(path), str(flag), buffered],
        stdout=subprocess.PIPE,
        text=True,
    )
    events: list = []

    def texts() -> list[str]:
        return [log.line(i).text for i in range(len(log)) if not log.line(i).marker]

    def polled(condition: Callable[[], bool]) -> Callable[[], bool]:
        def check() -> bool:
            events.extend(log.poll())
            return condition()

        return check

    try:
        wait_for(
            polled(lambda: any(t.startswith("new") for t in texts())), what="a line of the new file"
        )
        flag.touch()
        written = int(writer.communicate(timeout=60)[0])
        wait_for(polled(lambda: len(texts()) >= written), what=f"all {written} lines")
    finally:
        writer.kill()
        writer.wait()
    view = texts()
    numbers = [int(t.split()[1]) for t in view]
    assert Counter(numbers) == Counter(range(written)), "lines lost or repeated"
    for tag in ("old", "late", "new"):
        mine = [int(t.split()[1]) for t in view if t.startswith(tag)]
        assert mine == sorted(mine), f"{tag} lines out of order"
    assert not [
        t for t in view if t.split()[0] not in ("old", "late", "new") or len(t.split()) != 2
    ]
    first_new = next(i for i, t in enumerate(view) if t.startswith("new"))
    assert any(t.startswith("late") for t in view[first_new:]), "late lines not interleaved"
    [marker] = [log.line(i) for i in range(len(log)) if log.line(i).marker]
    assert "smtpd.log.1" in marker.text
    lines_of_new_file = [t for t in view if t.startswith("new")]
    assert lines_of_new_file == path.read_text().splitlines()
    log.close()


def test_late_lines_follow_the_marker_whole_and_a_quiet_file_is_let_go(tmp_path):
    """The renamed file's unterminated last line is taken back at the rotation and shown once whole;
    late lines go after the new file's lines read so far; each view line maps back to its bytes."""
    path = tmp_path / "dovecot.log"
    path.write_text("a\npart")
    log = FollowedLog(path, late_quiet=3600)
    os.rename(path, tmp_path / "dovecot.log.1")
    path.write_text("x\n")
    events = log.poll()
    assert [type(e) for e in events] == [Rotation, NewLines] and events[1] == NewLines(["x"])
    with open(tmp_path / "dovecot.log.1", "a") as old:
        old.write("ial\nb\n")
    with path.open("a") as new:
        new.write("y\n")
    assert log.poll() == [NewLines(["partial", "b"]), NewLines(["y"])]
    view = [log.line(i) for i in range(len(log))]
    assert [(line.text, line.marker) for line in view] == [
        ("a", False),
        (view[1].text, True),
        ("x", False),
        ("partial", False),
        ("b", False),
        ("y", False),
    ]
    for n in range(len(log)):
        if not view[n].marker:
            segment, offset = log.locate(n)
            assert log.view_line(segment, offset) == n
    log.close()

    quiet = tmp_path / "quiet.log"
    quiet.write_text("one\ntwo")
    log = FollowedLog(quiet, late_quiet=0)
    os.rename(quiet, tmp_path / "quiet.log.1")
    quiet.write_text("")
    assert [type(e) for e in log.poll()] == [Rotation]
    assert log.poll() == [NewLines(["two"])]  # quiet at once: the last line as it is
    with open(tmp_path / "quiet.log.1", "a") as old:
        old.write("ignored\n")
    assert log.poll() == []
    assert [log.line(i).text for i in range(len(log)) if not log.line(i).marker] == ["one", "two"]
    log.close()
