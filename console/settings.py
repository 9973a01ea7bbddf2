"""One typed settings model, resolved from CLI flags > MAILCONSOLE_* env > a TOML file > defaults.

Every field has a one-line docstring under it; `mailconsole config` prints each value with the place it
came from, and config_samples/mailconsole.toml documents every field (a test keeps the two in sync).
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from console.errors import ConfigError
from console.jobs.spec import JobSpec, article_jobs, parse_jobs

DEFAULT_SUPERVISOR_URL = "unix:///run/supervisor.sock"
CONFIG_SEARCH_PATH: tuple[Path, ...] = (
    Path("/mail/config/mailconsole.toml"),
    Path("/etc/mailconsole/config.toml"),
)
ENV_PREFIX = "MAILCONSOLE_"
DEFAULT_LAB_DIR = Path("/tmp/mailconsole-lab")


@dataclass
class Settings:
    """Everything mailconsole needs to know about the stack it runs beside."""

    supervisor_config: Path = Path("/etc/supervisord.conf")
    """supervisord's config file; its [supervisorctl] serverurl/username/password are used unless set here."""

    supervisor_url: str = ""
    """supervisord's XML-RPC URL (unix:///path or http://host:port); empty: take it from supervisor_config."""

    supervisor_username: str = ""
    """User name for supervisord's XML-RPC server, if it asks for one."""

    supervisor_password: str = ""
    """Password for supervisord's XML-RPC server, if it asks for one."""

    log_dir: Path = Path("/mail/log")
    """Directory holding the stack's log files (smtpd.log, dovecot.log, ...)."""

    fdm_config: Path = Path("/mail/config/fdm.conf")
    """fdm's configuration: the delivery rules the Rules screen edits."""

    fdm_test_messages: Path = Path("/mail/config/fdm-tests")
    """Saved test messages the Rules screen routes with the old and the edited fdm.conf before a save."""

    table_vdomains: Path = Path("/mail/db/vdomains")
    """OpenSMTPD table of the domains mail is accepted for."""

    table_vusers: Path = Path("/mail/db/vusers")
    """OpenSMTPD virtual table mapping each accepted address to a user."""

    table_addrs: Path = Path("/mail/db/addrs")
    """OpenSMTPD table of the accepted recipient addresses (rcpt-to)."""

    table_userdb: Path = Path("/mail/db/userdb")
    """passwd-style user database shared by OpenSMTPD and Dovecot."""

    spool_dir: Path = Path("/mail/spool")
    """Root of the users' Maildirs (<spool_dir>/<user>/Mail)."""

    mail_user: str = "vmail"
    """System account mail is stored as: owner of new Maildirs, and a vusers target that is no mailbox."""

    smtpd_config: Path = Path("/mail/config/smtpd.conf")
    """OpenSMTPD's config: its tables (smtpctl update table), host (MX records), pki and TLS listeners."""

    dkimproxy_config: Path = Path("/mail/config/dkimproxy_out.conf")
    """dkimproxy's config: its keyfile and selector give each domain's DKIM record."""

    dns_resolver: str = ""
    """DNS server the domains' records are checked against (IP or IP:port); empty: the system's."""

    smtpctl: list[str] = field(default_factory=lambda: ["smtpctl"])
    """argv prefix that runs smtpctl (e.g. ["docker", "exec", "mail", "smtpctl"] from outside)."""

    jobs: dict[str, JobSpec] = field(default_factory=article_jobs)
    """Maintenance jobs run on demand (the article's crontab): NAME = [argv], or [jobs.NAME] tables."""

    read_only: bool = False
    """On-call mode: every mutating action is hidden and refused; nothing in the console turns it off."""

    audit_log: Path = Path("/mail/log/mailconsole-audit.log")
    """JSON-lines file recording every attempted mutating action, refused ones included."""

    operator: str = ""
    """Name written to the audit log; empty: SUDO_USER, else USER, else the name of the process's uid."""

    refresh_interval: float = 0.5
    """Seconds between polls of supervisord (the next poll is armed only when the last one finished)."""

    mail_dir: Path = Path("/mail")
    """The stack's state volume (config, db, log, spool): health checks its free space."""

    queue_dir: Path = Path("/var/spool/smtpd")
    """OpenSMTPD's queue directory: health checks its free space."""

    dovecot_config: Path = Path("/etc/dovecot/dovecot.conf")
    """Dovecot's config, read through `doveconf -c`: its ssl_cert and its TLS listeners."""

    clamd_config: Path = Path("/mail/config/clamd.conf")
    """clamd's config: its DatabaseDirectory (database age) and LocalSocket or TCPSocket (PING)."""

    spamassassin_update_dir: Path = Path("/mail/db/spamassassin")
    """sa-update's --updatedir: health checks that it holds rules, and their age."""

    health_interval: float = 60.0
    """Seconds between two runs of the health checks on the Overview screen."""

    health_timeout: float = 3.0
    """Seconds each network health check (TLS handshake, clamd PING) may take."""

    health_smtps_ports: list[str] = field(default_factory=lambda: ["465"])
    """Ports where mail clients expect implicit TLS (SMTPS): a STARTTLS listener there is critical."""

    health_cert_warning_days: float = 20.0
    """A certificate (file or served) expiring in fewer days than this is a warning."""

    health_cert_critical_days: float = 15.0
    """A certificate expiring in fewer days than this is critical."""

    health_clamav_warning_days: float = 3.0
    """ClamAV's newest database built longer ago than this is a warning (freshclam runs every 12 h)."""

    health_clamav_critical_days: float = 7.0
    """ClamAV's newest database built longer ago than this is critical."""

    health_spamassassin_warning_days: float = 10.0
    """SpamAssassin rules installed by sa-update longer ago than this are a warning."""

    health_spamassassin_critical_days: float = 30.0
    """SpamAssassin rules installed longer ago than this are critical."""

    health_disk_warning_percent: float = 30.0
    """Less free space than this percentage on mail_dir or queue_dir is a warning."""

    health_disk_critical_percent: float = 15.0
    """Less free space than this percentage is critical."""

    health_queue_warning_envelopes: int = 100
    """More envelopes than this in the queue is a warning."""

    health_queue_critical_envelopes: int = 1000
    """More envelopes than this in the queue is critical."""

    health_queue_warning_hours: float = 4.0
    """An envelope queued longer than this many hours is a warning."""

    health_queue_critical_hours: float = 24.0
    """An envelope queued longer than this many hours is critical."""

    imap_host: str = "127.0.0.1"
    """Dovecot's IMAP endpoint, for the Mailboxes view and `mailconsole mailboxes`."""

    imap_port: int = 993
    """The IMAP port (993 for implicit TLS, 143 for STARTTLS or plain)."""

    imap_tls: str = "implicit"
    """implicit (TLS from the first byte), starttls, or plain (allowed only when imap_host is loopback)."""

    imap_ca_file: str = ""
    """CA certificates (PEM) that sign Dovecot's certificate; empty: the system's."""

    imap_self_signed: bool = False
    """Accept any certificate, a self-signed one included (allowed only when imap_host is loopback)."""

    imap_password_file: str = ""
    """File of `account:password` lines, refused if group or others may read it (MAILCONSOLE_PASSWORD_<ACCOUNT> wins)."""

    imap_master_user: str = ""
    """Dovecot master user: log in as `account*master` with its password (for accounts without one)."""

    imap_master_password_file: str = ""
    """File holding the master user's password on its first line (refused if group or others may read it)."""

    imap_timeout: float = 10.0
    """Seconds an IMAP connection, login or command may take before it is given up."""

    smtp_address: str = "127.0.0.1:25"
    """The local smtpd's SMTP listener (HOST:PORT) the delivery probe sends its message to."""

    lab_dir: Path = DEFAULT_LAB_DIR
    """The lab `mailconsole lab` commands act on without --dir; a lab's own settings file names its directory."""

    def resolved_operator(self) -> str:
        """The operator's name for the audit log: `docker exec` sets neither SUDO_USER nor USER, so the
        uid's name from the passwd database is the last resort (its number when it has no name)."""
        named = self.operator or os.environ.get("SUDO_USER") or os.environ.get("USER")
        if named:
            return named
        import pwd  # only when neither is set; kept off the start-up

        uid = os.getuid()
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return f"uid {uid}"


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(Settings)}


class LoadedSettings(NamedTuple):
    """Settings plus where each value came from (for `mailconsole config`)."""

    settings: Settings
    sources: dict[str, str]
    config_file: Path | None


def _kind(name: str) -> str:
    """The value kind of a field: bool, int, float, path, str, list or dict."""
    default = Settings()
    value = getattr(default, name)
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, Path):
        return "path"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "str"


_EXPECTED = {
    "bool": "true or false",
    "float": "a number",
    "int": "a whole number",
    "path": "a path (string)",
    "str": "a string",
    "list": "a list of strings",
    "dict": "a table of jobs",
}


def _convert(name: str, value: Any, where: str) -> Any:
    """Check a value from a TOML file (or already-parsed env/CLI value) against the field's kind."""
    kind = _kind(name)
    bad = ConfigError(f"{where}: key '{name}': expected {_EXPECTED[kind]}, got {value!r}")
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{where}: key '{name}': expected a positive number, got {value!r}")
        return float(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(
                f"{where}: key '{name}': expected a positive whole number, got {value!r}"
            )
        return value
    if kind == "path":
        if not isinstance(value, str) or not value:
            raise bad
        return Path(value)
    if kind == "str":
        if not isinstance(value, str):
            raise bad
        return value
    if kind == "list":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ConfigError(
                f"{where}: key '{name}': expected a non-empty list of strings, got {value!r}"
            )
        return list(value)
    try:
        return parse_jobs(value, f"{where}: key '{name}'")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _parse_env(name: str, raw: str, var: str) -> Any:
    """Turn a MAILCONSOLE_* string into a value of the field's kind."""
    kind = _kind(name)
    if kind == "bool":
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"environment: {var}: expected 1/0, true/false or yes/no, got {raw!r}")
    if kind == "float":
        try:
            return _convert(name, float(raw), f"environment: {var}")
        except ValueError:
            raise ConfigError(f"environment: {var}: expected a number, got {raw!r}") from None
    if kind == "int":
        try:
            return _convert(name, int(raw), f"environment: {var}")
        except ValueError:
            raise ConfigError(f"environment: {var}: expected a whole number, got {raw!r}") from None
    if kind == "list":
        try:
            return _convert(name, shlex.split(raw), f"environment: {var}")
        except ValueError as exc:
            raise ConfigError(f"environment: {var}: expected shell words, {exc}") from None
    if kind == "dict":
        import json  # here, not at the top: start-up does without it

        try:
            return _convert(name, json.loads(raw), f"environment: {var}")
        except json.JSONDecodeError:
            raise ConfigError(
                f"environment: {var}: expected a JSON object of name -> argv list or table"
            ) from None
    return _convert(name, raw, f"environment: {var}")


def _find_config_file(explicit: str | None, env: Mapping[str, str]) -> tuple[Path | None, str]:
    """The settings file to read and why: --config, MAILCONSOLE_CONFIG, then the search path."""
    if explicit:
        return _settings_file(Path(explicit), "--config"), "--config"
    if env.get(ENV_PREFIX + "CONFIG"):
        return _settings_file(
            Path(env[ENV_PREFIX + "CONFIG"]), "MAILCONSOLE_CONFIG"
        ), "MAILCONSOLE_CONFIG"
    for candidate in CONFIG_SEARCH_PATH:
        if candidate.exists():
            return _settings_file(candidate, "the search path"), "search path"
    return None, ""


def _settings_file(path: Path, given_by: str) -> Path:
    """path, when it is a file; otherwise one sentence saying what it is instead. (A directory is
    what `docker run -v` makes of a host file that does not exist.)"""
    if path.is_file():
        return path
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a settings file (given by {given_by})")
    raise ConfigError(f"{path}: no such settings file (given by {given_by})")


def _read_file(path: Path) -> dict[str, Any]:
    """Parse a settings file: TOML, flat keys, each one a Settings field."""
    # Imported here, not at the top: without a settings file, start-up does without it.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read settings file: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in FIELDS:
            raise ConfigError(f"{path}: unknown key '{key}' (expected one of: {', '.join(FIELDS)})")
        values[key] = _convert(key, value, str(path))
    return values


def _read_serverurl(conf: Path) -> dict[str, str]:
    """The [supervisorctl] serverurl, username and password of a supervisord config, if any."""
    import configparser  # only when supervisord.conf is read; kept off the start-up

    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False)
    try:
        parser.read(conf, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{conf}: cannot parse supervisord config: {exc}") from None
    if not parser.has_section("supervisorctl"):
        return {}
    section = parser["supervisorctl"]
    out = {}
    for key, target in (
        ("serverurl", "supervisor_url"),
        ("username", "supervisor_username"),
        ("password", "supervisor_password"),
    ):
        if section.get(key):
            out[target] = section[key].strip()
    return out


def load_settings(
    config: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Resolve the settings: overrides (CLI flags) > MAILCONSOLE_* env > file > defaults, except that
    read-only turned on by any of them stays on."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {name: "default" for name in FIELDS}

    path, _why = _find_config_file(config, env)
    if path is not None:
        for key, value in _read_file(path).items():
            values[key] = value
            sources[key] = str(path)

    for name in FIELDS:
        var = ENV_PREFIX + name.upper()
        if var in env:
            value = _parse_env(name, env[var], var)
            if name == "read_only" and values.get(name) is True and value is False:
                continue  # read-only is a one-way switch: a source saying false never turns it off
            values[name] = value
            sources[name] = f"env {var}"

    for name, value in (overrides or {}).items():
        if value is None:
            continue
        values[name] = _convert(name, value, f"command line: --{name.replace('_', '-')}")
        sources[name] = "command line"

    settings = Settings(**values)
    _resolve_supervisor(settings, sources)
    _check_health_thresholds(settings, sources)
    _check_imap(settings, sources)
    return LoadedSettings(settings, sources, path)


def _resolve_supervisor(settings: Settings, sources: dict[str, str]) -> None:
    """Fill the supervisord URL and credentials from supervisor_config when not given directly."""
    conf = settings.supervisor_config
    if not conf.is_file() and (conf.exists() or sources["supervisor_config"] != "default"):
        # Given but unusable: said, as for the settings file (only the default may be absent).
        problem = (
            "a directory, not supervisord's config file"
            if conf.exists()
            else "no such supervisord config file"
        )
        raise ConfigError(
            f"{sources['supervisor_config']}: key 'supervisor_config': {conf}: {problem}"
        )
    if not settings.supervisor_url:
        from_conf = {}
        if conf.is_file():
            from_conf = _read_serverurl(conf)
        origin = f"{settings.supervisor_config} [supervisorctl]"
        for name, value in from_conf.items():
            if sources[name] == "default":
                setattr(settings, name, value)
                sources[name] = origin
        if not settings.supervisor_url:
            settings.supervisor_url = DEFAULT_SUPERVISOR_URL
    if not settings.supervisor_url.startswith(("unix://", "http://", "https://")):
        raise ConfigError(
            f"{sources['supervisor_url']}: key 'supervisor_url': expected a unix:// or http:// URL, "
            f"got {settings.supervisor_url!r}"
        )


HEALTH_THRESHOLDS = (
    ("cert", "days", True),
    ("clamav", "days", False),
    ("spamassassin", "days", False),
    ("disk", "percent", True),
    ("queue", "envelopes", False),
    ("queue", "hours", False),
)
"""Each health figure's warning/critical pair, and whether lower is worse (days left, free space)."""


def _check_health_thresholds(settings: Settings, sources: dict[str, str]) -> None:
    """A critical threshold must lie beyond its warning one, or the warning could never show."""
    for check, unit, lower_is_worse in HEALTH_THRESHOLDS:
        warning = getattr(settings, f"health_{check}_warning_{unit}")
        critical = getattr(settings, f"health_{check}_critical_{unit}")
        if (critical > warning) if lower_is_worse else (critical < warning):
            key = f"health_{check}_critical_{unit}"
            relation = "at most" if lower_is_worse else "at least"
            raise ConfigError(
                f"{sources[key]}: key '{key}': expected {relation} health_{check}_warning_{unit} "
                f"({warning:g}), got {critical:g}"
            )


IMAP_TLS_MODES = ("implicit", "starttls", "plain")


def is_loopback(host: str) -> bool:
    """Whether host names this machine's loopback (localhost, 127.0.0.0/8, ::1)."""
    import ipaddress  # only when IMAP settings are checked

    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_imap(settings: Settings, sources: dict[str, str]) -> None:
    """The IMAP endpoint's TLS choices: no plain text and no unverified certificate beyond loopback."""

    def bad(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{sources[key]}: key '{key}': {problem}")

    if settings.imap_tls not in IMAP_TLS_MODES:
        raise bad(
            "imap_tls", f"expected one of {', '.join(IMAP_TLS_MODES)}, got {settings.imap_tls!r}"
        )
    loopback = is_loopback(settings.imap_host)
    if settings.imap_tls == "plain" and not loopback:
        raise bad(
            "imap_tls",
            f"plain IMAP is allowed only on loopback, not to {settings.imap_host!r} "
            "(use implicit or starttls)",
        )
    if settings.imap_self_signed and not loopback:
        raise bad(
            "imap_self_signed",
            f"accepting any certificate is allowed only on loopback, not for "
            f"{settings.imap_host!r} (give imap_ca_file instead)",
        )
    if settings.imap_self_signed and settings.imap_ca_file:
        raise bad("imap_self_signed", "give either imap_ca_file or imap_self_signed, not both")
    if settings.imap_ca_file and not Path(settings.imap_ca_file).is_file():
        raise bad("imap_ca_file", f"{settings.imap_ca_file}: no such file")
    if settings.imap_port > 65535:
        raise bad("imap_port", f"expected a port (1-65535), got {settings.imap_port}")
    if bool(settings.imap_master_user) != bool(settings.imap_master_password_file):
        raise bad(
            "imap_master_user" if settings.imap_master_user else "imap_master_password_file",
            "imap_master_user and imap_master_password_file go together",
        )
    if "*" in settings.imap_master_user:
        raise bad("imap_master_user", "the master user's own name, without `*`")


def render_effective(loaded: LoadedSettings) -> str:
    """`mailconsole config`: every setting as TOML, with the place it came from as a comment."""
    lines = []
    if loaded.config_file:
        lines.append(f"# settings file: {loaded.config_file}")
    else:
        lines.append("# settings file: none found")
    for name in FIELDS:
        if name == "jobs":
            continue
        value = getattr(loaded.settings, name)
        shown = "***" if name == "supervisor_password" and value else value
        lines.append(f"{name} = {_toml_value(shown)}  # {loaded.sources[name]}")
    lines.append(f"# jobs: {loaded.sources['jobs']}")
    lines += render_jobs(loaded.settings.jobs)
    return "\n".join(lines)


def render_jobs(jobs: Mapping[str, JobSpec]) -> list[str]:
    """The jobs as `[jobs.NAME]` TOML tables, one key a line."""
    lines = []
    for job_name, spec in jobs.items():
        lines.append("")
        lines.append(f"[jobs.{_toml_key(job_name)}]")
        data = spec.as_toml_data()
        codes = data.pop("exit_codes")
        lines += [f"{key} = {_toml_value(value)}" for key, value in data.items()]
        if codes:
            lines.append(f"[jobs.{_toml_key(job_name)}.exit_codes]")
            lines += [f"{code} = {_toml_value(text)}" for code, text in codes.items()]
    return lines


def _toml_key(key: str) -> str:
    """A TOML key, quoted unless it is a bare key."""
    import json
    import re

    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    """A value written as TOML (inline)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    return json.dumps(value)
