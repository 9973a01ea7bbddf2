"""The console in a real terminal (tmux) as `docker exec -it` gives it: TERM=xterm, 80x24, no mouse;
NO_COLOR turns every colour on the screen into a grey."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (tests/setup.sh installs it)")

SGR = re.compile(r"\x1b\[([0-9;]*)m")
GREY_256 = {0, 7, 8, 15, 16, 59, 102, 145, 188, 231, *range(232, 256)}


def colours(screen: str) -> set[tuple[int, ...]]:
    """Every colour an SGR sequence on the screen sets, as (r, g, b) for 256-colour and true-colour
    codes, or (code,) for the 16 basic ones."""
    found: set[tuple[int, ...]] = set()
    for match in SGR.finditer(screen):
        codes = [int(c) for c in match.group(1).split(";") if c]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code in (38, 48) and i + 1 < len(codes) and codes[i + 1] == 5:
                found.add((codes[i + 2],) if codes[i + 2] < 16 else ("256", codes[i + 2]))  # type: ignore[arg-type]
                i += 3
            elif code in (38, 48) and i + 1 < len(codes) and codes[i + 1] == 2:
                found.add(tuple(codes[i + 2:i + 5]))
                i += 5
            else:
                if 30 <= code <= 37 or 40 <= code <= 47 or 90 <= code <= 97 or 100 <= code <= 107:
                    found.add((code % 10 + (8 if code >= 90 else 0),))
                i += 1
    return found


def is_grey(colour: tuple) -> bool:  # type: ignore[type-arg]
    if colour and colour[0] == "256":
        return colour[1] in GREY_256
    if len(colour) == 3:
        return colour[0] == colour[1] == colour[2]
    return colour[0] in (0, 7, 8, 15)  # black, white and their bright forms


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[object]:
    sessions: list[str] = []

    def run(*env: str) -> str:
        """The screen (with its escape sequences) of the console, on an unreachable supervisord."""
        name = f"mc-term-{os.getpid()}-{len(sessions)}"
        sessions.append(name)
        settings = tmp_path / "mailconsole.toml"
        settings.write_text(f'audit_log = "{tmp_path}/audit.log"\nlog_dir = "{tmp_path}"\n')
        command = " ".join([
            "env", "-u", "NO_COLOR", "TERM=xterm", *env, shlex.quote(sys.executable), "-m", "console",
            "--config", shlex.quote(str(settings)), "--supervisor-url", f"unix://{tmp_path}/none.sock"])
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", "-c", str(ROOT),
                        command], check=True)
        deadline = time.monotonic() + 30
        while True:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-e", "-t", name],
                                    capture_output=True, text=True).stdout
            if "Retrying" in screen:
                return screen
            assert time.monotonic() < deadline, f"the console did not draw its screen:\n{screen}"
            time.sleep(0.1)

    yield run
    for name in sessions:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False)


def test_plain_xterm_at_80x24_draws_the_console(terminal) -> None:  # type: ignore[no-untyped-def]
    screen = SGR.sub("", terminal())
    lines = screen.splitlines()
    assert lines[0].startswith(" mailconsole ") and "● disconnected" in lines[0]
    assert "Services F2" in lines[1] and "Disconnected: supervisord is not running" in screen
    assert "q Quit" in lines[-1] or "q Quit" in screen.rstrip().splitlines()[-1]
    assert all(len(line) <= 80 for line in lines)


def test_no_color_leaves_only_greys(terminal) -> None:  # type: ignore[no-untyped-def]
    coloured = {c for c in colours(terminal()) if not is_grey(c)}
    assert coloured, "without NO_COLOR the screen has colours (else this test could not fail)"
    assert {c for c in colours(terminal("NO_COLOR=1")) if not is_grey(c)} == set()
