"""The README's key tables are the screens' bindings: a key added, removed or renamed in the code
without the README (or the other way round) fails here. `python -m tests.pilot.test_readme_keys`
prints the tables to paste."""

from __future__ import annotations

import re
from pathlib import Path

from textual.binding import Binding
from textual.dom import DOMNode

from widgets.accounts import AccountsScreen
from widgets.app import ConsoleApp
from widgets.jobs import JobsScreen
from widgets.logs.view import LogsScreen
from widgets.mailboxes import MailboxesScreen
from widgets.overview import OverviewScreen
from widgets.queue import QueueScreen
from widgets.rules.view import RulesScreen
from widgets.services import ServicesScreen

README = Path(__file__).resolve().parents[2] / "README.md"
SCREENS: dict[str, type[DOMNode]] = {
    "app": ConsoleApp,
    "services": ServicesScreen,
    "queue": QueueScreen,
    "logs": LogsScreen,
    "rules": RulesScreen,
    "accounts": AccountsScreen,
    "overview": OverviewScreen,
    "jobs": JobsScreen,
    "mailboxes": MailboxesScreen,
}
"""The README's `<!-- keys:NAME -->` blocks and the class whose BINDINGS each one lists."""
NAMES = {
    "slash": "/",
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "plus": "+",
    "minus": "-",
    "space": "space",
    "enter": "Enter",
    "escape": "Esc",
    "left": "←",
    "right": "→",
    "up": "↑",
    "down": "↓",
}


def key_text(key: str) -> str:
    """A Textual key name as the README writes it: `/`, `ctrl+s`, `F2`, `R`."""
    if key in NAMES:
        return NAMES[key]
    if re.fullmatch(r"f\d+", key):
        return key.upper()
    return key


def table(cls: type[DOMNode]) -> str:
    """The markdown table of a class's own bindings (those with a description), in their order."""
    rows = ["| key | what it does |", "|---|---|"]
    for binding in cls.BINDINGS:
        assert isinstance(binding, Binding)
        if binding.description:
            keys = " or ".join(f"`{key_text(k)}`" for k in binding.key.split(","))
            rows.append(f"| {keys} | {binding.description} |")
    return "\n".join(rows)


def readme_table(name: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- keys:{name} -->\n(.*?)\n<!-- /keys -->", text, re.S)
    assert match, f"README.md has no <!-- keys:{name} --> table"
    return match.group(1).strip()


def test_every_screen_has_its_keys_in_the_readme() -> None:
    for name, cls in SCREENS.items():
        assert readme_table(name) == table(cls), (
            f"README.md's keys of {name} differ from {cls.__name__}.BINDINGS; the table is:\n{table(cls)}"
        )


if __name__ == "__main__":
    for name, cls in SCREENS.items():
        print(f"<!-- keys:{name} -->\n{table(cls)}\n<!-- /keys -->\n")
