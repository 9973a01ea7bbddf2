"""Put mail into the lab's queue: test messages over SMTP to the lab's smtpd, one for each fate.

A local user's message is delivered (through fdm, into a Maildir); one to `unreachable.test` stays
queued (its relay is a port nothing listens on) with smtpd's error; one to `permfail.test` fails in
the mda and bounces back to its sender, a local user. That gives the Queue, Logs and Rules screens
something real to show.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from console.actions import ActionContext
from console.errors import UserError
from console.lab.run import read_info, running_pid


def lab_messages(info: Mapping[str, object]) -> list[tuple[str, str, str]]:
    """(recipient, subject, what happens to it) for each test message of a lab."""
    users = info.get("users")
    first = next(iter(users.values())) if isinstance(users, dict) and users else {}
    addresses = first.get("addresses") if isinstance(first, dict) else None
    local = str(addresses[0]) if isinstance(addresses, list) and addresses else "bob@example.com"
    return [
        (local, "lab: to a local user", "delivered by fdm into a Maildir"),
        (
            "someone@unreachable.test",
            "lab: to a dead relay",
            "stays queued: its relay 127.0.0.1:9 refuses (Network error on destination MXs)",
        ),
        (
            "someone@permfail.test",
            "lab: to a failing mda",
            f"the mda fails: bounced back to {local}",
        ),
    ]


def send_messages(lab_dir: Path) -> list[str]:
    """Submit the test messages to the lab's smtpd; one line per message saying where it goes.
    Only to a running lab: the port of a lab that is down may belong to another lab by now."""
    info = read_info(lab_dir)
    if running_pid(lab_dir.resolve()) is None:
        raise UserError(
            f"no lab is running in {lab_dir}: nothing sent "
            f"(`mailconsole lab up --dir {lab_dir}` brings it up)"
        )
    ports = info.get("ports")
    if not isinstance(ports, dict) or "smtp" not in ports:
        raise UserError(f"{lab_dir}/lab.json names no smtp port: bring the lab up again")
    messages = lab_messages(info)
    sender = messages[0][0]
    said: list[str] = []
    try:
        with smtplib.SMTP("127.0.0.1", int(ports["smtp"]), timeout=30) as smtp:
            for rcpt, subject, fate in messages:
                message = EmailMessage()
                message["From"], message["To"], message["Subject"] = sender, rcpt, subject
                message["Date"], message["Message-ID"] = (
                    formatdate(localtime=True),
                    make_msgid("lab"),
                )
                message.set_content(f"A test message from `mailconsole lab send`: {fate}.\n")
                smtp.send_message(message)
                said.append(f"{rcpt}: {fate}")
    except (OSError, smtplib.SMTPException) as exc:
        done = f" after {len(said)} sent" if said else ""
        raise UserError(
            f"cannot send to the lab's smtpd on 127.0.0.1:{ports['smtp']}{done}: "
            f"{exc} (is the lab up? `mailconsole lab status --dir {lab_dir}`)"
        ) from None
    return said


def send_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """The dispatcher's `lab.send`: target is the lab's directory."""
    return "sent " + "; ".join(send_messages(Path(target)))
