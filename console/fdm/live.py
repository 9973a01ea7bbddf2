"""The live test of an edited fdm.conf: lint and route in a child process, cached per config text.

Linting a 500-rule config is about 0.3 s of pure Python; in a thread of the console it holds the GIL and
delays keystrokes by as much. A child (`python -m console.fdm.live`, length-prefixed pickles on its
stdin and stdout) keeps that work off the console's interpreter; the caller's thread only waits on a pipe.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from console.fdm.lint import Finding, Tables, lint_text
from console.fdm.router import Route, Router
from console.fdm.testmail import ROUTER_HOSTNAME

_cache: tuple[str, str, Tables | None, list[Finding], Router | None] | None = None
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def lint_and_route(
    config_text: str, path: str, tables: Tables | None, message: str
) -> tuple[list[Finding], Route | None]:
    """The findings for a config text and the route of one message (None when it does not parse).

    The parsed config is kept while the text and tables stay the same: typing in the message pane
    only routes again.
    """
    global _cache
    if _cache is None or _cache[:3] != (config_text, path, tables):
        config, findings = lint_text(config_text, path, tables)
        router = Router(config, hostname=ROUTER_HOSTNAME) if config is not None else None
        _cache = (config_text, path, tables, findings, router)
    findings, router = _cache[3], _cache[4]
    route = router.route(message.encode("utf-8", "surrogateescape")) if router else None
    return findings, route


def _write(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value)
    stream.write(len(data).to_bytes(8, "big") + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("the live tester closed its pipe")
    size = int.from_bytes(header, "big")
    return pickle.loads(stream.read(size))


def serve() -> None:
    """The child's loop: one request in, one answer out, until stdin closes.

    It runs niced: on a small machine the console's own thread must win the CPU while you type.
    """
    os.nice(10)
    while True:
        try:
            request = _read(sys.stdin.buffer)
        except EOFError:
            return
        try:
            answer: tuple[str, Any] = ("ok", lint_and_route(*request))
        except Exception as exc:  # noqa: BLE001 - reported to the console, never a dead child
            answer = ("error", f"{type(exc).__name__}: {exc}")
        _write(sys.stdout.buffer, answer)


class LiveTester:
    """A child process running `lint_and_route`; `check` blocks only the calling thread."""

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(_PACKAGE_ROOT), env.get("PYTHONPATH")])
        )
        return subprocess.Popen(
            [sys.executable, "-m", "console.fdm.live"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )

    def check(
        self, config_text: str, path: str, tables: Tables | None, message: str
    ) -> tuple[list[Finding], Route | None]:
        """Lint and route in the child (started on first use, restarted if it died)."""
        with self._lock:
            try:
                if self._child is None:
                    self._child = self._start()
                child = self._child
                assert child.stdin is not None and child.stdout is not None
                _write(child.stdin, (config_text, path, tables, message))
                status, value = _read(child.stdout)
            except (OSError, EOFError, pickle.UnpicklingError):
                self._stop()
                return lint_and_route(config_text, path, tables, message)
        if status != "ok":
            raise RuntimeError(f"live test failed: {value}")
        findings, route = value
        return findings, route

    def _stop(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.stdin is not None:
            try:
                child.stdin.close()
            except OSError:
                pass
        try:
            child.wait(timeout=2)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def close(self) -> None:
        """Stop the child process (it exits when its stdin closes)."""
        self._stop()


if __name__ == "__main__":
    serve()
