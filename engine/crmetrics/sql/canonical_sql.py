"""The canonical conversions and data checks as SQL, for engines that read the data themselves.

DuckDB and Spark read Parquet folders, database files and catalog tables in place; what
the Polars path does to a table on its way in (``crmetrics.canonical``) is done here as
one ``SELECT`` per table, built as a sqlglot tree and rendered for either engine:

- the conversion: epoch milliseconds and dates become timestamps, other numbers become
  doubles; columns already of their canonical type pass through untouched, so the engine
  still prunes columns and pushes the time window into its scan. An engine that keeps
  zoned timestamps as a type of their own (DuckDB's ``TIMESTAMPTZ``) may ask for them as
  plain UTC timestamps (``naive_utc``), as the Polars path hands frames over: every
  period, grid and comparison of the metrics' statement is then of one type;
- the checks: one row of counts with exactly the names ``conform_lazy`` gives them (rows,
  ``missing <column>``, ``outside <column>``, each rule across columns, duplicate keys).

A column that needs parsing (a timestamp stored as text) has no conversion here: only the
row-by-row path can name the rows it fails on, so such a table takes the Polars path.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
import sqlglot
from sqlglot import exp

from crmetrics.canonical import DUPLICATE_KEYS, ROWS_CHECKED, row_rules
from crmetrics.model import ALLOWED_VALUES, SURVEY_SCALES, Table
from crmetrics.sql.tables import identifier


def _before_creation(column: str, *, date_only: bool) -> dict[str, str]:
    # As canonical._before_creation: a date-only column may fall on the day before.
    floor = "CAST(CAST(created_at AS DATE) AS TIMESTAMP) - INTERVAL '1' DAY" if date_only else "created_at"
    return {f"{column} before created_at": f"{column} < {floor}"}


# The model's rules across columns (canonical.row_rules, by the same reasons), as SQL: a
# row breaks a rule when its condition is true; a null condition breaks nothing.
_RULES: dict[str, dict[str, str]] = {
    "customers": {"churned_at before acquired_at": "churned_at < acquired_at"},
    "deals": {
        "is_won without is_closed": "is_won AND NOT is_closed",
        "closed deal without closed_at": "is_closed AND closed_at IS NULL",
        **_before_creation("closed_at", date_only=True),
    },
    "leads": {
        "converted lead without converted_at": "is_converted AND converted_at IS NULL",
        **_before_creation("converted_at", date_only=True),
    },
    "tickets": {
        **_before_creation("first_response_at", date_only=False),
        **_before_creation("resolved_at", date_only=False),
        "negative handle_time_seconds": "handle_time_seconds < 0",
    },
    "survey_responses": {
        "score off the survey's scale (nps 0-10, csat 1-5, ces 1-7)": " OR ".join(
            f"(survey_type = '{survey}' AND NOT score BETWEEN {low} AND {high})"
            for survey, (low, high) in SURVEY_SCALES.items()
        )
    },
}


def rule_conditions(table: Table) -> dict[str, exp.Expr]:
    """Each rule across columns of ``table``: its reason and the condition a bad row meets."""
    reasons = [reason for reason, *_ in row_rules(table)]
    written = _RULES.get(table.name, {})
    if sorted(written) != sorted(reasons):  # the two spellings of the model must not drift
        raise AssertionError(f"SQL rules of {table.name} differ from the model's: {written} vs {reasons}")
    return {reason: _quoted(sqlglot.parse_one(written[reason])) for reason in reasons}


def _quoted(tree: exp.Expr) -> exp.Expr:
    for column in tree.find_all(exp.Column):
        column.set("this", identifier(column.name))
    return tree


def _utc_wall_clock(column: exp.Expr) -> exp.Expr:
    """A zoned timestamp as the plain timestamp of its UTC wall clock.

    Through the epoch's microseconds, not a cast: DuckDB casts a ``TIMESTAMPTZ`` through its
    time-zone calendar row by row, several times the cost of reading the column, whereas
    the microseconds are what it stores.
    """
    return exp.UnixToTime(this=exp.UnixMicros(this=column), scale=exp.UnixToTime.MICROS)


def _converted(kind: str, name: str, dtype: pl.DataType, *, naive_utc: bool) -> exp.Expr | None:
    """``name`` converted to its canonical ``kind`` without parsing; None if that needs parsing."""
    column = exp.column(identifier(name))
    if kind == "datetime":
        if isinstance(dtype, pl.Datetime):
            return _utc_wall_clock(column) if naive_utc and dtype.time_zone is not None else column
        if isinstance(dtype, pl.Date):
            return exp.cast(column, exp.DataType.build("TIMESTAMP"))
        if dtype.is_integer():
            return exp.UnixToTime(this=column, scale=exp.UnixToTime.MILLIS)
        return None
    if kind == "float":
        if dtype == pl.Float64:
            return column
        if dtype.is_numeric():
            return exp.cast(column, exp.DataType.build("DOUBLE"))
        return None
    if kind == "bool":
        return column if isinstance(dtype, pl.Boolean) else None
    return column if isinstance(dtype, pl.String | pl.Categorical | pl.Enum) else None


def canonical_select(
    table: Table, source: exp.Expr, schema: Mapping[str, pl.DataType], *, naive_utc: bool = False
) -> exp.Select | None:
    """``source``'s rows under ``table``'s canonical types, extra columns kept; None if parsing is needed.

    A canonical column the source lacks is null (only nullable ones may be missing: the
    caller checks for required columns first). With ``naive_utc``, zoned timestamps become
    plain timestamps holding their UTC time.
    """
    columns: list[exp.Expr] = []
    for column in table.columns:
        if column.name not in schema:
            kind = {"datetime": "TIMESTAMP", "float": "DOUBLE", "bool": "BOOLEAN"}.get(column.kind, "VARCHAR")
            columns.append(
                exp.alias_(exp.cast(exp.null(), exp.DataType.build(kind)), identifier(column.name))
            )
            continue
        converted = _converted(column.kind, column.name, schema[column.name], naive_utc=naive_utc)
        if converted is None:
            return None
        columns.append(
            converted if isinstance(converted, exp.Column) else exp.alias_(converted, identifier(column.name))
        )
    columns += [exp.column(identifier(name)) for name in schema if table.column(name) is None]
    return exp.select(*columns).from_(source)


def _count_if(condition: exp.Expr) -> exp.Expr:
    case = exp.Case().when(condition, exp.Literal.number(1)).else_(exp.Literal.number(0))
    return exp.Sum(this=case)


def check_select(
    table: Table,
    relation: exp.Expr,
    present: Mapping[str, pl.DataType],
    *,
    known_nulls: Mapping[str, int] | None = None,
    unique_key: bool = False,
) -> exp.Select:
    """One row of counts of the ways ``relation``'s rows break the model (all zero: clean).

    ``relation`` holds the canonical columns (see :func:`canonical_select`); ``present`` are
    the columns the source really has, since a missing nullable column breaks no rule.
    ``known_nulls`` spares counting nulls of a required column its source proves has none,
    and ``unique_key`` counting distinct keys when the source proves them unique and present.
    """
    known = known_nulls or {}
    star = exp.Count(this=exp.Star())
    counts: list[exp.Expr] = [exp.alias_(star, identifier(ROWS_CHECKED))]
    for column in table.columns:
        if not column.nullable and column.name in present and known.get(column.name) != 0:
            missing = exp.Sub(
                this=star.copy(), expression=exp.Count(this=exp.column(identifier(column.name)))
            )
            counts.append(exp.alias_(missing, identifier(f"missing {column.name}")))
    for (table_name, name), allowed in ALLOWED_VALUES.items():
        if table_name == table.name and name in present:
            column_ = exp.column(identifier(name))
            outside = exp.and_(
                exp.Not(this=exp.Is(this=column_, expression=exp.null())),
                exp.Not(
                    this=exp.In(
                        this=column_.copy(), expressions=[exp.Literal.string(v) for v in sorted(allowed)]
                    )
                ),
            )
            counts.append(exp.alias_(_count_if(outside), identifier(f"outside {name}")))
    for reason, condition in rule_conditions(table).items():
        counts.append(exp.alias_(_count_if(condition), identifier(reason)))
    if not unique_key:
        counts.append(_duplicate_keys(table))
    return exp.select(*counts).from_(relation)


def _duplicate_keys(table: Table) -> exp.Expr:
    distinct = exp.Count(this=exp.Distinct(expressions=[exp.column(identifier(table.key))]))
    duplicates = exp.Sub(this=exp.Count(this=exp.Star()), expression=distinct)
    return exp.alias_(duplicates, identifier(DUPLICATE_KEYS))


def duplicate_keys_select(table: Table, relation: exp.Expr) -> exp.Select:
    """One row, one count: the rows of ``relation`` whose key another row holds too.

    What :func:`check_select` counts when the key is not proven unique, for a table whose
    proof failed after its other checks were written.
    """
    return exp.select(_duplicate_keys(table)).from_(relation)


__all__ = ["canonical_select", "check_select", "duplicate_keys_select", "rule_conditions"]
