"""Saving fdm.conf so that a save cannot break delivery: validate, back up, write atomically, revert.

Validation runs the real `fdm -n` on a temporary copy (where fdm is installed) and the linter: errors
block, warnings need the caller's confirmation. The write is a temporary file in the same directory,
fsynced, given the old owner and mode, then renamed over the file; the previous version is kept as a
timestamped backup first (itself written under a temporary name, fsynced and renamed), which is
removed again when the save fails. Any failure leaves the old file byte for byte. A revert is validated
like a save. These are the handlers of the `fdm.save` and `fdm.revert` actions (console/actions.py);
nothing else should call `save` directly.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from console.errors import ActionFailed, UserError
from console.fdm.lint import ERROR, WARNING, Finding, Tables, lint_text, load_tables
from console.fdm.recorder import FDM

if TYPE_CHECKING:
    from console.actions import ActionContext
    from console.settings import Settings

BACKUP_SUFFIX = ".bak"
_FDM_ERROR = re.compile(r"^(?P<path>.*?): (?P<message>.*) at line (?P<line>\d+)\s*$")


@dataclass(frozen=True)
class FileToken:
    """What the file was when it was opened: changed if any of mtime, size or content differ."""

    mtime_ns: int
    size: int
    sha256: str

    def __str__(self) -> str:
        return f"{self.mtime_ns}:{self.size}:{self.sha256}"

    @staticmethod
    def parse(text: str) -> FileToken:
        """The inverse of str(); a malformed token is a UserError."""
        try:
            mtime, size, digest = text.split(":")
            return FileToken(int(mtime), int(size), digest)
        except ValueError:
            raise UserError(f"not a file token: {text!r}") from None


def file_token(path: Path) -> FileToken | None:
    """The token of the file now, or None when it does not exist."""
    try:
        data = path.read_bytes()
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    return FileToken(info.st_mtime_ns, info.st_size, hashlib.sha256(data).hexdigest())


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
            proc = subprocess.run([fdm, "-n", "-f", str(copy)], capture_output=True, timeout=30,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ActionFailed(f"cannot run {fdm} -n: {exc}") from None
    if proc.returncode == 0:
        return None
    output = proc.stderr.decode("utf-8", "replace").strip() or \
        proc.stdout.decode("utf-8", "replace").strip()
    for line in output.splitlines():
        found = _FDM_ERROR.match(line.replace(str(copy), shown_path))
        if found:
            return found.group("message"), int(found.group("line"))
    return output.replace(str(copy), shown_path) or f"fdm -n exited {proc.returncode}", 0


def validate(text: str, path: Path, tables: Tables | None = None, fdm: str | None = FDM) -> Validation:
    """fdm's verdict (when installed) plus the linter's."""
    result = Validation()
    _config, result.findings = lint_text(text, str(path), tables)
    if fdm and shutil.which(fdm):
        result.fdm_checked = True
        verdict = check_with_fdm(text, str(path), fdm)
        if verdict is not None:
            result.fdm_error, result.fdm_line = verdict
            result.findings.insert(0, Finding(ERROR, result.fdm_line, f"fdm -n: {result.fdm_error}",
                                              "fix the line fdm names", "fdm-n"))
    return result


def backups(path: Path) -> list[Path]:
    """The kept versions of a config, newest first."""
    pattern = re.compile(re.escape(path.name) + r"\.\d{8}-\d{6}(?:-\d+)?" + re.escape(BACKUP_SUFFIX))
    found = [p for p in path.parent.glob(path.name + ".*" + BACKUP_SUFFIX) if pattern.fullmatch(p.name)]
    return sorted(found, key=lambda p: p.name, reverse=True)


def _backup_path(path: Path, now: float) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    candidate = path.with_name(f"{path.name}.{stamp}{BACKUP_SUFFIX}")
    serial = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.{stamp}-{serial}{BACKUP_SUFFIX}")
        serial += 1
    return candidate


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_copy(target: Path, data: bytes, like: os.stat_result | None) -> None:
    """Write data to target (a new file), owner and mode like the old file, fsynced."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if like is not None:
            os.fchmod(fd, like.st_mode & 0o7777)
            if os.geteuid() == 0:
                os.fchown(fd, like.st_uid, like.st_gid)
        os.fsync(fd)
    finally:
        os.close(fd)


def _temporary_name(path: Path, purpose: str) -> Path:
    """A hidden name beside path for a file being written (never matched by `backups`)."""
    return path.with_name(f".{path.name}.mailconsole-{purpose}-{os.getpid()}-{time.monotonic_ns()}")


def _keep_backup(path: Path, data: bytes, like: os.stat_result, now: float) -> Path:
    """Keep data as the next timestamped backup of path, as atomically as the file itself: written
    whole and fsynced under a temporary name, then renamed, so a half-written backup never exists."""
    tmp = _temporary_name(path, "backup")
    try:
        _write_copy(tmp, data, like)
        backup = _backup_path(path, now)
        os.replace(tmp, backup)
    finally:
        tmp.unlink(missing_ok=True)
    return backup


@dataclass
class Saved:
    """What a save did: the file written and where the previous version was kept."""

    path: Path
    backup: Path | None
    token: FileToken | None


def write_atomically(path: Path, text: str, expected: FileToken | None, *, force: bool = False,
                     now: float | None = None) -> Saved:
    """Back up the current file, then replace it atomically; the old file survives any failure.

    `expected` is the token from when the text was loaded: a different file on disk raises
    ActionFailed unless `force`.
    """
    current = file_token(path)
    if not force and current != expected:
        raise ActionFailed(f"{path} changed on disk since it was opened; reload it or confirm to "
                           "overwrite")
    data = text.encode("utf-8", "surrogateescape")
    like = path.stat() if current is not None else None
    backup: Path | None = None
    tmp = _temporary_name(path, "new")
    replaced = False
    try:
        if like is not None:
            backup = _keep_backup(path, path.read_bytes(), like,
                                  now if now is not None else time.time())
        _write_copy(tmp, data, like)
        if not force and file_token(path) != expected:
            raise ActionFailed(f"{path} changed on disk while saving; nothing was replaced")
        os.replace(tmp, path)
        replaced = True
        _fsync_dir(path.parent)
    except OSError as exc:
        if replaced:
            raise ActionFailed(f"{path} was saved, but syncing its directory failed "
                               f"({exc.strerror or exc}); a crash now may bring back the old file"
                               ) from None
        raise ActionFailed(f"{path} was not saved ({exc.strerror or exc}); the old file is "
                           "unchanged") from None
    finally:
        tmp.unlink(missing_ok=True)
        if backup is not None and not replaced:
            backup.unlink(missing_ok=True)  # the old file is still there: no second copy of it
    return Saved(path, backup, file_token(path))


def check(path: Path, text: str, *, tables: Tables | None = None, allow_warnings: bool = False,
          fdm: str | None = FDM, verb: str = "saved") -> Validation:
    """Validate a text about to become the file: errors block, warnings need allow_warnings."""
    verdict = validate(text, path, tables, fdm)
    if verdict.errors:
        first = verdict.errors[0]
        where = f"line {first.line}: " if first.line else ""
        raise ActionFailed(f"{path} not {verb}: {where}{first.message} "
                           f"({len(verdict.errors)} error(s))")
    if verdict.warnings and not allow_warnings:
        raise ActionFailed(f"{path} not {verb}: {len(verdict.warnings)} warning(s) to confirm, "
                           f"the first at line {verdict.warnings[0].line}: "
                           f"{verdict.warnings[0].message}")
    return verdict


def save(path: Path, text: str, expected: FileToken | None, *, tables: Tables | None = None,
         allow_warnings: bool = False, force: bool = False, fdm: str | None = FDM,
         now: float | None = None) -> tuple[Saved, Validation]:
    """Validate, then write atomically with a backup; errors block, warnings need allow_warnings."""
    verdict = check(path, text, tables=tables, allow_warnings=allow_warnings, fdm=fdm)
    return write_atomically(path, text, expected, force=force, now=now), verdict


def read_backup(path: Path, backup: Path) -> str:
    """The text of one of path's backups (anything else, or an unreadable one, is ActionFailed)."""
    if backup.parent != path.parent or backup not in backups(path):
        raise ActionFailed(f"{backup} is not a backup of {path}")
    try:
        return backup.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise ActionFailed(f"cannot read the backup {backup}: {exc.strerror}") from None


def revert(path: Path, backup: Path, expected: FileToken | None, *, tables: Tables | None = None,
           allow_warnings: bool = False, force: bool = False, fdm: str | None = FDM,
           now: float | None = None) -> tuple[Saved, Validation]:
    """Put a backup back, validated like a save (errors block, warnings need allow_warnings); the
    current file is itself backed up first."""
    text = read_backup(path, backup)
    verdict = check(path, text, tables=tables, allow_warnings=allow_warnings, fdm=fdm,
                    verb="reverted")
    return write_atomically(path, text, expected, force=force, now=now), verdict


# --------------------------------------------------------------------------- action handlers


def _yes(params: Mapping[str, str], key: str) -> bool:
    return params.get(key, "").lower() in ("1", "yes", "true")


def tables_for(settings: Settings) -> Tables:
    """smtpd's tables at the paths the settings name."""
    return load_tables(settings.table_addrs, settings.table_vusers, settings.table_vdomains,
                       settings.table_userdb)


def save_handler(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """`fdm.save`: params text, token (from load), allow_warnings=yes, force=yes."""
    settings = ctx.settings
    path = Path(target) if target else settings.fdm_config
    if "text" not in params:
        raise ActionFailed("fdm.save needs the new text")
    token = params.get("token", "")
    expected = FileToken.parse(token) if token and token != "none" else None
    saved, verdict = save(path, params["text"], expected, tables=tables_for(settings),
                          allow_warnings=_yes(params, "allow_warnings"), force=_yes(params, "force"))
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
    saved, verdict = revert(path, Path(params["backup"]), expected, tables=tables_for(ctx.settings),
                            allow_warnings=_yes(params, "allow_warnings"),
                            force=_yes(params, "force"))
    kept = f"; the replaced version is kept as {saved.backup.name}" if saved.backup else ""
    warned = f" with {len(verdict.warnings)} warning(s)" if verdict.warnings else ""
    return f"{path} reverted to {Path(params['backup']).name}{warned}{kept}."
