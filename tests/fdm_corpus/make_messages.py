"""Regenerate the differential corpus's messages (deterministic): `python tests/fdm_corpus/make_messages.py`.

Each message mixes a subject keyword that some corpus config tests, a recipient placed in To, Cc,
a folded To or smtpd's Received line, and optional spam, list, priority, date and body features.
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).parent / "messages"

SUBJECTS = [
    "hello", "urgent matter", "URGENT matter", "alpha release", "beta release", "gamma ray",
    "weekly digest", "a note", "all saves", "ordered list", "question", "bracket", "first",
    "missing action", "pattern", "partial", "inline one", "inline list", "chained", "dropme",
    "keepme", "hold this", "mixed bag", "continue keep", "inbox please", "literal", "a.b", "aXb",
    "x.y", "xzy", "q\tz", "qtz", "own header", "acct", "users", "rule user", "100%", "count 100",
    "strict mode", "123 items", "re: re: hi", "the ticket 5", "tickets", "chain", "loop",
    "byaccount", "mark me", "strip me", "invoice 42", "Caf\u00e9 cr\u00e8me", "",
]
RECIPIENTS = [
    "bob@example.com", "notifications@example.com", "mailinglists@example.com",
    "system@example.com", "dmarc@example.com", "networking@example.net", "network@example.net",
    "carol@example.com", "BOB@EXAMPLE.COM", "someone@else.org",
]
SENDERS = ["alice@example.org", "news@lists.example.org", "root@localhost", "x@spam.example"]
BODIES = [
    "hi\n", "unsubscribe here\nbye\n", "see the invoice\n", "many thanks\n",
    "line one\nthanks\n", "", "x" * 5000 + "\n", "Subject: fake header in body\n",
]
DATES = [
    "Mon, 01 Jan 2001 10:00:00 +0000", "Sat, 01 Mar 2025 10:00:00 +0000", "not a date", None,
]


def message(rng: random.Random, index: int) -> bytes:
    subject = SUBJECTS[index % len(SUBJECTS)]
    rcpt = RECIPIENTS[(index // 3) % len(RECIPIENTS)]
    placement = index % 4
    lines = []
    if placement == 3:
        lines.append(f"Received: from mx.example.org by mail.example.com\n\tfor <{rcpt}>; "
                     "Mon, 01 Jan 2024 10:00:00 +0000")
    lines.append(f"From: Sender <{rng.choice(SENDERS)}>")
    if placement == 0:
        lines.append(f"To: {rcpt}")
    elif placement == 1:
        lines.append("To: someone@else.org")
        lines.append(f"Cc: {rcpt}")
    elif placement == 2:
        lines.append(f"To: Dave <dave@example.com>,\n  Carol <carol@example.com>, {rcpt}")
    else:
        lines.append("To: undisclosed-recipients:;")
    if index % 7 == 0:
        lines.append("Cc: friends@example.org,\n\tbob@example.com")
    if index % 5 == 0:
        lines.append("X-Spam-Status: Yes, score=9.1")
    elif index % 5 == 1:
        lines.append("X-Spam-Status: No, score=0.1")
    if index % 6 == 2:
        lines.append("List-Id: <dev.lists.example.org>")
    lines.append(f"X-Priority: {index % 5 + 1}")
    date = DATES[index % len(DATES)]
    if date is not None:
        lines.append(f"Date: {date}")
    lines.append(f"Message-Id: <{index}.{rng.randrange(10**6)}@example.org>")
    if index % 11 == 0:
        lines.append("Subject: long subject\n\tcontinued")
    else:
        lines.append(f"Subject: {subject}")
    if index % 13 == 0:
        lines.append("X-Sorted: yes")
    body = BODIES[index % len(BODIES)]
    text = "\n".join(lines) + "\n\n" + body
    if index % 29 == 0:
        text = "From alice@example.org Mon Jan  1 10:00:00 2024\n" + text
    if index % 31 == 0:
        text = "\n".join(lines) + "\n"
    data = text.encode("utf-8")
    if index % 37 == 0:
        data = data.replace(b"\n", b"\r\n")
    return data


def main() -> None:
    rng = random.Random(5)
    HERE.mkdir(exist_ok=True)
    for old in HERE.glob("*.eml"):
        old.unlink()
    for index in range(220):
        (HERE / f"{index:03d}.eml").write_bytes(message(rng, index))


if __name__ == "__main__":
    main()
