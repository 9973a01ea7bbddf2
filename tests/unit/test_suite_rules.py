"""The test suite's own rules, checked by running pytest on small probe files: under CI every skip
(a marker, a call, a whole module) is a failure; elsewhere a skip stays a skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBES = {
    "conftest.py": "from tests.conftest import (  # noqa: F401\n"
    "    pytest_make_collect_report, pytest_runtest_makereport, pytest_unconfigure)\n",
    "test_probe.py": """
import pytest

def test_skipped_by_a_call():
    pytest.skip("no such tool here")

@pytest.mark.skipif(True, reason="never here")
def test_skipped_by_a_marker():
    pass

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_expected_to_fail():
    assert False

def test_passing():
    pass
""",
    "test_module_probe.py": "import pytest\n\npytest.skip('not this machine', allow_module_level=True)\n",
}


def run_probes(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    for name, text in PROBES.items():
        (tmp_path / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci:
        env["CI"] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "--continue-on-collection-errors",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("ci", [False, True])
def test_under_ci_every_skip_is_a_failure(tmp_path: Path, ci: bool) -> None:
    done = run_probes(tmp_path, ci)
    summary = done.stdout.strip().splitlines()[-1]
    if ci:
        assert done.returncode == 1, done.stdout
        assert "1 failed, 1 passed, 1 xfailed, 2 errors" in summary, (
            done.stdout
        )  # setup, collection
        assert done.stdout.count("skipped under CI, where every test must run") == 3
    else:
        assert done.returncode == 0, done.stdout
        assert "1 passed, 3 skipped, 1 xfailed" in summary, done.stdout
