"""What the real fdm makes of Date headers: for each message, whether `match age invalid` holds and
the `%[mail_...]` tags it fills, as fdm 1.9 (Debian) and fdm 2.x printed them (the same for all),
under TZ=UTC0. "now" is the time of the run: fdm uses it when it cannot read the Date when the mail
is fetched (a folded Date is read whole only later, when `age` is matched).

tests/unit/test_fdm_router_dates.py routes each message; tests/integration/test_fdm_cases_real.py
runs both real binaries over the same table, so the table stays true.

Not in the table: a zone word that names a zone file with another abbreviation (Europe/Berlin) or a
POSIX rule with an offset (ABC5, EST5EDT). fdm's tzlookup then leaves TZ set to that word for the
rest of the run, so the Date is invalid and the clock tags move into that zone; the router gives
the invalid Date but keeps its own clock zone.
"""

from __future__ import annotations

CONFIG = (
    'match age invalid action exec "echo invalid" continue\n'
    'match all action exec "echo %[mail_year]-%[mail_month]-%[mail_day]T'
    '%[mail_hour]:%[mail_minute]:%[mail_second]"\n'
)
"""The config both run (after an `account "stdin" stdin` line): what they print is the answer."""

DATES: list[tuple[str, bool, str]] = [
    ("Subject: s\nDate: Mon, 2 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-02T10:11:12"),
    ("Subject: s\nDate: 2 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-02T10:11:12"),
    ("Subject: s\nDate: Monday, 2 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-02T10:11:12"),
    ("Subject: s\nDate: Xyz, 2 Mar 2020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: Sat, 2 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-02T10:11:12"),
    ("Subject: s\nDate: 2 March 2020 10:11:12 +0000\n\nb\n", False, "2020-03-02T10:11:12"),
    ("Subject: s\nDate: 2 mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-02T10:11:12"),
    ("Subject: s\nDate: 2 MAR 2020 10:11:12 +0000\n\nb\n", False, "2020-03-02T10:11:12"),
    ("Subject: s\nDate: 2 Mrz 2020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 2 Dec 2020 10:11:12 +0000\n\nb\n", False, "2020-12-02T10:11:12"),
    ("Subject: s\nDate: 2 December 2020 10:11:12 +0000\n\nb\n", False, "2020-12-02T10:11:12"),
    ("Subject: s\nDate: 2 Sun 2020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 0 Mar 2020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 1 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-01T10:11:12"),
    ("Subject: s\nDate: 31 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-31T10:11:12"),
    ("Subject: s\nDate: 32 Mar 2020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 31 Feb 2020 10:11:12 +0000\n\nb\n", False, "2020-03-02T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 23:59:59 +0000\n\nb\n", False, "2020-03-12T23:59:59"),
    ("Subject: s\nDate: 12 Mar 2020 24:00:00 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:60:00 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:60 +0000\n\nb\n", False, "2020-03-12T10:12:00"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:61 +0000\n\nb\n", False, "2020-03-12T10:12:01"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:62 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 +2359\n\nb\n", False, "2020-03-11T10:12:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 -2359\n\nb\n", False, "2020-03-13T10:10:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 +2360\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 +2400\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 -2400\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 +0130\n\nb\n", False, "2020-03-12T08:41:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 -0130\n\nb\n", False, "2020-03-12T11:41:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 0130\n\nb\n", False, "2020-03-12T08:41:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 +130\n\nb\n", False, "2020-03-12T08:41:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 -0099\n\nb\n", False, "2020-03-12T11:50:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 +0199\n\nb\n", False, "2020-03-12T07:32:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 UTC\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 GMT\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 EST\n\nb\n", False, "2020-03-19T22:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 CET\n\nb\n", False, "2020-03-10T22:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 CEST\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 XYZ\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 utc\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 +0000 (UTC)\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 EET\n\nb\n", False, "2020-03-09T10:11:12"),
    ("Subject: s\nDate: 12 Mar 70 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 1 Jan 1970 00:00:00 +0000\n\nb\n", False, "1970-01-01T00:00:00"),
    ("Subject: s\nDate: 1 Jan 1970 00:00:00 +0100\n\nb\n", True, "now"),
    ("Subject: s\nDate: 1 Jan 1970 00:00:01 -0000\n\nb\n", False, "1970-01-01T00:00:01"),
    ("Subject: s\nDate: 12 Mar 2020 10:11 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate:   12   Mar   2020   10 : 11 : 12   +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12Mar2020 10:11:12 +0000\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: Thu,12 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Date:12 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-12T10:11:12"),
    ("date: 12 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-12T10:11:12"),
    ("DATE: 12 Mar 2020 10:11:12 +0000\nSubject: x\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: x\n\nDate: 12 Mar 2020 10:11:12 +0000\n", True, "now"),
    ("X-Date: 12 Mar 2020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Date: 12 Mar 2020 10:11:12 +0000", True, "now"),
    (
        "Date: 12 Mar 2020 10:11:12 +0000\nDate: 13 Mar 2020 10:11:12 +0000\n\nb\n",
        False,
        "2020-03-12T10:11:12",
    ),
    ("Date: 12 Mar 2020\n 10:11:12 +0000\n\nb\n", False, "now"),
    ("Date: 12 Mar 2020 10:11:12\n +0100\n\nb\n", False, "now"),
    ("Date 12 Mar 2020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11: 12 +0000\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10 :11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10: 11:12 +0000\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: Mon , 12 Mar 2020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: Mon,  12 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 +0000x\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12+0000\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12\tMar\t2020\t10:11:12\t+0000\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12  \t +0100\n\nb\n", False, "2020-03-12T09:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 UT\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 Z\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 MST\n\nb\n", False, "2020-03-22T22:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 HST\n\nb\n", False, "2020-03-27T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 WET\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 UCT\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 Zulu\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 PST\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 ABCDEFGHIJKL\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 99999\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 -0\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: 12 Mar 2020 10:11:12 +-100\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 1:2:3 +0000\n\nb\n", False, "2020-03-12T01:02:03"),
    ("Subject: s\nDate: 012 Mar 2020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 02020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 20 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 999 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Mar 2020 010:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: Sunday, 12 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: Sun, 12 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: sunday, 12 Mar 2020 10:11:12 +0000\n\nb\n", False, "2020-03-12T10:11:12"),
    ("Subject: s\nDate: Tues, 12 Mar 2020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: Marc 12 2020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Sept 2020 10:11:12 +0000\n\nb\n", True, "now"),
    ("Subject: s\nDate: 12 Marc 2020 10:11:12 +0000\n\nb\n", True, "now"),
]
"""(message, `age invalid` holds, the mail tags as YYYY-MM-DDTHH:MM:SS or "now")."""
