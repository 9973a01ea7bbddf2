"""Ground truth from the real fdm: run it with every outside-world action replaced by a recorder.

fdm has no dry run. `recorder_config` splices `exec "echo 'NAME:ITEM' >> LOG"` over each pipe, exec,
maildir, mbox, write, append, smtp and stdout item (names, rules and order kept; drop, keep, tag and
header items stay real; a rewrite stays real with the echo run before its command), and `run_fdm` feeds one message to `fdm -m -vv -a stdin fetch`,
reading which rules matched, which action items ran and whether the mail was kept.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from console.fdm.parser import EXTERNAL_ITEMS, ActionItem, Config
from console.fdm.router import delivers

FDM = "/usr/bin/fdm"
FDM2 = os.environ.get("MAILCONSOLE_FDM2", "/var/cache/mailconsole/fdm-2.x/fdm")
"""fdm 2.x built from upstream by tests/setup.sh (no Debian package has it)."""
_MATCHED = re.compile(r": matched to rule (\d+)$")
_RUNNING = re.compile(r": message \d+, running action (.+):(\d+) \((\w[\w-]*)\) as user")
_KEPT = re.compile(r": (\d+) messages processed \((\d+) kept\)")


def recorder_config(config: Config, log_path: Path | str) -> str:
    """The config's own text with each outside-world action item replaced by an echo to log_path."""
    edits: list[tuple[int, int, str]] = []

    def record(name: str, index: int, item: ActionItem) -> None:
        echo = f"echo '{name}:{index}' >> {log_path}"
        if item.kind == "rewrite":
            # The rewrite stays real (later rules see its output): the echo runs first.
            source = config.text[item.span[0] : item.span[1]]
            argument = source[len("rewrite") :].strip()
            edits.append((item.span[0], item.span[1], f'rewrite "{echo}; " + {argument}'))
        elif item.kind in EXTERNAL_ITEMS:
            edits.append((item.span[0], item.span[1], f'exec "{echo}"'))

    for action in config.actions:
        for index, item in enumerate(action.items):
            record(action.name, index, item)
    for rule in config.all_rules():
        for index, item in enumerate(rule.inline or []):
            record(f"<rule {rule.index}>", index, item)
    text = config.text
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


@dataclass
class FdmRun:
    """What the real fdm did with one message."""

    exit_code: int
    matched_rules: list[int] = field(default_factory=list)
    runs: list[tuple[str, int]] = field(default_factory=list)
    """Every action item run, as `running action NAME:ITEM` says."""
    recorded: list[str] = field(default_factory=list)
    """What the recorders wrote, in order (`NAME:ITEM`)."""
    kept: bool | None = None
    error: bool = False
    output: str = ""

    def outcome(self, config: Config) -> str:
        """error, delivered (an item that puts the mail somewhere ran), kept or dropped."""
        if self.error:
            return "error"
        kinds = {
            (action.name, index): (item.kind, item.args)
            for action in config.actions
            for index, item in enumerate(action.items)
        }
        for rule in config.all_rules():
            for index, item in enumerate(rule.inline or []):
                kinds[(f"<rule {rule.index}>", index)] = (item.kind, item.args)
        for run in self.runs:
            kind, args = kinds.get(run, ("", []))
            if delivers(kind, args[0] if args else ""):
                return "delivered"
        return "kept" if self.kept else "dropped"


def run_fdm(
    conf_path: Path | str,
    message: bytes,
    log_path: Path | str,
    fdm: str = FDM,
    timeout: float = 30.0,
    defines: dict[str, str] | None = None,
) -> FdmRun:
    """Run the real fdm on one message with a recorder config; parse its -vv account of the run."""
    log = Path(log_path)
    log.unlink(missing_ok=True)
    log.touch(mode=0o666)
    log.chmod(0o666)
    proc = subprocess.run(
        [
            fdm,
            "-m",
            "-vv",
            "-a",
            "stdin",
            "-f",
            str(conf_path),
            *[f"-D{name}={value}" for name, value in (defines or {}).items()],
            "fetch",
        ],
        input=message,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    run = FdmRun(proc.returncode, output=output)
    for line in output.splitlines():
        if found := _MATCHED.search(line):
            run.matched_rules.append(int(found.group(1)))
        elif found := _RUNNING.search(line):
            run.runs.append((found.group(1), int(found.group(2))))
        elif found := _KEPT.search(line):
            run.kept = int(found.group(2)) > 0
        if (
            "fetching error" in line
            or "no actions matching" in line
            or "no accounts specified" in line
        ):
            run.error = True
    if proc.returncode != 0:
        run.error = True
    if log.exists():
        run.recorded = log.read_text(errors="replace").splitlines()
    return run
