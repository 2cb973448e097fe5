"""What running a plan on a SQL engine needs besides the statement: its tables and result.

The tables a plan reads (``source_scan`` makes them canonical views, in place where it
can), the columns a warehouse's tables really hold, and the answer, brought back to the
shape and order of the Polars result so that both are interchangeable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from crmetrics.catalog import Catalog
from crmetrics.ir.nodes import CUSTOMERS
from crmetrics.model import kind_of_dtype
from crmetrics.periods import FISCAL_PERIOD, PERIOD_START
from crmetrics.plan import LogicalPlan
from crmetrics.sql.tables import TableMapping, Tables


def plan_tables(plan: LogicalPlan, catalog: Catalog) -> list[str]:
    """The canonical tables a plan reads its rows from."""
    tables = [scan.table for scan in plan.aggregates] + [scan.table for scan in plan.snapshots]
    for name in plan.entities:
        tables += [CUSTOMERS, *(m.table for m in catalog.metrics[name].measures.values())]
    for name in plan.cohorts:  # customers only for grouping, added below when needed
        tables += [m.table for m in catalog.metrics[name].measures.values()]
    return list(dict.fromkeys(tables))


def warehouse_tables(schemas: Mapping[str, pl.Schema | None], base: Tables) -> Tables:
    """The warehouse tables with the columns they really hold, under canonical names.

    ``schemas`` are the columns each mapped relation returns (None when it cannot be read);
    renamed columns are given back their canonical names.
    """
    kinds = {name: dict(columns) for name, columns in base.kinds.items()}
    for table, schema in schemas.items():
        if schema is None:
            continue
        renames = {v: k for k, v in base.mappings.get(table, TableMapping(table)).columns.items()}
        kinds[table] = {renames.get(c, c): kind_of_dtype(d) for c, d in schema.items()}
    return Tables(kinds, base.mappings)


def conform_result(result: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """A SQL engine's answer with the Polars result's types and row order."""
    result = result.with_columns(
        pl.col("metric").cast(pl.String),
        pl.col(PERIOD_START).cast(pl.Date),
        pl.col("value").cast(pl.Float64).fill_nan(None),
    )
    labels = [FISCAL_PERIOD] if FISCAL_PERIOD in result.columns else []
    return result.select("metric", PERIOD_START, *labels, *by, "value").sort(
        ["metric", PERIOD_START, *by], nulls_last=False, maintain_order=True
    )


__all__ = ["conform_result", "plan_tables", "warehouse_tables"]
