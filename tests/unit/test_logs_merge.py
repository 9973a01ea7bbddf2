"""Several logs merged into one time-ordered view, growing as the files do."""

from __future__ import annotations

from console.logs.follow import FollowedLog
from console.logs.merge import MergedLogs


def stamped(second: int, text: str) -> str:
    return f"Nov 24 10:00:{second:02d} {text}\n"


def test_files_are_interleaved_by_time_and_new_lines_appended(tmp_path):
    smtpd, dovecot = tmp_path / "smtpd.log", tmp_path / "dovecot.log"
    smtpd.write_text(stamped(1, "accepted") + stamped(5, "delivered"))
    dovecot.write_text(stamped(3, "login") + "  unstamped continuation\n" + stamped(9, "logout"))
    logs = [FollowedLog(smtpd), FollowedLog(dovecot)]
    merged = MergedLogs(logs)
    lines = [merged.line(n) for n in range(len(merged))]
    assert [(line.origin, line.text.split()[-1]) for line in lines] == [
        ("smtpd.log", "accepted"),
        ("dovecot.log", "login"),
        ("dovecot.log", "continuation"),
        ("smtpd.log", "delivered"),
        ("dovecot.log", "logout"),
    ]
    with smtpd.open("a") as f:
        f.write(stamped(10, "queued"))
    logs[0].poll()
    assert merged.catch_up(logs[0]) == 1
    assert merged.line(len(merged) - 1).text.endswith("queued")
    for log in logs:
        log.close()


def test_only_the_last_lines_of_each_file_are_merged(tmp_path):
    path = tmp_path / "a.log"
    path.write_text("".join(stamped(n % 60, f"n{n}") for n in range(50)))
    log = FollowedLog(path)
    merged = MergedLogs([log], limit=10)
    assert len(merged) == 10 and merged.line(0).text.endswith("n40")
    log.close()
