"""The Date table of tests/fdm_dates.py against the real fdm 1.9 and 2.x (what the router's unit
test takes as the truth must stay what the binaries do)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.fdm_dates import CONFIG, DATES
from tests.integration.fdm_diff import require_fdm


@pytest.mark.parametrize("version", ["1.9", "2.x"])
def test_the_date_table_is_what_fdm_does(version: str, tmp_path: Path) -> None:
    binary, _dialect = require_fdm(version)
    out = tmp_path / "out"
    conf = tmp_path / "dates.conf"
    # The same config, each echo appending to a file.
    recording = CONFIG.replace('invalid"', f'invalid >> {out}"').replace(
        'second]"', f'second] >> {out}"'
    )
    conf.write_text('account "stdin" stdin\n' + recording, encoding="utf-8")
    wrong = []
    for message, invalid, tags in DATES:
        out.write_text("")
        before = time.time()
        subprocess.run(
            [binary, "-m", "-a", "stdin", "-f", str(conf), "fetch"],
            input=message.encode(),
            capture_output=True,
            env={**os.environ, "TZ": "UTC0"},
            timeout=30,
            check=False,
        )
        printed = out.read_text().splitlines()
        want = ["invalid"] if invalid else []
        if tags == "now":
            # The run's own time: between the seconds before and after it.
            after = time.time()
            nows = {
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
                for second in range(int(before), int(after) + 1)
            }
            ok = printed[:-1] == want and bool(printed) and printed[-1] in nows
        else:
            ok = printed == [*want, tags]
        if not ok:
            wrong.append(f"{message!r}: fdm printed {printed}, the table says {want} {tags}")
    assert not wrong, "\n".join(wrong)
