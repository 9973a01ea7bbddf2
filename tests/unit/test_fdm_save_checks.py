"""What a save or a revert of fdm.conf is checked against, and what it says, word for word.

The checks are the real `fdm -n` (its refusal becomes the first error, at the line fdm names; a
checker that cannot be run, or fails saying nothing, is one sentence), the linter reading includes
beside the config, and smtpd's four tables as the settings name them. The `fdm.save` and `fdm.revert`
actions are run through the dispatcher, with their parameters as the Rules screen sends them.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from console.actions import dispatch
from console.errors import ActionFailed
from console.fdm.lint import ERROR, Finding
from console.fdm.save import (
    backups,
    check,
    check_with_fdm,
    file_token,
    load,
    revert,
    save,
    validate,
)
from console.settings import Settings

FDM = "/usr/bin/fdm"
needs_fdm = pytest.mark.skipif(shutil.which(FDM) is None, reason="the real fdm is not installed")

OLD = 'account "stdin" stdin\naction "in" maildir "/m"\nmatch all action "in"\n'
NEW = 'account "stdin" stdin\naction "in" maildir "/n"\nmatch all action "in"\n'
DUPLICATE = 'account "stdin" stdin\naccount "stdin" stdin\naction "in" maildir "/m"\nmatch all action "in"\n'
"""fdm -n refuses it (the same account twice); the linter has nothing to say about it."""


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "fdm.conf"
    path.write_text(OLD)
    return path


def stamp(now: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(now))


@needs_fdm
def test_undecodable_bytes_are_loaded_checked_and_saved_exactly(conf: Path) -> None:
    conf.write_bytes(b"# caf\xe9\n" + OLD.encode())
    loaded = load(conf)
    assert (loaded.path, loaded.token) == (conf, file_token(conf))
    assert loaded.text == "# caf\udce9\n" + OLD
    save(conf, loaded.text + "# more\n", loaded.token, fdm=FDM)  # fdm -n reads the same bytes
    assert conf.read_bytes() == b"# caf\xe9\n" + OLD.encode() + b"# more\n"
    missing = load(conf.with_name("new.conf"))
    assert (missing.path, missing.text, missing.token) == (conf.with_name("new.conf"), "", None)


@needs_fdm
def test_fdms_refusal_is_the_first_error_at_its_line(conf: Path) -> None:
    text = 'account "stdin" stdin\naction "unused" drop\nmatch "(" action drop\n'
    verdict = validate(text, conf, fdm=FDM)
    assert verdict.fdm_checked and (verdict.fdm_error, verdict.fdm_line) == (
        "(Unmatched ( or \\(",
        3,
    )
    assert verdict.findings[0] == Finding(
        ERROR, 3, "fdm -n: (Unmatched ( or \\(", "fix the line fdm names", "fdm-n"
    )
    assert [f.code for f in verdict.findings[1:]] == ["unused-action", "bad-regex", "bad-regex"]
    with pytest.raises(ActionFailed) as caught:
        save(conf, text, file_token(conf), fdm=FDM)
    assert (
        str(caught.value) == f"{conf} not saved: line 3: fdm -n: (Unmatched ( or \\( (2 error(s))"
    )
    assert conf.read_text() == OLD


@needs_fdm
def test_fdms_words_are_read_even_when_they_are_not_utf8(conf: Path) -> None:
    """fdm quotes the config's own bytes in its refusal."""
    text = 'account "stdin" stdin\naction "in" maildir "/m"\nmatch "\udcff(" action "in"\n'
    assert check_with_fdm(text, str(conf), FDM) == ("\ufffd(Unmatched ( or \\(", 3)


@needs_fdm
def test_what_only_fdm_refuses_blocks_a_save_and_a_revert(conf: Path) -> None:
    with pytest.raises(ActionFailed, match=r"not saved: line \d: fdm -n: duplicate account: stdin"):
        save(conf, DUPLICATE, file_token(conf))
    with pytest.raises(ActionFailed, match=r"not saved: line \d: fdm -n: duplicate account: stdin"):
        check(conf, DUPLICATE)
    backup = conf.with_name("fdm.conf.20240101-000000.bak")
    backup.write_text(DUPLICATE)
    with pytest.raises(ActionFailed, match=r"not reverted: line \d: fdm -n: duplicate account"):
        revert(conf, backup, file_token(conf))
    assert conf.read_text() == OLD
    assert validate(DUPLICATE, conf, fdm=None).findings == []  # the linter alone lets it through
    revert(conf, backup, file_token(conf), fdm=None)
    assert conf.read_text() == DUPLICATE


def test_a_checker_that_cannot_run_or_fails_silently_is_one_sentence(conf: Path) -> None:
    missing = str(conf.parent / "no-fdm")
    with pytest.raises(ActionFailed) as caught:
        check_with_fdm(OLD, str(conf), missing)
    assert str(caught.value) == (
        f"cannot run {missing} -n: [Errno 2] No such file or directory: '{missing}'"
    )
    silent = shutil.which("false")
    assert silent is not None
    assert check_with_fdm(OLD, str(conf), silent) == ("fdm -n exited 1", 0)
    with pytest.raises(ActionFailed) as caught:
        save(conf, NEW, file_token(conf), fdm=silent)
    assert str(caught.value) == f"{conf} not saved: fdm -n: fdm -n exited 1 (1 error(s))"


def test_an_include_is_read_beside_the_config(tmp_path: Path) -> None:
    conf = tmp_path / "fdm.conf"
    (tmp_path / "actions.conf").write_text('action "in" maildir "/m"\n')
    text = 'account "stdin" stdin\ninclude "actions.conf"\nmatch all action "in"\n'
    assert validate(text, conf, fdm=None).findings == []
    assert check(conf, text, fdm=None).findings == []


def test_warnings_need_confirming_and_a_change_on_disk_forcing(conf: Path) -> None:
    warned = OLD + 'action "unused" drop\n'
    with pytest.raises(ActionFailed) as caught:
        check(conf, warned, fdm=None)
    assert str(caught.value) == (
        f'{conf} not saved: 1 warning(s) to confirm, the first at line 4: action "unused" is '
        "never used"
    )
    stale = file_token(conf)
    conf.write_text(OLD + "# edited elsewhere\n")
    with pytest.raises(ActionFailed, match="changed on disk"):
        save(conf, NEW, stale, fdm=None)
    saved, _ = save(conf, NEW, stale, fdm=None, force=True, now=1_000_000_000)
    assert conf.read_text() == NEW
    assert saved.backup == conf.with_name(f"fdm.conf.{stamp(1_000_000_000)}.bak")
    with pytest.raises(ActionFailed, match="changed on disk"):
        revert(conf, saved.backup, stale, fdm=None)
    reverted, _ = revert(conf, saved.backup, stale, fdm=None, force=True, now=1_100_000_000)
    assert conf.read_text() == OLD + "# edited elsewhere\n"
    assert reverted.backup == conf.with_name(f"fdm.conf.{stamp(1_100_000_000)}.bak")


def test_a_backup_that_cannot_be_read_is_one_sentence(conf: Path) -> None:
    unreadable = conf.with_name("fdm.conf.20240101-000000.bak")
    unreadable.mkdir()
    with pytest.raises(ActionFailed) as caught:
        revert(conf, unreadable, file_token(conf), fdm=None)
    assert str(caught.value) == f"cannot read the backup {unreadable}: Is a directory"


# --------------------------------------------------------------------------- the actions

TEXT = (
    'account "stdin" stdin\n'
    'action "in" pipe "/usr/lib/dovecot/deliver -d zed"\n'
    'match "^To:.*c@y\\\\.org" in headers action "in"\n'
    'match all action "in"\n'
)
"""With the tables below: 7 warnings, each table adding its own (fewer, or another first one,
when a table is not read)."""


def with_tables(tmp_path: Path, conf: Path) -> Settings:
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "addrs").write_text("a@x.org\nb@x.org\nd@z.org\n")
    (tables / "vusers").write_text("a@x.org a\nc@y.org c\nd@z.org d\n")
    (tables / "vdomains").write_text("x.org\ny.org\n")
    (tables / "userdb").write_text("a:x:1000:1000::/home/a::\n")
    return Settings(
        fdm_config=conf,
        audit_log=tmp_path / "audit.log",
        table_addrs=tables / "addrs",
        table_vusers=tables / "vusers",
        table_vdomains=tables / "vdomains",
        table_userdb=tables / "userdb",
    )


@needs_fdm
def test_the_save_action_checks_against_smtpds_tables_and_says_what_it_kept(
    tmp_path: Path, conf: Path
) -> None:
    settings = with_tables(tmp_path, conf)
    token = str(file_token(conf))
    first = "b@x.org is in addrs but not in vusers: smtpd accepts it and cannot map it to a user"
    for no in ("", "no"):
        with pytest.raises(ActionFailed) as caught:
            dispatch(settings, "fdm.save", "", {"text": TEXT, "token": token, "allow_warnings": no})
        assert str(caught.value) == (
            f"{conf} not saved: 7 warning(s) to confirm, the first at line 0: {first}"
        )
    assert conf.read_text() == OLD
    said = dispatch(
        settings, "fdm.save", "", {"text": TEXT, "token": token, "allow_warnings": "YES"}
    )
    [kept] = backups(conf)
    assert said == f"{conf} saved with 7 warning(s); previous version kept as {kept.name}."
    assert conf.read_text() == TEXT

    stale = {"text": NEW, "token": token, "allow_warnings": "1"}  # OLD's token; NEW: 3 warnings
    with pytest.raises(ActionFailed, match="changed on disk"):
        dispatch(settings, "fdm.save", str(conf), {**stale, "force": "no"})
    said = dispatch(settings, "fdm.save", str(conf), {**stale, "force": "true"})
    assert said.startswith(f"{conf} saved with 3 warning(s); previous version kept as ")
    assert conf.read_text() == NEW

    new = tmp_path / "new.conf"
    said = dispatch(settings, "fdm.save", str(new), {**stale, "token": "none"})
    assert said == f"{new} saved with 3 warning(s)." and new.read_text() == NEW
    with pytest.raises(ActionFailed) as caught:
        dispatch(settings, "fdm.save", "", {"token": token})
    assert str(caught.value) == "fdm.save needs the new text"


@needs_fdm
def test_the_revert_action_is_checked_like_a_save_and_says_what_it_kept(
    tmp_path: Path, conf: Path
) -> None:
    settings = with_tables(tmp_path, conf)
    save(conf, NEW, file_token(conf), fdm=None, now=1_000_000_000)
    [backup] = backups(conf)  # OLD: 3 warnings with these tables
    params = {"backup": str(backup), "token": str(file_token(conf))}
    with pytest.raises(ActionFailed) as caught:
        dispatch(settings, "fdm.revert", "", params)
    assert str(caught.value) == (
        f"{conf} not reverted: 3 warning(s) to confirm, the first at line 0: b@x.org is in addrs "
        "but not in vusers: smtpd accepts it and cannot map it to a user"
    )
    said = dispatch(settings, "fdm.revert", "", {**params, "allow_warnings": "1"})
    newest = backups(conf)[0]
    assert said == (
        f"{conf} reverted to {backup.name} with 3 warning(s); the replaced version is kept as "
        f"{newest.name}."
    )
    assert conf.read_text() == OLD and newest.read_text() == NEW

    stale = params["token"]
    with pytest.raises(ActionFailed, match="changed on disk"):
        dispatch(settings, "fdm.revert", str(conf), {**params, "allow_warnings": "1"})
    said = dispatch(
        settings,
        "fdm.revert",
        str(conf),
        {"backup": str(newest), "token": stale, "force": "yes", "allow_warnings": "true"},
    )
    assert said.startswith(
        f"{conf} reverted to {newest.name} with 3 warning(s); the replaced version is kept as "
    )
    assert conf.read_text() == NEW
    with pytest.raises(ActionFailed) as caught:
        dispatch(settings, "fdm.revert", "", {"token": stale})
    assert str(caught.value) == "fdm.revert needs the backup to restore"


@needs_fdm
def test_the_actions_without_warnings_or_a_file_to_replace(tmp_path: Path, conf: Path) -> None:
    """No tables: nothing to warn about. A file that does not exist (yet, or any more) has no token
    ("none", or none given) and leaves no backup of itself."""
    nowhere = tmp_path / "no-such-table"
    settings = Settings(
        fdm_config=conf,
        audit_log=tmp_path / "audit.log",
        table_addrs=nowhere,
        table_vusers=nowhere,
        table_vdomains=nowhere,
        table_userdb=nowhere,
    )
    said = dispatch(settings, "fdm.save", "", {"text": NEW, "token": str(file_token(conf))})
    [kept] = backups(conf)
    assert said == f"{conf} saved; previous version kept as {kept.name}."

    other = tmp_path / "other" / "fdm.conf"
    other.parent.mkdir()
    undecodable = "# caf\udce9\n" + OLD
    assert dispatch(settings, "fdm.save", str(other), {"text": undecodable}) == f"{other} saved."
    dispatch(settings, "fdm.save", str(other), {"text": NEW, "token": str(file_token(other))})
    [backup] = backups(other)
    for token in ({"token": "none"}, {}):
        other.unlink()
        said = dispatch(settings, "fdm.revert", str(other), {"backup": str(backup), **token})
        assert said == f"{other} reverted to {backup.name}."
        assert other.read_bytes() == b"# caf\xe9\n" + OLD.encode()
    assert conf.read_text() == NEW
