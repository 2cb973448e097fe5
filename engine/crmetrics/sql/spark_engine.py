"""Running the SQL rendering on Spark: local mode by default, a cluster when configured.

``SPARK_REMOTE`` (Spark Connect, e.g. ``sc://host:15002``) or ``SPARK_MASTER`` (e.g.
``spark://host:7077``, ``yarn``) pick a cluster; without either, Spark runs in this process
in local mode. An already active session (a notebook's, a test's) is used as it is.
Parquet files (``parquet:DIR``, Hive-partitioned folders included) are read by Spark
itself; tables of the session's catalog (``--source spark:``) are named by the project's
``warehouse`` mapping. Both are converted and checked as Spark SQL, on the executors. Any
other crmetrics source is handed over from the driver as temporary views.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
from sqlglot import exp

from crmetrics.errors import DataError, Issue
from crmetrics.sql.optional import require
from crmetrics.sql.tables import Tables

DIALECT = "spark"


def session(*, memory_limit: str | None = None) -> Any:
    """The active Spark session, or a new one as the environment configures it.

    ``memory_limit`` (``2g``) is the driver's memory of a new session; in local mode the
    driver does all the work. An active session, or a cluster's executors, keep theirs.
    """
    spark_sql = require("pyspark.sql")
    active = spark_sql.SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = spark_sql.SparkSession.builder.appName("crmetrics")
    remote = os.environ.get("SPARK_REMOTE")
    if remote:
        return builder.remote(remote).getOrCreate()
    master = os.environ.get("SPARK_MASTER", "local[*]")
    builder = builder.master(master)
    if memory_limit:
        # Broadcast joins copy a whole side into the driver's memory; sort-merge joins spill.
        builder = builder.config("spark.driver.memory", memory_limit).config(
            "spark.sql.autoBroadcastJoinThreshold", "-1"
        )
    if master.startswith("local"):
        # A handful of partitions suits the small shuffles of one machine; the UI is noise.
        builder = (
            builder.config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
        )
    return builder.getOrCreate()


class SparkRunner:
    """A Spark session running the statement; the canonical tables become temporary views."""

    dialect = DIALECT
    # Spark's TIMESTAMP is already an instant read in the session's zone (UTC): nothing to strip.
    naive_utc = False
    # The files are read by the executors; the driver reads none of their rows.
    reads_files_itself = False

    def __init__(self, spark: Any | None = None) -> None:
        self.spark = spark if spark is not None else session()
        # Periods are UTC: timestamps are read and truncated in UTC whatever the cluster's zone.
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        # A table named like parquet.`/some/path` would read that path as a table.
        self.spark.conf.set("spark.sql.runSQLOnFiles", "false")
        self._views: list[str] = []

    def confine(self) -> None:
        """Nothing more to do: file paths as table names are off from the session's start."""

    def load(self, frames: Mapping[str, pl.DataFrame]) -> Tables:
        """Register canonical frames as temporary views named after their tables."""
        names = {}
        for table, frame in frames.items():
            names[table] = f"crmetrics_{table}"
            arrow = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
            self.spark.createDataFrame(arrow).createOrReplaceTempView(names[table])
            self._views.append(names[table])
        return Tables.frames({t: f.schema for t, f in frames.items()}, names)

    def parquet_relation(self, table: str, path: Path) -> exp.Expr:
        """A Parquet file or folder read by Spark (partition folders ``key=value`` become columns)."""
        name = f"crmetrics_raw_{table}"
        self.spark.read.parquet(str(path)).createOrReplaceTempView(name)
        self._views.append(name)
        return exp.to_table(name)

    def create_view(self, name: str, select: exp.Expr) -> None:
        """A temporary view over ``select``; nothing is computed until a query reads it."""
        self.spark.sql(select.sql(DIALECT)).createOrReplaceTempView(name)
        self._views.append(name)

    def schema(self, relation: exp.Expr) -> pl.Schema | None:
        """The columns ``relation`` returns; None when it does not exist."""
        query = exp.select(exp.Star()).from_(relation).limit(0).sql(DIALECT)
        try:
            return self._collect(self.spark.sql(query)).schema
        except Exception:  # Spark raises AnalysisException for a missing table
            return None

    def execute(self, statement: str) -> pl.DataFrame:
        """The rows ``statement`` returns, as a Polars frame."""
        try:
            return self._collect(self.spark.sql(statement))
        except Exception as error:  # Spark's errors have no common base class across versions
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise DataError(
                Issue(
                    "evaluation",
                    f"Spark could not evaluate the metrics: {first}",
                    hint="check the column types; 'crmetrics sql --dialect spark' prints the query",
                )
            ) from None

    def _collect(self, frame: Any) -> pl.DataFrame:
        if hasattr(frame, "toArrow"):  # pyspark 4
            result = pl.from_arrow(frame.toArrow())
        else:
            result = pl.from_pandas(frame.toPandas())
        assert isinstance(result, pl.DataFrame)
        return result

    def close(self) -> None:
        """Drop the temporary views of this run."""
        for view in self._views:
            self.spark.catalog.dropTempView(view)
