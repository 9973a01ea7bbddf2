"""Account changes: one step each, every file kept in agreement, written together or not at all.

A change is planned on the files' text (nothing touched), checked (it must not add a finding of
severity error, and fdm.conf must still pass `fdm -n` and route the new address to its user), then
written: each file atomically with a backup (`console.files.write_atomically`, as fdm.conf saves), the ones already
written put back from their backups if a later one fails. Then smtpd is told with `smtpctl update
table NAME` for each table that changed; a refusal leaves the new files in place and says what to
do next. These are the handlers of the `accounts.*` actions (console/actions.py).

The article's smtpd maps every address to the system user vmail (`virtual <vusers>`) and fdm picks the
mailbox from the headers, so an address for a user is a vusers line to vmail, an addrs line, and an
fdm rule delivering to that user (copied from an existing `deliver -d USER -m INBOX` action).
"""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from console.accounts.check import Finding, check, probe_message
from console.accounts.model import FILE_KINDS, TABLE_KINDS, Accounts, load_accounts
from console.accounts.passwords import hash_password
from console.accounts.tables import (
    MAP,
    UserEntry,
    append_line,
    join_lines,
    parse_table,
    parse_userdb,
    read_text,
    remove_lines,
    replace_line,
    user_line,
    with_password,
)
from console.errors import ActionFailed, UserError
from console.fdm.lint import ERROR
from console.fdm.parser import Config, FdmSyntaxError, parse
from console.fdm.router import Router, mailbox_of
from console.fdm.save import check_with_fdm
from console.files import FileToken, Saved, fsync_directory, write_atomically

if TYPE_CHECKING:
    from console.actions import ActionContext
    from console.settings import Settings

FDM = "fdm"
"""The fifth file a change may touch: fdm.conf (a rule for a new address)."""
_ADDRESS = re.compile(r"^[A-Za-z0-9._+=-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_ERE_SPECIAL = set(".^$*+?()[]{}|\\")


@dataclass
class Plan:
    """What a change will do: the new text of each file it touches, and a Maildir to create."""

    summary: str
    texts: dict[str, str] = field(default_factory=dict)
    maildir: Path | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Files:
    """The account files and fdm.conf as loaded, with their tokens (to notice changes on disk)."""

    accounts: Accounts
    fdm_path: Path
    fdm_text: str
    fdm_token: FileToken | None

    def path(self, kind: str) -> Path:
        return self.fdm_path if kind == FDM else self.accounts.path(kind)

    def text(self, kind: str) -> str:
        return self.fdm_text if kind == FDM else self.accounts.text(kind)

    def token(self, kind: str) -> FileToken | None:
        if kind == FDM:
            return self.fdm_token
        return self.accounts.userdb.token if kind == "userdb" else self.accounts.table(kind).token


def load_files(settings: Settings) -> Files:
    """The four account files and fdm.conf."""
    fdm_text, fdm_token = read_text(settings.fdm_config)
    return Files(load_accounts(settings), settings.fdm_config, fdm_text, fdm_token)


# --------------------------------------------------------------------------- checking names


def _shown(name: str) -> str:
    """A name as a refusal quotes it: a huge one by its start and length."""
    return repr(name) if len(name) <= 80 else f"{name[:60]!r}… ({len(name):,} characters)"


def check_address(address: str) -> str:
    """A plain address (lower case) or one sentence saying why not. SMTP's limits (RFC 5321: 64
    characters before the @, 254 in all) apply: smtpd refuses a longer RCPT, so such an address
    could never receive mail."""
    if not _ADDRESS.match(address):
        raise UserError(
            f"{_shown(address)} is not a plain address (letters, digits, . _ + = - then @domain)"
        )
    local, _, domain = address.partition("@")
    if len(local) > 64 or len(address) > 254:
        raise UserError(
            f"{_shown(address)} is too long for a mail address "
            "(at most 64 characters before the @, 254 in all)"
        )
    check_domain(domain)
    return address.lower()


def check_domain(domain: str) -> str:
    """A domain name (lower case) or one sentence: DNS's limits (labels of up to 63 characters, 253
    in all) apply, or its records could never be published."""
    if not _DOMAIN.match(domain):
        raise UserError(f"{_shown(domain)} is not a domain name")
    if len(domain) > 253 or max(len(label) for label in domain.split(".")) > 63:
        raise UserError(
            f"{_shown(domain)} is too long for a domain name "
            "(at most 63 characters between dots, 253 in all)"
        )
    return domain.lower()


def check_user(name: str) -> str:
    """A mailbox user name (what Dovecot logs in with and fdm's `-d` names) or one sentence."""
    if not _USER.match(name):
        raise UserError(
            f"{name!r} is not a user name (lower-case letters, digits, . _ -; "
            "starting with a letter)"
        )
    return name


# --------------------------------------------------------------------------- planning


def _append_entry(accounts: Accounts, kind: str, key: str, value: str = "") -> list[str]:
    """The lines of a table with one more entry, written like the table's others."""
    table = accounts.table(kind)
    if table.kind == MAP or (not table.kind and value):
        line = f"{key}{table.separator()}{value}" if value else key
    else:
        line = key
    return append_line(table.lines, line)


def plan_add_domain(files: Files, domain: str) -> Plan:
    """vdomains gets the domain."""
    domain = check_domain(domain)
    if domain in files.accounts.domains():
        raise UserError(f"{domain} is already in vdomains")
    lines = _append_entry(files.accounts, "vdomains", domain)
    return Plan(
        f"domain {domain} added",
        {"vdomains": join_lines(lines)},
        notes=[f"publish its DNS records: mailconsole accounts dns {domain}"],
    )


def plan_del_domain(files: Files, domain: str) -> Plan:
    """vdomains loses the domain; refused while addresses in it remain."""
    domain = check_domain(domain)
    accounts = files.accounts
    entries = accounts.vdomains.find(domain)
    if not entries:
        raise UserError(f"{domain} is not in vdomains")
    left = [a for a in accounts.accepted() if a.rpartition("@")[2] == domain]
    if left:
        more = f" and {len(left) - 3} more" if len(left) > 3 else ""
        raise UserError(
            f"{domain} still has {len(left)} address(es) ({', '.join(left[:3])}{more}): "
            "remove them first"
        )
    lines = remove_lines(accounts.vdomains.lines, {e.line for e in entries})
    return Plan(f"domain {domain} removed", {"vdomains": join_lines(lines)})


def parsed_fdm(files: Files) -> Config | None:
    """fdm.conf parsed, or None when it is missing or does not parse."""
    if not files.fdm_text:
        return None
    try:
        return parse(files.fdm_text, str(files.fdm_path))
    except FdmSyntaxError:
        return None


def _reaches(config: Config, address: str, user: str) -> bool:
    """Whether fdm delivers mail for the address to the user's mailbox."""
    route = Router(config, hostname="mailconsole").route(probe_message(address))
    return any(delivery.user == user for delivery in route.deliveries)


def _fdm_string(address: str) -> str:
    """The address as an fdm regex inside "…": ERE specials escaped, the backslashes doubled."""
    regex = "".join("\\" + char if char in _ERE_SPECIAL else char for char in address)
    return regex.replace("\\", "\\\\")


def _inbox_action(config: Config, user: str) -> tuple[str, str | None]:
    """An action that delivers to the user's INBOX (its name, None: exists), else a new one
    copied from another user's INBOX action (its name and its line)."""
    template: tuple[str, str, int] | None = None
    lines = config.text.split("\n")
    for action in config.actions:
        if len(action.items) != 1 or action.items[0].line != action.line:
            continue
        item = action.items[0]
        delivery = mailbox_of(action.name, item.kind, " ".join(item.args))
        if delivery.folder != "INBOX" or not delivery.user:
            continue
        if delivery.user == user:
            return action.name, None
        if template is None:
            template = (action.name, delivery.user, action.line)
    if template is None:
        raise ActionFailed(
            "fdm.conf has no action delivering to a user's INBOX to copy "
            "(`deliver -d USER -m INBOX`): add the rule for this address yourself"
        )
    name, other, line = template
    taken = {action.name for action in config.actions}
    new_name = name.replace(other, user) if other in name else f"{user}_inbox"
    while new_name in taken:
        new_name += "_"
    text = lines[line - 1]
    text = text.replace(f'"{name}"', f'"{new_name}"', 1)
    text, count = re.subn(rf"(-d\s+){re.escape(other)}(?=[\s\"'])", rf"\g<1>{user}", text, count=1)
    if count != 1:
        raise ActionFailed(
            f"cannot copy fdm.conf's action {name} for {user}: add the rule "
            "for this address yourself"
        )
    return new_name, text


def _insert_point(config: Config) -> int:
    """Where a new rule goes (0-based line index): before a final catch-all, else at the end."""
    lines = config.text.split("\n")
    for rule in config.rules:
        if rule.conditions and all(c.kind == "all" for c in rule.conditions) and not rule.cont:
            return rule.line - 1
    end = len(lines)
    while end > 0 and lines[end - 1] == "":
        end -= 1
    return end


def plan_fdm_route(files: Files, address: str, user: str) -> tuple[str | None, list[str]]:
    """fdm.conf's new text with a rule that delivers the address to the user (None: already
    does), and notes."""
    config = parsed_fdm(files)
    if config is None:
        raise ActionFailed(
            f"{files.fdm_path} is missing or does not parse: cannot route "
            f"{address} to {user} (fix it with `mailconsole fdm lint`)"
        )
    if _reaches(config, address, user):
        return None, [f"fdm.conf already delivers {address} to {user}"]
    action, action_line = _inbox_action(config, user)
    rule = f'match "^(To|Cc|Received):.+{_fdm_string(address)}" in headers action "{action}"'
    lines = files.fdm_text.split("\n")
    at = _insert_point(config)
    added = [action_line, rule] if action_line is not None else [rule]
    new_lines = lines[:at] + added + lines[at:]
    if new_lines[-1] != "":
        new_lines.append("")
    text = "\n".join(new_lines)
    try:
        new_config = parse(text, str(files.fdm_path))
    except FdmSyntaxError as exc:
        raise ActionFailed(f"the new fdm.conf rule does not parse ({exc.reason})") from None
    if not _reaches(new_config, address, user):
        raise ActionFailed(
            f"an earlier fdm.conf rule takes mail for {address}: add the rule for "
            f"{user} yourself (Rules screen)"
        )
    return text, [f"fdm.conf: rule for {address} -> {user} at line {at + len(added)}"]


def plan_add_address(files: Files, address: str, user: str) -> Plan:
    """vusers (to the mail user) and addrs get the address; fdm.conf routes it to the user."""
    address = check_address(address)
    accounts = files.accounts
    if address in accounts.vusers.keys() or address in accounts.addrs.keys():
        raise UserError(f"{address} is already accepted")
    domain = address.rpartition("@")[2]
    if domain not in accounts.domains():
        raise UserError(
            f"{domain} is not in vdomains: add the domain first "
            f"(mailconsole accounts add-domain {domain})"
        )
    if user not in accounts.userdb.names():
        raise UserError(f"{user} is not in userdb")
    plan = Plan(f"address {address} added for {user}")
    plan.texts["vusers"] = join_lines(
        _append_entry(accounts, "vusers", address, _vusers_target(accounts))
    )
    plan.texts["addrs"] = join_lines(_append_entry(accounts, "addrs", address))
    fdm_text, notes = plan_fdm_route(files, address, user)
    if fdm_text is not None:
        plan.texts[FDM] = fdm_text
    plan.notes += notes
    return plan


def _vusers_target(accounts: Accounts) -> str:
    """What a new vusers line maps to: the target every existing line shares, else the mail user."""
    targets = {entry.value for entry in accounts.vusers.entries}
    return targets.pop() if len(targets) == 1 else accounts.mail_user


def plan_del_address(files: Files, address: str) -> Plan:
    """vusers and addrs lose the address (fdm.conf's rule for it stays, unreachable)."""
    address = address.strip().lower()
    accounts = files.accounts
    vusers = accounts.vusers.find(address)
    addrs = accounts.addrs.find(address)
    if not vusers and not addrs:
        raise UserError(f"{address} is not accepted (neither in vusers nor in addrs)")
    plan = Plan(f"address {address} removed")
    if vusers:
        plan.texts["vusers"] = join_lines(
            remove_lines(accounts.vusers.lines, {e.line for e in vusers})
        )
    if addrs:
        plan.texts["addrs"] = join_lines(
            remove_lines(accounts.addrs.lines, {e.line for e in addrs})
        )
    return plan


def _defaults(accounts: Accounts) -> UserEntry:
    """The fields of a new user when userdb has none to copy: the article's layout."""
    try:
        entry = pwd.getpwnam(accounts.mail_user)
        uid, gid = str(entry.pw_uid), str(entry.pw_gid)
    except KeyError:
        uid = gid = "2000"
    home = accounts.spool_dir / "USER"
    return UserEntry(
        0, "USER", "", uid, gid, "", str(home), "", f"userdb_mail=maildir:{home}/Mail", 8
    )


def plan_add_user(files: Files, name: str, password_hash: str, addresses: list[str]) -> Plan:
    """userdb gets the user (copied from the first user's line), a Maildir, and its addresses."""
    name = check_user(name)
    accounts = files.accounts
    if name in accounts.userdb.names():
        raise UserError(f"{name} is already in userdb")
    template = accounts.userdb.users[0] if accounts.userdb.users else None
    line = user_line(name, password_hash, template, _defaults(accounts))
    userdb_text = join_lines(append_line(accounts.userdb.lines, line))
    plan = Plan(f"user {name} added", {"userdb": userdb_text})
    new_user = parse_userdb(accounts.userdb.path, userdb_text).find(name)[0]
    plan.maildir = accounts.maildir(new_user)
    if addresses:
        staged = _staged(files, plan)
        for address in addresses:
            step = plan_add_address(staged, address, name)
            plan.texts.update(step.texts)
            plan.notes += step.notes
            staged = _staged(files, plan)
        plan.summary += f" with {', '.join(a.lower() for a in addresses)}"
    return plan


def plan_passwd(files: Files, name: str, password_hash: str) -> Plan:
    """The user's userdb line gets the new hash; every other byte stays."""
    userdb = files.accounts.userdb
    found = userdb.find(name)
    if not found:
        raise UserError(f"{name} is not in userdb")
    lines = userdb.lines
    for user in found:
        lines = replace_line(
            lines, user.line, with_password(user, lines[user.line - 1], password_hash)
        )
    return Plan(f"password of {name} changed", {"userdb": join_lines(lines)})


def plan_del_user(files: Files, name: str) -> Plan:
    """userdb loses the user, vusers and addrs the addresses that reach only them; the Maildir
    is kept."""
    accounts = files.accounts
    found = accounts.userdb.find(name)
    if not found:
        raise UserError(f"{name} is not in userdb")
    plan = Plan(f"user {name} removed")
    plan.texts["userdb"] = join_lines(remove_lines(accounts.userdb.lines, {u.line for u in found}))
    addresses = user_addresses(files, name, only=True)
    staged = _staged(files, plan)
    for address in addresses:
        step = plan_del_address(staged, address)
        plan.texts.update(step.texts)
        staged = _staged(files, plan)
    if addresses:
        plan.summary += f" with {', '.join(addresses)}"
    maildir = accounts.maildir(found[0])
    if maildir.exists():
        plan.notes.append(f"the Maildir {maildir} is kept ({mail_count(maildir)} message(s))")
    return plan


def user_addresses(files: Files, name: str, only: bool = False) -> list[str]:
    """Accepted addresses whose mail reaches the user (through fdm.conf or vusers); `only`: those
    that reach nobody else."""
    accounts = files.accounts
    config = parsed_fdm(files)
    router = Router(config, hostname="mailconsole") if config is not None else None
    found = []
    for address in accounts.accepted():
        users = set(accounts.users_of(address))
        if router is not None:
            route = router.route(probe_message(address))
            users |= {d.user for d in route.deliveries if d.user}
        if name in users and (not only or users == {name}):
            found.append(address)
    return found


def mail_count(maildir: Path) -> int:
    """Messages in a Maildir and its Maildir++ folders (cur and new)."""
    count = 0
    for folder in [maildir, *(p for p in maildir.glob(".*") if p.is_dir())]:
        for sub in ("cur", "new"):
            try:
                count += sum(1 for entry in os.scandir(folder / sub) if entry.is_file())
            except OSError:
                continue
    return count


def _staged(files: Files, plan: Plan) -> Files:
    """The files as they will be after the plan (for planning the next step of the same change)."""
    accounts = files.accounts
    tables = {}
    for kind in TABLE_KINDS:
        old = accounts.table(kind)
        text = plan.texts.get(kind, old.text)
        tables[kind] = (
            old if kind not in plan.texts else parse_table(kind, old.path, text, old.token)
        )
    userdb = accounts.userdb
    if "userdb" in plan.texts:
        userdb = parse_userdb(userdb.path, plan.texts["userdb"], userdb.token)
    staged = Accounts(
        tables["vdomains"],
        tables["vusers"],
        tables["addrs"],
        userdb,
        accounts.spool_dir,
        accounts.mail_user,
        accounts.smtpd,
    )
    return Files(staged, files.fdm_path, plan.texts.get(FDM, files.fdm_text), files.fdm_token)


# --------------------------------------------------------------------------- validating, writing


def validate(files: Files, plan: Plan) -> None:
    """Refuse a plan that adds an error finding, breaks a table for smtpd, or that fdm refuses."""
    staged = _staged(files, plan)
    for kind in TABLE_KINDS:
        if kind in plan.texts and staged.accounts.table(kind).refused:
            line = staged.accounts.table(kind).refused[0]
            raise ActionFailed(f"not saved: smtpd would refuse {kind} (line {line} has no value)")
    if "userdb" in plan.texts and staged.accounts.userdb.refused:
        raise ActionFailed(
            f"not saved: table-passwd would refuse userdb (line "
            f"{staged.accounts.userdb.refused[0]} has fewer than six fields)"
        )
    if FDM in plan.texts and files.fdm_text:
        before = check_with_fdm(files.fdm_text, str(files.fdm_path)) if _has_fdm() else None
        after = check_with_fdm(plan.texts[FDM], str(files.fdm_path)) if _has_fdm() else None
        if after is not None and before is None:
            raise ActionFailed(f"not saved: fdm -n refuses the new fdm.conf: {after[0]}")
    before_errors = _errors(files)
    new = [f for key, f in _errors(staged).items() if key not in before_errors]
    if new:
        raise ActionFailed(f"not saved: {new[0].message} ({new[0].fix})")


def _has_fdm() -> bool:
    import shutil

    return shutil.which(FDM) is not None


def _errors(files: Files) -> dict[tuple[str, str], Finding]:
    findings = check(files.accounts, files.fdm_path, fdm_text=files.fdm_text)
    return {(f.code, f.message): f for f in findings if f.severity == ERROR}


def commit(files: Files, texts: Mapping[str, str]) -> list[Saved]:
    """Write every changed file atomically with a backup; on a failure put back the ones already
    written, so the files are as before byte for byte."""
    order = [kind for kind in (*FILE_KINDS, FDM) if kind in texts]
    done: list[tuple[str, Saved]] = []
    try:
        for kind in order:
            done.append((kind, write_atomically(files.path(kind), texts[kind], files.token(kind))))
    except ActionFailed as exc:
        problems = []
        for _kind, saved in reversed(done):
            try:
                if saved.backup is not None:
                    os.replace(saved.backup, saved.path)  # the old bytes, owner and mode
                else:
                    saved.path.unlink(missing_ok=True)
                fsync_directory(saved.path.parent)
            except OSError as undo:
                problems.append(f"{saved.path} could not be put back ({undo.strerror or undo})")
        if problems:
            raise ActionFailed(f"{exc}; {'; '.join(problems)}") from None
        raise ActionFailed(f"{exc}; nothing was changed") from None
    return [saved for _kind, saved in done]


def refuse_links(spool: Path, maildir: Path) -> None:
    """A new user's Maildir is never made or taken through a symbolic link below the spool: the
    mail user owns the spool, and a link it planted (spool/alice -> /root) would have root create
    and hand it directories elsewhere, and Dovecot deliver there."""
    below = maildir.relative_to(spool).parts if maildir.is_relative_to(spool) else ()
    paths = [spool.joinpath(*below[: n + 1]) for n in range(len(below))] or [maildir]
    for path in [*paths, *(maildir / sub for sub in ("cur", "new", "tmp"))]:
        if path.is_symlink():
            raise ActionFailed(
                f"{path} is a symbolic link: the Maildir {maildir} is not made through one; "
                "nothing was changed"
            )


def make_maildir(maildir: Path, mail_user: str) -> None:
    """The Maildir (cur, new, tmp) and its parents below the spool, owned by the mail user, 0700."""
    try:
        entry = pwd.getpwnam(mail_user)
    except KeyError:
        raise ActionFailed(
            f"the mail user {mail_user} does not exist: cannot create {maildir}"
        ) from None
    for directory in (maildir.parent, maildir, maildir / "cur", maildir / "new", maildir / "tmp"):
        if directory.exists():
            continue
        try:
            directory.mkdir(mode=0o700)
            if os.geteuid() == 0:
                os.chown(directory, entry.pw_uid, entry.pw_gid)
        except OSError as exc:
            raise ActionFailed(
                f"cannot create the Maildir {maildir} ({exc.strerror}); nothing was changed"
            ) from None


def make_noticeable(path: Path, before: FileToken | None) -> None:
    """Dovecot re-reads a passwd-file when its mtime (in whole seconds) or size changed: a new
    password of the same length written within the same second would go unnoticed, so the mtime is
    moved to the next second."""
    if before is None:
        return
    try:
        info = path.stat()
        if info.st_size == before.size and info.st_mtime_ns // 10**9 == before.mtime_ns // 10**9:
            later = (before.mtime_ns // 10**9 + 1) * 10**9
            os.utime(path, ns=(info.st_atime_ns, later))
    except OSError:
        pass  # the file is written; at worst Dovecot notices it a second later


@dataclass
class Reload:
    """smtpd's answer to `smtpctl update table NAME`."""

    table: str
    ok: bool
    answer: str


def reload_tables(settings: Settings, names: list[str]) -> list[Reload]:
    """Tell smtpd about each changed table; never raises (a failure is an answer)."""
    from console.queue.smtpctl import run_smtpctl

    answers = []
    for name in names:
        try:
            result = run_smtpctl(settings, "update", "table", name)
        except UserError as exc:
            answers.append(Reload(name, False, str(exc)))
            continue
        text = result.stdout.strip() or result.stderr.strip() or f"exit {result.returncode}"
        answers.append(Reload(name, result.returncode == 0, " ".join(text.split())))
    return answers


@dataclass
class Outcome:
    """What a change did: files written (with backups), reloads, notes."""

    summary: str
    saved: list[Saved]
    reloads: list[Reload]
    notes: list[str]

    def message(self) -> str:
        """One paragraph for the CLI, the screen and the audit log."""
        parts = [self.summary + "."]
        kept = [s for s in self.saved if s.backup is not None]
        stamps = {s.backup.name[len(s.path.name) :] for s in kept if s.backup is not None}
        if len(stamps) == 1:
            names = ", ".join(s.path.name for s in kept)
            parts.append(f"Previous versions kept as {names} + {stamps.pop()}.")
        elif kept:
            parts.append(
                f"Previous versions kept as "
                f"{', '.join(s.backup.name for s in kept if s.backup is not None)}."
            )
        for reload in self.reloads:
            parts.append(f"smtpctl update table {reload.table}: {reload.answer}.")
        failed = [r.table for r in self.reloads if not r.ok]
        if failed:
            parts.append(
                f"smtpd did not take the new {', '.join(failed)}: the new files are in "
                "place; fix what smtpd's log says, then run `smtpctl update table "
                f"{failed[0]}` (or restart opensmtpd)."
            )
        parts += [note + "." for note in self.notes]
        return " ".join(parts)


def apply(settings: Settings, files: Files, plan: Plan) -> Outcome:
    """Validate, create the Maildir, write the files, reload the changed tables."""
    validate(files, plan)
    if plan.maildir is not None:
        refuse_links(settings.spool_dir, plan.maildir)
        if not plan.maildir.exists():
            make_maildir(plan.maildir, settings.mail_user)
    saved = commit(files, plan.texts)
    if "userdb" in plan.texts:
        make_noticeable(files.path("userdb"), files.token("userdb"))
    names = [files.accounts.table_name(kind) for kind in FILE_KINDS if kind in plan.texts]
    reloads = reload_tables(settings, names)
    outcome = Outcome(plan.summary, saved, reloads, plan.notes)
    if any(not r.ok for r in reloads):
        raise ReloadFailed(outcome.message())
    return outcome


class ReloadFailed(ActionFailed):
    """The files were written but smtpd refused (or could not be asked) to reload a table."""


# --------------------------------------------------------------------------- action handlers


def _yes(params: Mapping[str, str], key: str) -> bool:
    return params.get(key, "").lower() in ("1", "yes", "true")


def _run(ctx: ActionContext, plan_of: Callable[[Files], Plan]) -> str:
    """Load the files, plan the change on them, apply it: the outcome's message."""
    files = load_files(ctx.settings)
    return apply(ctx.settings, files, plan_of(files)).message()


def _password_hash(params: Mapping[str, str]) -> str:
    password = params.get("password", "")
    if not password:
        raise UserError("a password is needed")
    return hash_password(password)


def add_user_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """`accounts.add_user`: params password (never recorded), addresses (comma-separated)."""
    addresses = [a.strip() for a in params.get("addresses", "").split(",") if a.strip()]
    check_user(target)
    hashed = _password_hash(params)
    return _run(ctx, lambda files: plan_add_user(files, target, hashed, addresses))


def passwd_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """`accounts.passwd`: params password (never recorded)."""
    hashed = _password_hash(params)
    return _run(ctx, lambda files: plan_passwd(files, target, hashed))


def del_user_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """`accounts.del_user`: a user whose Maildir holds mail needs params yes=yes."""
    files = load_files(ctx.settings)
    found = files.accounts.userdb.find(target)
    if found and not _yes(params, "yes"):
        maildir = files.accounts.maildir(found[0])
        count = mail_count(maildir) if maildir.exists() else 0
        if count:
            raise ActionFailed(
                f"{target} has {count} message(s) in {maildir}: confirm to remove "
                "the user (the Maildir is kept)"
            )
    return apply(ctx.settings, files, plan_del_user(files, target)).message()


def add_address_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """`accounts.add_address`: params user (the mailbox the address reaches)."""
    user = params.get("user", "")
    if not user:
        raise UserError("say which user the address is for")
    return _run(ctx, lambda files: plan_add_address(files, target, user))


def del_address_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """`accounts.del_address`."""
    return _run(ctx, lambda files: plan_del_address(files, target))


def add_domain_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """`accounts.add_domain`."""
    return _run(ctx, lambda files: plan_add_domain(files, target))


def del_domain_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """`accounts.del_domain`."""
    return _run(ctx, lambda files: plan_del_domain(files, target))
