"""supervisord faults read as sentences; control bytes in log answers do not break XML parsing."""

from __future__ import annotations

import xmlrpc.client
from xml.parsers.expat import ExpatError

import pytest

from console.supervisor.client import Program, fault_sentence, xml_safe
from console.text import printable_lines


@pytest.mark.parametrize(
    "code, text, expected",
    [
        (60, "ALREADY_STARTED: dovecot", "Dovecot is already running"),
        (70, "NOT_RUNNING: dovecot", "Dovecot is not running"),
        (10, "BAD_NAME: nope", "There is no program named nope"),
        (50, "SPAWN_ERROR: clamd", "Clamd could not be spawned (see its log)"),
        (6, "SHUTDOWN_STATE", "Supervisord is shutting down"),
        (999, "WEIRD: thing", "supervisord refused: WEIRD: thing"),
    ],
)
def test_fault_sentences(code: int, text: str, expected: str) -> None:
    name = text.split(": ", 1)[1] if ": " in text else ""
    assert fault_sentence(xmlrpc.client.Fault(code, text), name) == expected


def test_xml_safe_makes_control_bytes_visible_and_parseable() -> None:
    body = (
        b"<?xml version='1.0'?><methodResponse><params><param><value><string>"
        b"\x1b[31mred\x1b[0m\x07</string></value></param></params></methodResponse>"
    )
    with pytest.raises(ExpatError):
        xmlrpc.client.loads(body)
    (value,), _ = xmlrpc.client.loads(xml_safe(body))
    assert value == "\u241b[31mred\u241b[0m\u2407"
    assert xml_safe(b"tab\tnl\ncr\r") == b"tab\tnl\ncr&#13;"


def test_a_carriage_return_in_program_output_stays_one_and_never_starts_a_line() -> None:
    """A real supervisord 4.3 answer to tailProcessStdoutLog (its bytes as sent): the program
    printed `bidi\r CR`; XML's end-of-line rule would read the CR as a line break, letting a
    program forge a line of its own on the Services screen."""
    body = (
        b"<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n"
        b"<value><string>out [bold]B[/bold] \x1b[31mESC\x1b]0;T\x07 \xe2\x80\xaebidi\r CR\n"
        b"</string></value>\n<value><int>138</int></value>\n<value><boolean>1</boolean></value>\n"
        b"</data></array></value>\n</param>\n</params>\n</methodResponse>\n"
    )
    (answer,), _ = xmlrpc.client.loads(xml_safe(body))
    assert isinstance(answer, list)
    text, offset, overflow = answer
    assert (offset, overflow) == (138, True)
    assert text == "out [bold]B[/bold] \u241b[31mESC\u241b]0;T\u2407 \u202ebidi\r CR\n"
    assert (
        printable_lines(text)
        == "out [bold]B[/bold] \u241b[31mESC\u241b]0;T\u2407 \\u202ebidi\\r CR\n"
    )


def test_program_names_and_uptime() -> None:
    info = {
        "name": "web",
        "group": "pool",
        "statename": "RUNNING",
        "pid": 7,
        "start": 100,
        "now": 3700,
        "description": "",
        "exitstatus": 0,
        "stdout_logfile": "/x",
    }
    program = Program.from_info(info)
    assert program.fullname == "pool:web"
    assert program.uptime_s == 3600
    lone = Program.from_info({**info, "group": "web", "statename": "STOPPED"})
    assert lone.fullname == "web" and lone.uptime_s is None
