"""Replay recorded smtpctl output: `python smtpctl_replay.py MAP_JSON ARGS...` prints a capture.

Used as the `smtpctl` argv prefix in unit tests so console.queue runs its real subprocess path on
what the real smtpctl printed (tests/captures/smtpctl). MAP_JSON maps the joined arguments to a
capture name; the capture's exit status is replayed, and `smtpctl:` / `possibilities are:` texts
go to stderr as the real smtpctl writes them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CAPTURES = Path(__file__).resolve().parent.parent / "captures" / "smtpctl"


def main() -> None:
    """Print the capture mapped to the arguments and exit with its status."""
    mapping = json.loads(sys.argv[1])
    name = mapping[" ".join(sys.argv[2:])]
    text = (CAPTURES / f"{name}.out").read_bytes()
    code = int((CAPTURES / f"{name}.rc").read_text())
    to_stderr = text.startswith((b"smtpctl:", b"possibilities are:"))
    (sys.stderr if to_stderr else sys.stdout).buffer.write(text)
    sys.exit(code)


if __name__ == "__main__":
    main()
