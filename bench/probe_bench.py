#!/usr/bin/env python3
"""The delivery probe's round trip on the lab (smtpd accepted it -> visible over IMAP), median of
the rounds, with each hop's share; against a bare loop in the same rounds: an SMTP send, then an
IMAP search for its Message-ID every 10 ms on one open connection, without the probe's tracking.

Each round runs one probe (through the dispatcher, as `mailconsole probe` does, the message
removed afterwards) and one bare send (its message removed too), in alternating order. Printed:
the probe's accepted -> visible median and its hops' shares (the median of each hop's interval,
as a share of their sum), the sent -> visible medians of both sides and the median of the
rounds' ratios. Brings a lab up (with --filters: clamsmtpd and spampd on the path) or uses the
one in --dir.

    .venv/bin/python bench/probe_bench.py [--dir /tmp/mc-probe-bench] [--rounds 20] [--filters]
"""

from __future__ import annotations

import argparse
import smtplib
import statistics
import sys
import time
import uuid
from email.message import EmailMessage

from common import mailconsole
from imapclient import IMAPClient

from console.lab.render import LAB_PASSWORDS, PORT_OFFSETS
from console.mailbox.probe import ProbeOptions, dispatch_probe
from console.settings import load_settings


def bare_round_trip(smtp_port: int, imap: IMAPClient) -> float:
    """Seconds from the SMTP send to the message being found in bob's INBOX (polled every 10 ms on
    an open connection); the message is removed afterwards."""
    message_id = f"bench.{uuid.uuid4().hex}@mailconsole"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "bench@localhost", "bob@example.com", "b"
    message["Message-ID"] = f"<{message_id}>"
    message.set_content("a bare round trip\n")
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
        smtp.send_message(message)
    deadline = started + 60
    while True:
        imap.noop()
        uids = imap.search(["HEADER", "Message-ID", message_id])
        if uids:
            seconds = time.perf_counter() - started
            imap.delete_messages(uids)
            imap.uid_expunge(uids)
            return seconds
        if time.perf_counter() > deadline:
            raise SystemExit("the bare message never showed up in bob's INBOX")
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/mc-probe-bench")
    parser.add_argument("--port-base", default="20950")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--filters", action="store_true")
    a = parser.parse_args()

    started = False
    if mailconsole("lab", "status", "--dir", a.dir).returncode != 0:
        extra = ["--filters"] if a.filters else []
        up = mailconsole("lab", "up", "--dir", a.dir, "--port-base", a.port_base, *extra)
        if up.returncode != 0:
            raise SystemExit(up.stderr.strip())
        started = True
    settings = load_settings(config=f"{a.dir}/mailconsole.toml", env={}).settings
    smtp_port = int(settings.smtp_address.rpartition(":")[2])
    imap_port = smtp_port - PORT_OFFSETS["smtp"] + PORT_OFFSETS["imap"]  # the lab's plain IMAP
    imap = IMAPClient("127.0.0.1", imap_port, ssl=False, timeout=30)
    imap.login("bob", LAB_PASSWORDS["bob"])
    imap.select_folder("INBOX")
    probe_total: list[float] = []
    probe_sent: list[float] = []
    bare: list[float] = []
    ratios: list[float] = []
    intervals: dict[str, list[float]] = {}
    try:
        dispatch_probe(settings, "bob@example.com")  # warm-up: imports, page cache
        bare_round_trip(smtp_port, imap)
        for n in range(a.rounds):
            order = ["probe", "bare"] if n % 2 == 0 else ["bare", "probe"]
            this_round: dict[str, float] = {}
            for side in order:
                if side == "bare":
                    this_round["bare"] = bare_round_trip(smtp_port, imap)
                    continue
                t0 = time.perf_counter()
                result = dispatch_probe(settings, "bob@example.com", ProbeOptions(timeout=60))
                if not result.as_predicted or result.total is None:
                    raise SystemExit(f"the probe: {result.outcome}: {result.verdict}")
                hops = {hop.name: hop.at for hop in result.hops}
                this_round["probe"] = hops["imap"]  # from the probe's start: its setup counts
                this_round["probe_wall"] = time.perf_counter() - t0
                probe_total.append(result.total)
                names = [hop.name for hop in result.hops if hop.name not in ("removed",)]
                for before, after in zip(names, names[1:], strict=False):
                    intervals.setdefault(after, []).append(hops[after] - hops[before])
            probe_sent.append(this_round["probe"])
            bare.append(this_round["bare"])
            ratios.append(this_round["probe"] / this_round["bare"])
            print(
                f"round {n + 1}: probe sent->visible {this_round['probe'] * 1000:.0f} ms "
                f"(whole probe {this_round['probe_wall'] * 1000:.0f} ms), "
                f"bare {this_round['bare'] * 1000:.0f} ms, ratio {ratios[-1]:.2f}"
            )
    finally:
        imap.logout()
        if started:
            mailconsole("lab", "down", "--dir", a.dir)
    medians = {name: statistics.median(values) for name, values in intervals.items()}
    whole = sum(medians.values())
    shares = ", ".join(
        f"{name} {value * 1000:.0f} ms ({value / whole:.0%})" for name, value in medians.items()
    )
    print(
        f"probe accepted->visible: median {statistics.median(probe_total) * 1000:.0f} ms "
        f"over {len(probe_total)} rounds, slowest {max(probe_total) * 1000:.0f} ms"
    )
    print(f"hops (median interval to each from the one before, share): {shares}")
    print(
        f"sent->visible: probe median {statistics.median(probe_sent) * 1000:.0f} ms, "
        f"bare send + IMAP search loop median {statistics.median(bare) * 1000:.0f} ms; "
        f"ratio probe/bare: median of rounds {statistics.median(ratios):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
