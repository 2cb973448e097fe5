"""Which columns a table reaches: its own, then ``customers``' through ``customer_id``.

A grouping or ``--where`` column a metric's table lacks is read from ``customers`` when the
table has a ``customer_id``; otherwise the request is refused with an error naming the
metric, the table and the columns it could use instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlglot import exp

from crmetrics.catalog import Catalog
from crmetrics.errors import DefinitionError, Issue, Location, UsageError, did_you_mean
from crmetrics.formula.parse import node_offset, parse_formula, plain_parse_error, pointer
from crmetrics.ir.nodes import CUSTOMERS, ENTITY_KEY
from crmetrics.metric import Formula, MetricDefinition

#: The column names of a table, as the source holds it.
SchemaOf = Callable[[str], Sequence[str]]


def where_columns(where: str | None) -> list[str]:
    """The columns a ``--where`` condition reads; one that does not parse is a usage error.

    The error points at the culprit with a caret, like a formula's: an unterminated quote,
    a stray parenthesis, a comment or nesting too deep is the user's to fix, never a traceback.
    """
    if not where:
        return []
    try:
        tree = parse_formula(Formula(where, Location("--where")), "--where", what="filter")
    except DefinitionError as error:
        issue = error.issues[0]
        offset = issue.location.column if issue.location else 0
        statement = issue.message.startswith("cannot parse filter: ")
        reason = issue.message.removeprefix("cannot parse filter: ").removeprefix("cannot parse formula: ")
        raise UsageError(
            Issue(
                "bad-where",
                f"cannot read --where at character {offset + 1}: {plain_parse_error(reason)}",
                hint=issue.hint
                if statement
                else "write a SQL condition, e.g. segment = 'SMB' AND region IN ('EMEA', 'NA'); "
                "text goes in single quotes",
                context=issue.context,
            )
        ) from None
    columns = list(tree.find_all(exp.Column))
    for column in columns:
        if column.table:  # another table's column: --where filters the rows a metric reads
            raise UsageError(
                Issue(
                    "bad-where",
                    f"--where cannot name another table's column {column.sql()!r}",
                    hint=f"write {column.name!r}: --where filters each metric's own rows",
                    context=pointer(where, node_offset(column)),
                )
            )
    return sorted({c.name for c in columns})


def tables_of(metric: MetricDefinition) -> list[str]:
    """The tables whose rows decide a metric's groups and filters."""
    if metric.type in ("entity", "cohort"):
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


def check_reach(
    metrics: Sequence[str], catalog: Catalog, columns: Sequence[str], schema_of: SchemaOf
) -> None:
    """Every metric of ``metrics`` reaches ``columns``, or a :class:`UsageError` saying which does not."""
    if not columns:
        return
    for requested in metrics:
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


__all__ = ["SchemaOf", "check_reach", "from_customers", "tables_of", "unreachable", "where_columns"]
