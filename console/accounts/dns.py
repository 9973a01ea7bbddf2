"""The DNS records each accepted domain needs, computed from the stack's own files, and what a resolver
says about them.

MX names the host smtpd.conf announces; SPF allows the domain's MX; DKIM publishes the public half
of dkimproxy's `keyfile` at `SELECTOR._domainkey.DOMAIN`; DMARC asks for reports at an accepted
`dmarc@` address, with `mailto:` (the article's own example forgets it). A check answers, per
record: ok, missing, different (well-formed, but not what the stack needs) or malformed.
"""

from __future__ import annotations

import base64
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.accounts.tables import read_text
from console.errors import UserError

if TYPE_CHECKING:
    from console.accounts.model import Accounts
    from console.settings import Settings

OK, MISSING, DIFFERENT, MALFORMED, UNKNOWN = "ok", "missing", "different", "malformed", "unknown"
SPF_LOOKUP_LIMIT = 10
"""RFC 7208: more DNS-querying mechanisms than this make SPF a permanent error."""
_SPF_LOOKUPS = re.compile(r"^[+?~-]?(include|a|mx|ptr|exists)\b|^redirect=", re.I)
TXT_CHUNK = 255
DMARC_POLICY = "reject"
"""The article's policy."""


@dataclass
class DkimSetup:
    """What dkimproxy_out.conf says: the key file, selector and the domains it signs."""

    keyfile: Path | None = None
    selector: str = ""
    domains: list[str] = field(default_factory=list)


def read_dkimproxy_conf(path: Path) -> DkimSetup | None:
    """dkimproxy's `keyfile`, `selector` and `domain` lines; None when the file does not exist."""
    text, token = read_text(path)
    if token is None:
        return None
    setup = DkimSetup()
    for raw in text.splitlines():
        key, _sep, value = raw.split("#", 1)[0].strip().partition(" ")
        value = value.strip()
        if key == "keyfile":
            setup.keyfile = Path(value)
        elif key == "selector":
            setup.selector = value
        elif key == "domain":
            setup.domains = [d.strip().lower() for d in value.split(",") if d.strip()]
    return setup


def dkim_public_key(keyfile: Path) -> str:
    """The base64 DER (SubjectPublicKeyInfo) of the private key's public half: DKIM's `p=`."""
    from cryptography.hazmat.primitives import serialization

    try:
        data = keyfile.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read dkimproxy's key {keyfile}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UserError(
            f"{keyfile} is not a PEM private key without a passphrase ({exc})"
        ) from None
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


@dataclass
class Record:
    """One record a domain needs: what, where, and the value the stack wants."""

    domain: str
    kind: str
    """MX, SPF, DKIM or DMARC."""
    name: str
    rtype: str
    value: str
    """The wanted value ("" when it cannot be computed: see note)."""
    note: str = ""

    def zone_line(self) -> str:
        """The record as a zone-file line, ready to paste (long TXT values split in 255-character
        strings)."""
        if not self.value:
            return f"; {self.name} {self.rtype}: {self.note}"
        if self.rtype == "TXT":
            chunks = [self.value[i : i + TXT_CHUNK] for i in range(0, len(self.value), TXT_CHUNK)]
            data = " ".join(f'"{chunk}"' for chunk in chunks)
        else:
            data = self.value
        return f"{self.name}. 3600 IN {self.rtype} {data}"


@dataclass
class Verdict:
    """What the resolver answered for one record, and the judgement."""

    record: Record
    status: str
    found: list[str]
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {
            **asdict(self.record),
            "zone_line": self.record.zone_line(),
            "status": self.status,
            "found": self.found,
            "detail": self.detail,
        }


def wanted_records(
    accounts: Accounts, settings: Settings, domains: list[str] | None = None
) -> list[Record]:
    """MX, SPF, DKIM and DMARC for each domain (all of vdomains by default)."""
    from console.accounts.smtpd_conf import SmtpdConf

    smtpd = accounts.smtpd or SmtpdConf()
    host = smtpd.mail_host()
    dkim = read_dkimproxy_conf(settings.dkimproxy_config)
    key = ""
    key_note = ""
    if dkim is None:
        key_note = f"{settings.dkimproxy_config} does not exist: no DKIM key to publish"
    elif dkim.keyfile is None or not dkim.selector:
        key_note = f"{settings.dkimproxy_config} names no keyfile or selector"
    else:
        try:
            key = dkim_public_key(dkim.keyfile)
        except UserError as exc:
            key_note = str(exc)
    accepted = accounts.accepted()
    records = []
    for domain in domains or accounts.domains():
        domain = domain.lower().rstrip(".")
        if host:
            records.append(Record(domain, "MX", domain, "MX", f"10 {host}."))
        else:
            why = (
                f"{settings.smtpd_config} names no host (`listen on ... hostname HOST` or "
                "`pki HOST`)"
                if accounts.smtpd is not None
                else f"{settings.smtpd_config} does not exist (see the smtpd_config setting)"
            )
            records.append(Record(domain, "MX", domain, "MX", "", why))
        records.append(Record(domain, "SPF", domain, "TXT", "v=spf1 mx ~all"))
        selector = dkim.selector if dkim and dkim.selector else "SELECTOR"
        note = key_note
        if not note and dkim is not None and dkim.domains and domain not in dkim.domains:
            note = f"dkimproxy does not sign {domain} (its domain line)"
        records.append(
            Record(
                domain,
                "DKIM",
                f"{selector}._domainkey.{domain}",
                "TXT",
                f"v=DKIM1; k=rsa; t=s; p={key}" if key else "",
                note,
            )
        )
        rua = _report_address(domain, accepted)
        value = f"v=DMARC1; p={DMARC_POLICY}" + (f"; rua=mailto:{rua}" if rua else "")
        records.append(
            Record(
                domain,
                "DMARC",
                f"_dmarc.{domain}",
                "TXT",
                value,
                "" if rua else "no accepted dmarc@ address for aggregate reports",
            )
        )
        report_domain = rua.rpartition("@")[2]
        if rua and report_domain != domain:
            # RFC 7489 7.1: the other domain must say it takes this domain's reports.
            records.append(
                Record(
                    domain,
                    "RUA",
                    f"{domain}._report._dmarc.{report_domain}",
                    "TXT",
                    "v=DMARC1",
                    f"{report_domain} accepts {domain}'s DMARC reports",
                )
            )
    return records


def _report_address(domain: str, accepted: list[str]) -> str:
    """Where DMARC reports go: dmarc@DOMAIN when accepted, else the first accepted dmarc@."""
    if f"dmarc@{domain}" in accepted:
        return f"dmarc@{domain}"
    return next((a for a in accepted if a.startswith("dmarc@")), "")


# --------------------------------------------------------------------------- checking


def make_resolver(address: str, timeout: float = 3.0) -> Any:
    """A dnspython resolver: the given server (`IP` or `IP:PORT`), else the system's."""
    import dns.resolver

    if not address:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            raise UserError("no DNS resolver configured on this system: set dns_resolver") from None
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = (
            [_host_and_port(address)[0]],
            _host_and_port(address)[1],
        )
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def _host_and_port(address: str) -> tuple[str, int]:
    """`IP`, `IPv4:PORT` or `[IPv6]:PORT` split; one sentence when it is none of them."""
    import ipaddress

    bracketed = re.fullmatch(r"\[(.+)\]:(\d+)", address)
    if bracketed:
        host, port = bracketed.group(1), int(bracketed.group(2))
    elif address.count(":") == 1:
        host, _sep, port_text = address.partition(":")
        port = int(port_text) if port_text.isdigit() else -1
    else:
        host, port = address, 53
    try:
        ipaddress.ip_address(host)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise UserError(f"dns_resolver {address!r} is not an IP address (or IP:PORT)")
    return host, port


def _lookup(resolver: Any, name: str, rtype: str) -> tuple[list[str] | None, str]:
    """The answer's records as text (TXT strings joined), [] for none, None with a reason on error."""
    import dns.exception
    import dns.resolver

    try:
        answer = resolver.resolve(name, rtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return [], "no such name"
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        return None, f"the resolver gave no usable answer ({exc.__class__.__name__})"
    except dns.exception.DNSException as exc:
        return None, str(exc)
    if answer.rrset is None:
        return [], "no record"
    if rtype == "TXT":
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer.rrset], ""
    return [r.to_text() for r in answer.rrset], ""


def check_records(records: list[Record], resolver: Any) -> list[Verdict]:
    """Ask the resolver about every record (several at a time: a silent resolver costs one
    timeout, not one per record) and judge the answers; in the records' order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda record: check_record(record, resolver), records))


def check_record(record: Record, resolver: Any) -> Verdict:
    """Ask the resolver about one record and judge the answer."""
    found, problem = _lookup(resolver, record.name, record.rtype)
    if found is None:
        return Verdict(record, UNKNOWN, [], problem)
    judge = {
        "MX": _judge_mx,
        "SPF": _judge_spf,
        "DKIM": _judge_dkim,
        "DMARC": _judge_dmarc,
        "RUA": _judge_report,
    }
    status, detail = judge[record.kind](record, found, resolver)
    shown = found if record.kind == "MX" else [t for t in found if _is_kind(record.kind, t)]
    return Verdict(record, status, shown, detail)


def _is_kind(kind: str, text: str) -> bool:
    prefix = {"SPF": "v=spf1", "DKIM": "", "DMARC": "v=dmarc1", "RUA": "v=dmarc1"}[kind]
    low = text.lower()
    return low.startswith(prefix) and (
        not prefix or low[len(prefix) : len(prefix) + 1] in ("", " ", ";")
    )


def _judge_mx(record: Record, found: list[str], resolver: Any) -> tuple[str, str]:
    if not found:
        return MISSING, "no MX record"
    hosts = [item.split()[-1].rstrip(".").lower() for item in found]
    want = record.value.split()[-1].rstrip(".").lower() if record.value else ""
    if want and want not in hosts:
        return DIFFERENT, f"MX points to {', '.join(hosts)}, not {want}"
    return OK, ""


def _judge_spf(record: Record, found: list[str], resolver: Any) -> tuple[str, str]:
    spf = [text for text in found if _is_kind("SPF", text)]
    if not spf:
        return MISSING, "no v=spf1 TXT record"
    if len(spf) > 1:
        return MALFORMED, f"{len(spf)} SPF records: receivers treat that as a permanent error"
    lookups = spf_lookups(spf[0], resolver)
    if lookups > SPF_LOOKUP_LIMIT:
        return MALFORMED, (
            f"{lookups} DNS lookups (more than {SPF_LOOKUP_LIMIT}): receivers treat "
            "that as a permanent error"
        )
    terms = spf[0].lower().split()[1:]
    if " ".join(spf[0].split()).lower() == record.value.lower() or any(
        term.lstrip("+") in ("mx", f"mx:{record.domain}") for term in terms
    ):
        return OK, ""
    return DIFFERENT, "does not allow the domain's MX host (`mx`) to send"


def spf_lookups(text: str, resolver: Any | None = None, depth: int = 0) -> int:
    """How many DNS-querying terms an SPF record costs, its includes and redirect followed."""
    count = 0
    for term in text.split()[1:]:
        if not _SPF_LOOKUPS.match(term):
            continue
        count += 1
        target = (
            term.split(":", 1)[1]
            if term.lower().lstrip("+?~-").startswith("include:")
            else term.split("=", 1)[1]
            if term.lower().startswith("redirect=")
            else ""
        )
        if target and resolver is not None and depth < SPF_LOOKUP_LIMIT:
            found, _problem = _lookup(resolver, target, "TXT")
            for included in found or []:
                if _is_kind("SPF", included):
                    count += spf_lookups(included, resolver, depth + 1)
    return count


def _tags(text: str) -> dict[str, str]:
    """`k=v; k=v` tags (DKIM and DMARC), keys lower case, values stripped."""
    tags = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags[key.strip().lower()] = (
                "".join(value.split()) if key.strip().lower() == "p" else value.strip()
            )
    return tags


def _judge_dkim(record: Record, found: list[str], resolver: Any) -> tuple[str, str]:
    if not found:
        return MISSING, f"no TXT record at {record.name}"
    if len(found) > 1:
        return MALFORMED, f"{len(found)} TXT records at {record.name}: verifiers pick one"
    tags = _tags(found[0])
    if not tags.get("p"):
        return (
            MALFORMED,
            "no public key (p=)" if "p" not in tags else "the key is revoked (empty p=)",
        )
    if tags.get("k", "rsa").lower() != "rsa":
        return DIFFERENT, f"key type k={tags['k']}, dkimproxy signs with rsa"
    try:
        published = _public_numbers(tags["p"])
    except ValueError as exc:
        return MALFORMED, f"p= is not a public key ({exc})"
    if not record.value:
        return OK, f"published; cannot compare ({record.note})"
    wanted = _public_numbers(_tags(record.value)["p"])
    if published != wanted:
        return DIFFERENT, "the published key does not match dkimproxy's private key"
    return OK, ""


def _public_numbers(p: str) -> tuple[int, int]:
    """RSA (n, e) from a DKIM p= value (SubjectPublicKeyInfo or bare RSAPublicKey, base64)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        der = base64.b64decode(p, validate=True)
    except (ValueError, TypeError):
        raise ValueError("not base64") from None
    try:
        key = load_der_public_key(der)
    except (ValueError, TypeError, Exception) as exc:  # noqa: BLE001 - any parse error is malformed
        raise ValueError(str(exc) or "not DER") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA key")
    numbers = key.public_numbers()
    return numbers.n, numbers.e


def _judge_dmarc(record: Record, found: list[str], resolver: Any) -> tuple[str, str]:
    dmarc = [text for text in found if _is_kind("DMARC", text)]
    if not dmarc:
        return MISSING, f"no v=DMARC1 TXT record at {record.name}"
    if len(dmarc) > 1:
        return MALFORMED, f"{len(dmarc)} DMARC records: receivers ignore them all"
    tags = _tags(dmarc[0])
    if tags.get("p", "").lower() not in ("none", "quarantine", "reject"):
        return MALFORMED, "no valid policy (p=none, quarantine or reject)"
    for key in ("rua", "ruf"):
        for uri in filter(None, (u.strip() for u in tags.get(key, "").split(","))):
            if not uri.lower().startswith("mailto:"):
                return MALFORMED, f"{key}={uri} has no mailto: (reports are never sent)"
    wanted = _tags(record.value)
    if tags.get("p", "").lower() != wanted["p"] or (
        "rua" in wanted and wanted["rua"].lower() not in tags.get("rua", "").lower()
    ):
        return DIFFERENT, f"the stack wants {record.value!r}"
    return OK, ""


def _judge_report(record: Record, found: list[str], resolver: Any) -> tuple[str, str]:
    if any(_is_kind("RUA", text) for text in found):
        return OK, ""
    return MISSING, (
        f"without it, receivers send no reports for {record.domain} to "
        f"{record.name.rpartition('._report._dmarc.')[2]}"
    )
