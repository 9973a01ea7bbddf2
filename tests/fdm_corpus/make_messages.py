"""Regenerate the differential corpus's messages (deterministic): `python tests/fdm_corpus/make_messages.py`.

Each message mixes a subject keyword that some corpus config tests, a recipient placed in To, Cc,
a folded To or smtpd's Received line, and optional spam, list, priority, date and body features.
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).parent / "messages"

SUBJECTS = [
    "hello",
    "urgent matter",
    "URGENT matter",
    "alpha release",
    "beta release",
    "gamma ray",
    "weekly digest",
    "a note",
    "all saves",
    "ordered list",
    "question",
    "bracket",
    "first",
    "missing action",
    "pattern",
    "partial",
    "inline one",
    "inline list",
    "chained",
    "dropme",
    "keepme",
    "hold this",
    "mixed bag",
    "continue keep",
    "inbox please",
    "literal",
    "a.b",
    "aXb",
    "x.y",
    "xzy",
    "q\tz",
    "qtz",
    "own header",
    "acct",
    "users",
    "rule user",
    "100%",
    "count 100",
    "strict mode",
    "123 items",
    "re: re: hi",
    "the ticket 5",
    "tickets",
    "chain",
    "loop",
    "byaccount",
    "mark me",
    "strip me",
    "invoice 42",
    "Caf\u00e9 cr\u00e8me",
    "",
]
RECIPIENTS = [
    "bob@example.com",
    "notifications@example.com",
    "mailinglists@example.com",
    "system@example.com",
    "dmarc@example.com",
    "networking@example.net",
    "network@example.net",
    "carol@example.com",
    "BOB@EXAMPLE.COM",
    "someone@else.org",
]
SENDERS = ["alice@example.org", "news@lists.example.org", "root@localhost", "x@spam.example"]
BODIES = [
    "hi\n",
    "unsubscribe here\nbye\n",
    "see the invoice\n",
    "many thanks\n",
    "line one\nthanks\n",
    "",
    "x" * 5000 + "\n",
    "Subject: fake header in body\n",
]
DATES = [
    "Mon, 01 Jan 2001 10:00:00 +0000",
    "Sat, 01 Mar 2025 10:00:00 +0000",
    "not a date",
    None,
]


def message(rng: random.Random, index: int) -> bytes:
    subject = SUBJECTS[index % len(SUBJECTS)]
    rcpt = RECIPIENTS[(index // 3) % len(RECIPIENTS)]
    placement = index % 4
    lines = []
    if placement == 3:
        lines.append(
            f"Received: from mx.example.org by mail.example.com\n\tfor <{rcpt}>; "
            "Mon, 01 Jan 2024 10:00:00 +0000"
        )
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


def sized(size: int, final_newline: bool = True) -> bytes:
    """A message of exactly `size` bytes (the body padded), optionally without its final newline."""
    head = b"From: alice@example.org\nTo: bob@example.com\nSubject: size %d\n\n" % size
    content = size - len(head) - (1 if final_newline else 0)
    full, rest = divmod(content, 77)
    if rest == 0:
        full, rest = full - 1, 77
    body = (b"y" * 76 + b"\n") * full + b"y" * rest + (b"\n" if final_newline else b"")
    return head + body


def edge_messages() -> dict[str, bytes]:
    """Messages at fdm's edges: empty, unterminated, headerless, CRLF, long, 8-bit, duplicated,
    Received in odd places, sizes at the boundaries the corpus configs test."""
    plain = (
        b"From: Alice <alice@example.org>\nTo: bob@example.com\nSubject: a note\n"
        b"Message-Id: <edge@example.org>\nDate: Sat, 01 Mar 2025 10:00:00 +0000\n\nhello\n"
    )
    long_to = b"To: " + b",\n\t".join(b"user%d@example.com" % i for i in range(60)) + b"\n"
    edges = {
        "e_empty": b"",
        "e_lone_newline": b"\n",
        "e_two_newlines": b"\n\n",
        "e_spaces_only": b"   \n",
        "e_no_final_newline": plain[:-1],
        "e_no_final_newline_headers": b"From: alice@example.org\nSubject: a note",
        "e_no_blank_line": b"From: alice@example.org\nTo: bob@example.com\nSubject: a note\n",
        "e_body_only": b"\nSubject: a note\nbody line hello\n",
        "e_crlf": plain.replace(b"\n", b"\r\n"),
        "e_crlf_received": (
            b"Received: from mx by mail\r\nFrom: alice@example.org\r\nSubject: hello\r\n\r\nhi\r\n"
        ),
        "e_mixed_endings": b"From: alice@example.org\r\nSubject: hello\n\r\nbody\n\nmore\n",
        "e_long_subject": b"From: a@example.org\nSubject: " + b"long " * 1200 + b"urgent\n\nx\n",
        "e_long_folded_to": b"From: a@example.org\n" + long_to + b"Subject: list\n\nx\n",
        "e_folded_subject": (
            b"From: a@example.org\nSubject: first part\n second\n\tthird urgent\n\nbody\n"
        ),
        "e_fold_first_line": b" leading continuation\nSubject: hello\n\nbody\n",
        "e_8bit_latin1": b"From: caf\xe9@example.org\nSubject: Caf\xe9 cr\xe8me\n\nna\xefve\n",
        "e_8bit_utf8": "From: a@example.org\nSubject: Café crème urgent\n\nnaïve\n".encode(),
        "e_malformed_headers": (
            b"From alice\nNot a header line\nSubject : spaced colon\n"
            b":empty name\nX-Empty:\nTo bob@example.com\n\nbody\n"
        ),
        "e_nul_byte": b"From: a@example.org\nSubject: nul\x00 urgent hidden\n\nbody\x00 gone\n",
        "e_control_chars": b"From: a@example.org\nSubject: bell\x07 esc\x1b[31m\n\nbody\n",
        "e_duplicate_headers": (
            b"Subject: first\nFrom: a@example.org\nSubject: second urgent\n"
            b"To: bob@example.com\nTo: carol@example.com\nX-Spam-Status: No\n"
            b"X-Spam-Status: Yes, score=9\n\nbody\n"
        ),
        "e_return_path": (
            b"Return-Path: <alice@example.org>\nReceived: from mx.example.org by "
            b"mail.example.com\nReceived: from client by mx.example.org\n"
            b"From: a@example.org\nSubject: hello\n\nbody\n"
        ),
        "e_return_path_no_received": (
            b"Return-Path: <alice@example.org>\nFrom: a@example.org\nSubject: hello\n\nbody\n"
        ),
        "e_late_received": (
            b"From: a@example.org\nTo: bob@example.com\nSubject: hello\n"
            b"X-Late: yes\nReceived: from mx.example.org by mail\n\nbody\n"
        ),
        "e_received_in_body": (
            b"From: a@example.org\nSubject: hello\n\nReceived: from fake\nbody\n"
        ),
        "e_received_lowercase": b"received: from mx by mail\nFrom: a@example.org\n\nbody\n",
        "e_received_spaced": b"Received : from mx by mail\nFrom: a@example.org\n\nbody\n",
        "e_from_line_no_body": b"From alice@example.org Mon Jan  1 10:00:00 2024\nSubject: hi\n",
        "e_from_line_blank": b"From alice@example.org Mon Jan  1 10:00:00 2024\n\n",
        "e_from_line_only": b"From alice@example.org Mon Jan  1 10:00:00 2024\n",
        "e_date_no_zone": b"From: a@example.org\nDate: Mon, 1 Jan 2024 10:00:00\nSubject: d\n\nb\n",
        "e_date_two_digit": b"From: a@example.org\nDate: 1 Jan 99 10:00 GMT\nSubject: d\n\nb\n",
        "e_date_garbage": b"From: a@example.org\nDate: yesterday-ish\nSubject: d\n\nb\n",
        "e_date_future": b"From: a@example.org\nDate: Fri, 01 Jan 2100 10:00:00 +0000\n\nb\n",
        "e_tags_source": (
            b"From: alice@example.org\nTo: bob+lists@example.com\nSubject: tag me 42\n"
            b"X-Folder: Work\nMessage-Id:   <spaced@example.org>\n\nbody\n"
        ),
    }
    for size in (1023, 1024, 1025, 65535, 65536, 65537):
        edges[f"e_size_{size}"] = sized(size)
    for size in (1023, 1024, 65536):
        edges[f"e_size_{size}_no_final_newline"] = sized(size, final_newline=False)
    return edges


def main() -> None:
    rng = random.Random(5)
    HERE.mkdir(exist_ok=True)
    for old in HERE.glob("*.eml"):
        old.unlink()
    for index in range(220):
        (HERE / f"{index:03d}.eml").write_bytes(message(rng, index))
    for name, data in edge_messages().items():
        (HERE / f"{name}.eml").write_bytes(data)


if __name__ == "__main__":
    main()
