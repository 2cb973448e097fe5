"""SQL backends: the logical plan rendered as one SQL statement, run by DuckDB or Spark.

:func:`to_sql` is the statement ``crmetrics sql`` prints; :mod:`crmetrics.sql.duckdb` and
:mod:`crmetrics.sql.spark` run it on data.
"""

from __future__ import annotations

from crmetrics.catalog import Catalog
from crmetrics.plan import LogicalPlan
from crmetrics.sql.dialects import DIALECTS, check_dialect
from crmetrics.sql.renderer import render_sql
from crmetrics.sql.tables import Tables


def to_sql(plan: LogicalPlan, catalog: Catalog, tables: Tables, dialect: str, *, pretty: bool = True) -> str:
    """The SQL statement computing ``plan``'s long-format result in ``dialect``."""
    dialect = check_dialect(dialect)
    return render_sql(plan, catalog, tables, dialect).sql(dialect=dialect, pretty=pretty)


__all__ = ["DIALECTS", "Tables", "check_dialect", "to_sql"]
