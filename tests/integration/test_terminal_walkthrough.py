"""The console on the real lab in a real terminal (tmux, TERM=xterm, 80x24), as an operator meets
it: what a layout defect would leave on the screen is looked for in tmux's capture."""

from __future__ import annotations

import json
import operator
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.helpers import MAILCONSOLE, wait_for
from tests.integration.conftest import RunningLab

ROOT = Path(__file__).resolve().parents[2]
STRAY = re.compile("[▁▂▃▄▅▆▇▊▋▌▍▎▏]")
"""Partial-block glyphs: a scrollbar thumb with no track, or a border left behind."""

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="needs tmux (tests/setup.sh installs it)"
)


@pytest.fixture(scope="module")
def mail(lab: RunningLab) -> RunningLab:
    """The lab with mail in it (`mailconsole lab send`), once its unreachable.test envelope failed."""
    done = subprocess.run(
        [*MAILCONSOLE, "lab", "send", "--dir", str(lab.dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "someone@unreachable.test: stays queued" in done.stdout

    def failed() -> bool:
        queue = subprocess.run(
            [*lab.smtpctl, "show", "queue"], capture_output=True, text=True
        ).stdout
        return any(
            "unreachable.test" in line and "Network error" in line for line in queue.splitlines()
        )

    wait_for(failed, timeout=60, what="the unreachable.test envelope to fail")
    return lab


class Terminal:
    """One console in a tmux session of 80x24."""

    def __init__(self, name: str) -> None:
        self.name = name

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> list[str]:
        out = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.split("\n")[:24]

    def wait(
        self, check: Callable[[list[str]], object], what: str, timeout: float = 30
    ) -> list[str]:
        """The screen once `check` holds for it (the test fails after `timeout`, naming `what`)."""
        shown: list[list[str]] = [[]]

        def holds() -> bool:
            shown[0] = self.screen()
            return bool(check(shown[0]))

        try:
            wait_for(holds, timeout=timeout, what=what)
        except pytest.fail.Exception as exc:
            pytest.fail(f"{exc}; the screen:\n" + "\n".join(shown[0]))
        return shown[0]


@pytest.fixture
def console(mail: RunningLab) -> Iterator[Terminal]:
    name = f"mc-walk-{os.getpid()}-{time.monotonic_ns()}"
    command = " ".join(
        [
            "env",
            "-u",
            "NO_COLOR",
            "TERM=xterm",
            *map(shlex.quote, MAILCONSOLE),
            "--config",
            shlex.quote(str(mail.settings_path)),
        ]
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", "-c", str(ROOT), command],
        check=True,
    )
    terminal = Terminal(name)
    terminal.wait(lambda s: "● connected" in s[0] and "RUNNING" in "\n".join(s), "no console")
    yield terminal
    subprocess.run(["tmux", "kill-session", "-t", name], check=False)


def test_hiding_the_file_list_leaves_no_old_columns(console: Terminal, mail: RunningLab) -> None:
    console.keys("F4")
    shown = console.wait(lambda s: "following" in s[2], "the Logs screen did not open")
    assert "│" not in "\n".join(shown[2:23]), "at 80 columns the file list starts hidden"
    console.keys("b")
    console.wait(lambda s: "│" in s[5], "b did not show the file list")
    console.keys("b")
    lines = console.wait(
        lambda s: (
            "following" in s[2]
            and s[2].startswith(s[2].split()[0])
            and "│" not in "\n".join(s[2:23])
        ),
        "b did not hide the file list",
    )
    name = lines[2].split()[0]
    text = (mail.dir / "log" / name).read_text(errors="replace").splitlines()
    assert any(len(line) > 80 for line in text), f"{name} has a line longer than the screen"
    for row in lines[3:23]:
        if row.strip():
            assert any(line[:80].rstrip() == row.rstrip() for line in text), (
                f"a row of {name} is not a line of it (old columns left over?):\n{row}"
            )
    assert not STRAY.search("\n".join(lines[2:23])), "\n".join(lines)


def test_a_long_output_line_is_read_whole_by_scrolling_sideways(
    console: Terminal, mail: RunningLab
) -> None:
    # dovecot's long lines (longer than the pane): the pane follows the output's tail, and lines
    # other tests caused (a refused login is logged late) may arrive while this test scrolls, so
    # the lines are read again at each look.
    def long_lines() -> list[str]:
        text = (mail.dir / "log" / "dovecot.log").read_text()
        return [line for line in text.splitlines() if len(line) > 100]

    def shows(ends: bool, screen: list[str]) -> bool:
        parts = {line[-30:] if ends else line[:60] for line in long_lines()}
        return any(part in row for part in parts for row in screen)

    console.keys("l")  # the cursor is on dovecot, the first program
    console.wait(partial(shows, False), "dovecot's output is not shown")
    seen = console.screen()
    for _ in range(10):
        if shows(True, seen):
            break
        console.keys("Right")
        seen = console.wait(partial(operator.ne, seen), "right did not scroll the output")
    assert shows(True, seen), "\n".join(seen)
    assert any("◂ col" in row for row in seen), "the title says the output is scrolled"


def test_a_queue_error_is_read_whole_in_the_details(console: Terminal) -> None:
    console.keys("F3")
    table = console.wait(
        lambda s: any("someone@unreachable.test" in row for row in s),
        "the queue shows no unreachable.test envelope",
    )
    assert not any("Network error on destination MXs" in row for row in table), (
        "the table's error column is cut at 80 columns (else this test proves nothing)"
    )
    wanted = "errorline: Network error on destination MXs"
    console.keys("Enter")  # the details of the first row (a message), then they follow the cursor
    console.wait(lambda s: any(row.startswith(" Message ") for row in s), "enter opened no details")
    details: list[str] = []
    for _ in range(20):  # while smtpd retries it the envelope is inflight, its error line empty
        console.keys("Down")
        details = console.wait(
            lambda s: any(row.strip().startswith("errorline:") for row in s),
            "the details did not follow the cursor to the envelope",
        )
        if any(row.strip() == wanted for row in details):
            break
        console.keys("Up")
        console.wait(
            lambda s: not any(row.strip().startswith("errorline:") for row in s),
            "the details did not follow the cursor back to the message",
        )
    assert any(row.strip() == wanted for row in details), "\n".join(details)


def test_every_dialog_keeps_its_buttons_on_the_screen(console: Terminal) -> None:
    console.keys("r")
    confirm = console.wait(lambda s: any("Yes (y)" in row for row in s), "r asked nothing")
    assert any("No (n)" in row for row in confirm)
    console.keys("n")
    console.wait(lambda s: not any("Yes (y)" in row for row in s), "n did not close it")
    console.keys("k")
    signal = console.wait(
        lambda s: any("Send" in row and "Cancel" in row for row in s),
        "k showed no signal dialog with its buttons",
    )
    assert any("SIGHUP" in row for row in signal)
    console.keys("Escape")
    # Each key once the one before has shown: a key typed while the dialog is still closing, or
    # before the Queue is the screen, goes to what is there then.
    console.wait(
        lambda s: not any("Send" in row and "Cancel" in row for row in s),
        "Escape did not close the signal dialog",
    )
    console.keys("F3")
    console.wait(
        lambda s: any(
            ("Envelope" in r and "Recipient" in r) or "the queue is empty" in r for r in s
        ),
        "the Queue",
    )
    console.keys("?")
    console.wait(lambda s: any("escape closes" in row for row in s), "the Queue's help")
    console.keys("Escape", "F5")
    console.wait(lambda s: "fdm.conf" in s[2], "the Rules screen did not open")
    console.keys("End", "x", "C-r")
    console.wait(
        lambda s: any("Reload (y)" in row for row in s) and any("No (n)" in row for row in s),
        "ctrl+r with an edit did not ask first",
    )
    console.keys("n")
    console.wait(
        lambda s: not any("Reload (y)" in row for row in s), "n did not close the question"
    )
    console.keys("C-q")
    console.wait(
        lambda s: any("Quit (y)" in row for row in s) and any("No (n)" in row for row in s),
        "quitting with an edit did not ask",
    )
    console.keys("n")


def test_lab_send_is_audited_and_refused_read_only(mail: RunningLab) -> None:
    audit = mail.dir / "log" / "mailconsole-audit.log"
    sent = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["action"], r["outcome"]) for r in sent if r["action"] == "lab.send"][:2] == [
        ("lab.send", "started"),
        ("lab.send", "ok"),
    ]
    before = subprocess.run([*mail.smtpctl, "show", "queue"], capture_output=True, text=True).stdout
    done = subprocess.run(
        [*MAILCONSOLE, "--read-only", "lab", "send", "--dir", str(mail.dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3 and done.stderr.startswith(
        "mailconsole: refused: mailconsole is read-only"
    )
    last = json.loads(audit.read_text().splitlines()[-1])
    assert (last["action"], last["outcome"], last["refused"]) == ("lab.send", "refused", True)
    after = subprocess.run([*mail.smtpctl, "show", "queue"], capture_output=True, text=True).stdout
    assert len(after.splitlines()) <= len(before.splitlines())  # nothing new was submitted
