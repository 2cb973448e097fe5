"""Running the SQL rendering on Spark: local mode by default, a cluster when configured.

``SPARK_REMOTE`` (Spark Connect, e.g. ``sc://host:15002``) or ``SPARK_MASTER`` (e.g.
``spark://host:7077``, ``yarn``) pick a cluster; without either, Spark runs in this process
in local mode. An already active session (a notebook's, a test's) is used as it is.
Tables come from a crmetrics source as temporary views, or from the session's catalog
(``--source spark:``) named by the project's ``warehouse`` mapping.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import polars as pl
from sqlglot import exp

from crmetrics.errors import DataError, Issue
from crmetrics.sql.optional import require
from crmetrics.sql.tables import Tables

DIALECT = "spark"


def session() -> Any:
    """The active Spark session, or a new one as the environment configures it."""
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

    def __init__(self, spark: Any | None = None) -> None:
        self.spark = spark if spark is not None else session()
        # Periods are UTC: timestamps are read and truncated in UTC whatever the cluster's zone.
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        # A table named like parquet.`/some/path` would read that path as a table.
        self.spark.conf.set("spark.sql.runSQLOnFiles", "false")
        self._views: list[str] = []

    def load(self, frames: Mapping[str, pl.DataFrame]) -> Tables:
        """Register canonical frames as temporary views named after their tables."""
        names = {}
        for table, frame in frames.items():
            names[table] = f"crmetrics_{table}"
            arrow = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
            self.spark.createDataFrame(arrow).createOrReplaceTempView(names[table])
            self._views.append(names[table])
        return Tables.frames({t: f.schema for t, f in frames.items()}, names)

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
