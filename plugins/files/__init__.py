"""The canonical CSV and Parquet folder connectors, and the bundled sample data.

A folder holds one file per canonical table, named after it (``customers.csv``,
``deals.parquet``, ...), with the canonical column names. Extra columns are kept.
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import polars as pl

from crmetrics.canonical import with_line_origin
from crmetrics.connector import Connector, RawTable
from crmetrics.errors import DataError, Issue, Location
from crmetrics.hookspecs import hookimpl
from crmetrics.model import TABLES


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
        """The file(s) of ``table`` in the folder, read as text or typed columns."""
        path = self.path(table)
        try:
            # Everything is read as text: the canonical conversion parses it, so that a bad
            # value is reported with its row rather than guessed by type inference.
            frame = pl.read_csv(_with_line_feeds(path), infer_schema=False)
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as error:
            raise DataError(
                Issue("unreadable-file", f"cannot read {path} as CSV: {error}", Location(str(path)))
            ) from None
        return RawTable(with_line_origin(frame, str(path)), str(path), first_row=2)


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

    Files are scanned, not read: when their columns already have the canonical types, the
    query reads only the columns it uses and the row groups inside its time window.
    """

    scheme = "parquet"
    suffix = ".parquet"
    description = "a folder of canonical Parquet files (customers.parquet, ...)"

    def read_table(self, table: str) -> RawTable:
        """The file(s) of ``table`` in the folder, read as text or typed columns."""
        path = self.path(table)
        try:
            frame = pl.scan_parquet(path)
            # The footer is read here, so that a broken file is reported as such now
            # rather than as a failure of the query later.
            frame.collect_schema()
        except (pl.exceptions.ComputeError, OSError) as error:
            raise DataError(
                Issue("unreadable-file", f"cannot read {path} as Parquet: {error}", Location(str(path)))
            ) from None
        return RawTable(frame, str(path), first_row=1)


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
