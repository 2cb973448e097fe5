"""Evaluating a plan on a SQL engine: pick the tables, generate, run, conform the result.

``--engine duckdb`` and ``--engine spark`` read Parquet files in place and the engine's own
tables (``duckdb:PATH`` for a DuckDB database file, ``spark:`` for the Spark session's
catalog, named by the project's ``warehouse`` mapping), converted and checked in SQL
(``source_scan``); any other crmetrics source is converted by its connector, then handed
to the engine.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from crmetrics.errors import DataError, Issue, Location, UsageError
from crmetrics.job import Job
from crmetrics.sql import to_sql
from crmetrics.sql.execute import conform_result, plan_tables, warehouse_tables
from crmetrics.sql.source_scan import checked_warehouse, read_tables
from crmetrics.sql.tables import Tables


def _runner(name: str, database: str | None, memory_limit: str | None) -> Any:
    # The engines' modules import duckdb or pyspark, which are optional: load only the one used.
    if name == "duckdb":
        from crmetrics.sql.duckdb_engine import DuckDBRunner

        return DuckDBRunner(database, memory_limit=memory_limit)
    from crmetrics.sql.spark_engine import SparkRunner, session

    return SparkRunner(session(memory_limit=memory_limit))


def evaluate_sql(job: Job, name: str) -> pl.DataFrame:
    """The long-format result of ``job``, computed by the SQL engine ``name``."""
    native = job.source.native
    if native is not None and native.scheme != name:
        raise UsageError(
            Issue(
                "engine-source",
                f"source {native} holds {native.scheme} tables, which only --engine {native.scheme} reads",
                hint=f"add --engine {native.scheme}, or use a crmetrics source such as csv:DIR",
            )
        )
    database = native.location or None if native is not None and name == "duckdb" else None
    runner = _runner(name, database, job.memory_limit)
    try:
        if native is None:
            assert job.source.connector is not None
            tables = read_tables(runner, job.plan, job.catalog, job.source.connector)
            runner.confine()
        else:
            runner.confine()  # before the project's table names reach a statement
            tables = _warehouse(runner, job, str(native))
        # conform_result sorts the rows as the Polars result is sorted, so the engine need not.
        statement = to_sql(job.plan, job.catalog, tables, runner.dialect, pretty=False, ordered=False)
        return conform_result(runner.execute(statement), job.plan.request.by)
    finally:
        runner.close()


def _warehouse(runner: Any, job: Job, where: str) -> Tables:
    base = Tables.warehouse(job.warehouse)
    schemas = {}
    for table in plan_tables(job.plan, job.catalog):
        schemas[table] = runner.schema(base.relation(table))
        if schemas[table] is None:
            name = base.mappings[table].name if table in base.mappings else table
            raise DataError(
                Issue(
                    "missing-table",
                    f"{where} has no table {name!r} (canonical table {table!r})",
                    Location(job.project_file or where),
                    hint="map it under 'warehouse: tables:' in crmetrics.yaml, e.g. "
                    f"{table}: analytics.{table}",
                )
            )
    if job.plan.request.by or job.plan.request.where:
        schemas.setdefault("customers", runner.schema(base.relation("customers")))
    present = [table for table, schema in schemas.items() if schema is not None]
    return checked_warehouse(runner, warehouse_tables(schemas, base), present, where)


__all__ = ["evaluate_sql"]
