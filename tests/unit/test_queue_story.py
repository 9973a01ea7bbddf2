"""The story of a queued message, on smtpd's own log of a real session (tests/captures/smtpctl)."""

from __future__ import annotations

import shutil
from pathlib import Path

from console.queue.story import message_story

CAPTURES = Path(__file__).resolve().parents[1] / "captures" / "smtpctl"


def story(tmp_path: Path, needles: list[str]) -> list[str]:
    shutil.copy(CAPTURES / "smtpd.log", tmp_path / "smtpd.log")
    return [f"{line.lineno}: {line.text}" for line in message_story(tmp_path, needles)]


def test_the_reason_a_delivery_failed_is_in_the_story(tmp_path: Path) -> None:
    """`mta error reason=...` names only its session; the failed deliveries name no session (the
    route failed), so the story takes the mta sessions to their relay since the message's previous
    line: the two attempts before the two TempFail rounds, not the later ones."""
    lines = story(tmp_path, ["ffb57d30"])
    assert "8: dbbf1e753040b11f mta error reason=IO Error: Connection refused" in lines
    assert "52: dbbf1e8c520edd73 mta error reason=IO Error: Connection refused" in lines
    assert not any(line.startswith(("87:", "106:")) for line in lines)  # after its last delivery


def test_the_receiving_session_is_followed_without_other_messages(tmp_path: Path) -> None:
    lines = story(tmp_path, ["ffb57d30"])
    numbers = [int(line.split(":")[0]) for line in lines]
    assert numbers[:6] == [2, 3, 4, 5, 6, 7]  # connected ... disconnected, then the attempt
    assert "2: dbbf1e719ae00df1 smtp connected address=127.0.0.1 host=localhost" in lines
    assert "6: dbbf1e719ae00df1 smtp disconnected reason=quit" in lines
    assert not any("d52b644b" in line or "6390cf06" in line for line in lines)
    assert "110: relay: Remove for ffb57d303dd4347e" in lines[-2]


def test_a_mda_failure_keeps_to_its_own_lines(tmp_path: Path) -> None:
    lines = story(tmp_path, ["6390cf06"])
    assert any('result=PermFail stat=Error ("lab permfail")' in line for line in lines)
    assert not any("mta error" in line for line in lines)  # the mda has no relay


def test_a_session_that_carried_two_messages_gives_each_only_its_own(tmp_path: Path) -> None:
    log = tmp_path / "smtpd.log"
    log.write_text(
        "aaaaaaaaaaaaaaaa smtp connected address=192.0.2.1 host=mx.example\n"
        "aaaaaaaaaaaaaaaa smtp message msgid=11111111 size=10 nrcpt=1 proto=ESMTP\n"
        "aaaaaaaaaaaaaaaa smtp envelope evpid=1111111100000001 from=<a@x> to=<b@y>\n"
        "aaaaaaaaaaaaaaaa smtp message msgid=22222222 size=10 nrcpt=1 proto=ESMTP\n"
        "aaaaaaaaaaaaaaaa smtp envelope evpid=2222222200000001 from=<a@x> to=<c@y>\n"
        "aaaaaaaaaaaaaaaa smtp disconnected reason=quit\n"
        "bbbbbbbbbbbbbbbb mta connecting address=smtp://198.51.100.7:25 host=mx.y\n"
        "bbbbbbbbbbbbbbbb mta delivery evpid=2222222200000001 from=<a@x> to=<c@y> rcpt=<-> "
        'source="-" relay="198.51.100.7" delay=1s result="TempFail" stat="451 try later"\n'
        "bbbbbbbbbbbbbbbb mta error reason=Connection closed unexpectedly\n"
    )
    texts = [line.text for line in message_story(tmp_path, ["22222222"])]
    assert not any("11111111" in text for text in texts)
    assert "aaaaaaaaaaaaaaaa smtp connected address=192.0.2.1 host=mx.example" in texts
    assert "bbbbbbbbbbbbbbbb mta error reason=Connection closed unexpectedly" in texts
    assert "bbbbbbbbbbbbbbbb mta connecting address=smtp://198.51.100.7:25 host=mx.y" in texts
