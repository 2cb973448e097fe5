"""Running the SQL rendering on embedded DuckDB.

DuckDB reads Parquet files in place (``parquet:DIR``), converted and checked in SQL, or
the tables of a DuckDB database file (``--source duckdb:PATH``) named by the project's
``warehouse`` mapping; any other crmetrics source (CSV, the sample, a CRM connector) is
handed over as Arrow after the canonical conversion. With a memory limit, DuckDB spills
what does not fit to a temporary folder instead of failing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path

import polars as pl
from sqlglot import exp

from crmetrics.errors import DataError, Issue, Location, UsageError
from crmetrics.sql.duckdb_types import polars_dtype, received
from crmetrics.sql.optional import require
from crmetrics.sql.tables import Tables

DIALECT = "duckdb"


class DuckDBRunner:
    """One DuckDB connection: in memory, or a database file opened read-only."""

    dialect = DIALECT
    # TIMESTAMPTZ columns are read as plain UTC timestamps (see canonical_sql): compared with
    # the statement's plain timestamps, they would be converted through the time-zone
    # calendar row by row, in every join on a period.
    naive_utc = True

    def __init__(self, database: str | None = None, *, memory_limit: str | None = None) -> None:
        self.duckdb = require("duckdb")
        self.database = database
        try:
            self.connection = self.duckdb.connect(database or ":memory:", read_only=database is not None)
        except self.duckdb.Error as error:
            raise DataError(
                Issue(
                    "unreadable-database",
                    f"cannot open DuckDB database {database}: {error}",
                    Location(database or ""),
                )
            ) from None
        # Zoned timestamps in a database file must truncate to UTC periods, as on Polars.
        with suppress(self.duckdb.Error):  # without the ICU extension there are no zoned timestamps
            self.connection.execute("SET TimeZone = 'UTC'")
        self._spill: tempfile.TemporaryDirectory[str] | None = None
        self._readable: list[Path] = []
        self._confined = False
        if memory_limit:
            self.limit_memory(memory_limit)
        if database is not None:
            self.confine()  # a database file's tables are named by the project: no files at all

    @property
    def reads_files_itself(self) -> bool:
        """Whether this process may read a Parquet key column to prove it unique.

        Not under a memory limit: the limit is DuckDB's, and the key column would be read
        outside it.
        """
        return self._spill is None

    def confine(self) -> None:
        """From now on, read only the database, the registered frames and the Parquet files.

        The Parquet files are those given to :meth:`parquet_relation` so far. Call it before
        any statement names a relation from the user's project: without it, a table name
        that looks like a path ("/data/x.csv") makes DuckDB read that file. The setting is
        locked, so no statement can switch it back on; a second call changes nothing.
        """
        if self._confined:
            return
        self._confined = True
        readable = self._readable
        folders = [p for p in readable if p.is_dir()]
        if self._spill is not None:
            folders.append(Path(self._spill.name))
        files = [p for p in readable if not p.is_dir()]
        if folders:
            self._set("allowed_directories", [f"{p.resolve()}/" for p in folders])
        if files:
            self._set("allowed_paths", [str(p.resolve()) for p in files])
        self.connection.execute("SET enable_external_access = false")
        self.connection.execute("SET lock_configuration = true")

    def _set(self, option: str, values: list[str]) -> None:
        listed = exp.Array(expressions=[exp.Literal.string(v) for v in values])
        self.connection.execute(f"SET {option} = {listed.sql(DIALECT)}")

    def limit_memory(self, limit: str) -> None:
        """Keep DuckDB under ``limit`` (``500MB``, ``2GB``), spilling to a temporary folder."""
        self._spill = tempfile.TemporaryDirectory(prefix="crmetrics-duckdb-")
        try:
            self.connection.execute(f"SET memory_limit = {exp.Literal.string(limit).sql(DIALECT)}")
            self.connection.execute("SET preserve_insertion_order = false")
            self.connection.execute("SET threads = 1")
            self.connection.execute(
                f"SET temp_directory = {exp.Literal.string(self._spill.name).sql(DIALECT)}"
            )
        except self.duckdb.Error as error:
            raise UsageError(
                Issue(
                    "bad-memory-limit",
                    f"DuckDB does not accept the memory limit {limit!r}: {error}",
                    hint="write an amount with its unit, e.g. 512MB or 4GB",
                )
            ) from None

    def parquet_relation(self, table: str, path: Path) -> exp.Expr:
        """The rows of a Parquet file, or of a folder of them (Hive partitions as columns)."""
        pattern = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
        self._readable.append(path)
        hive = exp.PropertyEQ(this=exp.to_identifier("hive_partitioning"), expression=exp.true())
        relation = exp.func("read_parquet", exp.Literal.string(pattern), hive)
        name = f"crmetrics_raw_{table}"
        self.create_view(name, exp.select(exp.Star()).from_(relation))
        return exp.to_table(name)

    def create_view(self, name: str, select: exp.Expr) -> None:
        """A temporary view: the engine reads through it only when a query does."""
        view = exp.Create(this=exp.to_table(name), kind="VIEW", expression=select, replace=True)
        view.set("properties", exp.Properties(expressions=[exp.TemporaryProperty()]))
        self.connection.execute(view.sql(DIALECT))

    def load(self, frames: Mapping[str, pl.DataFrame]) -> Tables:
        """Register canonical frames as views named after their tables."""
        names = {}
        for table, frame in frames.items():
            names[table] = f"crmetrics_{table}"
            self.connection.register(names[table], frame.to_arrow())
        return Tables.frames({t: f.schema for t, f in frames.items()}, names)

    def schema(self, relation: exp.Expr) -> pl.Schema | None:
        """The columns ``relation`` returns; None when it does not exist.

        Bound, not run: the types come from DuckDB's binder (see ``duckdb_types``).
        """
        query = exp.select(exp.Star()).from_(relation).sql(DIALECT)
        try:
            bound = self.connection.sql(query)
            return self._schema(bound.columns, bound.types)
        except self.duckdb.Error:
            return None

    def _schema(self, columns: list[str], types: list[object]) -> pl.Schema:
        # The session is set to UTC in __init__; without the ICU extension, DuckDB exports
        # zoned timestamps in UTC all the same.
        return pl.Schema({name: polars_dtype(kind, "UTC") for name, kind in zip(columns, types, strict=True)})

    def execute(self, statement: str) -> pl.DataFrame:
        """The rows ``statement`` returns, as a Polars frame.

        Read through the Arrow stream interface, which Polars takes without ``pyarrow``.
        """
        try:
            relation = self.connection.sql(statement)
            schema = self._schema(relation.columns, relation.types)
            # Polars aborts on a type it cannot receive: refuse it before the rows are read.
            for name, dtype in schema.items():
                if not received(dtype):
                    kind = relation.types[relation.columns.index(name)]
                    raise DataError(
                        Issue(
                            "evaluation",
                            f"DuckDB returns column {name!r} as {kind}, which crmetrics cannot read",
                            hint=f"cast {name!r} to a number, text or timestamp in the source",
                        )
                    )
            return pl.DataFrame(relation)
        # An error met after the first rows were handed over reaches Polars, which re-raises it.
        except (self.duckdb.Error, pl.exceptions.ComputeError) as error:
            reason = str(error).removeprefix("got external error: ")
            raise DataError(
                Issue(
                    "evaluation",
                    f"DuckDB could not evaluate the metrics: {reason}",
                    hint="check the column types; 'crmetrics sql --dialect duckdb' prints the query",
                )
            ) from None

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()
        if self._spill is not None:
            self._spill.cleanup()
