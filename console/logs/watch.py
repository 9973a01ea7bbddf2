"""Wake-ups for followed logs: watchfiles on their directories, and a slow poll as a fallback.

A watch on a single file is lost when the file is deleted and recreated, so the directory is
watched. Bind-mounted volumes may deliver no inotify events at all, hence the poll.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from console.errors import UserError
from console.logs.follow import FollowedLog, FollowEvent, Unavailable


class DirectoryWatch:
    """Calls `on_change(paths)` from a thread whenever something changes in one of `directories`."""

    def __init__(
        self, directories: Iterable[Path], on_change: Callable[[set[str]], object]
    ) -> None:
        self.directories = sorted({Path(d) for d in directories})
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-watch", daemon=True)

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        existing = [d for d in self.directories if d.is_dir()]
        if not existing:
            return
        import watchfiles  # here, in the thread: it costs the console's start-up 6 ms otherwise

        try:
            for changes in watchfiles.watch(
                *existing,
                watch_filter=None,
                debounce=20,
                # watchfiles looks for changes every `step` ms, taking the interpreter each time: 5 ms
                # cost an idle Logs screen 1.7 % of a core, 10 ms costs 0.9 % and 7 ms of follow latency.
                step=10,
                rust_timeout=500,
                stop_event=self._stop,
                recursive=False,
                raise_interrupt=False,
                ignore_permission_denied=True,
            ):
                self.on_change({path for _, path in changes})
        except (OSError, RuntimeError):
            return  # no inotify here: the poll in FollowThread still runs


class FollowThread:
    """Polls followed logs when their directory changes, and every `poll_interval` seconds anyway.

    `deliver(log, events)` is called from the thread with each batch; it must not touch a UI.
    """

    def __init__(
        self,
        logs: Iterable[FollowedLog],
        deliver: Callable[[FollowedLog, list[FollowEvent]], object],
        *,
        poll_interval: float = 1.0,
        batch_interval: float = 0.02,
    ) -> None:
        self.logs = list(logs)
        self.deliver = deliver
        self.poll_interval = poll_interval
        self.batch_interval = batch_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._errors: dict[int, str] = {}
        self._watch = DirectoryWatch((log.path.parent for log in self.logs), self._on_change)
        self._thread = threading.Thread(target=self._run, name="log-follow", daemon=True)

    def start(self) -> None:
        """Start watching and polling."""
        self._watch.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop both threads and wait for them."""
        self._stop.set()
        self._wake.set()
        self._watch.stop()
        if self._thread.is_alive():
            self._thread.join()

    def _on_change(self, paths: set[str]) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_interval)
            self._wake.clear()
            for log in self.logs:
                self._poll(log)
            self._stop.wait(self.batch_interval)

    def _poll(self, log: FollowedLog) -> None:
        try:
            events = log.poll()
        except (UserError, OSError) as exc:
            text = str(exc)
            if self._errors.get(id(log)) != text:
                self._errors[id(log)] = text
                self.deliver(log, [Unavailable(text)])
            return
        self._errors.pop(id(log), None)
        if events:
            self.deliver(log, events)
