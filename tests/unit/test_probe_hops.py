"""The delivery probe's reading of real logs (tests/recordings/probe/: a lab with --filters, probes
to bob clean, GTUBE and EICAR, to notifications@, to unreachable.test and permfail.test) and of the
article's smtpd.conf, as the lab renders it with and without filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.actions import ACTIONS
from console.errors import UserError
from console.lab.render import Account, LabConfig, render_lab, render_smtpd_conf
from console.mailbox import hops
from console.mailbox.probe import (
    DEFAULT_TIMEOUT,
    FILTERS_TIMEOUT,
    Hop,
    Prediction,
    ProbeOptions,
    ProbeResult,
    _Tracker,
    default_timeout,
    format_hop,
    msgid_of,
    parse_via,
    predict,
    probe_message,
    render,
)
from console.settings import load_settings

RECORDED = Path(__file__).parent.parent / "recordings" / "probe"
TABLES = {"addrs": {"bob@example.com", "notifications@example.com"}, "vdoms": {"example.com"}}


def recorded_lines() -> list[str]:
    """The clamd and deliver lines first (each is logged before smtpd's line about the same step),
    then smtpd's log."""
    return [
        *(RECORDED / "clamd.log").read_text().splitlines(),
        *(RECORDED / "dovecot-lda.log").read_text().splitlines(),
        *(RECORDED / "smtpd.log").read_text().splitlines(),
    ]


def follow(msgid: str, message_id: str = "<none>") -> tuple[ProbeResult, _Tracker]:
    """Feed every recorded line to a tracker following `msgid`, as the probe does."""
    result = ProbeResult(
        "bob@example.com", "clean", "127.0.0.1:23000", message_id, Prediction("delivered")
    )
    emitted: list[Hop] = []

    def emit(name: str, status: str, detail: str, line: str = "") -> Hop:
        hop = Hop(name, status, detail, 0.0, line)
        emitted.append(hop)
        result.hops.append(hop)
        return hop

    filters = hops.relay_filters((RECORDED / "smtpd.conf").read_text())
    tracker = _Tracker(result, msgid, filters, emit)
    for line in recorded_lines():
        tracker.feed(line)
    tracker.show_saved()
    return result, tracker


def test_smtpd_lines_parse_into_events() -> None:
    lines = (RECORDED / "smtpd.log").read_text().splitlines()
    events = [hops.parse_line(line) for line in lines]
    accepted = [e for e in events if isinstance(e, hops.Accepted)]
    assert hops.Accepted("f526776312ce3c9b", "f21cf22f") == accepted[0]
    relay_line = next(line for line in lines if "mta delivery evpid=f21cf22f9ef0b0dd" in line)
    relayed = hops.parse_line(relay_line)
    assert isinstance(relayed, hops.Delivery)
    assert (relayed.agent, relayed.result, relayed.next_msgid) == ("mta", "Ok", "fa545ba5")
    assert relayed.stat == "250 2.0.0 fa545ba5 Message accepted for delivery"
    virus = [e for e in events if isinstance(e, hops.Delivery) and "Virus" in e.stat][0]
    assert virus.next_msgid == "" and virus.stat == "250 Virus Detected; Discarded Email"
    tempfail = [e for e in events if isinstance(e, hops.Delivery) and e.result == "TempFail"][0]
    assert (tempfail.session, tempfail.stat) == ("0" * 16, "Network error on destination MXs")
    permfail = [e for e in events if isinstance(e, hops.Delivery) and e.result == "PermFail"][0]
    assert (permfail.agent, permfail.stat) == ("mda", 'Error ("lab permfail")')
    connecting = [e for e in events if isinstance(e, hops.Connecting)]
    assert {(c.host, c.port) for c in connecting} >= {("127.0.0.1", 23006), ("127.0.0.1", 23005)}
    assert not any(isinstance(e, hops.Saved) for e in events)


def test_deliver_and_clamd_lines() -> None:
    saved = hops.parse_line((RECORDED / "dovecot-lda.log").read_text().splitlines()[1])
    assert saved == hops.Saved(
        "bob", "179631484858.25113.6618623368296166925.probe@localhost", "Spam"
    )
    found = hops.parse_line((RECORDED / "clamd.log").read_text().splitlines()[0])
    assert found == hops.VirusFound("Lab.EICAR.Body.UNOFFICIAL")
    assert hops.parse_line("Dec 03 16:20:15 imap(bob): Info: Logged out in=1 out=2") is None
    # a folder name with spaces, and syslog's prefix before smtpd's session
    assert hops.parse_line(
        "Dec 03 16:20:31 lda(bob)<1><x>: Info: msgid=<a@b>: saved mail to Mailing Lists"
    ) == hops.Saved("bob", "a@b", "Mailing Lists")
    line = "Dec  3 16:20:31 mail smtpd[42]: 0123456789abcdef smtp message msgid=0badf00d size=1"
    assert hops.parse_line(line) == hops.Accepted("0123456789abcdef", "0badf00d")


def test_clean_probe_hops_through_both_filters_to_inbox() -> None:
    result, tracker = follow("fc871bcb", "mailconsole-probe.6b354f04460ea1f6@mailconsole")
    assert [(h.name, h.status) for h in result.hops] == [
        ("accepted", "ok"),
        ("clamsmtpd", "ok"),
        ("spampd", "ok"),
        ("delivered", "ok"),
        ("fdm", "ok"),
    ]
    assert tracker.msgids == {"fc871bcb", "b8d524c1", "ce86b01f"}
    assert tracker.delivered_by_smtpd and tracker.saved is not None
    assert tracker.saved.folder == "INBOX"
    assert "handed back as msgid b8d524c1" in result.hops[1].detail
    assert "mta delivery evpid=fc871bcb4f3510e2" in result.hops[1].line


def test_eicar_probe_is_stopped_by_clamsmtpd_with_clamds_signature() -> None:
    result, tracker = follow("be78810e")
    assert [(h.name, h.status) for h in result.hops] == [
        ("accepted", "ok"),
        ("clamsmtpd", "stopped"),
    ]
    assert tracker.finished and result.outcome == "stopped"
    assert "Virus Detected; Discarded Email" in result.verdict
    assert "Lab.EICAR.Body.UNOFFICIAL" in result.verdict


def test_probe_to_an_undefined_action_is_delivered_by_smtpd_and_saved_nowhere() -> None:
    result, tracker = follow("1dcd12e8", "mailconsole-probe.nothere@mailconsole")
    assert [h.name for h in result.hops] == ["accepted", "clamsmtpd", "spampd", "delivered"]
    assert tracker.delivered_by_smtpd and tracker.saved is None


def test_permanent_failure_in_the_mda_is_a_bounce() -> None:
    result, tracker = follow("8d459ff3")
    assert tracker.finished and result.outcome == "bounced"
    assert result.hops[-1].name == "mda" and result.hops[-1].status == "failed"
    assert 'Error ("lab permfail")' in result.verdict


def test_a_relay_that_cannot_connect_is_deferred_with_smtpds_error() -> None:
    result, tracker = follow("075593c1")
    assert not tracker.finished
    assert result.hops[-1].status == "deferred"
    assert tracker.last_error == "Network error on destination MXs"


def test_untrusted_text_in_a_log_line_is_shown_escaped() -> None:
    result, tracker = follow("fc871bcb")
    evil = (
        "f5267783834510b9 mda delivery evpid=ce86b01f716e40c5 from=<> to=<bob@example.com> "
        'rcpt=<bob@example.com> user=vmail delay=1s result=TempFail stat="4.0.0 \x1b[31mred\x1b[0m [bold]x"'
    )
    tracker.feed(evil)
    hop = result.hops[-1]
    assert "\x1b" not in hop.detail and "\\x1b[31mred" in hop.detail
    assert "\x1b" not in hop.line and "\x1b" not in format_hop(hop)


@pytest.mark.parametrize("filters", [True, False])
def test_the_articles_smtpd_conf_chain(filters: bool) -> None:
    text = render_smtpd_conf(LabConfig(Path("/tmp/lab"), 20500, filters))
    path = hops.incoming_path(text, "bob@example.com", TABLES)
    if filters:
        assert [f.program for f in path.filters] == ["clamsmtpd", "spampd"]
        assert [f.port for f in path.filters] == [20506, 20505]
    else:
        assert path.filters == []
    assert (path.final, path.final_kind) == ("deliver", "mda")
    assert "fdm-deliver" in path.final_command
    unreachable = hops.incoming_path(text, "x@unreachable.test", TABLES)
    assert (unreachable.final, unreachable.final_kind, unreachable.filters) == (
        "lab_unreachable",
        "relay",
        [],
    )
    unknown = hops.incoming_path(text, "nobody@example.com", TABLES)
    assert unknown.final == "" and "no rule" in unknown.notes[0]
    inline = hops.incoming_path(
        "match from any for domain { example.com } action deliver\n", "bob@example.com", TABLES
    )
    assert inline.final == "" and "not modelled" in inline.notes[0]


def test_msgid_and_via() -> None:
    assert msgid_of("250 2.0.0 f21cf22f Message accepted for delivery") == "f21cf22f"
    assert msgid_of("250 OK queued as 4XyZ") == ""
    assert parse_via("127.0.0.1:2525") == ("127.0.0.1", 2525)
    assert parse_via("[::1]:25") == ("::1", 25)
    for bad in ("localhost", "host:port", ":25", "h:70000"):
        with pytest.raises(UserError, match="HOST:PORT"):
            parse_via(bad)


def test_the_timeout_is_left_to_the_path_unless_given() -> None:
    """Without --timeout the dispatcher's parameters (the audit) hold none and the probe takes the
    default for its predicted path; the command's help says both defaults."""
    assert ProbeOptions().params() == {"kind": "clean", "keep": "no"}
    assert ProbeOptions.from_params({"kind": "clean", "keep": "no"}).timeout is None
    assert ProbeOptions.from_params(ProbeOptions(timeout=12.5).params()).timeout == 12.5
    assert (DEFAULT_TIMEOUT, FILTERS_TIMEOUT) == (30, 90)
    cli = ACTIONS["mailbox.probe"].cli
    assert cli is not None
    [timeout] = [arg for arg in cli.args if arg.decl == "--timeout"]
    assert (
        "Default: 30, or 90 when the predicted path goes through a content filter" in timeout.help
    )
    assert default_timeout(Prediction("delivered")) == DEFAULT_TIMEOUT
    assert default_timeout(Prediction("delivered", filters=["spampd (127.0.0.1:1)"])) == 90


def test_render_says_prediction_verdict_and_total() -> None:
    prediction = Prediction(
        "delivered", "bob", "INBOX", 17, "bob_inbox", ["clamsmtpd (x)"], "to INBOX"
    )
    result = ProbeResult("bob@example.com", "clean", "h:1", "m@x", prediction, outcome="delivered")
    result.verdict, result.total = "as predicted, to bob's folder INBOX", 0.25
    assert render(result) == [
        "predicted: to INBOX",
        "  filters on the path: clamsmtpd (x)",
        "delivered: as predicted, to bob's folder INBOX",
        "total: 0.250 s from accepted to visible",
    ]
    assert result.exit_code == 0
    result.outcome = "lost"
    assert result.exit_code == 1


@pytest.mark.parametrize("filters", [True, False])
def test_predictions_on_the_labs_files(tmp_path: Path, filters: bool) -> None:
    cfg = LabConfig(tmp_path / "lab", 20500, filters)
    render_lab(cfg, Account("vmail", 2000, 2000))
    settings = load_settings(config=str(cfg.path("mailconsole.toml")), env={}).settings
    fdm_lines = cfg.path("config", "fdm.conf").read_text().splitlines()

    def line_of(action: str) -> int:
        return next(
            n
            for n, text in enumerate(fdm_lines, 1)
            if text.startswith("match") and f'action "{action}"' in text
        )

    def predicted(address: str, kind: str = "clean") -> Prediction:
        return predict(settings, address, kind, probe_message(address, kind, "t", "m@x"))

    clean = predicted("bob@example.com")
    assert (clean.expect, clean.user, clean.folder) == ("delivered", "bob", "INBOX")
    assert default_timeout(clean) == (FILTERS_TIMEOUT if filters else DEFAULT_TIMEOUT)
    assert (clean.rule_line, clean.action) == (line_of("bob_inbox"), "bob_inbox")
    assert len(clean.filters) == (2 if filters else 0)
    spam = predicted("bob@example.com", "spam")
    virus = predicted("bob@example.com", "virus")
    if filters:  # spampd flags GTUBE, fdm's first rule sends it to Spam; ClamAV stops EICAR
        assert (spam.folder, spam.rule_line) == ("Spam", line_of("bob_spam"))
        assert virus.expect == "stopped" and "Action: drop" in virus.sentence
    else:  # nothing scores or scans it: delivered as any other, and said
        assert spam.folder == "INBOX" and "nothing scores GTUBE" in spam.notes[0]
        assert virus.folder == "INBOX" and "nothing scans it" in virus.notes[0]
    # vusers forwards: a key's last line counts, as smtpd keeps it
    with cfg.path("db", "vusers").open("a") as vusers:
        vusers.write("team@example.com first@unreachable.test\n")
        vusers.write("Team@Example.com second@unreachable.test\n")
        vusers.write("local@example.com bob@example.com\n")
    with cfg.path("db", "addrs").open("a") as addrs:
        addrs.write("team@example.com\nlocal@example.com\ncarol@example.com # new\n")
    team = predicted("team@example.com")
    where = "vusers line 8 (the last of its 2 lines: smtpd uses the last)"
    if filters:  # matched again under the filters' tag: the same action, no vusers line for it
        assert team.expect == "bounced"
        assert team.sentence.startswith(f"{where} forwards it to second@unreachable.test, which")
    else:  # matched again from the start: the lab's relay for unreachable.test
        assert (team.expect, team.sentence) == (
            "relayed",
            f"{where} forwards it to second@unreachable.test, which smtpd relays off this "
            "machine (action lab_unreachable)",
        )
    # `#` after a list entry is part of it, as smtpd reads the table: carol@ is not in addrs
    carol = predicted("carol@example.com")
    assert "smtpd.conf has no rule that accepts mail for carol@example.com" in carol.notes
    local = predicted("local@example.com")  # delivered by the same action; fdm sees local@
    assert local.expect == "lost"
    assert "vusers line 9 forwards it to bob@example.com" in local.notes
    lost = predicted("notifications@example.com")
    assert (lost.expect, lost.rule_line) == ("lost", line_of("bob_notices"))
    assert "no actions matching: bob_notices" in lost.reason
    assert predicted("x@unreachable.test").expect == "relayed"
    assert "not fdm" in predicted("x@permfail.test").sentence
