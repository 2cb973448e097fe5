"""``--compare previous|year_ago``: each value beside the value of an earlier period.

The comparison reads the periods before ``start`` the way ``prior()`` does: the request
is widened backwards by the comparison's distance, evaluated once, and each row is joined
to the row of the same metric and group that many periods earlier. Widening rather than
a second query keeps one plan, and gives the earlier periods exactly the values a run
over them would give.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from crmetrics.errors import Issue, UsageError
from crmetrics.periods import PERIOD_START
from crmetrics.plan import Request

COMPARISONS: tuple[str, ...] = ("previous", "year_ago")
#: The long-format columns a comparison adds.
COMPARE_COLUMNS: tuple[str, ...] = ("compare_value", "change", "relative_change")

_PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}


def distance(kind: str, grain: str) -> int:
    """How many periods back ``kind`` compares with, at ``grain``; a usage error if it cannot."""
    if kind == "previous":
        return 1
    if kind != "year_ago":
        raise UsageError(
            Issue(
                "bad-compare",
                f"unknown comparison {kind!r}",
                hint=f"use one of: {', '.join(COMPARISONS)}",
            )
        )
    if grain not in _PERIODS_PER_YEAR:
        raise UsageError(
            Issue(
                "bad-compare",
                f"--compare year_ago needs a grain of month, quarter or year, not {grain}",
                hint="a year holds no whole number of "
                + ("weeks" if grain == "week" else "days that lines up every year")
                + "; use --grain month, or --compare previous",
            )
        )
    return _PERIODS_PER_YEAR[grain]


def widened(request: Request, kind: str) -> Request:
    """``request`` starting early enough to hold every period compared with."""
    back = distance(kind, request.grain.name)
    return replace(request, start=request.grain.shift(request.start, -back))


def compared(result: pl.DataFrame, request: Request, kind: str) -> pl.DataFrame:
    """The rows of ``request``'s range, each with its comparison value and changes.

    ``result`` is the long result of :func:`widened`; the rows before ``request.start``
    only serve as comparison values. ``relative_change`` divides by the comparison value's
    magnitude, so a rise from -20 to -10 is +50 %; it is null when that value is 0 or null.
    """
    back = distance(kind, request.grain.name)
    unit = request.grain.every[1:]
    keys = ["metric", PERIOD_START, *request.by]
    earlier = result.select(
        "metric",
        pl.col(PERIOD_START).dt.offset_by(f"{back}{unit}"),
        *request.by,
        pl.col("value").alias("compare_value"),
    )
    change = pl.col("value") - pl.col("compare_value")
    return (
        result.filter(pl.col(PERIOD_START) >= request.start.date())
        .join(earlier, on=keys, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(change.alias("change"))
        .with_columns(
            pl.when(pl.col("compare_value") != 0)
            .then(pl.col("change") / pl.col("compare_value").abs())
            .alias("relative_change")
        )
    )


__all__ = ["COMPARE_COLUMNS", "COMPARISONS", "compared", "distance", "widened"]
