"""Saving fdm.conf so that a save cannot break delivery: validate, back up, write atomically, revert.

Validation runs the real `fdm -n` on a temporary copy (where fdm is installed) and the linter: errors
block, warnings need the caller's confirmation. The write (temporary file, fsync, owner and mode,
rename, a timestamped backup removed again when the save fails) is `console.files.write_atomically`:
any failure leaves the old file byte for byte. A revert is validated like a save. These are the
handlers of the `fdm.save` and `fdm.revert` actions (console/actions.py); nothing else should call
`save` directly."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from console.errors import ActionFailed
from console.fdm.lint import ERROR, WARNING, Finding, Tables, lint_text, load_tables
from console.fdm.recorder import FDM
from console.files import FileToken, Saved, backups, file_token, write_atomically

if TYPE_CHECKING:
    from console.actions import ActionContext
    from console.settings import Settings

_FDM_ERROR = re.compile(r"^(?P<path>.*?): (?P<message>.*) at line (?P<line>\d+)\s*$")


@dataclass
class Loaded:
    """A config as opened for editing: its text and the token to detect later changes on disk."""

    path: Path
    text: str
    token: FileToken | None


def load(path: Path) -> Loaded:
    """Open a config for editing (a missing file is an empty one, token None)."""
    token = file_token(path)
    text = path.read_bytes().decode("utf-8", "surrogateescape") if token is not None else ""
    return Loaded(path, text, token)


@dataclass
class Validation:
    """The verdict on a text: fdm's own error (with its line) and the linter's findings."""

    fdm_error: str = ""
    fdm_line: int = 0
    findings: list[Finding] = field(default_factory=list)
    fdm_checked: bool = False

    @property
    def errors(self) -> list[Finding]:
        """Findings that block the save (fdm's refusal included)."""
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        """Findings the user must confirm."""
        return [f for f in self.findings if f.severity == WARNING]


def check_with_fdm(text: str, shown_path: str, fdm: str = FDM) -> tuple[str, int] | None:
    """Run `fdm -n -f` on a private copy; None when it accepts, else (message, line)."""
    with tempfile.TemporaryDirectory(prefix="mailconsole-fdm-") as directory:
        copy = Path(directory) / "fdm.conf"
        copy.write_bytes(text.encode("utf-8", "surrogateescape"))
        copy.chmod(0o600)
        try:
            proc = subprocess.run(
                [fdm, "-n", "-f", str(copy)], capture_output=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ActionFailed(f"cannot run {fdm} -n: {exc}") from None
    if proc.returncode == 0:
        return None
    output = (
        proc.stderr.decode("utf-8", "replace").strip()
        or proc.stdout.decode("utf-8", "replace").strip()
    )
    for line in output.splitlines():
        found = _FDM_ERROR.match(line.replace(str(copy), shown_path))
        if found:
            return found.group("message"), int(found.group("line"))
    return output.replace(str(copy), shown_path) or f"fdm -n exited {proc.returncode}", 0


def validate(
    text: str, path: Path, tables: Tables | None = None, fdm: str | None = FDM
) -> Validation:
    """fdm's verdict (when installed) plus the linter's."""
    result = Validation()
    _config, result.findings = lint_text(text, str(path), tables)
    if fdm and shutil.which(fdm):
        result.fdm_checked = True
        verdict = check_with_fdm(text, str(path), fdm)
        if verdict is not None:
            result.fdm_error, result.fdm_line = verdict
            result.findings.insert(
                0,
                Finding(
                    ERROR,
                    result.fdm_line,
                    f"fdm -n: {result.fdm_error}",
                    "fix the line fdm names",
                    "fdm-n",
                ),
            )
    return result


def check(
    path: Path,
    text: str,
    *,
    tables: Tables | None = None,
    allow_warnings: bool = False,
    fdm: str | None = FDM,
    verb: str = "saved",
) -> Validation:
    """Validate a text about to become the file: errors block, warnings need allow_warnings."""
    verdict = validate(text, path, tables, fdm)
    if verdict.errors:
        first = verdict.errors[0]
        where = f"line {first.line}: " if first.line else ""
        raise ActionFailed(
            f"{path} not {verb}: {where}{first.message} ({len(verdict.errors)} error(s))"
        )
    if verdict.warnings and not allow_warnings:
        raise ActionFailed(
            f"{path} not {verb}: {len(verdict.warnings)} warning(s) to confirm, "
            f"the first at line {verdict.warnings[0].line}: "
            f"{verdict.warnings[0].message}"
        )
    return verdict


def save(
    path: Path,
    text: str,
    expected: FileToken | None,
    *,
    tables: Tables | None = None,
    allow_warnings: bool = False,
    force: bool = False,
    fdm: str | None = FDM,
    now: float | None = None,
) -> tuple[Saved, Validation]:
    """Validate, then write atomically with a backup; errors block, warnings need allow_warnings."""
    verdict = check(path, text, tables=tables, allow_warnings=allow_warnings, fdm=fdm)
    return write_atomically(path, text, expected, force=force, now=now), verdict


def read_backup(path: Path, backup: Path) -> str:
    """The text of one of path's backups (anything else, or an unreadable one, is ActionFailed)."""
    if backup not in backups(path):
        raise ActionFailed(f"{backup} is not a backup of {path}")
    try:
        return backup.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise ActionFailed(f"cannot read the backup {backup}: {exc.strerror}") from None


def revert(
    path: Path,
    backup: Path,
    expected: FileToken | None,
    *,
    tables: Tables | None = None,
    allow_warnings: bool = False,
    force: bool = False,
    fdm: str | None = FDM,
    now: float | None = None,
) -> tuple[Saved, Validation]:
    """Put a backup back, validated like a save (errors block, warnings need allow_warnings); the
    current file is itself backed up first."""
    text = read_backup(path, backup)
    verdict = check(
        path, text, tables=tables, allow_warnings=allow_warnings, fdm=fdm, verb="reverted"
    )
    return write_atomically(path, text, expected, force=force, now=now), verdict


# --------------------------------------------------------------------------- action handlers


def _yes(params: Mapping[str, str], key: str) -> bool:
    return params.get(key, "").lower() in ("1", "yes", "true")


def tables_for(settings: Settings) -> Tables:
    """smtpd's tables at the paths the settings name."""
    return load_tables(
        settings.table_addrs, settings.table_vusers, settings.table_vdomains, settings.table_userdb
    )


def save_handler(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """`fdm.save`: params text, token (from load), allow_warnings=yes, force=yes."""
    settings = ctx.settings
    path = Path(target) if target else settings.fdm_config
    if "text" not in params:
        raise ActionFailed("fdm.save needs the new text")
    token = params.get("token", "")
    expected = FileToken.parse(token) if token and token != "none" else None
    saved, verdict = save(
        path,
        params["text"],
        expected,
        tables=tables_for(settings),
        allow_warnings=_yes(params, "allow_warnings"),
        force=_yes(params, "force"),
    )
    kept = f"; previous version kept as {saved.backup.name}" if saved.backup else ""
    warned = f" with {len(verdict.warnings)} warning(s)" if verdict.warnings else ""
    return f"{path} saved{warned}{kept}."


def revert_handler(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """`fdm.revert`: params backup (a path from `backups`), token, allow_warnings=yes, force=yes."""
    path = Path(target) if target else ctx.settings.fdm_config
    if not params.get("backup"):
        raise ActionFailed("fdm.revert needs the backup to restore")
    token = params.get("token", "")
    expected = FileToken.parse(token) if token and token != "none" else None
    saved, verdict = revert(
        path,
        Path(params["backup"]),
        expected,
        tables=tables_for(ctx.settings),
        allow_warnings=_yes(params, "allow_warnings"),
        force=_yes(params, "force"),
    )
    kept = f"; the replaced version is kept as {saved.backup.name}" if saved.backup else ""
    warned = f" with {len(verdict.warnings)} warning(s)" if verdict.warnings else ""
    return f"{path} reverted to {Path(params['backup']).name}{warned}{kept}."
