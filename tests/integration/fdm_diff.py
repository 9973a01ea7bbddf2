"""The router against a real fdm binary, pair by pair: shared by the corpus and property tests.

Each pair runs the real fdm on one message with a recorder config (console/fdm/recorder.py) and the
router on the same config and message; they must agree on the rules matched, every action item run
in order, what the recorders wrote, and the outcome (delivered, kept, dropped, error).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from console.fdm.parser import EXTERNAL_ITEMS, Config
from console.fdm.recorder import FDM, FDM2, recorder_config, run_fdm
from console.fdm.regex import PCRE2, POSIX
from console.fdm.router import Route, Router, run_rewrite

# version -> (binary, the router's dialect for it)
VERSIONS = {"1.9": (FDM, POSIX), "2.x": (FDM2, PCRE2)}


def require_fdm(version: str) -> tuple[str, str]:
    """(binary, dialect) of one real fdm; missing is a skip here and a failure under CI."""
    binary, dialect = VERSIONS[version]
    if shutil.which(binary) is None:
        why = f"fdm {version} is not installed at {binary} (tests/setup.sh builds it)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return binary, dialect


def defines_of(path: Path) -> dict[str, str]:
    """`-D` macro definitions a corpus config asks for in `#-D $name=value` lines."""
    found = {}
    for line in path.read_text().splitlines():
        if line.startswith("#-D "):
            name, _, value = line[4:].partition("=")
            found[name.strip()] = value
    return found


def router_answer(config: Config, message: bytes, dialect: str) -> dict[str, object] | None:
    """What the router says, in the terms the real run is read in (None: it declines)."""
    route: Route = Router(config, dialect, rewrite=run_rewrite).route(message)
    if route.not_modelled:
        return None
    return {
        "rules": route.rule_indexes,
        "runs": [(run.action, run.item) for run in route.runs],
        "recorded": [
            f"{run.action}:{run.item}" for run in route.runs if run.kind in EXTERNAL_ITEMS
        ],
        "outcome": route.outcome,
    }


class Differ:
    """Runs pairs on the real fdm in per-thread scratch directories (removed by `close`)."""

    def __init__(self, binary: str, dialect: str) -> None:
        self.binary = binary
        self.dialect = dialect
        self.local = threading.local()
        self.lock = threading.Lock()
        self.made: list[Path] = []

    def _dir(self) -> Path:
        # Actions run as `nobody` too (users { }): the recorder log must be writable by anyone.
        if not hasattr(self.local, "dir"):
            directory = Path(tempfile.mkdtemp(prefix="fdm-diff-"))
            directory.chmod(0o777)
            with self.lock:
                self.made.append(directory)
            self.local.dir = directory
            self.local.written = {}
        return self.local.dir

    def real_answer(
        self, key: str, config: Config, message: bytes, defines: dict[str, str] | None = None
    ) -> dict[str, object]:
        directory = self._dir()
        log = directory / "route.log"
        conf = directory / f"{key}.conf"
        if self.local.written.get(key) is not config:
            conf.write_text(
                recorder_config(config, log), encoding="utf-8", errors="surrogateescape"
            )
            self.local.written[key] = config
        real = run_fdm(conf, message, log, fdm=self.binary, defines=defines)
        return {
            "rules": real.matched_rules,
            "runs": real.runs,
            "recorded": real.recorded,
            "outcome": real.outcome(config),
        }

    def disagreement(
        self,
        key: str,
        config: Config,
        message: bytes,
        name: str,
        defines: dict[str, str] | None = None,
    ) -> str | None:
        """None when they agree, "declined" when the router says it does not model the route,
        else what each said."""
        want = router_answer(config, message, self.dialect)
        if want is None:
            return "declined"
        got = self.real_answer(key, config, message, defines)
        if got != want:
            return f"{name}: fdm {got} router {want}"
        return None

    def close(self) -> None:
        for directory in self.made:
            shutil.rmtree(directory, ignore_errors=True)


def run_echoes(binary: str, config: str, message: str, directory: Path) -> tuple[list[str], bool]:
    """Run a real fdm on one message with a config whose echoes append to `OUT` (an `account
    "stdin" stdin` line put first), as root and under TZ=UTC0: (the lines echoed, kept or not)."""
    out = directory / "out"
    out.write_text("")
    conf = directory / "echoes.conf"
    text = 'account "stdin" stdin\n' + config.replace("OUT", str(out))
    conf.write_bytes(text.encode(errors="surrogateescape"))
    proc = subprocess.run(
        [binary, "-m", "-vv", "-a", "stdin", "-f", str(conf), "fetch"],
        input=message.encode(errors="surrogateescape"),
        capture_output=True,
        env={**os.environ, "TZ": "UTC0"},
        timeout=30,
        check=False,
    )
    kept = b"(1 kept)" in proc.stdout + proc.stderr
    return out.read_text(errors="surrogateescape").splitlines(), kept
