"""Mail flow per minute: smtpd's real log lines (recorded from the lab's smtpd -d) classified, an
unstamped file counted from when it was seen, a stamped (syslog) file's last hour read from itself."""

from __future__ import annotations

import time
from pathlib import Path

from console.health.flow import EVENTS, WINDOW_MINUTES, MailFlow, classify

RECORDED = Path(__file__).resolve().parents[1] / "recordings" / "smtpd-flow.log"


def test_recorded_smtpd_lines_are_classified() -> None:
    counts = dict.fromkeys(EVENTS, 0)
    for line in RECORDED.read_text().splitlines():
        if event := classify(line):
            counts[event] += 1
    # 6 messages accepted (two come back from the filters, one is smtpd's own bounce), two relays
    # and a delivery that worked, one PermFail (bounce), two TempFail (the unreachable domain),
    # one 550 to RCPT.
    assert counts == {"accepted": 6, "delivered": 3, "deferred": 2, "bounced": 1, "rejected": 1}


def test_an_unstamped_file_is_counted_from_when_its_lines_are_seen(tmp_path: Path) -> None:
    log = tmp_path / "smtpd.log"
    lines = RECORDED.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:20]))  # history without times: not counted
    start = time.time()
    flow = MailFlow(tmp_path, now=start)
    try:
        assert [s.stamped for s in flow.sources] == [False]
        assert flow.since == start
        assert "since" in flow.describe() and "carry no time" in flow.describe()
        assert sum(sum(v) for v in flow.series(start).values()) == 0
        with log.open("a") as handle:
            handle.write("".join(lines[20:]))
        seen = start + 30
        assert flow.poll(seen) == 5
        series = flow.series(seen)
        assert all(len(v) == WINDOW_MINUTES for v in series.values())
        assert {e: v[-1] for e, v in series.items()} == {
            "accepted": 1,
            "delivered": 2,
            "deferred": 2,
            "bounced": 0,
            "rejected": 0,
        }
        # an hour later those minutes have left the window
        flow.poll(seen + 3600)
        assert sum(sum(v) for v in flow.series(seen + 3600).values()) == 0
    finally:
        flow.close()


def test_a_stamped_file_gives_the_last_hour_from_its_own_times(tmp_path: Path) -> None:
    """smtpd logging through syslog: the same lines behind a syslog header, at known minutes."""
    now = time.time()
    events = [line for line in RECORDED.read_text().splitlines() if classify(line)]
    stamped = []
    for minutes_ago, line in zip([90, 50, 50, 10, 10, 10, 2, 2, 1, 1, 0, 0], events, strict=False):
        when = time.strftime("%b %e %H:%M:%S", time.localtime(now - minutes_ago * 60))
        stamped.append(f"{when} mail smtpd[4242]: {line}\n")
    (tmp_path / "maillog").write_text("".join(stamped))
    (tmp_path / "dovecot.log").write_text("Dec 03 13:16:09 master: Info: Dovecot starting up\n")
    flow = MailFlow(tmp_path, now=now)
    try:
        assert [(s.path.name, s.stamped) for s in flow.sources] == [("maillog", True)]
        assert flow.since == now - 3600
        series = flow.series(now)
        per_minute = [sum(v[i] for v in series.values()) for i in range(WINDOW_MINUTES)]
        assert per_minute[-1] == 2 and per_minute[-2] == 2 and per_minute[-3] == 2
        assert per_minute[-11] == 3 and per_minute[-51] == 2
        assert sum(per_minute) == 11  # the line of 90 minutes ago is outside the hour
        assert "own times" in flow.describe()
    finally:
        flow.close()


def test_no_smtpd_log_says_so(tmp_path: Path) -> None:
    flow = MailFlow(tmp_path)
    assert flow.sources == [] and flow.since is None
    assert "no smtpd log lines" in flow.describe()
    assert flow.poll() == 0
