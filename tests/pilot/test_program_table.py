"""The Services screen's program table on its own: columns, wrapping, the cursor, hostile names."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult

from console.supervisor.client import Program
from tests.helpers import drawn
from widgets.services import ProgramTable

FATAL = "Exited too quickly (process log may have details); the last spawn failed with an error"


def program(name: str, state: str = "RUNNING", description: str = "", pid: int = 100) -> Program:
    running = state == "RUNNING"
    return Program.from_info(
        {
            "name": name,
            "group": name,
            "statename": state,
            "pid": pid if running else 0,
            "start": 1000 if running else 0,
            "now": 1065,
            "stop": 0 if running else 1000,
            "description": description or (f"pid {pid}, uptime 0:01:05" if running else ""),
            "exitstatus": 0 if running else 1,
        }
    )


class TableApp(App[None]):
    def __init__(self, programs: list[Program]) -> None:
        super().__init__()
        self.programs = programs
        self.chosen: list[int] = []

    def compose(self) -> ComposeResult:
        table = ProgramTable(id="programs")
        table.set_programs(self.programs)
        yield table

    def on_entry_list_selected(self, message: ProgramTable.Selected) -> None:
        self.chosen.append(message.index)


def screen_lines(app: App[Any]) -> list[str]:
    table = app.query_one(ProgramTable)
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_columns_line_up_and_a_long_description_wraps_in_its_column() -> None:
    app = TableApp(
        [program("dovecot"), program("spampd", "FATAL", FATAL), program("opensmtpd", pid=7)]
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot, app.query_one(ProgramTable), "opensmtpd")  # the last row: height auto
        lines = screen_lines(app)
        assert lines[0].split() == ["Program", "State", "PID", "Uptime", "Exit", "Description"]
        assert lines[1].split()[:4] == ["dovecot", "RUNNING", "100", "00:01:05"]
        at = lines[0].index("Description")
        # The FATAL description wraps onto lines of its own, all in the Description column.
        fatal = [
            line for line in lines[2:] if line.strip() and not line.lstrip().startswith("opensmtpd")
        ]
        assert len(fatal) >= 2 and fatal[0].split()[:2] == ["spampd", "FATAL"]
        assert " ".join(line[at:].strip() for line in fatal) == FATAL
        assert all(not line[:at].strip() for line in fatal[1:])
        assert all(len(line) == 80 for line in lines)
        assert app.query_one(ProgramTable).size.height == 1 + 1 + len(fatal) + 1  # height: auto


async def test_the_cursor_moves_and_stays_on_its_program_when_the_list_changes() -> None:
    app = TableApp([program("a"), program("b"), program("c")])
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(ProgramTable)
        assert table.selected == "a"
        await pilot.press("down", "down")
        assert table.selected == "c"
        await pilot.press("down")  # the last stays the last
        assert table.selected == "c"
        await pilot.press("home")
        assert table.selected == "a"
        await pilot.press("end", "enter")
        assert app.chosen == [2]
        table.set_programs([program("c", "STOPPED"), program("a"), program("z")])
        assert table.selected == "c" and table.cell("c", "state") == "STOPPED"
        table.set_programs([program("a"), program("z")])  # c went away: the cursor keeps its index
        assert table.selected == "a"
        await pilot.click(ProgramTable, offset=(2, 2))  # the second row, under the titles
        assert table.selected == "z" and app.chosen == [2, 1]


async def test_names_and_descriptions_are_shown_as_the_characters_they_are() -> None:
    app = TableApp([program("[red]x[/red]", "FATAL", "boom \x1b[31mred\x1b[0m [bold]b[/bold]")])
    async with app.run_test(size=(100, 10)) as pilot:
        await drawn(pilot, app.query_one(ProgramTable), "[red]x[/red]")
        row = screen_lines(app)[1]
        assert "[red]x[/red]" in row and "[bold]b[/bold]" in row
        assert "\x1b" not in row and "\\x1b[31mred" in row  # the escape is spelled out, not sent
