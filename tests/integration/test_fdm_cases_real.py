"""The cases of tests/fdm_cases.py and the Date table of tests/fdm_dates.py against the real fdm
1.9 and 2.x: what the router's unit tests take as the truth must stay what the binaries do."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.fdm_cases import CASES
from tests.fdm_dates import CONFIG, DATES
from tests.integration.fdm_diff import require_fdm, run_echoes


@pytest.mark.parametrize("version", ["1.9", "2.x"])
def test_the_cases_are_what_fdm_does(version: str, tmp_path: Path) -> None:
    binary, _dialect = require_fdm(version)
    wrong = []
    for case in CASES:
        printed, kept = run_echoes(binary, case.config, case.message, tmp_path)
        want = [line.format(hostname=socket.gethostname()) for line in case.printed]
        if (printed, kept) != (want, case.kept):
            wrong.append(f"{case.name}: fdm printed {printed}, kept {kept}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("version", ["1.9", "2.x"])
def test_the_date_table_is_what_fdm_does(version: str, tmp_path: Path) -> None:
    binary, _dialect = require_fdm(version)
    # The same config, each echo appending to the file.
    config = CONFIG.replace('invalid"', 'invalid >> OUT"').replace('second]"', 'second] >> OUT"')
    wrong = []
    for message, invalid, tags in DATES:
        before = time.time()
        printed, _kept = run_echoes(binary, config, message, tmp_path)
        want = ["invalid"] if invalid else []
        if tags == "now":
            # The run's own time: a second between the one before it and the one after.
            seconds = range(int(before), int(time.time()) + 1)
            nows = {time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) for s in seconds}
            ok = printed[:-1] == want and bool(printed) and printed[-1] in nows
        else:
            ok = printed == [*want, tags]
        if not ok:
            wrong.append(f"{message!r}: fdm printed {printed}, the table says {want} {tags}")
    assert not wrong, "\n".join(wrong)
