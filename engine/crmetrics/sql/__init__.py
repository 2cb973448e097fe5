"""The SQL backend: the relational IR generated as one SQL statement, run by DuckDB or Spark.

:func:`to_sql` is the statement ``crmetrics sql`` prints; :mod:`crmetrics.sql.run` runs it
on an embedded engine (:mod:`crmetrics.sql.duckdb_engine`, :mod:`crmetrics.sql.spark_engine`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from crmetrics.catalog import Catalog
from crmetrics.ir.build import build_query
from crmetrics.plan import LogicalPlan
from crmetrics.sql.dialects import DIALECTS, check_dialect
from crmetrics.sql.generator import generate_sql
from crmetrics.sql.render import render
from crmetrics.sql.tables import Tables


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector while one statement is built and written.

    Each node of a sqlglot tree points at its parent, and the whole tree lives until it
    is written: collections meanwhile walk the tree built so far, free nothing and move
    it to the oldest generation, until a full collection walks every object of the
    process. Paused, the tree is collected once, as garbage, when the pause ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def to_sql(plan: LogicalPlan, catalog: Catalog, tables: Tables, dialect: str, *, pretty: bool = True) -> str:
    """The SQL statement computing ``plan``'s long-format result in ``dialect``."""
    dialect = check_dialect(dialect)
    with _no_cycle_collection():
        query = build_query(plan, catalog, lambda table: tables.kinds.get(table, {}))
        return render(generate_sql(query, tables, dialect, catalog.functions), dialect, pretty=pretty)


__all__ = ["DIALECTS", "Tables", "check_dialect", "to_sql"]
