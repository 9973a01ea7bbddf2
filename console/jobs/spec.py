"""What a maintenance job is: its argv, timeout, follow-up actions and what its exit codes mean.

Settings accept two forms under `[jobs]`: the short `NAME = ["argv", ...]` and the table `[jobs.NAME]`
with `argv`, `description`, `timeout`, `then`, `ok_codes` and `exit_codes`. The defaults are the
article's crontab. Nothing here imports more than the standard library: settings load it at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT = 600.0
"""Seconds a job may run when its settings name no timeout."""

THEN_VERBS = {
    "start": "program.start",
    "stop": "program.stop",
    "restart": "program.restart",
    "signal": "program.signal",
}
"""The words a `then` step starts with, and the dispatcher action each one is."""

JOB_KEYS = ("argv", "description", "timeout", "then", "ok_codes", "exit_codes")


@dataclass(frozen=True)
class ThenStep:
    """One follow-up of a successful run: a dispatcher action on a supervisord program."""

    action: str
    program: str
    signal: str = ""

    @property
    def params(self) -> dict[str, str]:
        """The dispatcher parameters of the step."""
        return {"signal": self.signal} if self.signal else {}

    def __str__(self) -> str:
        verb = next(v for v, a in THEN_VERBS.items() if a == self.action)
        return f"{verb} {self.program}" + (f" {self.signal}" if self.signal else "")


@dataclass(frozen=True)
class JobSpec:
    """A maintenance job as the settings describe it."""

    argv: tuple[str, ...]
    description: str = ""
    timeout: float = DEFAULT_TIMEOUT
    then: tuple[ThenStep, ...] = ()
    ok_codes: tuple[int, ...] = (0,)
    exit_codes: Mapping[int, str] = field(default_factory=dict)

    def meaning(self, code: int) -> str:
        """What exit status `code` means for this job, as a short phrase."""
        if code in self.exit_codes:
            return self.exit_codes[code]
        return "succeeded" if code in self.ok_codes else "failed"

    def as_toml_data(self) -> dict[str, Any]:
        """The job as the plain data a `[jobs.NAME]` table holds."""
        data: dict[str, Any] = {"argv": list(self.argv)}
        if self.description:
            data["description"] = self.description
        data["timeout"] = self.timeout
        data["then"] = [str(step) for step in self.then]
        data["ok_codes"] = list(self.ok_codes)
        data["exit_codes"] = {str(code): text for code, text in sorted(self.exit_codes.items())}
        return data


def parse_then(step: str, where: str) -> ThenStep:
    """`"signal dovecot HUP"`, `"restart spampd"` -> a ThenStep; anything else is a ValueError."""
    words = step.split()
    if not words or words[0] not in THEN_VERBS:
        raise ValueError(
            f"{where}: then step {step!r} must start with one of: {', '.join(THEN_VERBS)}"
        )
    verb = words[0]
    if verb == "signal" and len(words) == 3:
        return ThenStep(THEN_VERBS[verb], words[1], words[2].upper().removeprefix("SIG"))
    if verb != "signal" and len(words) == 2:
        return ThenStep(THEN_VERBS[verb], words[1])
    shape = "signal PROGRAM SIGNAL" if verb == "signal" else f"{verb} PROGRAM"
    raise ValueError(f"{where}: then step {step!r} must read '{shape}'")


def _argv(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(a, str) and a for a in value):
        raise ValueError(
            f"{where}: argv must be a non-empty list of strings (never a shell string), "
            f"got {value!r}"
        )
    return tuple(value)


def _codes(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in value
    ):
        raise ValueError(
            f"{where}: ok_codes must be a list of exit codes (integers), got {value!r}"
        )
    return tuple(value)


def _meanings(value: Any, where: str) -> dict[int, str]:
    if not isinstance(value, dict):
        raise ValueError(f'{where}: exit_codes must be a table of code = "meaning", got {value!r}')
    out = {}
    for key, text in value.items():
        try:
            code = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: exit_codes key {key!r} is not an exit code") from None
        if not isinstance(text, str) or not text:
            raise ValueError(f"{where}: exit_codes.{key} must be a sentence, got {text!r}")
        out[code] = text
    return out


def parse_job(name: str, value: Any, where: str, defaults: JobSpec | None = None) -> JobSpec:
    """One job from settings: the short form (an argv list) or a table. Raises ValueError.

    The short form of a job the defaults know keeps the default's description, timeout, follow-ups
    and exit-code meanings; only the argv changes.
    """
    where = f"{where}: job '{name}'"
    if isinstance(value, list):
        argv = _argv(value, where)
        if defaults is None:
            return JobSpec(argv)
        return JobSpec(
            argv,
            defaults.description,
            defaults.timeout,
            defaults.then,
            defaults.ok_codes,
            defaults.exit_codes,
        )
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an argv list or a table with argv, got {value!r}")
    unknown = [key for key in value if key not in JOB_KEYS]
    if unknown:
        raise ValueError(
            f"{where}: unknown key '{unknown[0]}' (expected one of: {', '.join(JOB_KEYS)})"
        )
    if "argv" not in value:
        raise ValueError(f"{where}: argv is missing")
    description = value.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"{where}: description must be a string, got {description!r}")
    timeout = value.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"{where}: timeout must be a positive number of seconds, got {timeout!r}")
    then = value.get("then", [])
    if not isinstance(then, list) or not all(isinstance(step, str) for step in then):
        raise ValueError(f'{where}: then must be a list of steps such as "signal dovecot HUP"')
    return JobSpec(
        argv=_argv(value["argv"], where),
        description=description,
        timeout=float(timeout),
        then=tuple(parse_then(step, where) for step in then),
        ok_codes=_codes(value.get("ok_codes", [0]), where),
        exit_codes=_meanings(value.get("exit_codes", {}), where),
    )


def parse_jobs(value: Any, where: str) -> dict[str, JobSpec]:
    """The whole `[jobs]` table. Raises ValueError naming the job and the key."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: jobs must be a table of NAME = [argv] or [jobs.NAME] tables")
    defaults = article_jobs()
    return {
        str(name): parse_job(str(name), spec, where, defaults.get(str(name)))
        for name, spec in value.items()
    }


CERTBOT_CODES = {0: "the certificate was issued or renewed", 1: "certbot failed"}

FRESHCLAM_CODES = {
    0: "the virus databases are up to date (downloaded where needed)",
    1: "the virus databases are already up to date",
    2: "freshclam could not start",
    3: "the database directory is missing or not accessible",
    4: "a file is missing or not accessible",
    5: "the connection to the mirror failed",
    6: "the mirror sent an empty file",
    7: "a downloaded database is invalid or corrupt",
    8: "a downloaded database failed its test load",
    9: "freshclam's configuration is invalid",
    10: "the database directory cannot be written",
    11: "downloading from the mirror failed (HTTP GET)",
    12: "the mirror is not in sync yet (try again later)",
    13: "freshclam cannot write its log",
    14: "the database update failed",
    15: "freshclam ran out of memory",
    16: "freshclam was given an invalid argument",
    17: "the mirror refused the download (blocked by the CDN)",
    18: "the mirror asks to retry later (too many requests)",
}
"""freshclam 1.x exits with libfreshclam's fc_error_t (the man page's 40-62 list is from 0.9x)."""

SA_UPDATE_CODES = {
    0: "updates were downloaded and installed",
    1: "no fresh updates were available",
    2: "the site pre files failed their lint check; nothing was updated",
    3: "some channels updated, others failed",
    4: "downloading or extracting the updates failed; no channel was updated",
}
"""sa-update(1) EXIT CODES; 4 and higher are all failures."""


def article_jobs() -> dict[str, JobSpec]:
    """The maintenance jobs of the article's crontab, each followed by what its deploy step does."""
    return {
        "get_certs": JobSpec(
            argv=("/mail/bin/get_certs",),
            description="Renew the TLS certificate with certbot, then reload smtpd and Dovecot",
            timeout=300.0,
            then=(
                ThenStep("program.signal", "opensmtpd", "HUP"),
                ThenStep("program.signal", "dovecot", "HUP"),
            ),
            exit_codes=CERTBOT_CODES,
        ),
        "freshclam": JobSpec(
            argv=(
                "/usr/bin/freshclam",
                "--foreground",
                "--config=/mail/config/freshclam.conf",
                "--daemon-notify=/mail/config/clamd.conf",
            ),
            description="Update ClamAV's virus databases; clamd is told to reload them",
            timeout=600.0,
            ok_codes=(0, 1),
            exit_codes=FRESHCLAM_CODES,
        ),
        "sa-update": JobSpec(
            argv=("sa-update", "-v", "--updatedir", "/mail/db/spamassassin"),
            description="Update SpamAssassin's rules, then restart spampd to load them",
            timeout=600.0,
            then=(ThenStep("program.restart", "spampd"),),
            ok_codes=(0, 1),
            exit_codes=SA_UPDATE_CODES,
        ),
    }
