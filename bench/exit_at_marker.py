"""Run a Textual program and exit the moment its output first carries MARKER (for startup_instructions.py).

    python bench/exit_at_marker.py MARKER SCRIPT [ARGS...]   # SCRIPT may be `-m widgets`

Textual writes every frame through one WriterThread; this wraps its file so the write that carries the
marker ends the process (os._exit, so nothing after the first complete frame is counted).
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import IO

import textual.drivers._writer_thread as writer_thread


class _ExitAtMarker:
    def __init__(self, file: IO[str], marker: str) -> None:
        self.file = file
        self.marker = marker

    def write(self, text: str) -> None:
        self.file.write(text)
        if self.marker in text:
            self.file.flush()
            os._exit(0)

    def flush(self) -> None:
        self.file.flush()

    def fileno(self) -> int:
        return self.file.fileno()


def main() -> None:
    marker, *program = sys.argv[1:]
    original_init = writer_thread.WriterThread.__init__

    def init(self: writer_thread.WriterThread, file: IO[str]) -> None:
        original_init(self, _ExitAtMarker(file, marker))  # type: ignore[arg-type]

    writer_thread.WriterThread.__init__ = init  # type: ignore[method-assign]
    if program[0] == "-m":
        sys.argv = [program[1], *program[2:]]
        runpy.run_module(program[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = program
        runpy.run_path(program[0], run_name="__main__")


if __name__ == "__main__":
    main()
