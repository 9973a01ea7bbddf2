"""Search and filter over followed logs: direction, segments, context, inversion, cancellation."""

from __future__ import annotations

import os
import re
import threading
from datetime import datetime, timezone

import pytest

from console.errors import UserError
from console.logs import search as search_module
from console.logs.follow import FollowedLog
from console.logs.search import (
    Cancelled,
    FilteredLines,
    Hit,
    compile_pattern,
    count_matches,
    filter_lines,
    find,
    find_time,
)

RUN = "a" * 30 + "!"
"""A line on which `(a|a)+$` backtracks through 2**30 ways (any engine) before it fails."""


def make_log(tmp_path, text: str) -> FollowedLog:
    path = tmp_path / "smtpd.log"
    path.write_text(text)
    log = FollowedLog(path)
    log.segments[0].index.wait_scanned(0)
    return log


def texts(log: FollowedLog, lines) -> list[str]:
    return [log.line(n).text for n in lines]


def test_find_forwards_and_backwards_from_a_line(tmp_path):
    log = make_log(tmp_path, "a ok\nb err\nc ok\nd err\ne ok\n")
    pattern = compile_pattern("err")
    origin = Hit(*log.locate(2))
    forward = find(log, pattern, origin, backwards=False)
    backward = find(log, pattern, origin, backwards=True)
    assert texts(log, [log.view_line(forward.segment, forward.offset)]) == ["d err"]
    assert texts(log, [log.view_line(backward.segment, backward.offset)]) == ["b err"]
    assert find(log, pattern, Hit(*log.locate(3)), backwards=False) is None
    assert find(log, pattern, Hit(*log.locate(1)), backwards=True) is None
    log.close()


def test_find_crosses_rotations_into_older_files(tmp_path):
    log = make_log(tmp_path, "old needle\nold\n")
    os.rename(log.path, log.path.with_name("smtpd.log.1"))
    log.path.write_text("new\nnew\n")
    log.poll()
    hit = find(log, compile_pattern("needle"), Hit(*log.locate(len(log) - 1)), backwards=True)
    assert hit is not None and hit.segment == 0
    assert log.line(log.view_line(hit.segment, hit.offset)).text == "old needle"
    log.close()


def test_find_in_chunks_reports_progress_and_finds_the_nearest_hit(tmp_path, monkeypatch):
    monkeypatch.setattr(search_module, "CHUNK", 64)
    body = "".join(f"line {n:04d}{' MATCH' if n in (3, 250) else ''}\n" for n in range(400))
    log = make_log(tmp_path, body)
    seen: list[float] = []
    hit = find(
        log, compile_pattern("MATCH"), Hit(*log.locate(399)), backwards=True, progress=seen.append
    )
    assert log.line(log.view_line(0, hit.offset)).text == "line 0250 MATCH"
    assert seen and all(0 < f <= 1 for f in seen) and seen == sorted(seen)
    hit = find(log, compile_pattern("MATCH"), Hit(*log.locate(250)), backwards=True)
    assert log.line(log.view_line(0, hit.offset)).text == "line 0003 MATCH"
    log.close()


def test_a_cancelled_search_stops(tmp_path, monkeypatch):
    monkeypatch.setattr(search_module, "CHUNK", 64)
    log = make_log(tmp_path, "x\n" * 1000)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        find(log, compile_pattern("y"), Hit(0, 0), backwards=False, cancel=cancel)
    log.close()


def test_a_bad_pattern_is_one_clear_error():
    with pytest.raises(UserError, match="bad regular expression '\\(unclosed'"):
        compile_pattern("(unclosed")


def test_filter_keeps_matches_with_context_and_markers(tmp_path, monkeypatch):
    monkeypatch.setattr(search_module, "CHUNK", 32)
    log = make_log(
        tmp_path, "".join(f"l{n}{' hit' if n in (5, 6, 20) else ''}\n" for n in range(30))
    )
    os.rename(log.path, log.path.with_name("smtpd.log.1"))
    log.path.write_text("after hit\nafter\n")
    log.poll()
    result = FilteredLines()
    filter_lines(log, compile_pattern("hit"), result, context=1)
    assert result.complete
    shown = texts(log, (result[i] for i in range(len(result))))
    assert shown[:-3] == ["l4", "l5 hit", "l6 hit", "l7", "l19", "l20 hit", "l21"]
    assert "rotated" in shown[-3]
    assert shown[-2:] == ["after hit", "after"]
    log.close()


def test_inverted_filter_keeps_the_other_lines(tmp_path):
    log = make_log(tmp_path, "a\nb noise\nc\nd noise\ne")
    result = FilteredLines()
    filter_lines(log, compile_pattern("noise"), result, invert=True)
    assert texts(log, (result[i] for i in range(len(result)))) == ["a", "c", "e"]
    assert result.position_of(1) == 1 and result.position_of(2) == 1 and result.position_of(9) == 3
    log.close()


def test_filtered_lines_merge_runs_and_stop_when_full(monkeypatch):
    monkeypatch.setattr(search_module, "MAX_FILTER_RUNS", 2)
    lines = FilteredLines()
    assert lines.add(0, 2) and lines.add(2, 3) and lines.add(10, 11)
    assert [lines[i] for i in range(len(lines))] == [0, 1, 2, 10]
    assert not lines.add(20, 21) and lines.capped


def test_jump_to_time_finds_the_first_line_at_or_after_it(tmp_path, monkeypatch):
    lines = [f"2025-11-24T10:{m:02d}:00+00:00 mail smtpd[1]: line {m}" for m in range(0, 60, 2)]
    lines.insert(5, "  continuation without a stamp")
    log = make_log(tmp_path, "\n".join(lines) + "\n")
    when = datetime(2025, 11, 24, 10, 31, tzinfo=timezone.utc).timestamp()
    hit = find_time(log, when)
    assert log.line(log.view_line(hit.segment, hit.offset)).text.endswith("line 32")
    exact = datetime(2025, 11, 24, 10, 8, tzinfo=timezone.utc).timestamp()
    hit = find_time(log, exact)
    assert log.line(log.view_line(hit.segment, hit.offset)).text.endswith("line 8")
    assert find_time(log, when + 3600) is None
    log.close()


def test_count_matches_counts_lines_across_files(tmp_path, monkeypatch):
    monkeypatch.setattr(search_module, "CHUNK", 16)
    log = make_log(tmp_path, "a x x\nb\nc x\n")
    os.rename(log.path, log.path.with_name("smtpd.log.1"))
    log.path.write_text("d x\n")
    log.poll()
    assert count_matches(log, compile_pattern("x")) == 3
    log.close()


@pytest.mark.timeout(20)  # the code before hung here for minutes
def test_a_pattern_that_backtracks_without_end_is_one_clear_error(tmp_path):
    log = make_log(tmp_path, f"first line\n{RUN}\nlast line\n")
    with pytest.raises(UserError) as raised:
        count_matches(log, compile_pattern("(a|a)+$"))
    assert str(raised.value) == (
        "the pattern '(a|a)+$' took more than 2 s on one block of the log (catastrophic "
        "backtracking?): simplify it."
    )
    log.close()


@pytest.mark.parametrize("backwards", [True, False])
def test_search_and_filter_stop_on_a_pattern_that_backtracks_without_end(
    tmp_path, monkeypatch, backwards
):
    monkeypatch.setattr(search_module, "BLOCK_TIMEOUT_S", 0.1)
    log = make_log(tmp_path, f"first line\n{RUN}\nlast line\n")
    pattern = compile_pattern("(a|a)+$")
    with pytest.raises(search_module.PatternTooSlow, match="more than 0.1 s on one block"):
        find(log, pattern, Hit(*log.locate(2 if backwards else 0)), backwards=backwards)
    kept = FilteredLines()
    with pytest.raises(search_module.PatternTooSlow):
        filter_lines(log, pattern, kept, invert=backwards)
    assert not kept.complete
    log.close()


class CancelledDuringTheMatch(threading.Event):
    """Not cancelled when the search checks before a block, cancelled by the time it looks again."""

    def __init__(self) -> None:
        super().__init__()
        self.looks = 0

    def is_set(self) -> bool:
        self.looks += 1
        return self.looks > 1


def test_a_search_cancelled_during_a_slow_match_ends_as_cancelled_not_as_an_error(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(search_module, "BLOCK_TIMEOUT_S", 0.1)
    log = make_log(tmp_path, f"{RUN}\n")
    cancel = CancelledDuringTheMatch()
    with pytest.raises(Cancelled):
        count_matches(log, compile_pattern("(a|a)+$"), cancel=cancel)
    assert cancel.looks == 2  # once before the block, once when the match gave up
    log.close()


@pytest.mark.timeout(20)
def test_patterns_the_old_engine_choked_on_are_answered(tmp_path):
    log = make_log(tmp_path, "a" * 30 + "\n" + "x" * 30 + "\n" + RUN + "\n")
    assert count_matches(log, compile_pattern("(a+)+$")) == 1
    assert count_matches(log, compile_pattern("(x+x+)+y")) == 0


SAMPLE = (
    "2025-11-24T10:00:00+00:00 mail smtpd[1]: smtp-in: Accepted message 35e0 from=<carol@example.org>\n"
    "2025-11-24T10:00:01+00:00 mail smtpd[1]: delivery: Ok for 35e0: status=Delivered\n"
    "2025-11-24T10:00:02+00:00 mail smtpd[1]: smtp-in: REJECT RCPT to=<bob@example.com> ok\n"
    "\n"
    "b continuation of the line before, crème brûlée 550\n"
    "2025-11-24T10:00:03+00:00 mail smtpd[1]: TempFail: error=timeout\n"
)


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "^2025",
        r"status=\w+$",
        "reject",
        "from=<[^>]*>",
        r"\d{3}",
        "x$|^b",
        r"\bok\b",
        r"ok\s+b",
        "brûlée",
        "[^\x00-\x7f]",
        r"(?P<when>\d\d:\d\d):01",
    ],
)
@pytest.mark.parametrize("ignore_case", [False, True])
def test_the_lines_found_are_the_ones_python_re_finds(tmp_path, text, ignore_case):
    log = make_log(tmp_path, SAMPLE)
    data = SAMPLE.encode()
    flags = re.MULTILINE | (re.IGNORECASE if ignore_case else 0)
    found = {data.count(b"\n", 0, m.start()) for m in re.finditer(text.encode(), data, flags)}
    expected = sorted(found)
    kept = FilteredLines()
    filter_lines(log, compile_pattern(text, ignore_case=ignore_case), kept)
    assert [kept[i] for i in range(len(kept))] == expected
    assert count_matches(log, compile_pattern(text, ignore_case=ignore_case)) == len(expected)
    log.close()


def test_a_line_too_slow_to_mark_is_shown_unmarked_and_too_slow_to_filter_is_an_error():
    slow = search_module.compile_line_pattern("(a|a)+$")
    assert search_module.line_spans(slow, "aaa") == [(0, 3)]
    assert search_module.line_spans(slow, RUN) == []
    assert search_module.line_matches(slow, "aaa")
    with pytest.raises(search_module.PatternTooSlow, match="on one line of the log"):
        search_module.line_matches(slow, RUN)
    with pytest.raises(UserError, match="bad regular expression '\\(unclosed'"):
        search_module.compile_line_pattern("(unclosed")


@pytest.mark.parametrize(
    ("text", "limited"),
    [
        ("carol@example.org", False),
        (r"status=\w|relay=\S|^2025-11-24T10:0\d", False),
        ("[^>] to=<", False),
        (r"delay=\d+s", True),
        ("from=<.*>", True),
        ("colou?r", True),
        (r"\d{3}", True),
        ("(ok)", True),
        ("(?i)ok", True),
    ],
)
def test_only_patterns_with_repeats_or_groups_run_with_a_time_limit(text, limited):
    """Those are the ones that can backtrack without end; the limit costs time on every match."""
    limit = search_module._time_limit(compile_pattern(text))
    assert limit == (search_module.BLOCK_TIMEOUT_S if limited else None)
