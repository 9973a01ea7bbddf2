"""The queue against a real smtpd: fill it by relaying to a dead port, then retry, pause, remove,
and see it on the Queue screen.

smtpd runs in a private mount namespace (its control socket and spool paths are compiled in), held
open by a `sleep` so smtpd itself can be stopped to see the offline queue. smtpctl runs through the
`nsenter` prefix, the way settings.smtpctl is meant to be used. Needs root and OpenSMTPD: skipped
otherwise, but failed when the CI environment variable is set.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from console.actions import dispatch
from console.errors import ActionFailed, UserError
from console.queue.parse import Envelope
from console.queue.smtpctl import SmtpdDown, read_queue, read_status
from console.settings import Settings
from tests.helpers import top_screen, until, wait_for
from tests.pilot.test_queue_pilot import loaded, table
from tests.recorded import RecordedSupervisor
from widgets.app import ConsoleApp
from widgets.common.dialogs import ConfirmDialog
from widgets.queue import MESSAGE_SHOWN_CHARS, details_text


def _free_port() -> int:
    """A port nobody uses now: taken when smtpd starts, not when the module is collected, since the
    suite's other connections use ephemeral ports meanwhile (a fixed one collides with a second run)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


TOOLS = ("smtpd", "smtpctl", "unshare", "nsenter")

SMTPD_CONF = """\
listen on 127.0.0.1 port {port}
action "dead" relay host smtp://127.0.0.1:9
match from any for domain "unreachable.test" action "dead"
"""


def _missing() -> str:
    """Why this machine cannot run the test, or an empty string."""
    if os.geteuid() != 0:
        return "needs root (smtpctl and mount namespaces)"
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    return f"needs {', '.join(absent)}" if absent else ""


if _missing():
    if os.environ.get("CI"):
        pytest.fail(f"queue integration test cannot run under CI: {_missing()}", pytrace=False)
    pytest.skip(_missing(), allow_module_level=True)


@dataclass
class PrivateSmtpd:
    """An smtpd in its own mount namespace (own /var/spool and /run), stoppable and restartable."""

    dir: Path
    holder: subprocess.Popen[bytes]
    port: int
    smtpd: subprocess.Popen[bytes] | None = None

    @property
    def settings(self) -> Settings:
        return Settings(
            smtpctl=["nsenter", "--target", str(self.holder.pid), "--mount", "smtpctl"],
            audit_log=self.dir / "audit.log",
            operator="tester",
        )

    def start(self) -> None:
        """Start smtpd and wait until smtpctl and SMTP answer. A start that dies at once is tried again,
        twice: OpenSMTPD 6.8 can lose a child during its start-up handshake on a loaded machine (the
        parent then exits with "process queue socket closed"); supervisord in the lab retries the same
        way (startretries). A third death fails the test with smtpd's whole output."""
        (self.dir / "smtpd.conf").write_text(SMTPD_CONF.format(port=self.port))
        for attempt in range(3):
            with open(self.dir / "smtpd.log", "ab") as log:
                self.smtpd = subprocess.Popen(
                    [
                        "nsenter",
                        "--target",
                        str(self.holder.pid),
                        "--mount",
                        "smtpd",
                        "-d",
                        "-f",
                        str(self.dir / "smtpd.conf"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                )
            final = attempt == 2
            if (
                wait_for(functools.partial(self._answers, final), what="smtpd to answer smtpctl")
                != "died"
            ):
                break

        def listening() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True

        wait_for(listening, what="smtpd to listen")

    def _answers(self, final: bool) -> object:
        """smtpctl's answer once smtpd is up; "died" if smtpd exited (or the test fails, on the last try)."""
        if self.smtpd is not None and self.smtpd.poll() is not None:
            log = (self.dir / "smtpd.log").read_text(errors="replace").strip()
            if final:
                pytest.fail(
                    f"smtpd exited ({self.smtpd.returncode}) three times:\n{log or 'no output'}"
                )
            return "died"
        return read_status(self.settings)

    def stop(self) -> None:
        if self.smtpd is not None and self.smtpd.poll() is None:
            os.killpg(self.smtpd.pid, signal.SIGTERM)
            try:
                self.smtpd.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.smtpd.pid, signal.SIGKILL)
                self.smtpd.wait()
        self.smtpd = None


def _mounted(holder: subprocess.Popen[bytes]) -> bool:
    """Whether the holder has made its bind mounts: it becomes `sleep` only after both. smtpd entering
    the namespace before that would run on the host's /var/spool, or see /run replaced under it (its
    queue process then dies: "process queue socket closed")."""
    if holder.poll() is not None:
        pytest.fail(f"the namespace holder exited ({holder.returncode}): mount --bind failed")
    try:
        return Path(f"/proc/{holder.pid}/comm").read_text().strip() == "sleep"
    except OSError:
        return False


@pytest.fixture(scope="module")
def smtpd() -> Iterator[PrivateSmtpd]:
    """A fresh smtpd relaying unreachable.test to the dead port 127.0.0.1:9."""
    base = Path(tempfile.mkdtemp(prefix="mc-queue-"))
    (base / "spool").mkdir()
    (base / "run").mkdir()
    holder = subprocess.Popen(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            f"mount --bind {base}/spool /var/spool && mount --bind {base}/run /run && exec sleep 3600",
        ],
        start_new_session=True,
    )
    server = PrivateSmtpd(base, holder, _free_port())
    try:
        wait_for(lambda: _mounted(holder), what="the private mounts of the smtpd namespace")
        server.start()
        yield server
    finally:
        server.stop()
        holder.kill()
        holder.wait()
        shutil.rmtree(base, ignore_errors=True)


def send(port: int, sender: str, recipients: list[str]) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ", ".join(recipients), "queued"
    message.set_content("hello\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(message, from_addr=sender, to_addrs=recipients)


def envelopes(settings: Settings) -> dict[str, Envelope]:
    """The queue now, by recipient."""
    return {e.rcpt: e for e in read_queue(settings).envelopes}


QUEUED = {"carol@unreachable.test", "dave@unreachable.test", "a|b@unreachable.test"}


@pytest.fixture
def queued(smtpd: PrivateSmtpd) -> dict[str, Envelope]:
    """The same queue for every test, whatever ran before: emptied, the agents running, then two
    messages (carol and dave in one, a|b in the other) that have each failed once and wait."""
    smtpctl = smtpd.settings.smtpctl
    for command in (["remove", "all"], ["resume", "mta"], ["resume", "mda"], ["resume", "smtp"]):
        subprocess.run([*smtpctl, *command], capture_output=True, check=False)  # "already running"
    wait_for(lambda: not read_queue(smtpd.settings).envelopes, what="an empty queue")
    send(smtpd.port, "sender@lab.test", ["carol@unreachable.test", "dave@unreachable.test"])
    send(smtpd.port, "o|brien@lab.test", ["a|b@unreachable.test"])

    def all_failed_once() -> dict[str, Envelope] | None:
        queue = envelopes(smtpd.settings)
        waiting = set(queue) == QUEUED and all(
            e.runstate == "pending" and e.retry >= 1 for e in queue.values()
        )
        return queue if waiting else None

    return wait_for(
        all_failed_once,
        timeout=90,  # type: ignore[return-value]
        what="the three envelopes to fail once and wait",
    )


def test_filled_queue_is_parsed(smtpd: PrivateSmtpd, queued: dict[str, Envelope]) -> None:
    settings = smtpd.settings
    snapshot = read_queue(settings)
    assert snapshot.bad_lines == [] and snapshot.smtpd_running is True
    queue = {e.rcpt: e for e in snapshot.envelopes}
    assert set(queue) == {"carol@unreachable.test", "dave@unreachable.test", "a|b@unreachable.test"}
    assert queue["a|b@unreachable.test"].sender == "o|brien@lab.test"
    assert queue["carol@unreachable.test"].msgid == queue["dave@unreachable.test"].msgid
    assert {e.error for e in queue.values()} == {"Network error on destination MXs"}
    assert all(e.delay is not None and e.delay > 0 for e in queue.values())


def test_retry_now_makes_smtpd_try_again(smtpd: PrivateSmtpd, queued: dict[str, Envelope]) -> None:
    settings = smtpd.settings
    carol = queued["carol@unreachable.test"]
    outcome = dispatch(settings, "queue.schedule", carol.evpid)
    assert outcome == f"1 envelope scheduled ({carol.evpid})"
    wait_for(
        lambda: envelopes(settings)["carol@unreachable.test"].retry > carol.retry,
        timeout=60,
        what="a second delivery attempt",
    )


def test_pause_and_resume_an_envelope(smtpd: PrivateSmtpd, queued: dict[str, Envelope]) -> None:
    settings = smtpd.settings
    dave = queued["dave@unreachable.test"]
    assert dispatch(settings, "queue.pause", dave.evpid) == f"1 envelope paused ({dave.evpid})"
    assert envelopes(settings)["dave@unreachable.test"].state == "paused"
    with pytest.raises(ActionFailed, match="^0 envelopes paused"):
        dispatch(settings, "queue.pause", dave.evpid)
    assert dispatch(settings, "queue.resume", dave.evpid) == f"1 envelope resumed ({dave.evpid})"
    assert "suspend" not in envelopes(settings)["dave@unreachable.test"].flags


def test_pause_and_resume_a_subsystem(smtpd: PrivateSmtpd, queued: dict[str, Envelope]) -> None:
    settings = smtpd.settings
    assert dispatch(settings, "queue.pause_subsystem", "mta") == "mta paused"
    assert read_status(settings)["mta"] == "paused"
    with pytest.raises(ActionFailed, match=r"^mta is already paused"):
        dispatch(settings, "queue.pause_subsystem", "mta")
    assert dispatch(settings, "queue.resume_subsystem", "mta") == "mta resumed"
    assert read_status(settings)["mta"] == "running"
    with pytest.raises(ActionFailed, match=r"^mta is already running"):
        dispatch(settings, "queue.resume_subsystem", "mta")


def test_remove_a_message(smtpd: PrivateSmtpd, queued: dict[str, Envelope]) -> None:
    settings = smtpd.settings
    msgid = queued["carol@unreachable.test"].msgid
    assert dispatch(settings, "queue.remove", msgid) == f"2 envelopes removed ({msgid})"
    assert set(envelopes(settings)) == {"a|b@unreachable.test"}
    with pytest.raises(ActionFailed, match="^0 envelopes removed"):
        dispatch(settings, "queue.remove", msgid)


def test_the_details_show_a_huge_message_in_part(smtpd: PrivateSmtpd) -> None:
    """Anyone may queue a message of megabytes: drawing 10 MB of one froze the console for half a
    minute. The details keep the first part and say how to see the rest."""
    settings = smtpd.settings
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "big@lab.test", "x@unreachable.test", "big"
    message.set_content(("B" * 98 + "\n") * 30_000)  # 3 MB, lines SMTP allows
    with smtplib.SMTP("127.0.0.1", smtpd.port, timeout=30) as client:
        client.send_message(message, from_addr="big@lab.test", to_addrs=["x@unreachable.test"])
    envelope = wait_for(
        lambda: envelopes(settings).get("x@unreachable.test"), what="the big message queued"
    )
    try:
        whole = details_text(settings, envelope.msgid, body=True).plain
        assert len(whole) < MESSAGE_SHOWN_CHARS + 10_000
        assert (
            f"more characters, not shown here: mailconsole queue show {envelope.msgid} --body"
            in whole
        )
        head = details_text(settings, envelope.msgid, body=False).plain
        assert "Subject: big" in head and "not shown here" not in head
    finally:
        dispatch(settings, "queue.remove", envelope.msgid)


async def test_screen_shows_the_queue_and_pauses_mta(
    smtpd: PrivateSmtpd, queued: dict[str, Envelope]
) -> None:
    settings = smtpd.settings
    settings.refresh_interval = 3600
    app = ConsoleApp(settings, supervisor=RecordedSupervisor(), hostname="lab")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, app)
        assert {r.rcpt for r in table(app).rows if isinstance(r, Envelope)} == QUEUED
        summary = app.query_one("#queue-summary")
        await until(pilot, lambda: "mda mta smtp running" in str(summary.render()))
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert top_screen(app, ConfirmDialog).question == "Pause mta (now running)?"
        await pilot.press("y")
        await until(pilot, lambda: read_status(settings)["mta"] == "paused")
        await until(pilot, lambda: "mta paused" in str(summary.render()))
        await pilot.press("2")  # resuming needs no confirmation
        await until(pilot, lambda: read_status(settings)["mta"] == "running")
        await until(pilot, lambda: "mda mta smtp running" in str(summary.render()))


def test_smtpd_down_shows_the_offline_queue(
    smtpd: PrivateSmtpd, queued: dict[str, Envelope]
) -> None:
    settings = smtpd.settings
    smtpd.stop()
    try:
        snapshot = read_queue(settings)
        assert {e.rcpt for e in snapshot.envelopes} == QUEUED
        assert {(e.runstate, e.delay) for e in snapshot.envelopes} == {("offline", None)}
        assert snapshot.smtpd_running is False and "not running" in snapshot.problem
        with pytest.raises(SmtpdDown):
            read_status(settings)
        with pytest.raises(UserError, match="smtpd is not running"):
            dispatch(settings, "queue.schedule", "all")
    finally:
        smtpd.start()
    assert read_queue(settings).smtpd_running is True
