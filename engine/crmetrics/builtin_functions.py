"""The functions every formula may call, with their Polars and SQL implementations."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
from sqlglot import exp

from crmetrics.formula.functions import FunctionSpec, FunctionTable


def _between(unit_seconds: int) -> Callable[[pl.Expr, pl.Expr], pl.Expr]:
    def build(start: pl.Expr, end: pl.Expr) -> pl.Expr:
        # Microseconds keep durations exact; dividing once at the end avoids rounding drift.
        return (end - start).dt.total_microseconds().cast(pl.Float64) / (unit_seconds * 1_000_000)

    return build


def _sql_between(unit_seconds: int) -> Callable[[exp.Expr, exp.Expr], exp.Expr]:
    def build(start: exp.Expr, end: exp.Expr) -> exp.Expr:
        # Whole epoch microseconds subtract exactly; epoch seconds are doubles near 1.7e9 that
        # sit 2.4e-7 s apart and lose microseconds. The dialect's form of ``UnixMicros`` is
        # chosen by ``crmetrics.sql.dialects.localize``. Same arithmetic as the Polars form.
        micros = exp.Sub(this=exp.UnixMicros(this=end.copy()), expression=exp.UnixMicros(this=start.copy()))
        as_double = exp.Cast(this=micros, to=exp.DataType(this=exp.DataType.Type.DOUBLE))
        return exp.Div(this=as_double, expression=exp.Literal.number(unit_seconds * 1_000_000))

    return build


BUILTIN_FUNCTIONS: tuple[FunctionSpec, ...] = tuple(
    FunctionSpec(
        f"{unit}_between",
        ("datetime", "datetime"),
        "number",
        _between(seconds),
        _sql_between(seconds),
        f"Exact {unit} from the first timestamp to the second (fractional, microsecond precision).",
    )
    for unit, seconds in (("seconds", 1), ("minutes", 60), ("hours", 3600), ("days", 86400))
)


def builtin_functions() -> FunctionTable:
    """A function table holding the built-in functions."""
    table = FunctionTable()
    for spec in BUILTIN_FUNCTIONS:
        table.add(spec, "crmetrics")
    return table


__all__ = ["BUILTIN_FUNCTIONS", "builtin_functions"]
