"""Metric semantics every backend shares: reach, groups, windows, populations, empty values.

The Polars and SQL renderings of a :class:`~crmetrics.plan.LogicalPlan` differ only in the
language they write; what a run means is decided here once:

- which columns a table reaches (its own, then ``customers``' through ``customer_id``) and
  the error when a grouping or ``--where`` column is out of reach;
- the periods of the window and their lengths, and the period before the window where
  point-in-time counts start from;
- which periods an entity belongs to (its population);
- the value a metric takes in a (period, group) without rows, found by evaluating the
  metric's own compiled expression over no rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
import sqlglot
from sqlglot import exp

from crmetrics.catalog import Catalog
from crmetrics.errors import Issue, UsageError, did_you_mean
from crmetrics.formula.compiler import PERIOD_DAYS_COLUMN, prior_column
from crmetrics.formula.parse import error_offset, plain_parse_error, pointer
from crmetrics.metric import MetricDefinition
from crmetrics.plan import LogicalPlan

#: The column that ties every table to ``customers``, and identifies an entity.
ENTITY_KEY = "customer_id"
CUSTOMERS = "customers"

#: The column names of a table, as a backend sees them.
SchemaOf = Callable[[str], Sequence[str]]


def where_columns(where: str | None) -> list[str]:
    """The columns a ``--where`` condition reads; an unparsable one is a usage error."""
    if not where:
        return []
    try:
        tree = sqlglot.parse_one(where)
    except sqlglot.errors.ParseError as error:
        detail = error.errors[0] if error.errors else {}
        offset = error_offset(where, detail)
        raise UsageError(
            Issue(
                "bad-where",
                f"cannot read --where at character {offset + 1}: "
                f"{plain_parse_error(str(detail.get('description', error)))}",
                hint="write a SQL condition, e.g. segment = 'SMB' AND region IN ('EMEA', 'NA'); "
                "text goes in single quotes",
                context=pointer(where, offset),
            )
        ) from None
    return sorted({c.name for c in tree.find_all(exp.Column)})


def tables_of(metric: MetricDefinition) -> list[str]:
    """The tables whose rows decide a metric's groups and filters."""
    if metric.type == "entity":
        return [CUSTOMERS]
    return [metric.table] if metric.table else []


def from_customers(table: str, columns: Sequence[str], schema_of: SchemaOf) -> list[str]:
    """The ``columns`` that ``table`` lacks and takes from ``customers`` through ``customer_id``."""
    schema = schema_of(table)
    return [c for c in dict.fromkeys(columns) if c not in schema]


def unreachable(table: str, columns: Sequence[str], schema_of: SchemaOf) -> str | None:
    """The first of ``columns`` that ``table`` cannot reach, directly or through customers."""
    schema = schema_of(table)
    missing = from_customers(table, columns, schema_of)
    if missing and ENTITY_KEY in schema and table != CUSTOMERS:
        customers = schema_of(CUSTOMERS)
        missing = [c for c in missing if c not in customers]
    return missing[0] if missing else None


def check_reach(plan: LogicalPlan, catalog: Catalog, schema_of: SchemaOf) -> None:
    """Every requested metric can reach the grouping and filter columns, or a clear error."""
    columns = [*plan.request.by, *where_columns(plan.request.where)]
    if not columns:
        return
    for requested in plan.request.metrics:
        for name in catalog.closure([requested]):
            for table in tables_of(catalog.metrics[name]):
                column = unreachable(table, columns, schema_of)
                if column is None:
                    continue
                schema = list(schema_of(table))
                via = "" if ENTITY_KEY in schema else " and no customer_id to reach customers"
                through = "" if name == requested else f" through {name!r}"
                joins = not via and table != CUSTOMERS
                reachable = [*schema, *(schema_of(CUSTOMERS) if joins else ())]
                close = did_you_mean(column, reachable)
                raise UsageError(
                    Issue(
                        "unreachable-column",
                        f"metric {requested!r} cannot be grouped or filtered by {column!r}: it reads "
                        f"table {table!r}{through}, which has no column {column!r}{via}",
                        subject=requested,
                        hint=(f"{close} " if close.startswith("did") else "")
                        + f"use a column of {table} ({', '.join(schema)})"
                        + (" or of customers" if joins else "")
                        + f", or request {requested} without --by/--where on {column!r}",
                    )
                )


# ---- periods ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One period of the window: its start, the previous period's start, its length in days."""

    start: datetime
    previous: datetime
    days: float


def periods(plan: LogicalPlan) -> list[Period]:
    """The periods of the window ``[window_start, end)``, in order."""
    grain = plan.request.grain
    result, start = [], plan.window_start
    while start < plan.request.end:
        following = grain.shift(start, 1)
        result.append(Period(start, grain.shift(start, -1), (following - start).total_seconds() / 86_400))
        start = following
    return result


def snapshot_before(plan: LogicalPlan) -> datetime:
    """The period before the window: every earlier start or end of a point-in-time count
    lands here, so running sums start with everything that happened before the window."""
    return plan.request.grain.shift(plan.window_start, -1)


def population_lag(metric: MetricDefinition) -> int:
    """Periods between an entity's first active period and the one holding its acquisition.

    ``active_at_end``: a customer acquired in a period is active at its end, and one lost in
    a period is not. ``active_at_start``: both move one period later.
    """
    return 1 if metric.population == "active_at_start" else 0


# ---- empty values -----------------------------------------------------------------------------

#: How an entity metric's per-entity scores roll up to a group.
ROLLUPS: Mapping[str, str] = {"avg": "mean", "sum": "sum", "min": "min", "max": "max", "median": "median"}


def rollup_empty(rollup: str) -> float | None:
    """A rollup over no entities: a sum of nothing is 0, anything else is undefined."""
    return 0.0 if rollup == "sum" else None


def aggregate_empty(schema: Mapping[str, pl.DataType], expressions: Mapping[str, pl.Expr]) -> dict[str, Any]:
    """Each aggregate's value over no rows: counts and sums 0, means and ratios null."""
    empty = pl.DataFrame(schema=schema).select(e.alias(n) for n, e in expressions.items())
    return empty.row(0, named=True)


def derived_empty(
    expression: pl.Expr, references: Sequence[str], priors: set[str], empty: Mapping[str, Any]
) -> Any:
    """A derived metric's value where its inputs all take their empty values."""
    row = {n: [empty.get(n)] for n in references}
    row |= {prior_column(n): [empty.get(n)] for n in priors}
    row[PERIOD_DAYS_COLUMN] = [30.0]
    schema = {k: pl.Float64 for k in row}
    return pl.DataFrame(row, schema=schema).select(expression).item()


__all__ = [
    "CUSTOMERS",
    "ENTITY_KEY",
    "ROLLUPS",
    "Period",
    "aggregate_empty",
    "check_reach",
    "derived_empty",
    "from_customers",
    "periods",
    "population_lag",
    "rollup_empty",
    "snapshot_before",
    "tables_of",
    "unreachable",
    "where_columns",
]
