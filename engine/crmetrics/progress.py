"""Progress events: what a run is reading, told to whoever listens, printed by nobody here.

The library never writes progress itself. Connectors and the engine call the methods of the
current :class:`Progress` (a silent one unless a caller installs another with
:func:`reporting`); the command line installs one that draws on a terminal's stderr. A
program can install its own to log or to drive a progress bar of its choosing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class Progress:
    """Receives progress events; every method does nothing here, subclasses pick what to show.

    Events of a live pull come in this order per object: :meth:`object_started`, then
    :meth:`page_read` once per page, then :meth:`object_done`; :meth:`retrying` whenever a
    request is retried. A whole evaluation is framed by :meth:`reading` and :meth:`finished`.
    """

    def object_started(self, service: str, name: str) -> None:
        """A live pull of the object ``name`` (e.g. ``Opportunity``) from ``service`` begins."""

    def page_read(self, service: str, name: str, records: int) -> None:
        """One more page of ``name`` arrived, holding ``records`` records."""

    def object_done(self, service: str, name: str) -> None:
        """Every page of ``name`` has arrived."""

    def retrying(self, service: str, reason: str, attempt: int, attempts: int, seconds: float) -> None:
        """A request to ``service`` failed for ``reason``; another comes in ``seconds``.

        ``attempt`` counts the retries from 1, up to ``attempts``.
        """

    def reading(self, description: str) -> None:
        """An evaluation starts; ``description`` says what it reads (source and tables)."""

    def finished(self) -> None:
        """The evaluation announced by :meth:`reading` ended (successfully or not)."""


_SILENT = Progress()
_current: ContextVar[Progress] = ContextVar("crmetrics_progress", default=_SILENT)


def current() -> Progress:
    """The progress listener of this context (a silent one unless :func:`reporting` set one)."""
    return _current.get()


@contextmanager
def reporting(progress: Progress | None) -> Iterator[Progress]:
    """Send the progress events of the enclosed code to ``progress`` (None: keep the current)."""
    if progress is None:
        yield current()
        return
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)


__all__ = ["Progress", "current", "reporting"]
