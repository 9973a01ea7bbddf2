"""Replays what the lab's real supervisord answered (tests/recordings/), for screens that must not vary.

Snapshot tests need fixed pids, uptimes and output; everything else talks to a real supervisord.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from console.mailbox.model import Folder, Mailbox, MessageSummary
from console.supervisor.client import LogChunk, Program, Snapshot, SupervisorUnavailable
from tests.helpers import until

RECORDING = Path(__file__).parent / "recordings" / "supervisor-lab.json"
URL = "unix:///run/supervisor.sock"


class RecordedSupervisor:
    """Answers snapshot/tail/main_log with a recording of the lab; `down` answers like a dead socket."""

    def __init__(self, down: bool = False, path: Path = RECORDING) -> None:
        self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self.down = down

    def _check(self) -> None:
        if self.down:
            raise SupervisorUnavailable(
                "supervisord is not running: no socket at /run/supervisor.sock"
            )

    def snapshot(self) -> Snapshot:
        self._check()
        programs = tuple(Program.from_info(info) for info in self.data["processes"])
        return Snapshot(URL, self.data["state"]["statename"], self.data["version"], programs, 0.0)

    def tail(self, name: str, offset: int, length: int, stream: str = "stdout") -> LogChunk:
        self._check()
        text = self.data["tails"].get(name, "") if stream == "stdout" and offset == 0 else ""
        return LogChunk(text, len(text.encode()), False)

    def main_log(self, offset: int, length: int) -> str:
        self._check()
        return str(self.data["main_log"])


async def supervisor_answered(pilot: Any) -> None:
    """Wait until the console has shown supervisord's first answer (or its absence) in the header:
    the Services screen polls from a thread of its own, which Textual's workers do not include."""
    app = pilot.app
    await until(
        pilot,
        lambda: (
            "services" in app.screen_widgets
            and app.screen_widgets["services"].connected is not None
        ),
        what="supervisord's first answer on the Services screen",
    )
    await pilot.pause()


MAILBOXES = Path(__file__).parent / "recordings" / "mailboxes-lab.json"


class RecordedMailboxes:
    """The Mailboxes screen's source (widgets.mailboxes.source.MailSource) answering with what the
    lab answered: bob over IMAP, sysmail from its Maildir; `refused` accounts answer with the lab's
    login refusal."""

    def __init__(self, refused: tuple[str, ...] = ()) -> None:
        self.data: dict[str, Any] = json.loads(MAILBOXES.read_text(encoding="utf-8"))
        self.refused = refused

    def _check(self, account: str) -> None:
        from console.errors import UserError

        if account in self.refused:
            raise UserError(self.data["login_refused"].replace("bob", account))

    def account_names(self) -> list[str]:
        return list(self.data["accounts"])

    def folders(self, account: str) -> Mailbox:
        self._check(account)
        box = dict(self.data["accounts"][account])
        box["folders"] = [Folder(**folder) for folder in box["folders"]]
        return Mailbox(**box)

    def messages(
        self, account: str, folder: str, limit: int, skip: int
    ) -> tuple[int, list[MessageSummary]]:
        from console.mailbox.listing import needs_imap

        self._check(account)
        if self.data["accounts"][account]["source"] != "imap":
            raise needs_imap(account)
        page = self.data["messages"].get(f"{account}/{folder}", {"total": 0, "messages": []})
        newest = [MessageSummary(**m) for m in page["messages"]][skip : skip + limit]
        return int(page["total"]), newest
