"""What the accounts need from smtpd.conf: the name of each table file (for `smtpctl update table`)
and the host name the mail server announces (the MX target)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from console.accounts.tables import read_text

ARTICLE_TABLE_NAMES = {
    "vdomains": "vdoms",
    "vusers": "vusers",
    "addrs": "addrs",
    "userdb": "passwd",
}
"""The article's table names, used when smtpd.conf cannot be read."""


@dataclass
class SmtpdConf:
    """Tables by file path, and the host names of `listen ... hostname` and `pki`."""

    tables: dict[Path, str] = field(default_factory=dict)
    hostnames: list[str] = field(default_factory=list)
    pki_names: list[str] = field(default_factory=list)

    def table_name(self, path: Path, kind: str) -> str:
        """The name smtpd knows a table file by (the article's name when it is not declared)."""
        return self.tables.get(path, ARTICLE_TABLE_NAMES[kind])

    def mail_host(self) -> str:
        """The host MX records should name: a listener's `hostname`, else the first pki name."""
        names = self.hostnames or self.pki_names
        return names[0] if names else ""


def parse_smtpd_conf(text: str) -> SmtpdConf:
    """The `table` and `listen`/`pki` lines of an smtpd.conf (other lines are not needed here)."""
    conf = SmtpdConf()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if words[0] == "table" and len(words) >= 3 and not words[2].startswith("{"):
            source = words[2]
            backend, sep, location = source.partition(":")
            if sep and not backend.startswith("/"):
                source = location
            conf.tables[Path(source)] = words[1]
        elif words[0] == "listen" and "hostname" in words[:-1]:
            name = words[words.index("hostname") + 1]
            if name not in conf.hostnames:
                conf.hostnames.append(name)
        elif words[0] == "pki" and len(words) >= 2 and words[1] not in conf.pki_names:
            conf.pki_names.append(words[1])
    return conf


def read_smtpd_conf(path: Path) -> SmtpdConf | None:
    """smtpd.conf from disk; None when it does not exist."""
    text, token = read_text(path)
    return parse_smtpd_conf(text) if token is not None else None
