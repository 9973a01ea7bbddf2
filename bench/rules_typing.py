"""Benchmark: keystroke-to-paint while the Rules screen re-lints and re-routes, against a bare TextArea.

Each app runs in a real terminal (tmux, through the shared harness's control-mode client); the bench
types into the editor one character at a time and times each key until tmux shows it. Pauses between
keys vary (50-400 ms) so the debounced lint+route worker runs while keys arrive. Configs: the article's
fdm.conf and a 500-rule one (lint+route about 0.25 s in the worker). Same run, same text, medians.

    python bench/rules_typing.py [--keys 60] [--size 160x50]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HARNESS = ROOT.parent / "shared" / "bench" / "tui_bench.py"
CORPUS = ROOT / "tests" / "fdm_corpus"
PAUSES = (0.05, 0.1, 0.32, 0.35, 0.4, 0.05, 0.2)
TYPED = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def serve(kind: str, conf: str) -> None:
    """Run one app in this terminal: the console on its Rules screen, or a bare TextArea."""
    text = Path(conf).read_text()
    if kind == "bare":
        from textual.app import App, ComposeResult
        from textual.widgets import TextArea

        class Bare(App[None]):
            def compose(self) -> ComposeResult:
                yield TextArea(text, show_line_numbers=True)

        Bare().run()
        return
    from console.settings import Settings
    from widgets.app import ConsoleApp

    tables = CORPUS / "tables"
    settings = Settings(
        fdm_config=Path(conf),
        table_addrs=tables / "addrs",
        table_vusers=tables / "vusers",
        table_vdomains=tables / "vdomains",
        table_userdb=tables / "userdb",
        audit_log=Path(conf).parent / "audit.log",
        supervisor_url="unix:///nonexistent/supervisor.sock",
        refresh_interval=3600,
    )
    ConsoleApp(settings, initial_screen="rules", hostname="bench").run()


def load_harness():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("tui_bench", HARNESS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_for(tmux, name: str, check, timeout: float = 20.0) -> float:  # type: ignore[no-untyped-def]
    """Poll the screen until check(screen) holds; the time it took."""
    start = time.perf_counter()
    while True:
        screen = tmux.capture(name) or ""
        if check(screen):
            return time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"timed out; screen was:\n{screen}")


def measure(tmux, kind: str, conf: Path, keys: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Type `keys` characters on the first line of the editor; each key's time to the screen."""
    name, _pid = tmux.new_session(
        f"exec {sys.executable} {__file__} --serve {kind} {conf}", cwd=str(ROOT)
    )
    try:
        ready = "rules matched" if kind == "rules" else "1  "
        wait_for(tmux, name, lambda s: ready in s)
        time.sleep(1.0)
        tmux.ctl.cmd(f"send-keys -t ={name}: -l '# '")
        wait_for(tmux, name, lambda s: "# " in s)
        times = []
        typed = "# "
        for index in range(keys):
            char = TYPED[index % len(TYPED)]
            typed += char
            start = time.perf_counter()
            tmux.ctl.cmd(f"send-keys -t ={name}: -l {char}")
            wait_for(tmux, name, lambda s, t=typed: t in s)
            times.append(time.perf_counter() - start)
            time.sleep(PAUSES[index % len(PAUSES)])
        return times
    finally:
        tmux.kill_session(name)


def summary(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return f"median {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   worst {ms[-1]:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=60)
    parser.add_argument("--size", default="160x50")
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "CONF"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    from fdm_route import big_config

    harness = load_harness()
    width, height = (int(v) for v in args.size.split("x"))
    tmux = harness.Tmux(width, height)
    work = Path(tempfile.mkdtemp(prefix="rules-typing-"))
    try:
        configs = {
            "article": (CORPUS / "configs" / "article.conf").read_text(),
            "500 rules": big_config(500),
        }
        print(
            f"keystroke-to-paint over {args.keys} keys at {args.size} (tmux {tmux.version}); "
            "pauses 50-400 ms so the route worker runs while typing"
        )
        for label, text in configs.items():
            conf = work / f"{label.replace(' ', '-')}.conf"
            conf.write_text(text)
            bare = measure(tmux, "bare", conf, args.keys)
            rules = measure(tmux, "rules", conf, args.keys)
            print(f"{label:>10}  bare TextArea  {summary(bare)}")
            print(f"{label:>10}  Rules screen   {summary(rules)}")
            print(
                f"{label:>10}  ratio (Rules / bare): median "
                f"{statistics.median(rules) / statistics.median(bare):.2f}, worst "
                f"{max(rules) / max(bare):.2f}"
            )
    finally:
        tmux.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
