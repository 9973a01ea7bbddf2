"""Benchmark: the Mailboxes screen on an account with 20 folders and 10,000 messages in its INBOX.

Figure: from the first login to the first screenful (the folder list with its 20 folders and the
INBOX's newest page of messages drawn), the console's own Textual app run headless at 80x24, timed by
the screen's own events (`MailboxesScreen.figures`). Target: within 1 s of the login. Baselines in the
same rounds: the same screen on an account with 20 folders of 10 messages, and a bare imapclient
session doing the same IMAP work (login, LIST, a STATUS per folder, SELECT, FETCH of the newest page)
with nothing drawn.

The folders are filled over IMAP with MULTIAPPEND (1,000 messages a command), so Dovecot indexes them
as it does delivered mail. Needs root (the lab). Run from the repository root:
`python bench/mailboxes_bench.py [--rounds N] [--messages N] [--lab-dir DIR --port-base N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compile_sources, lab_programs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FOLDERS = 20
BATCH = 1000
PAGE_TIMEOUT_S = 60.0


def message(number: int, folder: str) -> bytes:
    """One plausible delivered message: spampd's and clamsmtpd's headers, a few lines of body."""
    sent = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() + 60 * number
    return (
        f"Return-Path: <sender{number % 97}@example.org>\r\n"
        f"From: Sender {number % 97} <sender{number % 97}@example.org>\r\n"
        f"To: bob@example.com\r\nSubject: message {number} in {folder}\r\n"
        f"Date: {format_datetime(datetime.fromtimestamp(sent, timezone.utc))}\r\n"
        f"Message-ID: <{number}.{folder}@bench.example>\r\n"
        f"X-Spam-Flag: {'YES' if number % 10 == 0 else 'NO'}\r\n"
        f"X-Spam-Status: {'Yes, score=9.1' if number % 10 == 0 else 'No, score=0.4'} "
        "required=5.0 tests=BAYES_00 autolearn=ham\r\n"
        "X-Virus-Scanned: ClamAV using ClamSMTP\r\n\r\n" + "body line\r\n" * 20
    ).encode()


def fill(host: str, port: int, user: str, password: str, inbox: int, others: int) -> None:
    """`user`'s INBOX with `inbox` messages and FOLDERS - 1 more folders with `others` each, unless
    it holds that already (a run after the first reuses them)."""
    from imapclient import IMAPClient

    with IMAPClient(host, port=port, ssl=False, timeout=120) as client:
        client.login(user, password)
        names = ["INBOX", *(f"Folder{n:02d}" for n in range(1, FOLDERS))]
        for name in names:
            wanted = inbox if name == "INBOX" else others
            if not client.folder_exists(name):
                client.create_folder(name)
            have = int(client.folder_status(name, ["MESSAGES"])[b"MESSAGES"])
            batch: list[dict[str, object]] = []
            for number in range(have, wanted):
                flags = [b"\\Seen"] if number % 3 else []
                batch.append({"msg": message(number, name), "flags": flags})
                if len(batch) == BATCH or number == wanted - 1:
                    client.multiappend(name, batch)
                    batch = []


def imap_baseline(settings: object, account: str) -> float:
    """Seconds for the screen's IMAP work with nothing drawn: login, the folders with their counts,
    SELECT and FETCH of the newest page (the core's own functions)."""
    from console.mailbox.credentials import login_for
    from console.mailbox.imap import connected, latest_messages, list_folders
    from widgets.mailboxes import PAGE

    started = time.monotonic()
    login = login_for(settings, account)  # type: ignore[arg-type]
    assert login is not None
    with connected(settings, login) as client:  # type: ignore[arg-type]
        list_folders(client)
        latest_messages(client, "INBOX", PAGE)
    return time.monotonic() - started


async def first_screenful(settings: object, account: str) -> tuple[float, float]:
    """Seconds from the first login to the folders drawn and to the INBOX's first page drawn, on
    the console's own app (headless, 80x24), by the screen's own events."""
    from widgets.app import ConsoleApp
    from widgets.mailboxes import MailboxesScreen
    from widgets.mailboxes.source import LiveSource

    class OneAccount(LiveSource):
        """The account measured, alone (the lab has others)."""

        def account_names(self) -> list[str]:
            super().account_names()
            return [account]

    app = ConsoleApp(
        settings,  # type: ignore[arg-type]
        initial_screen="mailboxes",
        hostname="bench",
        mailboxes={"source": OneAccount(settings)},  # type: ignore[arg-type]
    )
    async with app.run_test(size=(80, 24)) as pilot:
        deadline = time.monotonic() + PAGE_TIMEOUT_S
        view = app.query_one(MailboxesScreen)
        while not {"login", "folders", "messages"} <= set(view.figures):
            if time.monotonic() > deadline:
                raise SystemExit(f"no first screenful within {PAGE_TIMEOUT_S:g} s: {view.figures}")
            await pilot.pause(0.01)
        figures = dict(view.figures)
    return figures["folders"] - figures["login"], figures["messages"] - figures["login"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--lab-dir", default="/tmp/mailconsole-bench-mailboxes")
    parser.add_argument("--port-base", default="22400")
    args = parser.parse_args()
    os.environ.setdefault("TZ", "UTC0")
    time.tzset()
    compile_sources()
    from console.lab.render import LAB_PASSWORDS
    from console.settings import load_settings

    with lab_programs(args.lab_dir, args.port_base):
        settings = load_settings(config=str(Path(args.lab_dir) / "mailconsole.toml")).settings
        plain_port = int(settings.imap_port) - 1  # the lab's imap listener sits below imaps
        started = time.monotonic()
        fill("127.0.0.1", plain_port, "bob", LAB_PASSWORDS["bob"], args.messages, 10)
        fill("127.0.0.1", plain_port, "sysmail", LAB_PASSWORDS["sysmail"], 10, 10)
        print(f"folders filled in {time.monotonic() - started:.1f} s (reused when already there)")
        imap_baseline(settings, "bob")  # warm-up: Dovecot's caches, the interpreter's imports
        asyncio.run(first_screenful(settings, "bob"))
        rows: dict[str, list[float]] = {k: [] for k in ("big", "small", "big_f", "imap")}
        for _ in range(args.rounds):
            big_folders, big = asyncio.run(first_screenful(settings, "bob"))
            _small_folders, small = asyncio.run(first_screenful(settings, "sysmail"))
            rows["big"].append(big)
            rows["big_f"].append(big_folders)
            rows["small"].append(small)
            rows["imap"].append(imap_baseline(settings, "bob"))
    med = {k: statistics.median(v) for k, v in rows.items()}
    ratios = [b / s for b, s in zip(rows["big"], rows["small"], strict=True)]
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"first screenful, {FOLDERS} folders with {args.messages:,} in INBOX: median "
        f"{med['big'] * 1000:.0f} ms from the login (slowest {max(rows['big']) * 1000:.0f} ms; "
        f"folders drawn at {med['big_f'] * 1000:.0f} ms), target 1,000 ms"
    )
    print(
        f"baseline, {FOLDERS} folders with 10 in INBOX: median {med['small'] * 1000:.0f} ms; "
        f"ratio {statistics.median(ratios):.2f} (median of the rounds' ratios)"
    )
    print(
        f"baseline, the same IMAP work bare (no screen): median {med['imap'] * 1000:.0f} ms; "
        f"the screen adds {(med['big'] - med['imap']) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
