"""The core never imports Textual: import every console module in a fresh interpreter and look (at run
time; tests/unit/test_import_contract.py checks the same statically)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import console

ROOT = Path(__file__).resolve().parents[2]


def console_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(console.__path__, "console."))


def test_console_modules_exist() -> None:
    assert "console.cli" in console_modules()
    assert "console.actions" in console_modules()


def test_console_never_imports_textual() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {console_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
