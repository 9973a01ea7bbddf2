"""The consistency check and the planned changes, on copies of the article's files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from console.accounts.changes import (
    apply,
    commit,
    load_files,
    plan_add_address,
    plan_add_domain,
    plan_add_user,
    plan_del_address,
    plan_del_domain,
    plan_del_user,
    plan_passwd,
    validate,
)
from console.accounts.check import check, exit_code
from console.accounts.model import load_accounts
from console.accounts.overview import overview
from console.actions import ACTIONS, dispatch
from console.errors import ActionFailed, ReadOnlyRefused, UserError
from console.settings import Settings
from tests.helpers import MAILCONSOLE

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "config_samples"
HASH = "$6$salt$" + "h" * 86


@pytest.fixture
def stack(tmp_path: Path) -> Settings:
    """The article's four tables and fdm.conf in a /mail-like tree, with the bob and sysmail
    Maildirs."""
    return article_stack(tmp_path)


def article_stack(tmp_path: Path) -> Settings:
    """The article's four tables and fdm.conf in a /mail-like tree under tmp_path, with the bob and
    sysmail Maildirs; settings pointing at them."""
    (tmp_path / "db").mkdir()
    (tmp_path / "config").mkdir()
    for name in ("vdomains", "vusers", "addrs"):
        shutil.copy(SAMPLES / "db" / name, tmp_path / "db" / name)
    userdb = (SAMPLES / "db" / "userdb").read_text().replace("/mail/", f"{tmp_path}/")
    (tmp_path / "db" / "userdb").write_text(userdb)
    shutil.copy(SAMPLES / "fdm.conf", tmp_path / "config" / "fdm.conf")
    for user in ("bob", "sysmail"):
        for sub in ("cur", "new", "tmp"):
            (tmp_path / "spool" / user / "Mail" / sub).mkdir(parents=True)
    return Settings(
        table_vdomains=tmp_path / "db" / "vdomains",
        table_vusers=tmp_path / "db" / "vusers",
        table_addrs=tmp_path / "db" / "addrs",
        table_userdb=tmp_path / "db" / "userdb",
        spool_dir=tmp_path / "spool",
        fdm_config=tmp_path / "config" / "fdm.conf",
        smtpd_config=tmp_path / "config" / "smtpd.conf",
        audit_log=tmp_path / "audit.log",
        operator="tester",
    )


def snapshot(settings: Settings) -> dict[str, bytes]:
    """Every file under the stack's directory, byte for byte."""
    root = settings.table_vusers.parent.parent
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def codes(settings: Settings) -> list[tuple[str, str, str]]:
    return [
        (f.severity, Path(f.file).name, f.code)
        for f in check(load_accounts(settings), settings.fdm_config)
    ]


def test_the_articles_own_disagreements_are_found(stack: Settings) -> None:
    findings = check(load_accounts(stack), stack.fdm_config)
    messages = {f.message for f in findings}
    # networking@ in the tables, network@ in fdm.conf: accepted, then kept nowhere
    assert "mail to networking@example.net reaches no mailbox in fdm.conf (kept)" in messages
    # rules naming actions the file never defines
    assert any("notifications@example.com is lost" in m and "bob_notices" in m for m in messages)
    networking = next(f for f in findings if "networking" in f.message)
    assert networking.file == str(stack.table_vusers) and networking.line == 6
    assert exit_code(findings) == 2
    assert {f.severity for f in findings} == {"error"}


def test_a_consistent_stack_is_clean(stack: Settings) -> None:
    fdm = stack.fdm_config.read_text()
    fdm = fdm.replace('"bob_notices"', '"bob_notifications"').replace(
        '"bob_lists"', '"bob_mailinglists"'
    )
    fdm = fdm.replace("network@example", "networking@example")
    stack.fdm_config.write_text(fdm)
    assert codes(stack) == []
    assert exit_code([]) == 0


def test_tables_that_disagree(stack: Settings) -> None:
    stack.fdm_config.unlink()
    with stack.table_addrs.open("a") as addrs:
        addrs.write("ghost@example.com\nstranger@example.org\n")
    with stack.table_vusers.open("a") as vusers:
        vusers.write(
            "only-in-vusers@example.com vmail\nbob@example.com vmail\nalias@example.com nobody\n"
        )
    found = codes(stack)
    assert ("error", "addrs", "not-in-vusers") in found
    assert ("error", "vusers", "not-in-addrs") in found
    assert ("error", "addrs", "unknown-domain") in found
    assert ("error", "vusers", "unknown-target") in found
    assert ("warning", "vusers", "duplicate-key") in found
    assert ("info", "fdm.conf", "no-fdm") in found


def test_a_key_listed_twice_maps_to_its_last_line_as_in_smtpd(stack: Settings) -> None:
    """smtpd's static table keeps the last value of a key (without case): the model, the check and
    the overview follow it (measured on the real smtpd by the lab test of the same name)."""
    with stack.table_vusers.open("a") as vusers:
        vusers.write("team@example.com bob\nTeam@Example.com sysmail\n")
    with stack.table_addrs.open("a") as addrs:
        addrs.write("team@example.com\n")
    accounts = load_accounts(stack)
    assert accounts.targets("team@example.com") == ["sysmail"]
    assert accounts.users_of("team@example.com") == ["sysmail"]
    assert "team@example.com" not in accounts.addresses_of("bob")
    [duplicate] = [f for f in check(accounts, stack.fdm_config) if f.code == "duplicate-key"]
    assert (duplicate.file, duplicate.line) == (str(stack.table_vusers), 8)
    assert duplicate.message == (
        "Team@Example.com is listed again (first at line 7): smtpd uses the last one, line 8 "
        "(sysmail)"
    )
    assert duplicate.fix == "remove line 7 (smtpd ignores it)"
    [row] = [r for r in overview(load_files(stack)).addresses if r.address == "team@example.com"]
    assert row.target == "sysmail"


def test_userdb_problems(stack: Settings) -> None:
    text = stack.table_userdb.read_text()
    stack.table_userdb.write_text(
        text
        + "carol:{SHA512-CRYPT}$6$x$y:vmail:2000:2000:/h::\n"
        + "dave:plain\n"
        + text.splitlines()[0]
        + "\n"
    )
    shutil.rmtree(stack.spool_dir / "sysmail")
    found = codes(stack)
    assert ("error", "userdb", "hash-prefix") in found
    assert ("error", "userdb", "refused-line") in found
    assert ("error", "userdb", "duplicate-user") in found
    assert ("warning", "userdb", "no-maildir") in found  # sysmail, carol


def test_check_cli_json_and_exit_codes(stack: Settings, tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        "\n".join(
            f'{key} = "{getattr(stack, key)}"'
            for key in (
                "table_vdomains",
                "table_vusers",
                "table_addrs",
                "table_userdb",
                "spool_dir",
                "fdm_config",
                "audit_log",
            )
        )
        + "\n"
    )
    run = subprocess.run(
        [*MAILCONSOLE, "--config", str(config), "accounts", "check", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert {"file", "line", "severity", "message", "fix", "code"} <= set(rows[0])
    assert any(row["code"] == "no-route" and row["line"] == 6 for row in rows)


# --------------------------------------------------------------------------- planned changes


def test_add_user_plans_every_file_and_keeps_other_lines(stack: Settings) -> None:
    files = load_files(stack)
    plan = plan_add_user(files, "alice", HASH, ["alice@example.com"])
    assert set(plan.texts) == {"userdb", "vusers", "addrs", "fdm"}
    old = {kind: files.text(kind) for kind in plan.texts}
    for kind, text in plan.texts.items():
        assert text.startswith(old[kind].rstrip("\n")) or kind == "fdm"
    assert plan.texts["vusers"] == old["vusers"] + "alice@example.com vmail\n"
    assert plan.texts["addrs"] == old["addrs"] + "alice@example.com\n"
    assert plan.texts["userdb"].endswith(
        f"alice:{HASH}:vmail:2000:2000:{stack.spool_dir}/alice::"
        f"userdb_mail=maildir:{stack.spool_dir}/alice/Mail\n"
    )
    assert 'action "alice_inbox" pipe "${deliver} -d alice -m INBOX"' in plan.texts["fdm"]
    assert (
        'match "^(To|Cc|Received):.+alice@example\\\\.com" in headers action "alice_inbox"'
        in plan.texts["fdm"]
    )
    assert plan.maildir == stack.spool_dir / "alice" / "Mail"
    validate(files, plan)  # adds no error


def test_an_alias_reuses_the_users_action(stack: Settings) -> None:
    files = load_files(stack)
    plan = plan_add_address(files, "Postmaster@Example.com", "bob")
    assert plan.texts["vusers"].endswith("postmaster@example.com vmail\n")
    added = set(plan.texts["fdm"].splitlines()) - set(files.fdm_text.splitlines())
    assert added == {
        'match "^(To|Cc|Received):.+postmaster@example\\\\.com" in headers action "bob_inbox"'
    }


@pytest.mark.parametrize(
    ("step", "sentence"),
    [
        (lambda f: plan_add_address(f, "x@nowhere.org", "bob"), "nowhere.org is not in vdomains"),
        (lambda f: plan_add_address(f, "bob@example.com", "bob"), "already accepted"),
        (lambda f: plan_add_address(f, "x@example.com", "nobody"), "nobody is not in userdb"),
        (lambda f: plan_add_address(f, 'a"b@example.com', "bob"), "is not a plain address"),
        (lambda f: plan_add_address(f, "x" * 65 + "@example.com", "bob"), "too long for a mail"),
        (lambda f: plan_add_address(f, "x@" + "a" * 64 + ".com", "bob"), "too long for a domain"),
        (lambda f: plan_add_domain(f, "a" * 64 + ".org"), "(at most 63 characters between dots"),
        (lambda f: plan_add_domain(f, ("a" * 60 + ".") * 5 + "org"), "too long for a domain"),
        (lambda f: plan_add_address(f, "x" * 5000 + "@example.com", "bob"), "… (5,012 characters)"),
        (lambda f: plan_add_user(f, "bob", HASH, []), "already in userdb"),
        (lambda f: plan_add_user(f, "Bad Name", HASH, []), "is not a user name"),
        (lambda f: plan_del_domain(f, "example.net"), "still has 1 address(es)"),
        (lambda f: plan_del_domain(f, "example.org"), "not in vdomains"),
        (lambda f: plan_add_domain(f, "example.com"), "already in vdomains"),
        (lambda f: plan_del_address(f, "ghost@example.com"), "is not accepted"),
        (lambda f: plan_passwd(f, "ghost", HASH), "ghost is not in userdb"),
    ],
)
def test_refused_changes_are_one_sentence(stack: Settings, step, sentence: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UserError, match=sentence.replace("(", r"\(").replace(")", r"\)")):
        step(load_files(stack))


def test_the_longest_address_and_domain_smtp_and_dns_allow_are_accepted(stack: Settings) -> None:
    files = load_files(stack)
    longest = "x" * 64 + "@example.com"
    assert plan_add_address(files, longest, "bob").texts["vusers"].endswith(f"{longest} vmail\n")
    domain = ("a" * 63 + ".") * 3 + "a" * 57 + ".org"  # 253 characters, labels of 63
    assert len(domain) == 253
    assert plan_add_domain(files, domain).texts["vdomains"].endswith(domain + "\n")


def test_del_user_takes_the_addresses_that_reach_only_them(stack: Settings) -> None:
    files = load_files(stack)
    plan = plan_del_user(files, "sysmail")
    assert "sysmail:" not in plan.texts["userdb"]
    # networking@ reaches no mailbox at all in the article (network@ in fdm.conf), so it stays
    assert "networking@example.net" in plan.texts.get("vusers", files.text("vusers"))
    assert f"the Maildir {stack.spool_dir}/sysmail/Mail is kept (0 message(s))" in plan.notes
    bob = plan_del_user(files, "bob")
    assert "bob@example.com" not in bob.texts["vusers"] and "dmarc@" not in bob.texts["addrs"]


def test_passwd_changes_only_the_hash(stack: Settings) -> None:
    files = load_files(stack)
    plan = plan_passwd(files, "bob", HASH)
    old, new = files.text("userdb").splitlines(), plan.texts["userdb"].splitlines()
    assert new[1] == old[1] and new[0].split(":")[1] == HASH
    assert new[0].split(":", 2)[2] == old[0].split(":", 2)[2]


def test_a_change_that_would_break_a_table_is_refused(stack: Settings) -> None:
    files = load_files(stack)
    plan = plan_add_domain(files, "example.org")
    plan.texts["vusers"] = files.text("vusers") + "broken@example.com\n"
    with pytest.raises(ActionFailed, match="smtpd would refuse vusers"):
        validate(files, plan)


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("failing", range(1, 9))
def test_an_interrupted_save_leaves_the_old_files_byte_for_byte(
    stack: Settings, monkeypatch: pytest.MonkeyPatch, failing: int
) -> None:
    """The nth rename fails (as a full disk would): the files written before are put back, and no
    temporary file or backup is left."""
    before = snapshot(stack)
    files = load_files(stack)
    plan = plan_add_user(files, "alice", HASH, ["alice@example.com"])
    real_replace = os.replace
    calls: list[str] = []

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(str(dst))
        if len(calls) == failing:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ActionFailed, match="No space left on device.*nothing was changed"):
        commit(files, plan.texts)
    monkeypatch.undo()
    assert snapshot(stack) == before


@pytest.mark.parametrize("planted", ["alice", "alice/Mail", "alice/Mail/new"])
def test_a_new_users_maildir_is_not_made_through_a_link_in_the_spool(
    stack: Settings, tmp_path: Path, planted: str
) -> None:
    """The mail user owns the spool: a link it planted where alice's Maildir goes would have root
    make directories elsewhere and give them to it. Refused, nothing changed."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = stack.spool_dir / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere)
    before = snapshot(stack)
    files = load_files(stack)
    plan = plan_add_user(files, "alice", HASH, ["alice@example.com"])
    with pytest.raises(ActionFailed, match=f"^{link} is a symbolic link: .*nothing was changed$"):
        apply(stack, files, plan)
    assert snapshot(stack) == before and list(elsewhere.iterdir()) == []


def test_commit_refuses_a_file_changed_since_it_was_read(stack: Settings) -> None:
    files = load_files(stack)
    plan = plan_add_domain(files, "example.org")
    stack.table_vdomains.write_text("changed.example\n")
    with pytest.raises(ActionFailed, match="changed on disk"):
        commit(files, plan.texts)
    assert stack.table_vdomains.read_text() == "changed.example\n"


# --------------------------------------------------------------------------- the dispatcher


ACCOUNT_ACTIONS = sorted(name for name in ACTIONS if name.startswith("accounts."))


def test_every_accounts_action_is_registered() -> None:
    assert ACCOUNT_ACTIONS == [
        "accounts.add_address",
        "accounts.add_domain",
        "accounts.add_user",
        "accounts.del_address",
        "accounts.del_domain",
        "accounts.del_user",
        "accounts.passwd",
    ]


@pytest.mark.parametrize("name", ACCOUNT_ACTIONS)
def test_read_only_refuses_every_change_and_touches_nothing(stack: Settings, name: str) -> None:
    before = snapshot(stack)
    stack.read_only = True
    with pytest.raises(ReadOnlyRefused):
        dispatch(stack, name, "alice", {"password": "a-secret-password", "user": "bob"})
    stack.audit_log.unlink()
    assert snapshot(stack) == before


def test_the_password_never_reaches_the_audit_log(stack: Settings) -> None:
    secret = "correct-horse-battery"
    with pytest.raises(UserError):
        dispatch(stack, "accounts.passwd", "ghost", {"password": secret})
    stack.read_only = True
    with pytest.raises(ReadOnlyRefused):
        dispatch(stack, "accounts.passwd", "bob", {"password": secret})
    audit = stack.audit_log.read_text()
    records = [json.loads(line) for line in audit.splitlines()]
    assert secret not in audit and len(records) >= 2
    assert all(record["params"]["password"] == "<not recorded>" for record in records)


def test_dns_records_say_what_they_cannot_be_computed_from(stack: Settings) -> None:
    from console.accounts.dns import wanted_records

    records = {(r.domain, r.kind): r for r in wanted_records(load_accounts(stack), stack)}
    mx = records[("example.com", "MX")]
    assert (
        mx.value == ""
        and mx.note == f"{stack.smtpd_config} does not exist (see the smtpd_config setting)"
    )
    assert mx.zone_line().startswith("; example.com MX: ")
    assert "does not exist: no DKIM key to publish" in records[("example.net", "DKIM")].note
    # the article's example.net reports to dmarc@example.com: example.com must accept them
    assert (
        records[("example.net", "DMARC")].value
        == "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
    )
    assert records[("example.net", "RUA")].name == "example.net._report._dmarc.example.com"
    assert ("example.com", "RUA") not in records
