"""Progress on a terminal: what the command line shows on stderr while a run reads its data.

Only a terminal gets it: when stderr is a file or a pipe nothing is drawn, so logs and
scripts see the messages they always saw. A live pull from a CRM shows a line per object
with its pages, records and retries; a local run that takes more than a second says, in
one line, what it is reading.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from rich.console import Console

from crmetrics.progress import Progress

#: Seconds a local run may take before it says what it is reading.
QUIET_SECONDS = 1.0


class TerminalProgress(Progress):
    """Draws progress events on a rich console (the terminal's stderr).

    Args:
        console: where to draw; the command line passes a console on stderr.
        delay: seconds before a local run announces what it reads.
    """

    def __init__(self, console: Console, *, delay: float = QUIET_SECONDS) -> None:
        self.console = console
        self.delay = delay
        self._bar: Any = None
        self._tasks: dict[tuple[str, str], Any] = {}
        self._counts: dict[tuple[str, str], dict[str, int]] = {}
        self._current: tuple[str, str] | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def _display(self) -> Any:
        if self._bar is None:
            from rich.progress import Progress as Bar
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Bar(
                SpinnerColumn(finished_text="✓"),
                TextColumn("{task.description}"),
                TextColumn("{task.fields[pages]} pages"),
                TextColumn("{task.fields[records]:,} records"),
                TextColumn("{task.fields[retries]} retries"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self._bar.start()
        return self._bar

    def object_started(self, service: str, name: str) -> None:
        """Open a line for the object."""
        with self._lock:
            self._cancel_timer()
            bar = self._display()
            key = (service, name)
            self._counts[key] = {"pages": 0, "records": 0, "retries": 0}
            self._tasks[key] = bar.add_task(f"{service} {name}", total=None, **self._counts[key])
            self._current = key

    def _count(self, key: tuple[str, str] | None, **more: int) -> None:
        if key is None or key not in self._tasks:
            return
        counts = self._counts[key]
        for field, amount in more.items():
            counts[field] += amount
        self._bar.update(self._tasks[key], **counts)

    def page_read(self, service: str, name: str, records: int) -> None:
        """Count a page and its records on the object's line."""
        self._count((service, name), pages=1, records=records)

    def object_done(self, service: str, name: str) -> None:
        """Mark the object's line done."""
        task = self._tasks.get((service, name))
        if task is not None:
            self._bar.update(task, total=1, completed=1)

    def retrying(self, service: str, reason: str, attempt: int, attempts: int, seconds: float) -> None:
        """Count a retry and say why it happens."""
        self._count(self._current, retries=1)
        self.console.print(f"{service}: {reason}, retry {attempt} of {attempts} in {seconds:.1f} s")

    def reading(self, description: str) -> None:
        """Announce what is read if the run still goes on after ``delay`` seconds."""
        with self._lock:
            self._cancel_timer()
            self._timer = threading.Timer(self.delay, self._announce, [description])
            self._timer.daemon = True
            self._timer.start()

    def _announce(self, description: str) -> None:
        with self._lock:
            if self._bar is None:  # a live pull draws its own lines
                self.console.print(f"reading {description} …", highlight=False)

    def finished(self) -> None:
        """Stop the display and any pending announcement."""
        with self._lock:
            self._cancel_timer()
            if self._bar is not None:
                self._bar.stop()
                self._bar = None
                self._tasks.clear()
                self._counts.clear()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def terminal_progress() -> TerminalProgress | None:
    """A progress display on stderr when stderr is a terminal; None (silence) otherwise."""
    if not sys.stderr.isatty():
        return None
    return TerminalProgress(Console(stderr=True))
