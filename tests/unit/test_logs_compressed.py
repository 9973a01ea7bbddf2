"""Rotated files that logrotate compressed are listed under their file and never read as text."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
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


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_copytruncate_then_compress_names_the_compressed_copy(tmp_path: Path, suffix: str) -> None:
    """logrotate's `copytruncate` + `compress` (no `delaycompress`): by the time the follower looks,
    the copy is `smtpd.log.1.gz`. Its bytes are not lines, so they are not shown; the marker and each
    line not shown say which file holds them. Neighbours that are not the copy (an older generation
    with other lines, a damaged file, the same lines cut short, a broken link) are not named."""
    path = tmp_path / "smtpd.log"
    path.write_bytes(lines(5))
    followed = FollowedLog(path, scan=False)
    try:
        followed.poll()
        with path.open("ab") as log:
            log.write(lines(3, start=5))  # written, not yet read when the rotation happens
        compress = COMPRESSORS[suffix]
        older = tmp_path / f"smtpd.log.2{suffix}"
        older.write_bytes(compress(lines(8, start=50)))
        (tmp_path / f"smtpd.log.3{suffix}").write_bytes(b"not compressed at all")
        os.symlink("nowhere", tmp_path / f"smtpd.log.4{suffix}")  # a link to nothing
        short = tmp_path / f"smtpd.log-short{suffix}"
        short.write_bytes(compress(lines(4)))
        for name in (older, short, tmp_path / f"smtpd.log.3{suffix}"):
            os.utime(name, (2_000_000_000, 2_000_000_000))  # newer: looked at first
        packed = tmp_path / f"smtpd.log.1{suffix}"
        packed.write_bytes(compress(path.read_bytes()))
        os.utime(packed, (1_000_000, 1_000_000))
        os.truncate(path, 0)
        with path.open("ab") as log:
            log.write(lines(2, start=100))
        events = followed.poll()
        [rotation] = [e for e in events if isinstance(e, Rotation)]
        assert rotation.kind == "truncated"
        assert re.fullmatch(
            rf"── smtpd\.log truncated \d\d:\d\d:\d\d, lines above now in {re.escape(packed.name)} ──",
            rotation.text,
        ), rotation.text
        shown = [(line.text, line.marker) for line in map(followed.line, range(len(followed)))]
        elsewhere = (f"(not shown: compressed in {packed.name})", True)
        assert shown == [elsewhere] * 5 + [
            (rotation.text, True),
            ("line 100 of the mail log", False),
            ("line 101 of the mail log", False),
        ]
        assert events[-1] == NewLines(["line 100 of the mail log", "line 101 of the mail log"])
    finally:
        followed.close()


@pytest.mark.parametrize("suffix", [".zst", ".lz4", ".gz"])
def test_a_compressed_file_that_cannot_be_checked_is_not_named(tmp_path: Path, suffix: str) -> None:
    """A format Python cannot read (or a `.gz` holding other lines) is never named as the copy."""
    path = tmp_path / "smtpd.log"
    path.write_bytes(lines(5))
    followed = FollowedLog(path, scan=False)
    try:
        followed.poll()
        other = lines(5, start=7) if suffix == ".gz" else lines(5)
        (tmp_path / f"smtpd.log.1{suffix}").write_bytes(gzip.compress(other))
        os.truncate(path, 0)
        [rotation] = [e for e in followed.poll() if isinstance(e, Rotation)]
        assert rotation.text.endswith("lines above are gone ──"), rotation.text
        gone = ("(no longer readable: the file was truncated in place)", True)
        assert [(line.text, line.marker) for line in map(followed.line, range(5))] == [gone] * 5
    finally:
        followed.close()
