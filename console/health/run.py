"""Run every health check at once (each group in its own thread) and make one report of them.

A check that raises is a finding too: UNKNOWN, with the reason, never a crash. The overall state
is the worst finding's (CRITICAL, then WARNING, then UNKNOWN, then OK): the monitoring-plugin exit
code of `mailconsole health`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from console.health.model import Check, State, check_from_json, worst
from console.settings import Settings

GROUPS = ("programs", "certificates", "tls", "clamav", "spamassassin", "disk", "queue")
"""The order findings are shown in."""


def _certificates(settings: Settings, now: float) -> list[Check]:
    from console.health.tls import certificate_checks

    return certificate_checks(settings, now)


def _clamav(settings: Settings, now: float) -> list[Check]:
    from console.health.stack import clamav_checks

    return clamav_checks(settings, now)


def _spamassassin(settings: Settings, now: float) -> list[Check]:
    from console.health.stack import spamassassin_check

    return [spamassassin_check(settings, now)]


def _disk(settings: Settings, now: float) -> list[Check]:
    from console.health.stack import disk_checks

    return disk_checks(settings)


def _queue(settings: Settings, now: float) -> list[Check]:
    from console.health.stack import queue_checks

    return queue_checks(settings, now)


def _programs(settings: Settings, now: float) -> list[Check]:
    from console.health.stack import program_checks

    return program_checks(settings)


CHECKS: dict[str, Callable[[Settings, float], list[Check]]] = {
    "programs": _programs,
    "certificates": _certificates,
    "clamav": _clamav,
    "spamassassin": _spamassassin,
    "disk": _disk,
    "queue": _queue,
}
"""Every check, by the group its findings start in (certificates also makes the tls findings)."""


@dataclass
class HealthReport:
    """Every finding of one run, and when it ran."""

    checks: list[Check]
    checked_at: float
    duration_s: float = 0.0
    problems: list[Check] = field(init=False)

    def __post_init__(self) -> None:
        self.checks.sort(key=lambda c: GROUPS.index(c.group) if c.group in GROUPS else len(GROUPS))
        self.problems = [c for c in self.checks if c.state != State.OK]

    @property
    def state(self) -> State:
        """The overall state: the worst finding's."""
        return worst([c.state for c in self.checks])

    def counts(self) -> dict[str, int]:
        """Findings per state name."""
        out = {s.name: 0 for s in State}
        for check in self.checks:
            out[check.state.name] += 1
        return out

    def headline(self) -> str:
        """The first line a monitoring system shows: state and the problems counted."""
        counts = self.counts()
        if not self.problems:
            return f"MAILCONSOLE OK: {len(self.checks)} checks passed"
        parts = [
            f"{counts[s.name]} {s.name.lower()}"
            for s in (State.CRITICAL, State.WARNING, State.UNKNOWN)
            if counts[s.name]
        ]
        first = max(self.problems, key=lambda c: c.state == self.state)
        return f"MAILCONSOLE {self.state.name}: {', '.join(parts)}; {first.group} {first.name}: {first.summary}"

    def perfdata(self) -> str:
        """The figures as monitoring-plugin performance data: 'label'=value[%];warn;crit each."""
        items = []
        for check in self.checks:
            if not isinstance(check.figure, (int, float)):
                continue
            label = f"{check.group} {check.name}".replace("'", "").replace("=", " ")
            unit = "%" if check.unit == "%" else ""
            limits = ";".join(
                "" if v is None else f"{v:g}" for v in (check.warning, check.critical)
            )
            items.append(f"'{label}'={check.figure:g}{unit};{limits}")
        return " ".join(items)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HealthReport:
        """A report back from `as_json` data (a saved `mailconsole health --json`)."""
        when = datetime.fromisoformat(str(data["checked_at"])).timestamp()
        return cls(
            [check_from_json(c) for c in data["checks"]],
            when,
            float(data.get("duration_ms", 0)) / 1000,
        )

    def as_json(self) -> dict[str, Any]:
        """The report as plain JSON data."""
        return {
            "state": self.state.name,
            "exit_code": int(self.state),
            "checked_at": datetime.fromtimestamp(self.checked_at, timezone.utc).isoformat(),
            "duration_ms": round(self.duration_s * 1000, 1),
            "counts": self.counts(),
            "checks": [c.as_json() for c in self.checks],
        }


def run_checks(
    settings: Settings, now: float | None = None, groups: tuple[str, ...] = tuple(CHECKS)
) -> HealthReport:
    """Run the checks of `groups` in parallel and collect their findings."""
    started = time.monotonic()
    when = time.time() if now is None else now

    def one(group: str) -> list[Check]:
        try:
            return CHECKS[group](settings, when)
        except Exception as exc:  # noqa: BLE001 - a failing check is a finding, never a crash
            return [Check(group, group, State.UNKNOWN, f"the check failed: {exc}")]

    with ThreadPoolExecutor(max_workers=len(groups) or 1) as pool:
        found = [check for checks in pool.map(one, groups) for check in checks]
    return HealthReport(found, when, time.monotonic() - started)
