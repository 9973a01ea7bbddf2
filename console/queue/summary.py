"""The queue at a glance: counts by state, domain and age band, what changed, and the table's rows
(filter, sort, group), as data for the screen, `queue --json` and the CLI table."""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from json.encoder import encode_basestring
from operator import attrgetter
from typing import Any

from console.queue.parse import Envelope, QueueSnapshot, collector_paused

AGE_BANDS = (5, 10, 20, 40, 80, 160, 320, 640, 1280)
"""qshape's age bands, in minutes: an envelope younger than 5 min counts in the first one."""


AGE_LABELS = tuple(f"<{m}m" for m in AGE_BANDS) + (f"{AGE_BANDS[-1]}m+",)
"""Labels of the age bands, oldest last."""


def counted(n: int, noun: str) -> str:
    """`1 envelope`, `2 envelopes`: a count with its noun (the queue's nouns take an s)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass
class DomainShape:
    """One row of the qshape view: a destination domain and its envelopes per age band."""

    domain: str
    total: int
    bands: list[int]


@dataclass
class QueueSummary:
    """Counts that answer "what is stuck, where, and since when"."""

    total: int
    messages: int
    by_state: dict[str, int]
    by_type: dict[str, int]
    by_domain: dict[str, int]
    """Envelopes per destination domain, most first."""
    by_age: dict[str, int]
    """Envelopes per age band (AGE_LABELS)."""
    shape: list[DomainShape]
    """qshape: per domain, envelopes per age band, most envelopes first."""
    oldest: Envelope | None
    oldest_age: int


_BAND_LIMITS_S = [minutes * 60 for minutes in AGE_BANDS]


def summarise(envelopes: Sequence[Envelope], now: float) -> QueueSummary:
    """Counts by state, type, destination domain and age band, the qshape rows, the oldest one."""
    by_state: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    cells: Counter[tuple[str, int]] = Counter()
    limits = _BAND_LIMITS_S
    oldest: Envelope | None = None
    with collector_paused():
        for envelope in envelopes:
            by_state["paused" if "suspend" in envelope.flags else envelope.runstate] += 1
            by_type[envelope.type] += 1
            domain = envelope.dest.rpartition("@")[2].lower()
            cells[domain, bisect_right(limits, now - envelope.ctime)] += 1
            if oldest is None or envelope.ctime < oldest.ctime:
                oldest = envelope
    shape: dict[str, list[int]] = {}
    for (domain, band), count in cells.items():
        shape.setdefault(domain, [0] * len(AGE_LABELS))[band] += count
    rows = sorted(
        (DomainShape(domain, sum(bands), bands) for domain, bands in shape.items()),
        key=lambda r: (-r.total, r.domain),
    )
    by_age = [sum(row.bands[i] for row in rows) for i in range(len(AGE_LABELS))]
    return QueueSummary(
        total=len(envelopes),
        messages=len({e.msgid for e in envelopes}),
        by_state=dict(by_state.most_common()),
        by_type=dict(by_type.most_common()),
        by_domain={row.domain: row.total for row in rows},
        by_age=dict(zip(AGE_LABELS, by_age, strict=True)),
        shape=rows,
        oldest=oldest,
        oldest_age=oldest.age(now) if oldest else 0,
    )


def summary_json(snapshot: QueueSnapshot) -> dict[str, object]:
    """The summary part of `queue --json`: counts, the oldest envelope, smtpd's state."""
    summary = summarise(snapshot.envelopes, snapshot.taken_at)
    return {
        "total": summary.total,
        "messages": summary.messages,
        "by_state": summary.by_state,
        "by_type": summary.by_type,
        "by_domain": summary.by_domain,
        "by_age": summary.by_age,
        "oldest": None
        if summary.oldest is None
        else {
            "evpid": summary.oldest.evpid,
            "age_s": summary.oldest_age,
        },
        "bad_lines": len(snapshot.bad_lines),
        "smtpd_running": snapshot.smtpd_running,
        "problem": snapshot.problem,
    }


_ENVELOPE_JSON = (
    '{"evpid":"%s","msgid":"%s","family":%s,"type":%s,"flags":%s,"sender":%s,"rcpt":%s,'
    '"dest":%s,"ctime":%d,"expire":%d,"lasttry":%d,"retry":%d,"runstate":%s,"delay":%s,"error":%s}'
)


def queue_json(snapshot: QueueSnapshot) -> str:
    """The `queue --json` document: {"envelopes": [...], "bad_lines": [...], "summary": {...}}.

    Envelopes are written with a template rather than json.dumps of dicts: twice as fast on 100,000
    envelopes (the 1 s budget), and the values shared by many envelopes are encoded once.
    """
    shared: dict[object, str] = {}

    def encoded(value: str | tuple[str, ...]) -> str:
        text = shared.get(value)
        if text is None:
            text = shared[value] = json.dumps(value, ensure_ascii=False)
        return text

    with collector_paused():
        envelopes = [
            _ENVELOPE_JSON
            % (
                e.evpid,
                e.msgid,
                encoded(e.family),
                encoded(e.type),
                encoded(e.flags),
                encoded(e.sender),
                encode_basestring(e.rcpt),
                encode_basestring(e.dest),
                e.ctime,
                e.expire,
                e.lasttry,
                e.retry,
                encoded(e.runstate),
                "null" if e.delay is None else e.delay,
                encoded(e.error),
            )
            for e in snapshot.envelopes
        ]
    bad_lines = json.dumps(snapshot.bad_lines, ensure_ascii=False)
    summary = json.dumps(summary_json(snapshot), ensure_ascii=False)
    return f'{{"envelopes":[{",".join(envelopes)}],"bad_lines":{bad_lines},"summary":{summary}}}'


TIME_FIELDS = ("ctime", "last-try", "last-bounce")
"""`show envelope` fields that hold a Unix time."""


NO_DATE = "no date has it"
"""What a time field too large for any date says instead of its date (a damaged envelope file)."""


def envelope_field(key: str, value: str) -> str:
    """A `show envelope` value as people read it: a Unix time gains its UTC date
    (`1796300466 (2026-12-03T12:21:06+00:00)`), anything else stays as it is."""
    if key in TIME_FIELDS and value.isdigit() and value != "0":
        try:
            stamp = datetime.fromtimestamp(int(value), timezone.utc).isoformat(timespec="seconds")
        except (OverflowError, OSError, ValueError):
            stamp = NO_DATE
        return f"{value} ({stamp})"
    return value


def human_age(seconds: int) -> str:
    """A short age: 45s, 12m, 5h, 3d."""
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def next_try(envelope: Envelope) -> str:
    """When smtpd tries again, in words: in 5m, trying for 10s, agent paused, offline."""
    if envelope.delay is None:
        return envelope.runstate
    if envelope.delay < 0:
        return "agent paused"
    if envelope.runstate == "inflight":
        return f"trying {human_age(envelope.delay)}"
    return f"in {human_age(envelope.delay)}"


SORT_KEYS = ("age", "sender", "rcpt", "domain", "state", "retry", "next", "error")
"""Columns the queue table can be sorted by."""


_FILTER_FIELDS = ("sender", "rcpt", "domain", "state", "error", "type", "msgid")


@dataclass(slots=True)
class MessageRow:
    """The table line heading a message's envelopes."""

    msgid: str
    count: int


@dataclass(slots=True)
class BadRow:
    """A table line for a `show queue` line that did not parse."""

    text: str


QueueRow = Envelope | MessageRow | BadRow
"""One line of the queue table: the envelopes themselves are rows (no copy per envelope)."""


_SORT_KEYS: dict[str, Callable[[Envelope], Any]] = {
    "age": attrgetter("ctime", "evpid"),
    "sender": attrgetter("sender", "evpid"),
    "rcpt": attrgetter("rcpt", "evpid"),
    "domain": lambda e: (e.domain, e.evpid),
    "state": lambda e: (e.state, e.evpid),
    "retry": attrgetter("retry", "evpid"),
    "next": lambda e: (-2 if e.delay is None else e.delay, e.evpid),
    "error": attrgetter("error", "evpid"),
}


def matches(envelope: Envelope, terms: Sequence[str]) -> bool:
    """Whether every term matches: `field:text` (sender, rcpt, domain, state, error, type, msgid)
    or bare text found in the id, sender, recipient, destination or error; case-insensitive."""
    for term in terms:
        name, sep, wanted = term.partition(":")
        if sep and name in _FILTER_FIELDS:
            value = (
                envelope.domain
                if name == "domain"
                else envelope.state
                if name == "state"
                else str(getattr(envelope, name))
            )
            if wanted.lower() not in value.lower():
                return False
        else:
            haystack = " ".join(
                (envelope.evpid, envelope.sender, envelope.rcpt, envelope.dest, envelope.error)
            ).lower()
            if term.lower() not in haystack:
                return False
    return True


def table_rows(
    envelopes: Sequence[Envelope],
    bad_lines: Sequence[str],
    sort: str = "age",
    reverse: bool = False,
    query: str = "",
    grouped: bool = True,
) -> list[QueueRow]:
    """The table's rows: filtered by `query`, sorted by `sort`, each message's envelopes together
    under a MessageRow when `grouped`; unparsed lines last (they are never filtered out)."""
    if sort not in _SORT_KEYS:
        raise ValueError(f"unknown sort key {sort!r}")
    terms = query.split()
    chosen = [e for e in envelopes if matches(e, terms)] if terms else list(envelopes)
    with collector_paused():
        chosen.sort(key=_SORT_KEYS[sort], reverse=reverse)
        rows: list[QueueRow]
        if grouped:
            messages: dict[str, list[Envelope]] = {}
            for envelope in chosen:  # a message sorts where its first envelope does
                members = messages.get(envelope.msgid)
                if members is None:
                    messages[envelope.msgid] = [envelope]
                else:
                    members.append(envelope)
            rows = []
            for msgid, members in messages.items():
                rows.append(MessageRow(msgid, len(members)))
                rows.extend(members)
        else:
            rows = list(chosen)
        rows.extend(BadRow(line) for line in bad_lines)
    return rows
