"""The DNS records of each domain, checked against a real DNS server on loopback: Debian's dnsmasq,
serving the MX and TXT records given on its command line (never the internet). Skipped without
dnsmasq, but failed when the CI environment variable is set."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from console.accounts.dns import (
    DIFFERENT,
    MALFORMED,
    MISSING,
    OK,
    check_records,
    dkim_public_key,
    make_resolver,
    wanted_records,
)
from console.accounts.model import load_accounts
from console.settings import Settings
from tests.helpers import MAILCONSOLE, wait_for

ROOT = Path(__file__).resolve().parents[2]
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
DOMAINS = ["good.test", "missing.test", "bad.test", "other.test", "lookups.test"]
HOST = "mail.example.com"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _key(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


def _txt(name: str, value: str) -> str:
    """dnsmasq's --txt-record with the value in 255-character strings (commas separate them; no
    shell here, so no quotes)."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)]
    return f"--txt-record={name}," + ",".join(chunks)


@pytest.fixture
def stack(tmp_path: Path) -> Settings:
    """Tables for the test domains, the article's smtpd.conf, a dkimproxy config with a real key
    (and a second key, the wrong one, for other.test's published record)."""
    if not Path(DNSMASQ).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the DNS tests: dnsmasq is missing (tests/debian-packages.txt)")
        pytest.skip("needs dnsmasq")
    db = tmp_path / "db"
    db.mkdir()
    (db / "vdomains").write_text("\n".join(DOMAINS) + "\n")
    addresses = [f"dmarc@{domain}" for domain in DOMAINS if domain != "other.test"]
    (db / "vusers").write_text("".join(f"{a} vmail\n" for a in addresses))
    (db / "addrs").write_text("".join(f"{a}\n" for a in addresses))
    (db / "userdb").write_text("")
    _key(tmp_path / "dkim.key")
    _key(tmp_path / "other.key")
    (tmp_path / "dkimproxy_out.conf").write_text(
        f"listen 127.0.0.1:10029\ndomain {','.join(DOMAINS)}\nkeyfile {tmp_path}/dkim.key\n"
        "selector dkim1\n"
    )
    return Settings(
        table_vdomains=db / "vdomains",
        table_vusers=db / "vusers",
        table_addrs=db / "addrs",
        table_userdb=db / "userdb",
        smtpd_config=ROOT / "config_samples" / "smtpd.conf",
        dkimproxy_config=tmp_path / "dkimproxy_out.conf",
        fdm_config=tmp_path / "fdm.conf",
        audit_log=tmp_path / "audit.log",
    )


@pytest.fixture
def dns_server(stack: Settings, tmp_path: Path) -> Iterator[str]:
    """dnsmasq on 127.0.0.1 answering for the test domains only (NXDOMAIN for the rest of them)."""
    good_key = dkim_public_key(tmp_path / "dkim.key")
    other_key = dkim_public_key(tmp_path / "other.key")
    records = [
        f"--mx-host=good.test,{HOST},10",
        _txt("good.test", "v=spf1 mx ~all"),
        _txt("dkim1._domainkey.good.test", f"v=DKIM1; k=rsa; t=s; p={good_key}"),
        _txt("_dmarc.good.test", "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"),
        # bad.test: the article's DMARC (rua without mailto:), two SPF records, a broken key
        f"--mx-host=bad.test,{HOST},10",
        _txt("bad.test", "v=spf1 mx ~all"),
        _txt("bad.test", "v=spf1 a -all"),
        _txt("dkim1._domainkey.bad.test", "v=DKIM1; k=rsa; p=bm90IGEga2V5"),
        _txt(
            "_dmarc.bad.test", "v=DMARC1; p=reject; rua=dmarc@bad.test; ruf=mailto:dmarc@bad.test"
        ),
        # other.test: well-formed, but not what this stack needs
        "--mx-host=other.test,mx.elsewhere.example,10",
        _txt("other.test", "v=spf1 include:_spf.elsewhere.example -all"),
        _txt("_spf.elsewhere.example", "v=spf1 ip4:192.0.2.1 -all"),
        _txt("dkim1._domainkey.other.test", f"v=DKIM1; k=rsa; p={other_key}"),
        _txt("_dmarc.other.test", "v=DMARC1; p=none"),
        _txt("other.test._report._dmarc.good.test", "v=DMARC1"),
        # lookups.test: SPF over the ten-lookup limit through nested includes
        f"--mx-host=lookups.test,{HOST},10",
        _txt("lookups.test", "v=spf1 mx include:a.lookups.test include:b.lookups.test ~all"),
        _txt("a.lookups.test", "v=spf1 " + " ".join(f"a:h{i}.example" for i in range(5)) + " -all"),
        _txt(
            "b.lookups.test", "v=spf1 " + " ".join(f"mx:m{i}.example" for i in range(5)) + " -all"
        ),
    ]
    port = _free_udp_port()
    local = "".join(f"/{domain}" for domain in [*DOMAINS, "elsewhere.example"]) + "/"
    process = subprocess.Popen(
        [
            DNSMASQ,
            "--keep-in-foreground",
            f"--port={port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--conf-file=/dev/null",
            "--pid-file=",
            f"--local={local}",
            f"--log-facility={tmp_path / 'dnsmasq.log'}",
            *records,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    address = f"127.0.0.1:{port}"
    try:
        resolver = make_resolver(address, timeout=1.0)
        wait_for(lambda: resolver.resolve("good.test", "MX"), timeout=20, what="dnsmasq to answer")
        stack.dns_resolver = address
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)


def verdicts(stack: Settings) -> dict[tuple[str, str], tuple[str, str]]:
    records = wanted_records(load_accounts(stack), stack)
    return {
        (v.record.domain, v.record.kind): (v.status, v.detail)
        for v in check_records(records, make_resolver(stack.dns_resolver))
    }


def test_each_record_kind_correct_missing_malformed_and_different(
    stack: Settings, dns_server: str
) -> None:
    found = verdicts(stack)
    for kind in ("MX", "SPF", "DKIM", "DMARC"):
        assert found[("good.test", kind)] == (OK, ""), kind
        assert found[("missing.test", kind)][0] == MISSING, kind
    assert found[("bad.test", "SPF")] == (
        MALFORMED,
        "2 SPF records: receivers treat that as a permanent error",
    )
    assert found[("bad.test", "DMARC")] == (
        MALFORMED,
        "rua=dmarc@bad.test has no mailto: (reports are never sent)",
    )
    assert found[("bad.test", "DKIM")][0] == MALFORMED
    assert found[("bad.test", "MX")][0] == OK
    assert found[("other.test", "MX")] == (
        DIFFERENT,
        f"MX points to mx.elsewhere.example, not {HOST}",
    )
    assert found[("other.test", "SPF")][0] == DIFFERENT
    assert found[("other.test", "DKIM")] == (
        DIFFERENT,
        "the published key does not match dkimproxy's private key",
    )
    assert found[("other.test", "DMARC")][0] == DIFFERENT
    # other.test's reports go to good.test, which says it takes them
    assert found[("other.test", "RUA")] == (OK, "")
    assert ("good.test", "RUA") not in found
    assert found[("lookups.test", "SPF")] == (
        MALFORMED,
        "13 DNS lookups (more than 10): receivers treat that as a permanent error",
    )


def test_the_records_are_ready_to_paste(stack: Settings, tmp_path: Path) -> None:
    records = {(r.domain, r.kind): r for r in wanted_records(load_accounts(stack), stack)}
    key = dkim_public_key(tmp_path / "dkim.key")
    assert records[("good.test", "MX")].zone_line() == f"good.test. 3600 IN MX 10 {HOST}."
    assert records[("good.test", "SPF")].zone_line() == 'good.test. 3600 IN TXT "v=spf1 mx ~all"'
    dkim = records[("good.test", "DKIM")].zone_line()
    assert dkim.startswith('dkim1._domainkey.good.test. 3600 IN TXT "v=DKIM1; k=rsa; t=s; p=')
    assert "".join(dkim.split(" IN TXT ")[1].replace('" "', "").strip('"').split("p=")[1:]) == key
    # other.test has no dmarc@ address: its reports go to the first accepted one
    assert (
        records[("other.test", "DMARC")].value == "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"
    )
    assert (
        records[("other.test", "RUA")].zone_line()
        == 'other.test._report._dmarc.good.test. 3600 IN TXT "v=DMARC1"'
    )


def test_cli_exit_codes_and_json(stack: Settings, dns_server: str, tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        "\n".join(
            f'{key} = "{getattr(stack, key)}"'
            for key in (
                "table_vdomains",
                "table_vusers",
                "table_addrs",
                "table_userdb",
                "smtpd_config",
                "dkimproxy_config",
                "dns_resolver",
                "audit_log",
            )
        )
        + "\n"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*MAILCONSOLE, "--config", str(config), "accounts", "dns", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )

    assert run("good.test").returncode == 0
    assert run("missing.test").returncode == 1
    bad = run("bad.test", "--json")
    assert bad.returncode == 2, bad.stderr
    rows = [json.loads(line) for line in bad.stdout.splitlines()]
    assert [row["status"] for row in rows] == [OK, MALFORMED, MALFORMED, MALFORMED]
    unknown = run("nowhere.test")
    assert (
        unknown.returncode == 1
        and unknown.stderr.strip() == "mailconsole: nowhere.test is not in vdomains"
    )
