"""``-m all`` means every metric that applies: the source has its tables and it reaches ``--by``.

Naming a metric explicitly keeps the strict behaviour (a missing table or an unreachable
column is an error); only ``all`` skips, with one warning per skipped metric saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from crmetrics.catalog import Catalog
from crmetrics.errors import Issue
from crmetrics.ir.nodes import CUSTOMERS, ENTITY_KEY
from crmetrics.ir.reach import tables_of, unreachable, where_columns
from crmetrics.metric import MetricDefinition

#: The column names of a table present in the source.
SchemaOf = Callable[[str], Sequence[str]]


def tables_read(metric: MetricDefinition) -> list[str]:
    """Every table a metric reads rows from (an entity metric: its population and measures)."""
    if metric.type in ("entity", "cohort"):
        return list(dict.fromkeys([CUSTOMERS, *(m.table for m in metric.measures.values())]))
    return [metric.table] if metric.table else []


def _reason(
    catalog: Catalog,
    name: str,
    present: Collection[str],
    columns: Sequence[str],
    schema_of: SchemaOf,
) -> str | None:
    closure = catalog.closure([name])
    for dependency in closure:
        missing = [c for c in catalog.metrics[dependency].requires_by if c not in columns]
        if missing:
            through = "" if dependency == name else f" (through {dependency})"
            return f"it is only defined grouped by {', '.join(missing)}{through}"
    for dependency in closure:
        for table in tables_read(catalog.metrics[dependency]):
            if table not in present:
                through = "" if dependency == name else f" (through {dependency})"
                return f"the source has no table {table!r}{through}"
    if not columns:
        return None
    for dependency in closure:
        for table in tables_of(catalog.metrics[dependency]):
            needs_customers = any(c not in schema_of(table) for c in columns)
            joins = table != CUSTOMERS and ENTITY_KEY in schema_of(table)
            if needs_customers and joins and CUSTOMERS not in present:
                return f"table {table!r} reaches other columns through 'customers', which the source lacks"
            column = unreachable(table, columns, schema_of)
            if column is not None:
                return f"table {table!r} cannot reach column {column!r}"
    return None


def applicable(
    catalog: Catalog,
    names: Sequence[str],
    *,
    present: Collection[str],
    by: Sequence[str],
    where: str | None,
    schema_of: SchemaOf,
) -> tuple[list[str], list[Issue]]:
    """The metrics of ``names`` that can run, and a warning for each one that cannot.

    Args:
        catalog: the loaded metrics.
        names: the candidates, in the order to keep.
        present: the tables the source holds.
        by: the grouping columns of the request.
        where: the request's filter; the columns it reads must be reachable too.
        schema_of: the column names of a present table.
    """
    columns = [*by, *where_columns(where)]

    def safe_schema(table: str) -> Sequence[str]:
        if table not in present:
            return ()
        # The derived dimensions (acquisition_cohort) are columns of customers.
        extra = list(catalog.dimensions) if table == CUSTOMERS else []
        return [*schema_of(table), *extra]

    kept, skipped = [], []
    for name in names:
        reason = _reason(catalog, name, present, columns, safe_schema)
        if reason is None:
            kept.append(name)
            continue
        skipped.append(
            Issue(
                "skipped-metric",
                f"skipped {name}: {reason}",
                severity="warning",
            )
        )
    return kept, skipped


__all__ = ["applicable", "tables_read"]
