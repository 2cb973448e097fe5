"""Running the SQL rendering on embedded DuckDB.

DuckDB reads either a crmetrics source (canonical CSV or Parquet folders, the sample, any
connector), handed over as Arrow after the canonical conversion, or the tables of a DuckDB
database file (``--source duckdb:PATH``) named by the project's ``warehouse`` mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress

import polars as pl
from sqlglot import exp

from crmetrics.errors import DataError, Issue, Location
from crmetrics.sql.optional import require
from crmetrics.sql.tables import Tables

DIALECT = "duckdb"


class DuckDBRunner:
    """One DuckDB connection: in memory, or a database file opened read-only."""

    dialect = DIALECT

    def __init__(self, database: str | None = None) -> None:
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
        # The statement only reads the database and the frames registered here. Without
        # this, a table name that looks like a path ("/data/x.csv") makes DuckDB read that
        # file; locked, so no statement can switch it back on.
        self.connection.execute("SET enable_external_access = false")
        self.connection.execute("SET lock_configuration = true")

    def load(self, frames: Mapping[str, pl.DataFrame]) -> Tables:
        """Register canonical frames as views named after their tables."""
        names = {}
        for table, frame in frames.items():
            names[table] = f"crmetrics_{table}"
            self.connection.register(names[table], frame.to_arrow())
        return Tables.frames({t: f.schema for t, f in frames.items()}, names)

    def schema(self, relation: exp.Expr) -> pl.Schema | None:
        """The columns ``relation`` returns; None when it does not exist."""
        query = exp.select(exp.Star()).from_(relation).limit(0).sql(DIALECT)
        try:
            return pl.from_arrow(self.connection.sql(query).to_arrow_table()).schema  # type: ignore[union-attr]
        except self.duckdb.Error:
            return None

    def execute(self, statement: str) -> pl.DataFrame:
        """The rows ``statement`` returns, as a Polars frame."""
        try:
            table = self.connection.sql(statement).to_arrow_table()
        except self.duckdb.Error as error:
            raise DataError(
                Issue(
                    "evaluation",
                    f"DuckDB could not evaluate the metrics: {error}",
                    hint="check the column types; 'crmetrics sql --dialect duckdb' prints the query",
                )
            ) from None
        result = pl.from_arrow(table)
        assert isinstance(result, pl.DataFrame)
        return result

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()
