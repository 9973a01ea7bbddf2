"""The Logs screen in a virtual terminal: follow, pause with "+N new lines", search, filter, rotation, hostile text."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from rich.style import Style
from textual import events
from textual.widgets import Static

from console.settings import Settings
from tests.helpers import drawn, until
from tests.recorded import URL, RecordedSupervisor, supervisor_answered
from widgets.app import ConsoleApp
from widgets.logs.files import FileList
from widgets.logs.lines import LogLines
from widgets.logs.view import LogsScreen

HOSTILE = "evil [bold]loud[/bold] [link=http://x.example]click[/link] [unbalanced \x1b[31mred\x1b[0m \x07bell"


def make_app(log_dir: Path, files: list[Path] | None = None) -> ConsoleApp:
    settings = Settings(
        supervisor_url=URL,
        refresh_interval=3600,
        log_dir=log_dir,
        supervisor_config=log_dir / "no-supervisord.conf",
    )
    return ConsoleApp(
        settings,
        supervisor=RecordedSupervisor(),
        initial_screen="logs",
        hostname="mail.example.com",
        log_files=files,
    )


def numbered(count: int, start: int = 0) -> str:
    return "".join(
        f"2025-11-24T10:00:{n % 60:02d}+00:00 mail smtpd[1]: line {n:05d}\n"
        for n in range(start, start + count)
    )


def screen_text(app: ConsoleApp) -> list[str]:
    view = app.query_one(LogLines)
    return [view.render_line(y).text for y in range(view.scrollable_content_region.height)]


def status(app: ConsoleApp) -> str:
    return str(app.query_one("#log-status", Static).render())


async def type_in(pilot, key: str, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(key)
    await until(
        pilot, lambda: pilot.app.focused is not None and pilot.app.focused.id == "log-input"
    )
    await pilot.press(*text, "enter")


async def test_follow_shows_new_lines_and_scrolling_up_pauses_and_counts_new_lines(
    tmp_path: Path,
) -> None:
    log = tmp_path / "smtpd.log"
    log.write_text(numbered(200))
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: any("line 00199" in t for t in screen_text(app)))
        with log.open("a") as f:
            f.write(numbered(5, 200))
        await until(pilot, lambda: any("line 00204" in t for t in screen_text(app)))
        assert app.query_one(LogLines).following

        await pilot.press("home")
        await until(pilot, lambda: not app.query_one(LogLines).following)
        with log.open("a") as f:
            f.write(numbered(7, 205))
        lines = app.query_one(LogLines)
        await until(pilot, lambda: "⏸ paused  +7 new lines · End to follow" in status(app))
        await drawn(pilot, lines, "line 00000")  # home scrolls there in an animation
        assert any("line 00000" in t for t in screen_text(app))

        await pilot.press("end")
        await until(pilot, lambda: any("line 00211" in t for t in screen_text(app)))
        assert lines.following and "new lines" not in status(app) and "● following" in status(app)


async def test_the_first_frame_already_shows_the_last_lines(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """No frame is drawn at the top of the indexed block first: opening costs one frame, not two."""
    (tmp_path / "smtpd.log").write_text(numbered(5000))
    drawn: list[int] = []
    original = LogLines._strip

    def record(self: LogLines, n: int):  # type: ignore[no-untyped-def]
        drawn.append(n)
        return original(self, n)

    monkeypatch.setattr(LogLines, "_strip", record)
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: any("line 04999" in t for t in screen_text(app)))
        height = app.query_one(LogLines).scrollable_content_region.height
        assert min(drawn) > max(drawn) - height - 2, (
            f"lines {min(drawn)}..{max(drawn)} drawn, {height} shown"
        )


async def test_rotation_shows_a_marker_line_and_the_new_file(tmp_path: Path) -> None:
    log = tmp_path / "smtpd.log"
    log.write_text(numbered(10))
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: any("line 00009" in t for t in screen_text(app)))
        os.rename(log, tmp_path / "smtpd.log.1")
        log.write_text(numbered(3, 10))
        await until(pilot, lambda: any("line 00012" in t for t in screen_text(app)))
        text = screen_text(app)
        marker = next(i for i, t in enumerate(text) if "rotated" in t)
        assert "line 00009" in text[marker - 1] and "line 00010" in text[marker + 1]
        assert "smtpd.log.1" in text[marker]
        options = app.query_one("#log-files", FileList)
        await until(pilot, lambda: any("smtpd.log.1" in str(prompt) for prompt in options.prompts))


async def test_search_jumps_to_matches_and_counts_them(tmp_path: Path) -> None:
    lines = numbered(300).splitlines()
    for n in (40, 150, 260):
        lines[n] += " NEEDLE"
    (tmp_path / "smtpd.log").write_text("\n".join(lines) + "\n")
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(LogLines)
        await until(pilot, lambda: len(view.source or []) == 300)
        await type_in(pilot, "slash", "NEEDLE")
        await until(pilot, lambda: view.current == 260)
        await until(pilot, lambda: "3 matching lines" in status(app))
        assert not view.following
        await pilot.press("n")
        await until(pilot, lambda: view.current == 150)
        await pilot.press("n")
        await until(pilot, lambda: view.current == 40)
        await pilot.press("N")
        await until(pilot, lambda: view.current == 150)
        assert view.current is not None
        row = view.current - int(view.scroll_y)
        assert "line 00150 NEEDLE" in view.render_line(row).text


async def test_filter_shows_only_matching_lines_and_inverts(tmp_path: Path) -> None:
    body = "".join(f"line {n} {'TempFail' if n % 10 == 0 else 'Ok'}\n" for n in range(100))
    log = tmp_path / "smtpd.log"
    log.write_text(body)
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(LogLines)
        await until(pilot, lambda: len(view.source or []) == 100)
        await type_in(pilot, "f", "TempFail")
        await until(pilot, lambda: "filter TempFail: 10 lines" in status(app))
        assert [t.strip() for t in screen_text(app)[:10]] == [
            f"line {n} TempFail" for n in range(0, 100, 10)
        ]
        with log.open("a") as f:
            f.write("line 100 TempFail\nline 101 Ok\n")
        await until(pilot, lambda: "filter TempFail: 11 lines" in status(app))
        await pilot.press("i")
        await until(pilot, lambda: "filter not TempFail: 91 lines" in status(app))
        assert all("TempFail" not in t for t in screen_text(app))
        await pilot.press("escape")
        await until(pilot, lambda: len(view.source or []) == 102)


SLOW = "(a|a)+$"
"""Backtracks through 2**26 ways on RUN before failing: minutes for `re`, with the console frozen."""
RUN = "a" * 26 + "!"


def said(app: ConsoleApp, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


@pytest.mark.timeout(120)  # the code before froze here (GIL held by `re`) and failed on this
async def test_a_search_that_backtracks_without_end_is_one_sentence_and_keys_still_work(
    tmp_path: Path,
) -> None:
    (tmp_path / "smtpd.log").write_text(numbered(20) + RUN + "\n" + numbered(5, 20))
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(LogLines)
        await until(pilot, lambda: len(view.source or []) == 26)
        await type_in(pilot, "slash", SLOW)
        await until(pilot, lambda: said(app, "catastrophic backtracking"))
        assert [str(n.message) for n in app._notifications] == [
            "the pattern '(a|a)+$' took more than 2 s on one block of the log (catastrophic "
            "backtracking?): simplify it."
        ]
        assert view.pattern is None and "/(a|a)" not in status(app)
        await drawn(pilot, view, RUN)  # still drawn, its matches given up on
        await type_in(pilot, "slash", "line 00003")
        await until(pilot, lambda: view.current == 3)


@pytest.mark.timeout(120)
async def test_a_filter_that_backtracks_without_end_is_dropped_with_one_sentence(
    tmp_path: Path,
) -> None:
    log = tmp_path / "smtpd.log"
    log.write_text(numbered(20) + RUN + "\n")
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(LogLines)
        await until(pilot, lambda: len(view.source or []) == 21)
        await type_in(pilot, "f", SLOW)
        await until(
            pilot, lambda: said(app, "on one block of the log (catastrophic backtracking?)")
        )
        await until(pilot, lambda: len(view.source or []) == 21 and "filter" not in status(app))
        # Quick on the lines there, too slow on one that arrives: the follower's test stops it.
        await type_in(pilot, "f", "(b|b)+$")
        await until(pilot, lambda: "filter (b|b)+$: 0 lines" in status(app))
        with log.open("a") as f:
            f.write("b" * 26 + "!\n")
        await until(pilot, lambda: said(app, "'(b|b)+$' took more than 0.02 s on one line"))
        await until(pilot, lambda: len(view.source or []) == 22 and "filter" not in status(app))


async def test_hostile_lines_are_shown_literally_and_never_style_the_screen(tmp_path: Path) -> None:
    log = tmp_path / "smtpd.log"
    log.write_bytes(b"before\n" + HOSTILE.encode() + b"\n" + b"caf\xe9 \xff\n" + b"L" * (10 << 20))
    app = make_app(tmp_path)
    async with app.run_test(size=(200, 20)) as pilot:
        view = app.query_one(LogLines)
        await until(pilot, lambda: view.virtual_size.height == 4)
        await drawn(pilot, view, "evil")
        rows = screen_text(app)
        shown = next(row for row in rows if row.startswith("evil"))
        assert "[bold]loud[/bold] [link=http://x.example]click[/link] [unbalanced" in shown
        assert "\\x1b[31mred\\x1b[0m \\x07bell" in shown
        assert "caf\ufffd \ufffd" in "".join(rows)
        assert (
            any("[line truncated: 10,485,760 bytes]" in row for row in rows)
            or view.source is not None
            and view.source.line(3).text.endswith("[line truncated: 10,485,760 bytes]")
        )
        strip = view.render_line(rows.index(shown))
        for segment in strip:
            assert "\x1b" not in segment.text
            style = segment.style or Style()
            if "loud" in segment.text or "click" in segment.text:
                assert not style.bold and style.link is None


@pytest.mark.parametrize("where", ["nope", "/etc/passwd"])
async def test_a_missing_log_directory_is_one_clear_line(tmp_path: Path, where: str) -> None:
    """Below 120 columns the file list starts hidden: the status line itself says why nothing is
    open (it said only "no file open")."""
    log_dir = tmp_path / where
    app = make_app(log_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        options = app.query_one("#log-files", FileList)
        await until(pilot, lambda: bool(options.prompts) and str(log_dir) in status(app))
        assert str(options.prompts[0]) in status(app) and "no file open" not in status(app)
        await supervisor_answered(pilot)  # the Services screen is built behind: let it finish first


async def test_a_file_deleted_while_open_is_reported_and_followed_when_it_returns(
    tmp_path: Path,
) -> None:
    log = tmp_path / "fdm.log"
    log.write_text("one\n")
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: any("one" in t for t in screen_text(app)))
        log.unlink()
        await until(pilot, lambda: "was removed" in status(app))
        log.write_text("two\n")
        await until(pilot, lambda: any(t.startswith("two") for t in screen_text(app)))
        await until(pilot, lambda: "was removed" not in status(app))
        assert "3 lines" in status(app)  # one, the marker, two


async def test_tail_of_stamped_files_merges_them_by_time_and_keeps_following(
    tmp_path: Path,
) -> None:
    smtpd, dovecot = tmp_path / "smtpd.log", tmp_path / "dovecot.log"
    smtpd.write_text("Nov 24 10:00:01 smtpd: accepted\nNov 24 10:00:05 smtpd: delivered\n")
    dovecot.write_text("Nov 24 10:00:03 imap-login: Info: Login: user=<bob>\n")
    app = make_app(tmp_path, files=[smtpd, dovecot])
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "lines by time" in status(app))
        rows = [row.rstrip() for row in screen_text(app) if row.strip()]
        assert [row.split()[0] for row in rows] == ["smtpd.log", "dovecot.log", "smtpd.log"]
        assert rows[1].endswith("Login: user=<bob>")
        with dovecot.open("a") as f:
            f.write("Nov 24 10:00:09 imap: Info: Logged out\n")
        await until(
            pilot,
            lambda: any(
                row.startswith("dovecot.log") and "Logged out" in row for row in screen_text(app)
            ),
        )


def tail_of_two_unstamped_files(tmp_path: Path) -> ConsoleApp:
    """The console on smtpd.log and fdm.log, whose lines carry no time (so each is listed, not merged)."""
    debug, other = tmp_path / "smtpd.log", tmp_path / "fdm.log"
    debug.write_text("info: OpenSMTPD 6.8.0p2 starting\n")
    other.write_text("stdin: 1 messages processed\n")
    return make_app(tmp_path, files=[debug, other])


async def test_tail_of_unstamped_files_lists_each_file(tmp_path: Path) -> None:
    app = tail_of_two_unstamped_files(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "smtpd.log  ● following  1 line" in status(app))
        options = app.query_one("#log-files", FileList)
        assert len(options.prompts) == 2
        await pilot.press("o", "down", "down", "enter")
        await until(pilot, lambda: "fdm.log  ● following  1 line" in status(app))


async def test_jump_to_time_and_filter_context(tmp_path: Path) -> None:
    body = "".join(
        f"2025-11-24T10:{n:02d}:00+00:00 mail smtpd[1]: line {n}{' hit' if n == 30 else ''}\n"
        for n in range(60)
    )
    (tmp_path / "smtpd.log").write_text(body)
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(LogLines)
        await until(pilot, lambda: view.virtual_size.height == 60)
        await type_in(pilot, "t", "2025-11-24T10:12:30+00:00")
        await until(pilot, lambda: view.current == 13)
        assert not view.following
        await type_in(pilot, "f", "hit")
        await until(pilot, lambda: "filter hit: 1 line" in status(app))
        await pilot.press("plus", "plus")
        await until(pilot, lambda: "filter hit ±2: 5 lines" in status(app))
        assert [row.split()[-1] for row in screen_text(app)[:5]] == ["28", "29", "hit", "31", "32"]
        await type_in(pilot, "t", "noon")
        await until(
            pilot,
            lambda: any(
                "cannot read 'noon' as a time" in str(n.message) for n in app._notifications
            ),
        )


async def test_keys_typed_ahead_after_o_go_to_the_file_list(tmp_path: Path) -> None:
    app = tail_of_two_unstamped_files(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "smtpd.log  ● following  1 line" in status(app))
        app.query_one("#log-files", FileList).display = False  # hidden: `o` shows it first
        await pilot.pause()
        for key in ("o", "down", "down", "enter"):  # all queued before the first is handled
            app.post_message(events.Key(key, None))
        await until(pilot, lambda: "fdm.log  ● following  1 line" in status(app))


async def test_a_match_past_the_right_edge_is_brought_into_view_and_marked_apart(
    tmp_path: Path,
) -> None:
    """At 80x24 with the file list shown (the log gets about 50 columns) a hit at column 150 is
    scrolled into view, and the current match looks different from the other matches."""
    lines = numbered(50).splitlines()
    for n in (10, 30):
        lines[n] += " " + "x" * 100 + " NEEDLE here"
    lines[30] += " NEEDLE"
    (tmp_path / "smtpd.log").write_text("\n".join(lines) + "\n")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogLines)
        await until(pilot, lambda: len(view.source or []) == 50)
        await pilot.press("b")  # the file list, hidden at 80 columns, shown
        await until(pilot, lambda: app.query_one(FileList).display and view.size.width < 60)
        await type_in(pilot, "slash", "NEEDLE")
        await until(pilot, lambda: view.current == 30 and view.scroll_x > 0)
        row = view.render_line(30 - int(view.scroll_y))
        assert "NEEDLE" in row.text and view.scroll_x > 0
        assert "◂ col" in status(app)
        styles = {seg.style for seg in row if "NEEDLE" in seg.text}
        assert len(styles) == 2, "the current match and the other one on its line look different"
        await pilot.press("F")
        await until(pilot, lambda: view.following and view.scroll_x == 0)


LAB_LOGS = [
    "dovecot-lda.log",
    "dovecot.log",
    "lab-namespace.log",
    "mailconsole-audit.log",
    "smtpd.log",
    "supervisord.log",
    "supervisord.log.1",
    "supervisord.log.2.gz",
]
"""The log files of a lab (with rotated ones): names up to 22 cells long in the list."""


def list_lines(files: FileList) -> list[str]:
    return [files.render_line(y).text.rstrip() for y in range(files.size.height)]


async def test_every_file_is_one_line_at_80_columns_and_whole_at_160(tmp_path: Path) -> None:
    """At 80x24 the list is narrow: each file still takes one line, with its size; the time and the
    middle of long names give way. At 160 columns each file shows its whole name, size and time."""
    for name in LAB_LOGS:
        (tmp_path / name).write_text("2025-11-24T10:00:00+00:00 mail smtpd[1]: line\n" * 700)
        os.utime(tmp_path / name, (1_700_000_000, 1_700_000_000))  # one time: rotated ones in order
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        files = app.query_one(FileList)
        await until(pilot, lambda: len(files.prompts) == len(LAB_LOGS))
        await pilot.press("o")
        await until(pilot, lambda: files.display and files.size.width > 0)
        shown = [line for line in list_lines(files) if line.strip()]
        assert len(shown) == len(LAB_LOGS), shown
        for line, name in zip(shown, LAB_LOGS, strict=True):
            assert line.split()[-1] == "31K", line
            stem = name.split(".")[0]
            assert stem[:8] in line and ("…" in line or name in line), line
        assert any("…" in line for line in shown) and any(".log.2.gz" in line for line in shown)
        await pilot.resize_terminal(160, 50)
        day = time.strftime("%m-%d", time.localtime(1_700_000_000))
        await until(pilot, lambda: list_lines(files)[0].endswith(f" 31K {day}"))
        for line, name in zip(list_lines(files), LAB_LOGS, strict=False):
            assert name in line and line.endswith(f" 31K {day}"), line


async def test_an_empty_log_directory_is_said_where_the_file_list_is_hidden(
    tmp_path: Path,
) -> None:
    """Below 120 columns the file list (which says "no log files") starts hidden: the status line
    names the empty directory instead of a bare "no file open"."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: f"no log files in {tmp_path}" in status(app))
        (tmp_path / "smtpd.log").write_text(numbered(3))
        app.query_one(LogsScreen).refresh_files()
        await until(pilot, lambda: status(app).startswith("no file open"))
