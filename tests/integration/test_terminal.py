"""The console in a real terminal (tmux) as `docker exec -it` gives it: TERM=xterm, 80x24, no mouse;
NO_COLOR turns every colour on the screen into a grey."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import MAILCONSOLE, wait_for
from widgets.app import SCREENS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="needs tmux (tests/setup.sh installs it)"
)

SGR = re.compile(r"\x1b\[([0-9;]*)m")
GREY_256 = {0, 7, 8, 15, 16, 59, 102, 145, 188, 231, *range(232, 256)}


def non_grey_colours(screen: str) -> set[str]:
    """The colours the screen's SGR sequences set that are not greys, as their codes ("38;5;112",
    "48;2;36;47;56", "31")."""
    found: set[str] = set()
    for match in SGR.finditer(screen):
        codes = [int(c) for c in match.group(1).split(";") if c]
        while codes:
            code = codes.pop(0)
            if code in (38, 48) and codes[:1] == [5]:  # 256 colours
                n = codes[1]
                del codes[:2]
                if n not in GREY_256:
                    found.add(f"{code};5;{n}")
            elif code in (38, 48) and codes[:1] == [2]:  # true colour
                r, g, b = codes[1:4]
                del codes[:4]
                if not r == g == b:
                    found.add(f"{code};2;{r};{g};{b}")
            elif any(lo <= code <= lo + 7 for lo in (30, 40, 90, 100)) and code % 10 not in (0, 7):
                found.add(
                    str(code)
                )  # the 16 basic colours, less black, white and their bright forms
    return found


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[object]:
    sessions: list[str] = []

    def run(*env: str) -> str:
        """The screen (with its escape sequences) of the console, on an unreachable supervisord, once
        both the banner and the header say so."""
        name = f"mc-term-{os.getpid()}-{len(sessions)}"
        sessions.append(name)
        settings = tmp_path / "mailconsole.toml"
        settings.write_text(f'audit_log = "{tmp_path}/audit.log"\nlog_dir = "{tmp_path}"\n')
        command = " ".join(
            [
                "env",
                "-u",
                "NO_COLOR",
                "TERM=xterm",
                *env,
                *map(shlex.quote, MAILCONSOLE),
                "--config",
                shlex.quote(str(settings)),
                "--supervisor-url",
                f"unix://{tmp_path}/none.sock",
            ]
        )
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                "80",
                "-y",
                "24",
                "-c",
                str(ROOT),
                command,
            ],
            check=True,
        )

        def drawn() -> str | None:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-e", "-t", name], capture_output=True, text=True
            ).stdout
            # The banner and the header: two handlers, two frames.
            return screen if "Retrying" in screen and "● disconnected" in screen else None

        return wait_for(drawn, what="the console to draw its screen, disconnected")

    yield run
    for name in sessions:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False)


def test_plain_xterm_at_80x24_draws_the_console(terminal) -> None:  # type: ignore[no-untyped-def]
    screen = SGR.sub("", terminal())
    lines = screen.splitlines()
    assert lines[0].startswith(" mailconsole ") and "● disconnected" in lines[0]
    # Nine screens: at 80 columns the screen bar names them without their keys.
    assert lines[1].split() == [spec.title for spec in SCREENS]
    assert "Disconnected: supervisord is not running" in screen
    assert "q Quit" in lines[-1] or "q Quit" in screen.rstrip().splitlines()[-1]
    assert all(len(line) <= 80 for line in lines)


def test_no_color_leaves_only_greys(terminal) -> None:  # type: ignore[no-untyped-def]
    assert non_grey_colours(terminal()), (
        "without NO_COLOR the screen has colours (else this test could not fail)"
    )
    assert non_grey_colours(terminal("NO_COLOR=1")) == set()
