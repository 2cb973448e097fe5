"""The canonical CSV and Parquet folder connectors, and the bundled sample data.

A folder holds one file per canonical table, named after it (``customers.csv``,
``deals.parquet``, ...), with the canonical column names. Extra columns are kept.
"""

from __future__ import annotations

import io
from datetime import datetime
from importlib import resources
from pathlib import Path

import polars as pl

from crmetrics.canonical import with_line_origin
from crmetrics.checks_cache import fingerprint, fingerprint_of
from crmetrics.connector import ColumnSpan, Connector, FileLocation, RawTable
from crmetrics.errors import DataError, Issue, Location
from crmetrics.hookspecs import hookimpl
from crmetrics.key_order import footers_allow_rise
from crmetrics.model import TABLES
from crmetrics.parquet_footer import column_statistics, timestamp_ranges


class _FolderConnector(Connector):
    suffix: str

    @property
    def folder(self) -> Path:
        return Path(self.location or ".")

    def available_tables(self) -> list[str]:
        if not self.folder.is_dir():
            raise DataError(
                Issue(
                    "missing-source",
                    f"{self.folder} is not a folder",
                    Location(str(self.folder)),
                    hint=f"point {self.scheme}: at a folder holding files such as "
                    f"customers{self.suffix}, deals{self.suffix}, ...",
                )
            )
        return [name for name in TABLES if (self.folder / f"{name}{self.suffix}").is_file()]

    def path(self, table: str) -> Path:
        return self.folder / f"{table}{self.suffix}"


class CsvConnector(_FolderConnector):
    """Canonical CSV files: a header line, comma-separated, UTF-8, empty cell = null."""

    scheme = "csv"
    suffix = ".csv"
    description = "a folder of canonical CSV files (customers.csv, deals.csv, ...)"

    def read_table(self, table: str) -> RawTable:
        """The file of ``table`` in the folder, every value read as text.

        The file is scanned, not read: when its checks passed on an earlier run (see
        ``crmetrics.checks_cache``), a query parses only the columns it uses. Otherwise it
        is read once and checked in memory; only when a check fails is it read again with
        the line of each record, for the messages.
        """
        path = self.path(table)
        if _is_blank(path):
            # A table export with no record may be written without even its header line;
            # it is the table with no rows, and is reported as such like a header alone.
            columns = TABLES[table].column_names
            empty = pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
            return RawTable(with_line_origin(empty, str(path)), str(path), first_row=2)
        source = _with_line_feeds(path)
        if isinstance(source, io.BytesIO):
            return RawTable(_read_csv_text(source, path), str(path), first_row=2)
        try:
            # Everything is read as text: the canonical conversion parses it, so that a bad
            # value is reported with its row rather than guessed by type inference.
            frame = pl.scan_csv(path, infer_schema=False)
            frame.collect_schema()  # the header line: a file that has none is refused now
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as error:
            raise _unreadable(path, error) from None
        return RawTable(
            frame,
            str(path),
            first_row=2,
            fingerprint=fingerprint(path, table=table),
            rows_with_origin=lambda: _read_csv_text(path, path),
        )


def _read_csv_text(source: Path | io.BytesIO, path: Path) -> pl.DataFrame:
    """The records of the CSV file at ``path`` (read from ``source``), with their lines."""
    try:
        frame = pl.read_csv(source, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as error:
        raise _unreadable(path, error) from None
    return with_line_origin(frame, str(path))


def _unreadable(path: Path, error: Exception) -> DataError:
    return DataError(Issue("unreadable-file", f"cannot read {path} as CSV: {error}", Location(str(path))))


def _is_blank(path: Path) -> bool:
    """Whether ``path`` holds no byte but a byte-order mark and line ends (Polars: "empty CSV")."""
    try:
        with path.open("rb") as stream:
            head = stream.read(1 << 12)
    except OSError:
        return False  # reported by the reader, with its reason
    return len(head) < 1 << 12 and not head.removeprefix(b"\xef\xbb\xbf").strip(b"\r\n")


def _with_line_feeds(path: Path) -> Path | io.BytesIO:
    """``path``, or its bytes with line feeds when its lines end in a carriage return alone.

    Polars splits lines on line feeds only: a file saved with classic Mac line ends would
    read as a header and no rows, and every metric on it as zero.
    """
    with path.open("rb") as stream:
        head = stream.read(1 << 16)
    if b"\r" not in head or b"\n" in head:
        return path
    return io.BytesIO(path.read_bytes().replace(b"\r", b"\n"))


class ParquetConnector(_FolderConnector):
    """Canonical Parquet files, typed or not; types are converted like CSV text.

    A table is one file (``deals.parquet``) or a folder of files named after it
    (``deals/``), Hive-partitioned or not (``deals/year=2025/part-0.parquet``); partition
    values become columns.

    Files are scanned, not read: when their columns already have the canonical types, the
    query reads only the columns it uses and the row groups inside its time window. The
    footer's null counts spare the checks a scan of required columns that hold no null,
    and the file's fingerprint lets an unchanged file skip the checks altogether.
    """

    scheme = "parquet"
    suffix = ".parquet"
    description = "a folder of canonical Parquet files (customers.parquet, ...)"

    def available_tables(self) -> list[str]:
        """Tables present as ``NAME.parquet`` files or as ``NAME/`` folders of files."""
        files = set(super().available_tables())
        return [name for name in TABLES if name in files or (self.folder / name).is_dir()]

    def path(self, table: str) -> Path:
        """The table's file, or its folder when there is no file of that name."""
        file = super().path(table)
        return self.folder / table if not file.is_file() and (self.folder / table).is_dir() else file

    def _files(self, table: str) -> list[Path]:
        path = self.path(table)
        return sorted(path.rglob("*.parquet")) if path.is_dir() else [path]

    def file_location(self, table: str) -> FileLocation | None:
        """The table's file or folder, for DuckDB and Spark to read in place."""
        path = self.path(table)
        files = self._files(table)
        if not files:
            return None
        null_counts, _ = self._footer_facts(files)
        return FileLocation(path, "parquet", self._fingerprint(table, files), null_counts, tuple(files))

    @staticmethod
    def _fingerprint(table: str, files: list[Path]) -> str | None:
        keys = [fingerprint(file, table=table) for file in files]
        return keys[0] if len(keys) == 1 else fingerprint_of(keys)

    @staticmethod
    def _footer_facts(files: list[Path]) -> tuple[dict[str, int], dict[str, float]]:
        """The null counts and minima that every file's footer records, over all the files.

        Each footer's statistics are read once, for both.
        """
        statistics = [column_statistics(file) for file in files]
        null_counts: dict[str, int] = {}
        minimums: dict[str, float] = {}
        for name in set(statistics[0]).intersection(*statistics[1:]):
            counts = [s[name].null_count for s in statistics]
            lows = [s[name].minimum for s in statistics]
            if all(count is not None for count in counts):
                null_counts[name] = sum(count or 0 for count in counts)
            if all(low is not None for low in lows):
                minimums[name] = min(low for low in lows if low is not None)
        return null_counts, minimums

    def column_span(self, table: str, column: str, start: datetime, end: datetime) -> ColumnSpan | None:
        """The span of a time column from the footers' statistics, when they prove it."""
        if not self.reads_in_place(table):
            return None
        return footer_span(self._files(table), column, start, end)

    def read_table(self, table: str) -> RawTable:
        """The file(s) of ``table`` in the folder, read as text or typed columns."""
        path = self.path(table)
        files = self._files(table)
        try:
            if path.is_dir():
                if not files:
                    raise OSError(f"{path} holds no .parquet file")
                frame = pl.scan_parquet(path / "**" / "*.parquet", hive_partitioning=True)
            else:
                frame = pl.scan_parquet(path)
            # The footer is read here, so that a broken file is reported as such now
            # rather than as a failure of the query later.
            frame.collect_schema()
        except (pl.exceptions.ComputeError, OSError) as error:
            raise DataError(
                Issue("unreadable-file", f"cannot read {path} as Parquet: {error}", Location(str(path)))
            ) from None
        null_counts, minimums = self._footer_facts(files)
        return RawTable(
            frame,
            str(path),
            first_row=1,
            fingerprint=self._fingerprint(table, files),
            null_counts=null_counts,
            minimums=minimums,
            keys_may_rise=footers_allow_rise(files, TABLES[table].key),
        )


def footer_null_counts(path: Path) -> dict[str, int]:
    """Null counts of the top-level columns whose every row group records one.

    A writer may leave statistics out; a column without them in any row group is left out
    here, so it is counted by reading it.
    """
    return {
        name: stats.null_count
        for name, stats in column_statistics(path).items()
        if stats.null_count is not None
    }


def footer_span(files: list[Path], column: str, start: datetime, end: datetime) -> ColumnSpan | None:
    """What the footers' row-group statistics prove about a timestamp column, or None.

    The earliest and latest values are the least minimum and the greatest maximum. A row
    group whose values all lie in ``[start, end)`` proves the range holds a value; row
    groups that all lie outside it prove it holds none. Anything else (a row group across
    a bound, statistics left out, a column that is not a UTC timestamp in micro- or
    milliseconds, as the canonical model holds it) proves nothing: None.
    """
    first: datetime | None = None
    last: datetime | None = None
    inside, crossing = False, False
    for path in files:
        ranges = timestamp_ranges(path, column)
        if ranges is None:
            return None
        for group in ranges:
            if group.minimum is None or group.maximum is None:
                continue  # only nulls: no value to place
            low, high = group.minimum, group.maximum
            first = low if first is None else min(first, low)
            last = high if last is None else max(last, high)
            if start <= low and high < end:
                inside = True
            elif not (high < start or low >= end):
                crossing = True
    if crossing and not inside:
        return None
    return ColumnSpan(first, last, inside)


class SampleConnector(CsvConnector):
    """The small bundled sample dataset (``--source sample``)."""

    scheme = "sample"
    description = "the bundled sample data: two years of a fictional B2B SaaS company"

    @property
    def folder(self) -> Path:
        """The folder of the bundled sample data."""
        return Path(str(resources.files("crmetrics.sample") / "data"))


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    """Register the CSV, Parquet and sample connectors."""
    register(CsvConnector)
    register(ParquetConnector)
    register(SampleConnector)
