"""The Logs screen on the real lab: a delivery through the real smtpd shows its lines on the screen."""

from __future__ import annotations

import uuid

import pytest

from console.settings import load_settings
from tests.helpers import until
from tests.integration.conftest import RunningLab
from tests.integration.test_lab import send
from widgets.app import ConsoleApp
from widgets.logs.files import FileList
from widgets.logs.lines import LogLines
from widgets.logs.view import LogsScreen

pytestmark = pytest.mark.lab


def visible(app: ConsoleApp) -> str:
    view = app.query_one(LogLines)
    return "\n".join(view.render_line(y).text for y in range(view.scrollable_content_region.height))


async def test_a_delivery_through_smtpd_appears_on_the_logs_screen(lab: RunningLab) -> None:
    settings = load_settings(str(lab.settings_path), env={}).settings
    app = ConsoleApp(settings, initial_screen="logs")
    async with app.run_test(size=(200, 50)) as pilot:
        files = app.query_one("#log-files", FileList)
        names = [str(prompt) for prompt in files.prompts]
        assert any(name.startswith("smtpd.log") for name in names)
        assert any(name.startswith("supervisord.log") for name in names)  # supervisord's own log
        index = next(i for i, name in enumerate(names) if name.startswith("smtpd.log"))
        files.highlighted = index
        files.action_select()
        await until(
            pilot,
            lambda: (
                (followed := app.query_one(LogsScreen).followed) is not None
                and followed.path.name == "smtpd.log"
            ),
        )
        sender = f"logs-{uuid.uuid4().hex[:8]}@lab.test"
        send(lab, sender, "bob@example.com", "seen on the logs screen")
        # Its own delivery line (the lab's other mail puts other delivery lines on the screen too).
        # Its start: the end of a line longer than the view is off to the right, and how wide the
        # file list is depends on the names other tests left in the log directory.
        await until(
            pilot,
            lambda: any(
                f"from=<{sender}>" in line and "mda delivery" in line
                for line in visible(app).splitlines()
            ),
        )
        view = app.query_one(LogLines)
        assert view.source is not None
        delivered = [
            view.source.line(n).text
            for n in range(len(view.source))
            if f"from=<{sender}>" in view.source.line(n).text
            and "mda delivery" in view.source.line(n).text
        ]
        assert len(delivered) == 1 and delivered[0].endswith("result=Ok stat=Delivered")
