"""What the tests share: the installed `mailconsole` command."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def _mailconsole_command() -> list[str]:
    """The `mailconsole` script installed beside this interpreter (the wheel's or the editable one)."""
    beside = Path(sys.executable).with_name("mailconsole")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("mailconsole")
    return [found] if found else [sys.executable, "-m", "widgets"]


MAILCONSOLE = _mailconsole_command()
"""argv of the installed `mailconsole` command."""
