"""The base class of every source connector, and source URIs.

A connector turns one location (a folder, a file, an API base URL) into canonical tables
as Polars LazyFrames. Subclass :class:`Connector`, set ``scheme`` and ``tables``, implement
:meth:`Connector.read_table`, and register the class from a ``register_connectors`` hook.
The base class applies the canonical conversion rules (``crmetrics.canonical.conform``) so
that every source obeys them the same way, and caches each table for the run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from crmetrics.canonical import ROWS_CHECKED, CollectEngine, LazyConformed, TableReport, conform, conform_lazy
from crmetrics.checks_cache import ChecksCache
from crmetrics.errors import DataError, Issue, Location, UsageError
from crmetrics.model import TABLES

#: The Polars engines a run collects with: in memory, or streaming in batches.


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
        trusted: the frame is already canonical and checked; it is used as it is, and no
            rule of the model is checked on it.
        fingerprint: a key that changes whenever the rows do (see
            :func:`crmetrics.checks_cache.fingerprint`); with it, the verdict of the checks
            is remembered and an unchanged source is not checked again.
        null_counts: null counts per column that the source knows for certain (a Parquet
            footer's statistics); a required column known to hold none is not scanned.
        minimums: the smallest value of numeric columns, known for certain the same way;
            a rule that no value at or above it can break is not checked row by row.
        keys_may_rise: False when the source knows its key is not in strictly increasing
            order (a Parquet footer's key ranges overlap): the key is then hashed for
            duplicates in the checks' one pass, without first trying to prove it rises.
        rows_with_origin: reads the rows again with the column saying where each was read
            (:data:`crmetrics.canonical.ROW_ORIGIN`, e.g. a CSV file's line), for the
            messages about bad rows; called only when a check finds one. Without it the
            rows of ``frame`` are used.
    """

    frame: pl.DataFrame | pl.LazyFrame
    origin: str
    first_row: int = 1
    on_error: str = "raise"
    issues: Sequence[Issue] = ()
    rejected: Mapping[str, int] | None = None
    trusted: bool = False
    fingerprint: str | None = None
    null_counts: Mapping[str, int] | None = None
    minimums: Mapping[str, float] | None = None
    keys_may_rise: bool = True
    rows_with_origin: Callable[[], pl.DataFrame] | None = None


@dataclass(frozen=True)
class FileLocation:
    """Where a table's rows lie as files that a SQL engine can read in place.

    Attributes:
        path: one file, or a folder of files (Hive-partitioned folders allowed).
        format: the files' format; ``"parquet"`` is the one the engines read.
        fingerprint: as :attr:`RawTable.fingerprint`, keying the verdict of the checks.
        null_counts: as :attr:`RawTable.null_counts`.
        files: the files of a folder, in the order they are read; empty to let the engine
            list the folder's ``*.parquet`` files itself.
    """

    path: Path
    format: str
    fingerprint: str | None = None
    null_counts: Mapping[str, int] | None = None
    files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ColumnSpan:
    """What a source's metadata proves about a time column, without reading its rows.

    Attributes:
        first: the earliest value; None when the column holds no value.
        last: the latest value; None when the column holds no value.
        in_range: whether some value lies in the range asked about.
    """

    first: datetime | None
    last: datetime | None
    in_range: bool


@dataclass
class _ScanState:
    """What the base class remembers between scans; no subclass attribute can replace it."""

    cache: dict[str, pl.LazyFrame] = field(default_factory=dict)
    reports: dict[str, TableReport] = field(default_factory=dict)
    pending: dict[str, LazyConformed] = field(default_factory=dict)
    eager: set[str] = field(default_factory=set)
    #: Tables whose scan gives the source's rows as they are: read lazily, none dropped.
    in_place: set[str] = field(default_factory=set)
    deferring: bool = False
    trusting: bool = False
    #: Fingerprints of the tables whose checks are pending.
    unchecked: dict[str, str] = field(default_factory=dict)
    #: Fingerprints of the tables whose checks passed, now or on an earlier run.
    verified: dict[str, str] = field(default_factory=dict)
    checks_cache: ChecksCache | None = field(default_factory=ChecksCache.default)


#: Methods the base class relies on to convert and check every table the same way.
SEALED_METHODS: tuple[str, ...] = (
    "scan",
    "deferred_checks",
    "run_checks",
    "settle",
    "reports",
)


class Connector(ABC):
    """A source of canonical tables.

    A subclass sets the class attributes below, implements :meth:`available_tables` and
    :meth:`read_table`, and may use ``self.location`` and ``self.options``. The base class
    keeps its own state out of reach of subclass attributes, and refuses, when the
    subclass is defined, to let it replace the methods that convert and check tables
    (:data:`SEALED_METHODS`).

    Attributes:
        scheme: the URI scheme that selects this connector (``csv`` in ``csv:DIR``).
        tables: the canonical tables this connector can produce.
        description: one line shown by ``crmetrics plugins``.
    """

    scheme: ClassVar[str]
    tables: ClassVar[tuple[str, ...]] = tuple(TABLES)
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        clashes = [name for name in SEALED_METHODS if name in vars(cls)]
        if clashes:
            raise TypeError(
                f"connector {cls.__module__}.{cls.__qualname__} defines {', '.join(clashes)}, which "
                "the Connector base class uses to convert and check every table the same way; "
                "implement read_table() (and available_tables()) instead, and rename the "
                "attribute if it means something else"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SEALED_METHODS:
            raise TypeError(
                f"connector {type(self).__qualname__} sets the attribute {name!r}, which would hide "
                f"the Connector method {name}(); give the attribute another name"
            )
        super().__setattr__(name, value)

    def __init__(self, location: str, options: Mapping[str, Any] | None = None) -> None:
        self.location = location
        self.options: Mapping[str, Any] = options or {}

    @property
    def __state(self) -> _ScanState:
        # Name-mangled (``_Connector__state``) and created on first use, so that neither
        # a subclass attribute of the same short name nor a subclass __init__ that forgets
        # super().__init__() can take it away.
        state = self.__dict__.get("_Connector__scan_state")
        if state is None:
            state = self.__dict__["_Connector__scan_state"] = _ScanState()
        return state

    @property
    def checks_cache(self) -> ChecksCache | None:
        """Where verdicts of the data checks are remembered (the user's cache folder by
        default, see ``crmetrics.checks_cache``); None checks every table on every run."""
        return self.__state.checks_cache

    @checks_cache.setter
    def checks_cache(self, cache: ChecksCache | None) -> None:
        self.__state.checks_cache = cache

    @abstractmethod
    def available_tables(self) -> list[str]:
        """The canonical tables present at this location."""

    @abstractmethod
    def read_table(self, table: str) -> RawTable:
        """Read one canonical table's rows; names must already be the canonical ones."""

    def file_location(self, table: str) -> FileLocation | None:
        """Where ``table``'s rows lie as files a SQL engine can read itself, if they do.

        The DuckDB and Spark engines read such files in place, converting and checking them
        in SQL, instead of receiving the table from this connector. The default is None:
        the rows come through :meth:`scan`.
        """
        return None

    def column_span(self, table: str, column: str, start: datetime, end: datetime) -> ColumnSpan | None:
        """The span of ``table``'s time ``column`` and whether a value lies in ``[start, end)``,
        from the source's metadata (a Parquet footer's statistics), or None.

        Only for a table :meth:`reads_in_place`, whose scanned rows are the source's own,
        and only when the metadata proves the answer: None makes the caller read the
        column. The default is None.
        """
        return None

    def reads_in_place(self, table: str) -> bool:
        """Whether :meth:`scan` gave ``table``'s rows exactly as the source holds them: read
        lazily, with no row dropped, so that what the source's metadata says of its rows is
        true of the scanned table. False for a table not scanned yet."""
        return table in self.__state.in_place

    def scan(self, table: str) -> pl.LazyFrame:
        """The canonical table ``table`` as a LazyFrame, converted and checked.

        A table whose columns already have the canonical types (typed Parquet, frames from
        Python) stays lazy, so that a query reads only the columns and rows it needs; its
        rules are checked by a separate aggregate query (see :meth:`deferred_checks`). A
        table of text (CSV, CRM exports) is read and converted once, into memory, and
        checked there the same way; a table whose checks passed before (its fingerprint
        says it has not changed since) stays lazy. When a check fails, the table is
        converted and checked row by row, and every bad row is named or rejected.
        """
        if table not in self.__state.cache:
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
                self.__state.cache[table] = raw.frame
                self.__state.in_place.add(table)
                self.__state.reports[table] = TableReport(table, raw.origin)
                return raw.frame
            lazy = None
            if table not in self.__state.eager:
                lazy = conform_lazy(
                    TABLES[table],
                    raw.frame.lazy(),
                    origin=raw.origin,
                    known_nulls=raw.null_counts,
                    known_minimums=raw.minimums,
                    keys_may_rise=raw.keys_may_rise,
                )
            if lazy is not None:
                if not lazy.parsed:
                    # Typed rows read as they are; a failed check moves the table out again.
                    self.__state.in_place.add(table)
                self.__state.reports[table] = self._report(table, raw)
                if self.__state.trusting and not lazy.parsed:
                    self.__state.reports[table].issues.append(self._trust_notice(table, raw.origin))
                elif not self._remembered(table, raw.fingerprint):
                    if lazy.parsed:
                        # Checked text is parsed once, into memory, for the checks and the query.
                        lazy = self._materialised(lazy, raw)
                        if lazy is None:
                            return self._conform_now(table, raw)
                    return self._check_later(table, lazy, raw.fingerprint)
                self.__state.cache[table] = lazy.frame
                return lazy.frame
            return self._conform_now(table, raw)
        return self.__state.cache[table]

    def _check_later(self, table: str, lazy: LazyConformed, key: str | None) -> pl.LazyFrame:
        """Leave ``table``'s checks pending, or run them now outside :meth:`deferred_checks`."""
        self.__state.cache[table] = lazy.frame
        if key is not None:
            self.__state.unchecked[table] = key
        self.__state.pending[table] = lazy
        if not self.__state.deferring:
            self.settle(self.run_checks())
        return self.__state.cache[table]

    def _conform_now(self, table: str, raw: RawTable) -> pl.LazyFrame:
        """Convert and check ``table`` row by row, naming (or rejecting) every bad row."""
        if raw.rows_with_origin is not None:
            frame = raw.rows_with_origin()
        else:
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
            result.report.rejected_rows += sum(raw.rejected.values())
        self.__state.reports[table] = result.report
        self.__state.cache[table] = result.frame.lazy()
        return self.__state.cache[table]

    @staticmethod
    def _materialised(lazy: LazyConformed, raw: RawTable) -> LazyConformed | None:
        """``lazy`` read into memory; None when the rows cannot be read that way.

        The row-by-row path then reads them itself, and says what is wrong where.
        """
        try:
            return lazy.materialised()
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as error:
            if raw.rows_with_origin is not None:
                return None
            raise DataError(
                Issue("unreadable-file", f"cannot read {raw.origin}: {error}", Location(raw.origin))
            ) from None

    @staticmethod
    def _report(table: str, raw: RawTable) -> TableReport:
        report = TableReport(table, raw.origin, issues=list(raw.issues))
        if raw.rejected:
            report.rejected.update(raw.rejected)
            report.rejected_rows = sum(raw.rejected.values())
        return report

    def _remembered(self, table: str, key: str | None) -> bool:
        """Whether the checks already passed on exactly these rows; fills in the report if so."""
        if key is None or self.checks_cache is None:
            return False
        entry = self.checks_cache.get(key)
        if entry is None or not isinstance(entry.get(ROWS_CHECKED), int):
            return False
        self.__state.verified[table] = key
        report = self.__state.reports[table]
        report.rows_kept = entry[ROWS_CHECKED]
        report.rows_read = report.rows_kept + report.rejected_rows
        return True

    @staticmethod
    def _trust_notice(table: str, origin: str) -> Issue:
        return Issue(
            "trusted-table",
            f"{table}: rows not checked (--trust): duplicate keys, required and allowed values "
            "and cross-column rules are taken on trust",
            Location(origin),
            severity="warning",
        )

    @contextmanager
    def deferred_checks(self, *, trust: bool = False) -> Iterator[None]:
        """Within the block, :meth:`scan` leaves the checks of lazy tables pending.

        The caller runs its query, then :meth:`run_checks`, and hands the counts to :meth:`settle` before
        trusting any result: a query's result is only valid once ``settle`` returns no table
        to read again.

        With ``trust``, tables whose columns already have the canonical types get no row
        checks at all: the source vouches for its keys and values, and each such table's
        report carries a warning saying so. Tables that need converting are still checked.
        """
        saved = self.__state.deferring, self.__state.trusting
        self.__state.deferring, self.__state.trusting = True, trust
        try:
            yield
        finally:
            self.__state.deferring, self.__state.trusting = saved

    def run_checks(self, engine: CollectEngine = "auto") -> dict[str, pl.DataFrame]:
        """Run every pending check query now, one table at a time to bound memory."""
        return {
            table: lazy.counts(lazy.rule_checks.collect(engine=engine), engine)
            for table, lazy in self.__state.pending.items()
        }

    def settle(self, counts: Mapping[str, pl.DataFrame]) -> list[str]:
        """Apply check results; returns the tables that broke a rule and must be scanned again.

        Such a table is read eagerly on its next :meth:`scan`, which raises the
        :class:`DataError` naming the offending rows, or rejects them and drops duplicate
        keys with a warning, exactly as for a table that was never lazy.
        """
        again = []
        for table, frame in counts.items():
            lazy = self.__state.pending.pop(table, None)
            if lazy is None:
                continue
            row = frame.row(0, named=True)
            key = self.__state.unchecked.pop(table, None)
            if LazyConformed.clean(row):
                report = self.__state.reports[table]
                report.rows_kept = int(row[ROWS_CHECKED])
                report.rows_read = report.rows_kept + report.rejected_rows
                if key is not None and self.checks_cache is not None:
                    self.checks_cache.put(key, {ROWS_CHECKED: report.rows_kept})
                    self.__state.verified[table] = key
                continue
            self.__state.eager.add(table)
            self.__state.in_place.discard(table)
            self.__state.cache.pop(table, None)
            self.__state.reports.pop(table, None)
            again.append(table)
        if again and not self.__state.deferring:
            for table in again:
                self.scan(table)
        return again

    def verified_fingerprint(self, table: str) -> str | None:
        """The fingerprint under which ``table``'s clean verdict is cached, if it is.

        None for a table not scanned yet, read row by row, taken on trust, or whose source
        has no fingerprint: nothing derived from its rows may then be remembered.
        """
        if self.checks_cache is None or table in self.__state.eager:
            return None
        return self.__state.verified.get(table)

    def provider(self, table: str) -> str:
        """Which source provides ``table``, for ``inspect``: empty when there is only one."""
        return ""

    def reports(self) -> list[TableReport]:
        """Reports of the tables read so far."""
        return list(self.__state.reports.values())


@dataclass(frozen=True)
class SourceURI:
    """A parsed source URI: ``scheme:location``."""

    scheme: str
    location: str

    @classmethod
    def parse(cls, uri: str) -> SourceURI:
        """``SCHEME:LOCATION`` split at the first colon."""
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
