"""The arrows of the house, checked statically: import-linter's contracts in pyproject.toml (the core
never imports textual or widgets; widgets sits on console; no cycles between a package's modules).

tests/unit/test_headless.py checks the first at run time; this catches an import that a run would not
reach (a branch, a function body, a TYPE_CHECKING block)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the packages in `cwd`, with pyproject.toml's contracts."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)},
    )


def test_the_import_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and "KEPT" in result.stdout


def test_a_core_module_importing_textual_breaks_the_contract(tmp_path: Path) -> None:
    """The contract is not a formality: the same tree with one `import textual` in the core fails."""
    for name in ("console", "widgets"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    text = tmp_path / "console" / "text.py"
    text.write_text(text.read_text() + "\n\ndef _ui() -> None:\n    import textual  # noqa: F401\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "console.text -> textual" in result.stdout
