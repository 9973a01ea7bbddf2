"""The story of a queued message in the logs: every line mentioning it, time-ordered."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from console.logs.follow import LogLine
from console.logs.parse import parse_timestamp
from console.queue.parse import split_message

LOG_TAIL_BYTES = 16 * 1024 * 1024
"""How much of the end of each log file is searched for a message's lines."""


def message_story(log_dir: Path, needles: Sequence[str], limit: int = 2000) -> list[LogLine]:
    """Every line of the files in log_dir (their last LOG_TAIL_BYTES) that mentions a needle (the
    msgid, its Message-ID...), time-ordered: lines without a time keep the time of the line before
    them in their file, so each file's order is kept."""
    found: list[tuple[float, int, LogLine]] = []
    year = time.localtime().tm_year
    wanted = [n.encode("utf-8", "surrogateescape") for n in needles if n]
    try:
        files = sorted(p for p in log_dir.iterdir() if p.is_file())
    except OSError:
        return []
    order = 0
    for path in files:
        try:
            with path.open("rb") as handle:
                size = handle.seek(0, 2)
                handle.seek(max(0, size - LOG_TAIL_BYTES))
                data = handle.read()
        except OSError:
            continue
        if not any(needle in data for needle in wanted):
            continue
        last_time = 0.0
        for lineno, raw in enumerate(data.split(b"\n"), start=1):
            text = raw.decode("utf-8", "replace")
            stamp = parse_timestamp(text, year)[0] if raw[:1].isalnum() else None
            if stamp is not None:
                last_time = stamp
            if any(needle in raw for needle in wanted):
                order += 1
                found.append((stamp if stamp is not None else last_time, order,
                              LogLine(text, origin=path.name, lineno=lineno)))
    found.sort(key=lambda item: (item[0], item[1]))
    return [line for _, _, line in found[-limit:]]


def message_id_header(message: str) -> str:
    """The Message-ID of a queued message (angle brackets removed), or an empty string."""
    head, _ = split_message(message)
    for line in head.split("\n"):
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "message-id":
            return value.strip().strip("<>")
    return ""
