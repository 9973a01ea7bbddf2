"""Rotated files that logrotate compressed are listed under their file and never read as text."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from console.logs.discovery import discover, rotation_base
from console.logs.follow import COMPRESSED, FollowedLog, NewLines, Rotation

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
}
"""Suffixes Python can write; the others get plain bytes under the compressed name."""


def lines(n: int, start: int = 0) -> bytes:
    return b"".join(b"line %d of the mail log\n" % i for i in range(start, start + n))


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zst", ".lz4"])
@pytest.mark.parametrize("rotated", ["smtpd.log.{n}", "smtpd.log-2025112{n}"])
def test_each_compressed_generation_is_listed_under_its_file_and_marked(
    tmp_path: Path, suffix: str, rotated: str
) -> None:
    assert suffix in COMPRESSED
    (tmp_path / "smtpd.log").write_bytes(lines(3))
    plain = tmp_path / rotated.format(n=1)
    plain.write_bytes(lines(3))
    packed = tmp_path / (rotated.format(n=2) + suffix)
    compress = COMPRESSORS.get(suffix)
    packed.write_bytes(compress(lines(3)) if compress else lines(3))
    os.utime(packed, (1_000_000, 1_000_000))  # the older generation
    [info] = discover(tmp_path)
    assert info.path.name == "smtpd.log" and not info.compressed
    assert [(r.path.name, r.compressed) for r in info.rotated] == [
        (plain.name, False),
        (packed.name, True),
    ]
    generation = 20251122 if "-" in rotated else 2
    assert rotation_base(packed.name) == ("smtpd.log", generation)


def test_a_compressed_file_alone_is_still_a_rotation_of_its_base(tmp_path: Path) -> None:
    """`delaycompress` off: logrotate leaves only `smtpd.log.gz`-style names at generation 1."""
    assert rotation_base("smtpd.log.gz") == ("smtpd.log", 1)
    (tmp_path / "smtpd.log").write_bytes(b"")
    (tmp_path / "smtpd.log.gz").write_bytes(gzip.compress(lines(2)))
    [info] = discover(tmp_path)
    assert [(r.path.name, r.compressed) for r in info.rotated] == [("smtpd.log.gz", True)]


def test_copytruncate_then_compress_never_shows_compressed_bytes(tmp_path: Path) -> None:
    """logrotate's `copytruncate` + `compress` (no `delaycompress`): by the time the follower looks,
    the copy is `smtpd.log.1.gz`. Its bytes are not lines: the lines not read yet are said to be gone,
    and the follower carries on with the live file."""
    path = tmp_path / "smtpd.log"
    path.write_bytes(lines(5))
    followed = FollowedLog(path, scan=False)
    try:
        followed.poll()
        with path.open("ab") as log:
            log.write(lines(3, start=5))  # written, not yet read when the rotation happens
        shutil.copyfile(path, tmp_path / "smtpd.log.1")
        os.truncate(path, 0)
        packed = gzip.compress((tmp_path / "smtpd.log.1").read_bytes())
        (tmp_path / "smtpd.log.1.gz").write_bytes(packed)
        (tmp_path / "smtpd.log.1").unlink()
        with path.open("ab") as log:
            log.write(lines(2, start=100))
        events = followed.poll()
        [rotation] = [e for e in events if isinstance(e, Rotation)]
        assert rotation.kind == "truncated" and "lines above are gone" in rotation.text
        shown = [(line.text, line.marker) for line in map(followed.line, range(len(followed)))]
        gone = ("(no longer readable: the file was truncated in place)", True)
        assert shown == [gone] * 5 + [
            (rotation.text, True),
            ("line 100 of the mail log", False),
            ("line 101 of the mail log", False),
        ]
        assert events[-1] == NewLines(["line 100 of the mail log", "line 101 of the mail log"])
    finally:
        followed.close()
