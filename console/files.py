"""Config files written so that nothing is lost: a token to notice changes on disk, timestamped
backups, and an atomic replace.

The write is a temporary file in the same directory, fsynced, given the old owner and mode, then
renamed over the file; the previous version is kept as a timestamped backup first (itself written
under a temporary name, fsynced and renamed), which is removed again when the write fails. Any
failure leaves the old file byte for byte. fdm.conf saves and the account tables use it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from console.errors import ActionFailed, UserError

BACKUP_SUFFIX = ".bak"


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


def read_regular(path: Path | str) -> bytes:
    """The bytes of a regular file. A directory, a named pipe, a device or a socket raises OSError
    before it is opened, with a sentence as its strerror: /dev/zero would be read until memory ran
    out, and opening a named pipe waits for a writer."""
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "it is a directory", str(path))
    if not stat.S_ISREG(info.st_mode):
        raise OSError(errno.EINVAL, "not a regular file (a pipe, a device or a socket)", str(path))
    with open(path, "rb") as handle:
        return handle.read()


def _link_target(path: Path) -> Path:
    """What a symbolic link at `path` names (path itself when it is none, or cannot be resolved)."""
    try:
        return path.resolve() if path.is_symlink() else path
    except (OSError, RuntimeError):  # a loop: the save then says what is wrong with it
        return path


def followed(path: Path) -> Path:
    """The file a write to `path` is for: path itself, or the file its symbolic link names, so a
    save keeps the link (a config linked into a mounted volume stays one file, not two).

    A link owned by another user than root or this process is refused (ActionFailed), as the
    kernel's protected_symlinks does in /tmp: whoever may write the directory must not steer
    root's writes to another file."""
    try:
        info = path.lstat()
    except OSError:
        return path  # missing, or its directory is not one: the write itself says so
    if not stat.S_ISLNK(info.st_mode):
        return path
    if info.st_uid not in (0, os.geteuid()):
        raise ActionFailed(
            f"{path} is a symbolic link owned by user id {info.st_uid}, not by root: "
            "refused to write through it"
        )
    try:
        return path.resolve(strict=False)
    except (OSError, RuntimeError):
        raise ActionFailed(f"{path} is a symbolic link that leads nowhere (a loop)") from None


def backups(path: Path) -> list[Path]:
    """The kept versions of a config, newest first (beside the file a symbolic link names)."""
    path = _link_target(path)
    pattern = re.compile(
        re.escape(path.name) + r"\.\d{8}-\d{6}(?:-\d+)?" + re.escape(BACKUP_SUFFIX)
    )
    found = [
        p for p in path.parent.glob(path.name + ".*" + BACKUP_SUFFIX) if pattern.fullmatch(p.name)
    ]
    return sorted(found, key=lambda p: p.name, reverse=True)


def _backup_path(path: Path, now: float) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    candidate = path.with_name(f"{path.name}.{stamp}{BACKUP_SUFFIX}")
    serial = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.{stamp}-{serial}{BACKUP_SUFFIX}")
        serial += 1
    return candidate


def fsync_directory(directory: Path) -> None:
    """Make a rename in the directory durable."""
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


def _discard(path: Path) -> None:
    """Remove a file this save made, if it is there: cleaning up never hides the save's own error."""
    try:
        path.unlink()
    except OSError:
        pass  # never created (its name was refused), or already gone


def _keep_backup(path: Path, data: bytes, like: os.stat_result, now: float) -> Path:
    """Keep data as the next timestamped backup of path, as atomically as the file itself: written
    whole and fsynced under a temporary name, then renamed, so a half-written backup never exists."""
    tmp = _temporary_name(path, "backup")
    try:
        _write_copy(tmp, data, like)
        backup = _backup_path(path, now)
        os.replace(tmp, backup)
    finally:
        _discard(tmp)
    return backup


@dataclass
class Saved:
    """What a save did: the file written and where the previous version was kept."""

    path: Path
    backup: Path | None
    token: FileToken | None


def write_atomically(
    path: Path,
    text: str,
    expected: FileToken | None,
    *,
    force: bool = False,
    now: float | None = None,
) -> Saved:
    """Back up the current file, then replace it atomically; the old file survives any failure.

    `expected` is the token from when the text was loaded: a different file on disk raises
    ActionFailed unless `force`. A symbolic link is kept: the file it names is replaced, and the
    backup is kept beside that file (see `followed`).
    """
    path = followed(path)
    current = file_token(path)
    if not force and current != expected:
        raise ActionFailed(
            f"{path} changed on disk since it was opened; reload it or confirm to overwrite"
        )
    data = text.encode("utf-8", "surrogateescape")
    like = path.stat() if current is not None else None
    backup: Path | None = None
    tmp = _temporary_name(path, "new")
    replaced = False
    try:
        if like is not None:
            backup = _keep_backup(
                path, path.read_bytes(), like, now if now is not None else time.time()
            )
        _write_copy(tmp, data, like)
        if not force and file_token(path) != expected:
            raise ActionFailed(f"{path} changed on disk while saving; nothing was replaced")
        os.replace(tmp, path)
        replaced = True
        fsync_directory(path.parent)
    except OSError as exc:
        if replaced:
            raise ActionFailed(
                f"{path} was saved, but syncing its directory failed "
                f"({exc.strerror or exc}); a crash now may bring back the old file"
            ) from None
        raise ActionFailed(
            f"{path} was not saved ({exc.strerror or exc}); the old file is unchanged"
        ) from None
    finally:
        _discard(tmp)
        if backup is not None and not replaced:
            _discard(backup)  # the old file is still there: no second copy of it
    return Saved(path, backup, file_token(path))
