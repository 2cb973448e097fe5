"""The base class of every source connector, and source URIs.

A connector turns one location (a folder, a file, an API base URL) into canonical tables
as Polars LazyFrames. Subclass :class:`Connector`, set ``scheme`` and ``tables``, implement
:meth:`Connector.read_table`, and register the class from a ``register_connectors`` hook.
The base class applies the canonical conversion rules (``crmetrics.canonical.conform``) so
that every source obeys them the same way, and caches each table for the run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from crmetrics.canonical import TableReport, conform
from crmetrics.errors import DataError, Issue, Location, UsageError
from crmetrics.model import TABLES


@dataclass
class RawTable:
    """Rows as a connector read them, before the canonical conversion.

    Attributes:
        frame: the rows, in source order (the last copy of a duplicate key wins).
        origin: where they came from, for messages (a file path or a URL).
        first_row: the number of the first row in the source (2 for a CSV with a header).
        on_error: ``"raise"`` to refuse the table on a bad value, ``"reject"`` to drop and
            count the offending rows (for sources whose quirks are expected, like CRM APIs).
        issues: warnings found while reading (e.g. unknown picklist values).
        rejected: rows the connector itself dropped, counted by reason.
    """

    frame: pl.DataFrame | pl.LazyFrame
    origin: str
    first_row: int = 1
    on_error: str = "raise"
    issues: Sequence[Issue] = ()
    rejected: Mapping[str, int] | None = None
    trusted: bool = False


class Connector(ABC):
    """A source of canonical tables.

    Attributes:
        scheme: the URI scheme that selects this connector (``csv`` in ``csv:DIR``).
        tables: the canonical tables this connector can produce.
        description: one line shown by ``crmetrics plugins``.
    """

    scheme: ClassVar[str]
    tables: ClassVar[tuple[str, ...]] = tuple(TABLES)
    description: ClassVar[str] = ""

    def __init__(self, location: str, options: Mapping[str, Any] | None = None) -> None:
        self.location = location
        self.options: Mapping[str, Any] = options or {}
        self._cache: dict[str, pl.LazyFrame] = {}
        self._reports: dict[str, TableReport] = {}

    @abstractmethod
    def available_tables(self) -> list[str]:
        """The canonical tables present at this location."""

    @abstractmethod
    def read_table(self, table: str) -> RawTable:
        """Read one canonical table's rows; names must already be the canonical ones."""

    def scan(self, table: str) -> pl.LazyFrame:
        """The canonical table ``table`` as a LazyFrame, converted and checked."""
        if table not in self._cache:
            if table not in self.available_tables():
                raise DataError(
                    Issue(
                        "missing-table",
                        f"source {self.scheme}:{self.location} has no table {table!r}",
                        Location(self.location),
                        hint=f"tables present: {', '.join(self.available_tables()) or 'none'}",
                    )
                )
            raw = self.read_table(table)
            if raw.trusted and isinstance(raw.frame, pl.LazyFrame):
                self._cache[table] = raw.frame
                self._reports[table] = TableReport(table, raw.origin)
                return raw.frame
            frame = raw.frame.collect() if isinstance(raw.frame, pl.LazyFrame) else raw.frame
            result = conform(
                TABLES[table],
                frame,
                origin=raw.origin,
                first_row=raw.first_row,
                on_error="reject" if raw.on_error == "reject" else "raise",
            )
            result.report.issues[:0] = list(raw.issues)
            if raw.rejected:
                result.report.rejected.update(raw.rejected)
                result.report.rows_read += sum(raw.rejected.values())
            self._reports[table] = result.report
            self._cache[table] = result.frame.lazy()
        return self._cache[table]

    def reports(self) -> list[TableReport]:
        """Reports of the tables read so far."""
        return list(self._reports.values())


@dataclass(frozen=True)
class SourceURI:
    """A parsed source URI: ``scheme:location``."""

    scheme: str
    location: str

    @classmethod
    def parse(cls, uri: str) -> SourceURI:
        scheme, sep, location = uri.partition(":")
        if not sep or not scheme or len(scheme) == 1:  # a Windows drive letter is no scheme
            raise UsageError(
                Issue(
                    "bad-source",
                    f"source {uri!r} has no scheme",
                    hint="write SCHEME:LOCATION, e.g. csv:data/ or parquet:warehouse/, "
                    "or 'sample' for the bundled sample data",
                )
            )
        return cls(scheme.lower(), location)

    def __str__(self) -> str:
        return f"{self.scheme}:{self.location}"
