"""The lab's state changes as actions of the dispatcher (console/actions.py): `lab up` and `lab down`
start and stop a whole stack, so they are refused in read-only mode and audited like any other."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from console.lab import run
from console.lab.render import DEFAULT_PORT_BASE, LabConfig

if TYPE_CHECKING:
    from console.actions import ActionContext


def up_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """`lab.up`: target the lab's directory; params port_base, filters=yes. Steps go to ctx.progress."""
    cfg = LabConfig(
        Path(target),
        int(params.get("port_base", DEFAULT_PORT_BASE)),
        params.get("filters", "") == "yes",
    )
    info = run.up(cfg, progress=ctx.progress)
    return f"lab running in {info.dir} ({', '.join(info.programs)}) after {info.start_seconds} s"


def down_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """`lab.down`: target the lab's directory."""
    lab_dir = Path(target)
    was_running = run.running_pid(lab_dir.resolve()) is not None
    killed = run.down(lab_dir)
    if not (was_running or killed):
        return f"no lab was running in {lab_dir}"
    stopped = f"lab in {lab_dir} stopped"
    if killed:
        return (
            f"killed {len(killed)} process(es) left behind: {' '.join(map(str, killed))}; {stopped}"
        )
    return stopped
