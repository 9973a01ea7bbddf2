"""The line index: lazily built backwards, extended by appends, exact at block boundaries."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.logs import index as index_module
from console.logs.index import LineIndex


def open_index(path, *, scan=True) -> LineIndex:
    fd = os.open(path, os.O_RDONLY)
    return LineIndex(fd, os.fstat(fd).st_size, scan=scan)


def all_lines(index: LineIndex) -> list[bytes]:
    return [index.read(n, limit=1 << 20).data for n in range(len(index))]


def test_a_big_file_is_indexed_backwards_and_every_line_is_reachable(tmp_path):
    path = tmp_path / "big.log"
    lines = [f"line {n} {'x' * (n % 97)}".encode() for n in range(60_000)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert path.stat().st_size > 3 * index_module.SCAN_CHUNK
    index = open_index(path)
    index.wait_scanned(0)
    assert index.low == 0
    assert len(index) == 60_000
    assert index.prepended == 60_000
    assert all_lines(index) == lines
    os.close(index.fd)


def test_opening_reads_only_the_tail_and_numbers_lines_from_the_first_known_one(tmp_path):
    path = tmp_path / "big.log"
    path.write_bytes(b"".join(f"{n:07d}\n".encode() for n in range(500_000)))
    index = open_index(path, scan=False)
    assert index.low > 0
    count = len(index)
    assert 0 < count < 500_000
    assert index.read(count - 1).data == b"0499999"
    assert index.read(0).data == f"{500_000 - count:07d}".encode()
    assert index.line_at(index.low) is None
    assert index.line_at(index.end - 3) == count - 1
    os.close(index.fd)


def test_appends_extend_the_index_and_a_partial_last_line_is_a_line(tmp_path):
    path = tmp_path / "x.log"
    path.write_bytes(b"a\nb")
    index = open_index(path)
    assert all_lines(index) == [b"a", b"b"]
    with path.open("ab") as f:
        f.write(b"c\nd\n" + b"e" * 70_000 + b"\nf")
    index.append(b"c\nd\n" + b"e" * 70_000 + b"\nf")
    assert all_lines(index) == [b"a", b"bc", b"d", b"e" * 70_000, b"f"]
    assert index.span(3) == (7, 70_007)
    os.close(index.fd)


def test_long_lines_are_read_truncated_with_their_real_length(tmp_path):
    path = tmp_path / "x.log"
    path.write_bytes(b"short\n" + b"A" * (10 << 20))
    index = open_index(path)
    index.wait_scanned(0)
    raw = index.read(1)
    assert raw.truncated and raw.length == 10 << 20 and len(raw.data) == index_module.MAX_LINE_BYTES
    os.close(index.fd)


def test_an_empty_file_has_no_lines(tmp_path):
    path = tmp_path / "x.log"
    path.write_bytes(b"")
    index = open_index(path)
    assert len(index) == 0
    with pytest.raises(IndexError):
        index.read(0)
    os.close(index.fd)


@settings(max_examples=150, deadline=None)
@given(
    content=st.lists(st.sampled_from([b"a", b"bb", b"\n", b"\n\n", b"ccccccc"]), max_size=60).map(
        b"".join
    ),
    split=st.integers(min_value=0, max_value=400),
)
def test_any_content_any_append_point_matches_splitlines(tmp_path_factory, content, split):
    old_block, old_chunk = index_module.BLOCK, index_module.SCAN_CHUNK
    index_module.BLOCK, index_module.SCAN_CHUNK = 4, 12
    try:
        path = tmp_path_factory.mktemp("idx") / "x.log"
        split = min(split, len(content))
        path.write_bytes(content)
        fd = os.open(path, os.O_RDONLY)
        index = LineIndex(fd, split)
        index.wait_scanned(0)
        index.append(content[split:])
        expected = content.split(b"\n")
        if expected[-1] == b"":
            expected.pop()
        assert all_lines(index) == expected
        for n, line in enumerate(expected):
            start, stop = index.span(n)
            assert content[start:stop] == line
            assert index.line_at(start) == n
        os.close(fd)
    finally:
        index_module.BLOCK, index_module.SCAN_CHUNK = old_block, old_chunk
