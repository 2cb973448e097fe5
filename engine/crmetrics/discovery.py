"""Discovery: the columns a metric can be grouped and filtered by, and a column's values.

Without a source the columns are the canonical model's; with one they are the columns the
source really has, extra columns included (a connector may add them, and they group and
filter like any other).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

from crmetrics.catalog import Catalog
from crmetrics.connector import Connector
from crmetrics.errors import Issue, UsageError, did_you_mean
from crmetrics.ir.nodes import CUSTOMERS, ENTITY_KEY
from crmetrics.ir.reach import tables_of
from crmetrics.model import TABLES, kind_of_dtype

#: A table's columns and their Polars types.
Schemas = Callable[[str], Mapping[str, pl.DataType]]


@dataclass(frozen=True)
class Dimension:
    """A column usable in ``--by`` and ``--where``.

    Attributes:
        column: its name.
        type: ``text``, ``number``, ``boolean`` or ``datetime``.
        table: the table it comes from (``customers`` when reached through ``customer_id``).
    """

    column: str
    type: str
    table: str


def canonical_schemas(table: str) -> Mapping[str, pl.DataType]:
    """The canonical model's columns of ``table``."""
    return TABLES[table].schema


def source_schemas(connector: Connector) -> Schemas:
    """The columns of each table of ``connector``, as read (checks left for the run)."""
    present = set(connector.available_tables())

    def schema_of(table: str) -> Mapping[str, pl.DataType]:
        if table not in present:
            return {}
        with connector.deferred_checks():
            return dict(connector.scan(table).collect_schema())

    return schema_of


def _reachable(table: str, schema_of: Schemas) -> dict[str, Dimension]:
    own = {c: Dimension(c, kind_of_dtype(t), table) for c, t in schema_of(table).items()}
    if table != CUSTOMERS and ENTITY_KEY in own:
        for column, dtype in schema_of(CUSTOMERS).items():
            own.setdefault(column, Dimension(column, kind_of_dtype(dtype), CUSTOMERS))
    return own


def dimensions(catalog: Catalog, metric: str | None, schema_of: Schemas) -> list[Dimension]:
    """The columns ``metric`` can be grouped and filtered by, or every table's without one.

    A metric reaches a column when every table it (or a metric it depends on) groups by
    has the column or reaches it through ``customers``: the same rule ``--by`` applies.
    """
    if metric is None:
        return [
            Dimension(c, kind_of_dtype(t), table) for table in TABLES for c, t in schema_of(table).items()
        ]
    tables = [t for name in catalog.closure([metric]) for t in tables_of(catalog.metrics[name])]
    common: dict[str, Dimension] | None = None
    for table in dict.fromkeys(tables):
        reach = _reachable(table, schema_of)
        common = reach if common is None else {c: d for c, d in common.items() if c in reach}
    return list((common or {}).values())


def values(column: str, connector: Connector, table: str | None = None) -> pl.DataFrame:
    """The distinct values of ``column`` with their row counts, most frequent first.

    The column is read from ``table``, or from ``customers`` when it has it, else from the
    first table of the source that has it.
    """
    schema_of = source_schemas(connector)
    present = connector.available_tables()
    if table is not None and table not in present:
        raise UsageError(
            Issue(
                "unknown-table",
                f"the source has no table {table!r}",
                hint=did_you_mean(table, present),
            )
        )
    candidates = [table] if table else sorted(present, key=lambda t: t != CUSTOMERS)
    chosen = next((t for t in candidates if column in schema_of(t)), None)
    if chosen is None:
        known = sorted({c for t in candidates for c in schema_of(t)})
        where = f"table {table!r}" if table else "any table of the source"
        raise UsageError(
            Issue(
                "unknown-column",
                f"{where} has no column {column!r}",
                hint=did_you_mean(column, known),
            )
        )
    frame = connector.scan(chosen)
    counted = frame.group_by(column).agg(pl.len().alias("count")).collect()
    return (
        counted.rename({column: "value"})
        .sort(["count", "value"], descending=[True, False], nulls_last=True)
        .with_columns(pl.lit(chosen).alias("table"))
    )


def value_summary(counts: pl.DataFrame, limit: int = 8) -> str:
    """``SMB (40), Enterprise (12), ...``: the most frequent values of a column, for messages."""
    shown = [
        f"{'null' if v is None else v} ({n})"
        for v, n in counts.head(limit).select("value", "count").iter_rows()
    ]
    more = counts.height - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


__all__ = [
    "Dimension",
    "Schemas",
    "canonical_schemas",
    "dimensions",
    "source_schemas",
    "value_summary",
    "values",
]
