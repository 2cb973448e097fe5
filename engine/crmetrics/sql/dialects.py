"""What differs between SQL dialects, beyond what sqlglot transpiles on its own.

sqlglot writes most of a query in any dialect; a few constructs need a form chosen here
because the obvious one means something else somewhere:

- weeks start on Monday: BigQuery's ``WEEK`` starts on Sunday, Snowflake's follows the
  session's ``WEEK_START``;
- epoch seconds must keep microseconds: Spark's ``UNIX_TIMESTAMP``, BigQuery's
  ``UNIX_SECONDS`` and Snowflake's ``EPOCH_SECOND`` drop them;
- epoch microseconds, from which durations are subtracted exactly, are whole numbers:
  PostgreSQL and Trino only give epoch seconds, rounded back here to whole microseconds;
- an exact median: Trino and BigQuery have only approximate percentile aggregates;
- timestamps are UTC: BigQuery's ``TIMESTAMP`` is the UTC type, elsewhere it is the plain one
  and the session time zone must be UTC.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache

import sqlglot
from sqlglot import exp

from crmetrics.errors import Issue, UsageError, did_you_mean
from crmetrics.periods import Grain

#: Dialects whose output is checked by the test suite (at least: it parses back).
DIALECTS: tuple[str, ...] = ("duckdb", "postgres", "spark", "databricks", "snowflake", "bigquery", "trino")

_PLACEHOLDER = "__value"


def check_dialect(name: str) -> str:
    """``name`` lower-cased if it is a supported dialect; otherwise a usage error."""
    dialect = name.strip().lower()
    if dialect not in DIALECTS:
        raise UsageError(
            Issue(
                "unknown-dialect",
                f"unknown SQL dialect {name!r}",
                # did_you_mean lists every dialect itself when none is close.
                hint=did_you_mean(dialect, DIALECTS),
            )
        )
    return dialect


@lru_cache(maxsize=64)
def _parsed(text: str, dialect: str) -> exp.Expr:
    # Parsed once per run: a statement may hold hundreds of the same template.
    return sqlglot.parse_one(text, read=dialect)


def _template(text: str, dialect: str, value: exp.Expr) -> exp.Expr:
    """``text`` (our own SQL, never user text) with ``__value`` replaced by ``value``."""

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and node.name == _PLACEHOLDER and not node.table:
            return value.copy() if isinstance(value, (exp.Column, exp.Func, exp.Paren)) else exp.paren(value)
        return node

    return _parsed(text, dialect).transform(replace)


def data_type(name: str) -> exp.DataType:
    """The SQL type ``name`` (``DOUBLE``, ``TIMESTAMP``...) as a node, without parsing text.

    Parsing a type name builds a tokenizer each time: thousands of casts in a statement
    would spend most of the rendering there.
    """
    return exp.DataType(this=exp.DataType.Type[name])


def timestamp_text(moment: datetime) -> exp.Literal:
    """The UTC date and time of ``moment`` as a text literal, for :func:`as_timestamp`."""
    return exp.Literal.string(moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" "))


def as_timestamp(text: exp.Expr, dialect: str) -> exp.Expr:
    """``text`` (a UTC date and time) as a value of the dialect's timestamp type."""
    return exp.Cast(this=text, to=data_type("TIMESTAMPTZ" if dialect == "bigquery" else "TIMESTAMP"))


def timestamp(moment: datetime, dialect: str) -> exp.Expr:
    """A UTC timestamp literal, as a value of the dialect's timestamp type."""
    return as_timestamp(timestamp_text(moment), dialect)


def _string(text: str) -> exp.Expr:
    return exp.Literal.string(text)


def to_local(value: exp.Expr, zone: str, dialect: str) -> exp.Expr:
    """The UTC timestamp ``value`` as the local date and time of ``zone``, without a zone.

    Every form names both zones, so nothing depends on the session's time zone.
    """
    if dialect in ("spark", "databricks"):
        return exp.Anonymous(this="FROM_UTC_TIMESTAMP", expressions=[value, _string(zone)])
    if dialect == "snowflake":
        return exp.Anonymous(this="CONVERT_TIMEZONE", expressions=[_string("UTC"), _string(zone), value])
    if dialect == "bigquery":
        return exp.Anonymous(this="DATETIME", expressions=[value, _string(zone)])
    if dialect == "trino":
        utc = exp.Anonymous(this="WITH_TIMEZONE", expressions=[value, _string("UTC")])
        return exp.Cast(this=exp.AtTimeZone(this=utc, zone=_string(zone)), to=data_type("TIMESTAMP"))
    # Parenthesised: AT TIME ZONE binds looser than + and - in some dialects.
    return exp.paren(exp.AtTimeZone(this=exp.AtTimeZone(this=value, zone=_string("UTC")), zone=_string(zone)))


def to_utc(local: exp.Expr, zone: str, dialect: str) -> exp.Expr:
    """The local date and time ``local`` of ``zone`` as a UTC timestamp (see :func:`to_local`)."""
    local = local if isinstance(local, (exp.Column, exp.Paren, exp.Func)) else exp.paren(local)
    if dialect in ("spark", "databricks"):
        return exp.Anonymous(this="TO_UTC_TIMESTAMP", expressions=[local, _string(zone)])
    if dialect == "snowflake":
        return exp.Anonymous(this="CONVERT_TIMEZONE", expressions=[_string(zone), _string("UTC"), local])
    if dialect == "bigquery":
        return exp.Anonymous(this="TIMESTAMP", expressions=[local, _string(zone)])
    if dialect == "trino":
        zoned = exp.Anonymous(this="WITH_TIMEZONE", expressions=[local, _string(zone)])
        return exp.Cast(this=exp.AtTimeZone(this=zoned, zone=_string("UTC")), to=data_type("TIMESTAMP"))
    return exp.paren(exp.AtTimeZone(this=exp.AtTimeZone(this=local, zone=_string(zone)), zone=_string("UTC")))


def plus(value: exp.Expr, amount: int, unit: str) -> exp.Expr:
    """``value`` moved by ``amount`` ``unit`` (DAY or MONTH), back when negative."""
    interval = exp.Interval(this=exp.Literal.string(str(abs(amount))), unit=exp.var(unit))
    value = value if isinstance(value, (exp.Column, exp.Paren, exp.Func)) else exp.paren(value)
    if amount < 0:
        return exp.Sub(this=value, expression=interval)
    return exp.Add(this=value, expression=interval)


def truncate(value: exp.Expr, grain: Grain, dialect: str) -> exp.Expr:
    """The start, as a UTC timestamp, of the period of ``grain`` (on its calendar) holding ``value``."""
    calendar = grain.calendar
    local = value if calendar.is_utc else to_local(value, calendar.time_zone, dialect)
    if grain.name == "week" and calendar.week_start:
        days = calendar.week_start
        start = plus(_plain_truncate(plus(local, -days, "DAY"), "week", dialect), days, "DAY")
    elif grain.month_offset:
        months = grain.month_offset
        unit = grain.name.removeprefix("fiscal_")
        start = plus(_plain_truncate(plus(local, -months, "MONTH"), unit, dialect), months, "MONTH")
    else:
        start = _plain_truncate(local, grain.name.removeprefix("fiscal_"), dialect)
    return start if calendar.is_utc else to_utc(start, calendar.time_zone, dialect)


def local_date(value: exp.Expr, grain: Grain, dialect: str) -> exp.Expr:
    """The local date of the UTC timestamp ``value`` on ``grain``'s calendar."""
    calendar = grain.calendar
    local = value if calendar.is_utc else to_local(value, calendar.time_zone, dialect)
    return exp.Cast(this=local, to=data_type("DATE"))


def _plain_truncate(value: exp.Expr, grain: str, dialect: str) -> exp.Expr:
    """The start of the calendar ``grain`` (weeks from Monday) holding ``value``."""
    if grain == "week" and dialect == "bigquery":
        return exp.TimestampTrunc(this=value, unit=exp.var("ISOWEEK"))
    if grain == "week" and dialect == "snowflake":
        return _template(
            f"DATEADD(DAY, 1 - DAYOFWEEKISO({_PLACEHOLDER}), DATE_TRUNC('DAY', {_PLACEHOLDER}))",
            dialect,
            value,
        )
    return exp.TimestampTrunc(this=value, unit=exp.var(grain.upper()))


def double(value: exp.Expr) -> exp.Expr:
    """``value`` cast to a double."""
    if isinstance(value, exp.Cast) and value.to.this == exp.DataType.Type.DOUBLE:
        return value
    return exp.Cast(this=value, to=data_type("DOUBLE"))


def number(value: float) -> exp.Expr:
    """A numeric literal; fractions are doubles (Spark would read ``0.5`` as a decimal).

    A value that is not finite has no literal: ``inf`` would be read as a column's name.
    Formulas, parameters and data refuse such values first; this is the last guard.
    """
    if not math.isfinite(value):
        raise ValueError(f"no SQL literal for the non-finite number {value!r}")
    if isinstance(value, int) and not isinstance(value, bool):
        return exp.Literal.number(value)
    return double(exp.Literal.number(repr(float(value))))


def half_even(value: exp.Expr, places: int) -> exp.Expr:
    """``value`` rounded to ``places`` decimals, half to even as Polars rounds.

    SQL's ROUND rounds half away from zero; this compares the scaled value's fraction with
    one half instead, and picks the even neighbour on a tie.
    """
    scale = exp.Literal.number(10**places)
    scaled = exp.paren(exp.Mul(this=double(value), expression=scale))
    floor = exp.Floor(this=scaled.copy())
    above = exp.Sub(this=scaled.copy(), expression=floor.copy())
    half = double(exp.Literal.number("0.5"))
    even = exp.EQ(
        this=exp.Sub(
            this=floor.copy(),
            expression=exp.Mul(
                this=exp.Literal.number(2),
                expression=exp.Floor(this=exp.Div(this=floor.copy(), expression=exp.Literal.number(2))),
            ),
        ),
        expression=exp.Literal.number(0),
    )
    up = exp.Add(this=floor.copy(), expression=exp.Literal.number(1))
    rounded = exp.Case(
        ifs=[
            exp.If(this=exp.GT(this=exp.paren(above.copy()), expression=half.copy()), true=up.copy()),
            exp.If(this=exp.LT(this=exp.paren(above), expression=half), true=floor.copy()),
            exp.If(this=even, true=floor),
        ],
        default=up,
    )
    return exp.Div(this=exp.paren(rounded), expression=scale.copy())


_EPOCH: dict[str, str] = {
    "spark": f"CAST(UNIX_MICROS({_PLACEHOLDER}) AS DOUBLE) / 1000000",
    "databricks": f"CAST(UNIX_MICROS({_PLACEHOLDER}) AS DOUBLE) / 1000000",
    "bigquery": f"UNIX_MICROS({_PLACEHOLDER}) / 1000000.0",
    "snowflake": f"DATE_PART(EPOCH_MICROSECOND, {_PLACEHOLDER}) / 1000000.0",
}

# Whole microseconds since the epoch (``exp.UnixMicros``), where sqlglot has no native form.
# PostgreSQL's epoch is numeric from version 14 and a double before; Trino's is a double.
# Before 2106 a double epoch scaled to microseconds is less than half a microsecond from the
# exact count, so rounding gives the count back exactly.
_EPOCH_MICROS: dict[str, str] = {
    "postgres": f"CAST(ROUND(EXTRACT(EPOCH FROM {_PLACEHOLDER}) * 1000000) AS BIGINT)",
    "snowflake": f"DATE_PART(EPOCH_MICROSECOND, {_PLACEHOLDER})",
    "trino": f"CAST(ROUND(TO_UNIXTIME({_PLACEHOLDER}) * 1000000) AS BIGINT)",
}

_MEDIAN: dict[str, str] = {
    # The middle value, or the mean of the two middle values, of the sorted non-null values.
    "trino": (
        f"CASE WHEN COUNT({_PLACEHOLDER}) = 0 THEN NULL ELSE ("
        f"ELEMENT_AT(ARRAY_SORT(ARRAY_AGG({_PLACEHOLDER}) FILTER (WHERE {_PLACEHOLDER} IS NOT NULL)), "
        f"CAST(FLOOR((COUNT({_PLACEHOLDER}) + 1) / 2.0) AS BIGINT)) + "
        f"ELEMENT_AT(ARRAY_SORT(ARRAY_AGG({_PLACEHOLDER}) FILTER (WHERE {_PLACEHOLDER} IS NOT NULL)), "
        f"CAST(CEIL((COUNT({_PLACEHOLDER}) + 1) / 2.0) AS BIGINT))) / 2.0 END"
    ),
    "bigquery": (
        f"(ARRAY_AGG({_PLACEHOLDER} IGNORE NULLS ORDER BY {_PLACEHOLDER})"
        f"[SAFE_OFFSET(DIV(COUNT({_PLACEHOLDER}) - 1, 2))] + "
        f"ARRAY_AGG({_PLACEHOLDER} IGNORE NULLS ORDER BY {_PLACEHOLDER})"
        f"[SAFE_OFFSET(DIV(COUNT({_PLACEHOLDER}), 2))]) / 2.0"
    ),
}


def localize(tree: exp.Expr, dialect: str) -> exp.Expr:
    """``tree`` with the nodes whose generic form is wrong in ``dialect`` rewritten.

    Plugins build their SQL from generic nodes (``exp.TimeToUnix``, ``exp.UnixMicros``,
    ``exp.Median``); this is where those nodes get their exact form, so a plugin never needs
    to know dialects.
    """
    # Epochs first: a median's argument is copied into its rewritten form, epochs and all.
    for kind, forms in ((exp.TimeToUnix, _EPOCH), (exp.UnixMicros, _EPOCH_MICROS), (exp.Median, _MEDIAN)):
        form = forms.get(dialect)
        if form is not None:
            tree = tree.transform(
                lambda node, kind=kind, form=form: (
                    exp.paren(_template(form, dialect, node.this)) if isinstance(node, kind) else node
                ),
                copy=False,  # the tree is the caller's own, freshly built
            )
    return tree


__all__ = [
    "DIALECTS",
    "as_timestamp",
    "check_dialect",
    "data_type",
    "double",
    "half_even",
    "local_date",
    "localize",
    "number",
    "plus",
    "timestamp",
    "timestamp_text",
    "to_local",
    "to_utc",
    "truncate",
]
