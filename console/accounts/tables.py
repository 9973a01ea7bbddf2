"""The account files read exactly as their programs read them, and edited line by line.

OpenSMTPD's file tables (vdomains, vusers, addrs): a line is trimmed of white space; an empty line or
one starting with `#` is skipped (`# @list` before the first entry forces a list). The first entry
decides the table's kind: a space, tab or colon in it makes a map (key, then the value after white
space or `: `), otherwise a list (the whole trimmed line is one key, spaces included). A map line
without a value makes smtpd refuse the whole table. Keys are looked up without case.

The userdb (Dovecot's passwd-file, also read by OpenSMTPD's table-passwd): `user:password:uid:gid:
gecos:home:shell:extra fields`; a line that is empty or starts with `#` is skipped by both (measured:
an indented `#` is a user to Dovecot and an error to table-passwd). table-passwd refuses the whole
table when a line has fewer than six fields. The extra fields (after the seventh colon, colons
included) are Dovecot's `userdb_mail=maildir:...` and are kept byte for byte.

Edits never rewrite a line they do not change: a file is held as its lines, and an edit appends,
removes or replaces whole lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from console.errors import UserError
from console.files import FileToken, file_token

LIST, MAP = "list", "map"
_KEY_END = re.compile(r"[ \t:]")
_WHITESPACE = " \t\n\r\v\f"


def split_lines(text: str) -> list[str]:
    """The file's lines without their newlines; joining them with "\\n" gives the text back."""
    return text.split("\n")


def join_lines(lines: list[str]) -> str:
    """The inverse of split_lines."""
    return "\n".join(lines)


def read_text(path: Path) -> tuple[str, FileToken | None]:
    """A file's text (undecodable bytes kept) and its token; a missing file is empty, token None."""
    token = file_token(path)
    if token is None:
        return "", None
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape"), token
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None


class TableEntry(NamedTuple):
    """One entry of an smtpd table: its line (1-based), key as written, and value (lists: "")."""

    line: int
    key: str
    value: str

    @property
    def values(self) -> list[str]:
        """A map value as smtpd expands it: comma-separated, each part trimmed."""
        return [part.strip() for part in self.value.split(",") if part.strip()]


@dataclass
class Table:
    """One smtpd table file: its lines, kind, entries and the lines smtpd would refuse."""

    name: str
    path: Path
    lines: list[str]
    kind: str = ""
    entries: list[TableEntry] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    """Map lines without a value: smtpd refuses the whole table because of them."""
    token: FileToken | None = None
    _index: dict[str, list[TableEntry]] | None = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The file's text, exactly."""
        return join_lines(self.lines)

    def index(self) -> dict[str, list[TableEntry]]:
        """The entries by key as smtpd looks it up (lower case), each key's in file order."""
        if self._index is None:
            self._index = {}
            for entry in self.entries:
                self._index.setdefault(entry.key.lower(), []).append(entry)
        return self._index

    def keys(self) -> set[str]:
        """Every key as smtpd looks it up (lower case)."""
        return set(self.index())

    def find(self, key: str) -> list[TableEntry]:
        """The entries whose key is `key` (without case), in file order."""
        return self.index().get(key.lower(), [])

    def separator(self) -> str:
        """What separates key and value in this map's first entry (a space when unknown)."""
        for entry in self.entries:
            raw = self.lines[entry.line - 1].lstrip(_WHITESPACE)
            start = len(entry.key)
            end = raw.find(entry.value, start) if entry.value else -1
            if end > start:
                return raw[start:end]
        return " "


def parse_table(name: str, path: Path, text: str, token: FileToken | None = None) -> Table:
    """Read a table file as OpenSMTPD's table_static does."""
    table = Table(name, path, split_lines(text), token=token)
    forced_list = False
    for number, raw in enumerate(table.lines, start=1):
        line = raw.strip(_WHITESPACE)
        if not line:
            continue
        if line.startswith("#"):
            if not table.kind and not table.entries and line[1:].strip(_WHITESPACE) == "@list":
                forced_list = True
            continue
        if not table.kind:
            table.kind = LIST if forced_list or not _KEY_END.search(line) else MAP
        if table.kind == LIST:
            table.entries.append(TableEntry(number, line, ""))
            continue
        found = _KEY_END.search(line)
        if found is None:
            table.refused.append(number)
            continue
        key, rest = line[: found.start()], line[found.start() + 1 :]
        value = _value_start(rest)
        if not value:
            table.refused.append(number)
            continue
        table.entries.append(TableEntry(number, key, value))
    return table


def _value_start(rest: str) -> str:
    """Skip the white space and `: ` between a map key and its value, as smtpd does."""
    i = 0
    while i < len(rest):
        char = rest[i]
        if char in _WHITESPACE or (
            char == ":" and i + 1 < len(rest) and rest[i + 1] in _WHITESPACE
        ):
            i += 1
            continue
        break
    return rest[i:]


class UserEntry(NamedTuple):
    """One userdb line: the passwd fields as written, the extra fields byte for byte."""

    line: int
    name: str
    password: str
    uid: str
    gid: str
    gecos: str
    home: str
    shell: str
    extra: str
    fields: int
    """How many colon-separated fields the line has (table-passwd needs at least six)."""

    def extra_value(self, key: str) -> str | None:
        """One of Dovecot's extra fields (`userdb_mail=...`), or None."""
        for item in self.extra.split():
            name, sep, value = item.partition("=")
            if sep and name == key:
                return value
        return None

    def maildir(self) -> Path | None:
        """The Maildir Dovecot uses for this user when the line names one (`userdb_mail=maildir:`)."""
        mail = self.extra_value("userdb_mail") or self.extra_value("mail")
        if not mail or not mail.startswith("maildir:"):
            return None
        location = mail[len("maildir:") :].split(":", 1)[0]
        location = location.replace("%u", self.name).replace("%n", self.name.split("@")[0])
        if location.startswith("~"):
            location = self.home + location[1:]
        return Path(location) if location else None


@dataclass
class UserDb:
    """The userdb file: its lines and users."""

    path: Path
    lines: list[str]
    users: list[UserEntry] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    """Lines with fewer than six fields: table-passwd refuses the whole table because of them."""
    token: FileToken | None = None

    @property
    def text(self) -> str:
        """The file's text, exactly."""
        return join_lines(self.lines)

    def find(self, name: str) -> list[UserEntry]:
        """The lines of one user (more than one is a finding), in file order."""
        return [user for user in self.users if user.name == name]

    def names(self) -> set[str]:
        """Every user name."""
        return {user.name for user in self.users}


def parse_userdb(path: Path, text: str, token: FileToken | None = None) -> UserDb:
    """Read a passwd-file as Dovecot and table-passwd do."""
    userdb = UserDb(path, split_lines(text), token=token)
    for number, raw in enumerate(userdb.lines, start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line or line.startswith("#"):
            continue
        fields = line.split(":", 7)
        if len(fields) < 6:
            userdb.refused.append(number)
        padded = fields + [""] * (8 - len(fields))
        name, password, uid, gid, gecos, home, shell, extra = padded[:8]
        userdb.users.append(
            UserEntry(number, name, password, uid, gid, gecos, home, shell, extra, len(fields))
        )
    return userdb


def user_line(name: str, password: str, template: UserEntry | None, defaults: UserEntry) -> str:
    """A new userdb line: like the template user's (its name replaced by `name` in paths), else the
    defaults."""
    base = template or defaults
    old = base.name

    def moved(text: str) -> str:
        return re.sub(rf"(?<=/){re.escape(old)}(?=/|:|\s|$)", name, text) if old else text

    fields = [
        name,
        password,
        base.uid,
        base.gid,
        base.gecos,
        moved(base.home),
        base.shell,
        moved(base.extra),
    ]
    return ":".join(fields)


def with_password(entry: UserEntry, raw: str, password: str) -> str:
    """The same userdb line with another password field; every other byte kept."""
    name, _sep, rest = raw.partition(":")
    _old, sep, tail = rest.partition(":")
    return f"{name}:{password}{sep}{tail}"


def append_line(lines: list[str], line: str) -> list[str]:
    """The lines with one more at the end (a missing final newline is added before it)."""
    result = list(lines)
    if result and result[-1] == "":
        result[-1:] = [line, ""]
    elif not result:
        result = [line, ""]
    else:
        result += [line, ""]
    return result


def remove_lines(lines: list[str], numbers: set[int]) -> list[str]:
    """The lines without the given ones (1-based)."""
    return [line for number, line in enumerate(lines, start=1) if number not in numbers]


def replace_line(lines: list[str], number: int, line: str) -> list[str]:
    """The lines with one replaced (1-based)."""
    result = list(lines)
    result[number - 1] = line
    return result
