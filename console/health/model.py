"""What a health check says: a monitoring-plugin state, one sentence, its figure and thresholds, and the
fix the console can offer (an action of the dispatcher).

The states and exit codes are the monitoring plugins' (Nagios, Icinga, check_ssl_cert): 0 OK,
1 WARNING, 2 CRITICAL, 3 UNKNOWN. Plain data only: the CLI prints it, the Overview screen draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class State(IntEnum):
    """A check's outcome; its value is the monitoring-plugin exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


SEVERITY = {State.OK: 0, State.UNKNOWN: 1, State.WARNING: 2, State.CRITICAL: 3}
"""How bad a state is, for the overall state: CRITICAL, then WARNING, then UNKNOWN, then OK."""


def worst(states: list[State]) -> State:
    """The overall state of several checks (OK when there are none)."""
    return max(states, key=SEVERITY.__getitem__, default=State.OK)


@dataclass(frozen=True)
class Fix:
    """What fixes a problem: an action of console.actions, its target and parameters, and a label."""

    action: str
    target: str
    label: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Check:
    """One health finding."""

    group: str
    """Which check made it: certificates, tls, clamav, spamassassin, disk, queue, programs."""
    name: str
    """What was checked, short: a file, a listener, a program."""
    state: State
    summary: str
    """One sentence: what is wrong or that it is fine, with the figure."""
    figure: float | int | None = None
    unit: str = ""
    warning: float | int | None = None
    critical: float | int | None = None
    cause: str = ""
    """Why it fails, when known (a sentence)."""
    remedy: str = ""
    """What to change by hand, when no action of the console fixes it."""
    fix: Fix | None = None
    data: dict[str, Any] = field(default_factory=dict)
    """Extra facts for --json (dates, versions, paths)."""

    def as_json(self) -> dict[str, Any]:
        """The finding as plain JSON data."""
        out: dict[str, Any] = {
            "group": self.group,
            "name": self.name,
            "state": self.state.name,
            "summary": self.summary,
            "figure": self.figure,
            "unit": self.unit,
            "warning": self.warning,
            "critical": self.critical,
        }
        if self.cause:
            out["cause"] = self.cause
        if self.remedy:
            out["remedy"] = self.remedy
        out["fix"] = (
            {
                "action": self.fix.action,
                "target": self.fix.target,
                "params": self.fix.params,
                "label": self.fix.label,
            }
            if self.fix
            else None
        )
        out.update(self.data)
        return out


KNOWN_KEYS = (
    "group",
    "name",
    "state",
    "summary",
    "figure",
    "unit",
    "warning",
    "critical",
    "cause",
    "remedy",
    "fix",
)


def check_from_json(data: dict[str, Any]) -> Check:
    """A finding back from `Check.as_json` data (a saved `mailconsole health --json`)."""
    fix = data.get("fix")
    return Check(
        str(data["group"]),
        str(data["name"]),
        State[str(data["state"])],
        str(data["summary"]),
        data.get("figure"),
        str(data.get("unit", "")),
        data.get("warning"),
        data.get("critical"),
        str(data.get("cause", "")),
        str(data.get("remedy", "")),
        Fix(fix["action"], fix["target"], fix["label"], dict(fix.get("params") or {}))
        if fix
        else None,
        {key: value for key, value in data.items() if key not in KNOWN_KEYS},
    )


def below(figure: float, warning: float, critical: float) -> State:
    """The state of a figure where less is worse (days left, free space)."""
    if figure < critical:
        return State.CRITICAL
    if figure < warning:
        return State.WARNING
    return State.OK


def above(figure: float, warning: float, critical: float) -> State:
    """The state of a figure where more is worse (age, queue size)."""
    if figure > critical:
        return State.CRITICAL
    if figure > warning:
        return State.WARNING
    return State.OK
