"""The router reads Date headers as the real fdm does: every row of tests/fdm_dates.py."""

from __future__ import annotations

import time

import pytest

from console.fdm.parser import parse
from console.fdm.regex import PCRE2, POSIX
from console.fdm.router import Router
from tests.fdm_dates import CONFIG, DATES

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20 UTC


@pytest.mark.parametrize("dialect", [PCRE2, POSIX])
@pytest.mark.parametrize(("message", "invalid", "tags"), DATES)
def test_date_header_as_fdm_reads_it(dialect: str, message: str, invalid: bool, tags: str) -> None:
    config = parse('account "stdin" stdin\n' + CONFIG)
    result = Router(config, dialect, clock=lambda: NOW).route(message.encode())
    if tags == "now":
        tags = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(NOW))
    want = ["echo invalid"] if invalid else []
    assert result.commands == [*want, f"echo {tags}"]
