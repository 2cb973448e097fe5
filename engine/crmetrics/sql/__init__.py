"""The SQL backend: the relational IR generated as one SQL statement, run by DuckDB or Spark.

:func:`to_sql` is the statement ``crmetrics sql`` prints; :mod:`crmetrics.sql.run` runs it
on an embedded engine (:mod:`crmetrics.sql.duckdb_engine`, :mod:`crmetrics.sql.spark_engine`).
"""

from __future__ import annotations

from crmetrics.catalog import Catalog
from crmetrics.collector import paused_cycle_collection
from crmetrics.ir.build import build_query
from crmetrics.plan import LogicalPlan
from crmetrics.sql.dialects import DIALECTS, check_dialect
from crmetrics.sql.generator import generate_sql
from crmetrics.sql.render import render
from crmetrics.sql.tables import Tables


def to_sql(
    plan: LogicalPlan,
    catalog: Catalog,
    tables: Tables,
    dialect: str,
    *,
    pretty: bool = True,
    ordered: bool = True,
) -> str:
    """The SQL statement computing ``plan``'s long-format result in ``dialect``.

    ``ordered=False`` leaves out the final ORDER BY, for a caller that sorts the rows itself.
    """
    dialect = check_dialect(dialect)
    # The tree lives until its text is written: collections meanwhile would free nothing.
    with paused_cycle_collection():
        query = build_query(plan, catalog, lambda table: tables.kinds.get(table, {}))
        statement = generate_sql(query, tables, dialect, catalog.functions, ordered=ordered)
        return render(statement, dialect, pretty=pretty)


__all__ = ["DIALECTS", "Tables", "check_dialect", "to_sql"]
