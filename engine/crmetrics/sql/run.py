"""Evaluating a request on a SQL engine: pick the tables, render, run, conform the result.

``--engine duckdb`` and ``--engine spark`` read any crmetrics source (converted by its
connector, then handed to the engine), or the engine's own tables: ``duckdb:PATH`` for a
DuckDB database file, ``spark:`` for the Spark session's catalog; those are named by the
project's ``warehouse`` mapping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from crmetrics.connector import SourceURI
from crmetrics.errors import DataError, Issue, Location, UsageError, did_you_mean
from crmetrics.plan import LogicalPlan, Request
from crmetrics.sql.execute import conform_result, plan_tables, warehouse_tables
from crmetrics.sql.renderer import render_sql
from crmetrics.sql.source_scan import checked_warehouse, read_tables
from crmetrics.sql.tables import Tables

if TYPE_CHECKING:
    from crmetrics.engine import Engine, Source

ENGINES: tuple[str, ...] = ("polars", "duckdb", "spark")
#: Source schemes that name an engine's own tables rather than a connector.
NATIVE: dict[str, str] = {"duckdb": "duckdb", "spark": "spark"}


def check_engine(name: str) -> str:
    engine = name.strip().lower()
    if engine not in ENGINES:
        raise UsageError(
            Issue(
                "unknown-engine",
                f"unknown engine {name!r}",
                hint=_engine_hint(engine),
            )
        )
    return engine


def _engine_hint(name: str) -> str:
    """``did you mean 'duckdb'?`` when a name is close, and the engines, listed once."""
    close = did_you_mean(name, ENGINES)
    listed = f"engines: {', '.join(ENGINES)}"
    return f"{close} {listed}" if close.startswith("did you mean") else listed


def native_source(engine: Engine, source: Source) -> SourceURI | None:
    """The ``duckdb:``/``spark:`` URI ``source`` stands for, if it names an engine's tables."""
    if not isinstance(source, str):
        return None
    named = engine.project.sources.get(source)
    text = named.uri if named else source
    if ":" not in text:
        return None
    uri = SourceURI.parse(text)
    return uri if uri.scheme in NATIVE else None


def check_source(engine: Engine, name: str, source: Source) -> SourceURI | None:
    """The engine-native URI ``source`` stands for, if any; an error if ``name`` cannot read it."""
    native = native_source(engine, source)
    if native is not None and NATIVE[native.scheme] != name:
        raise UsageError(
            Issue(
                "engine-source",
                f"source {native} holds {native.scheme} tables, which only --engine {native.scheme} reads",
                hint=f"add --engine {native.scheme}, or use a crmetrics source such as csv:DIR",
            )
        )
    return native


def _runner(name: str, database: str | None, memory_limit: str | None) -> Any:
    if name == "duckdb":
        from crmetrics.sql.duckdb_engine import DuckDBRunner

        return DuckDBRunner(database, memory_limit=memory_limit)
    from crmetrics.sql.spark_engine import SparkRunner, session

    return SparkRunner(session(memory_limit=memory_limit))


def evaluate_sql(engine: Engine, name: str, request: Request, source: Source) -> pl.DataFrame:
    """The long-format result of ``request``, computed by the SQL engine ``name``."""
    plan = engine.plan(request)
    native = check_source(engine, name, source)
    database = native.location or None if native is not None and name == "duckdb" else None
    runner = _runner(name, database, engine.memory_limit)
    try:
        if native is None:
            tables = read_tables(runner, plan, engine.catalog, engine.open_source(source))
        else:
            tables = _warehouse(runner, engine, plan, str(native))
        # conform_result sorts the rows as the Polars result is sorted, so the engine need not.
        query = render_sql(plan, engine.catalog, tables, runner.dialect, ordered=False)
        return conform_result(runner.execute(query.sql(dialect=runner.dialect)), request.by)
    finally:
        runner.close()


def _warehouse(runner: Any, engine: Engine, plan: LogicalPlan, where: str) -> Tables:
    base = Tables.warehouse(engine.project.warehouse)
    schemas = {}
    for table in plan_tables(plan, engine.catalog):
        schemas[table] = runner.schema(base.relation(table))
        if schemas[table] is None:
            name = base.mappings[table].name if table in base.mappings else table
            raise DataError(
                Issue(
                    "missing-table",
                    f"{where} has no table {name!r} (canonical table {table!r})",
                    Location(str(engine.project.path or where)),
                    hint="map it under 'warehouse: tables:' in crmetrics.yaml, e.g. "
                    f"{table}: analytics.{table}",
                )
            )
    if plan.request.by or plan.request.where:
        schemas.setdefault("customers", runner.schema(base.relation("customers")))
    present = [table for table, schema in schemas.items() if schema is not None]
    return checked_warehouse(runner, warehouse_tables(schemas, base), present, where)


__all__ = ["ENGINES", "check_engine", "check_source", "evaluate_sql", "native_source"]
