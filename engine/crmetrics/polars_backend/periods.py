"""Periods of a calendar as Polars expressions: the period of an instant, moved, named by a date.

Instants are UTC; a period starts at a local midnight of the calendar's zone. The default
calendar (UTC, weeks from Monday, years from January) keeps Polars' own ``truncate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import polars as pl

from crmetrics.periods import MONTHS, Grain

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@lru_cache(maxsize=1024)
def moment(value: datetime) -> pl.Expr:
    """The instant ``value`` as a literal, made once per process.

    Polars attaches a literal's time zone by running a small query (about 0.1 ms), and a
    request compares with the same few instants (its start, its end) in dozens of places.
    """
    return pl.lit(value)


def utc_series(values: Sequence[datetime]) -> pl.Series:
    """The instants ``values`` as a UTC datetime column (from their epoch microseconds:
    building it from datetimes costs Polars twice as much, a query to attach the zone)."""
    micros = [(value - _EPOCH) // _MICROSECOND for value in values]
    return pl.Series(micros, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))


def _local(value: pl.Expr, grain: Grain) -> pl.Expr:
    zone = grain.calendar.time_zone
    return (value if grain.calendar.is_utc else value.dt.convert_time_zone(zone)).dt.replace_time_zone(None)


def _instant(local: pl.Expr, grain: Grain) -> pl.Expr:
    if grain.calendar.is_utc:
        return local.dt.replace_time_zone("UTC")
    zone = grain.calendar.time_zone
    # A local midnight skipped by a DST change does not start a period anywhere in use
    # (zones change at night, not at midnight, save a few historical ones): the earliest
    # reading of an ambiguous one is the period's first instant.
    return local.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null").dt.convert_time_zone(
        "UTC"
    )


def period_of(value: pl.Expr, grain: Grain) -> pl.Expr:
    """The start (UTC) of the period of ``grain`` holding the UTC instant ``value``."""
    calendar = grain.calendar
    if calendar.is_utc and grain.month_offset == 0 and (grain.name != "week" or calendar.week_start == 0):
        return value.dt.truncate(grain.every)
    local = _local(value, grain)
    if grain.name == "week" and calendar.week_start:
        days = f"{calendar.week_start}d"
        start = local.dt.offset_by(f"-{days}").dt.truncate("1w").dt.offset_by(days)
    elif grain.month_offset:
        months = f"{grain.month_offset}mo"
        start = local.dt.offset_by(f"-{months}").dt.truncate(grain.every).dt.offset_by(months)
    else:
        start = local.dt.truncate(grain.every)
    return _instant(start, grain)


def step(grain: Grain, periods: int) -> str:
    """``periods`` periods of ``grain`` as a Polars duration string."""
    if grain.name in MONTHS:
        return f"{periods * MONTHS[grain.name]}mo"
    return f"{periods * (7 if grain.name == 'week' else 1)}d"


def shift(value: pl.Expr, grain: Grain, periods: int) -> pl.Expr:
    """The UTC instant ``value`` moved ``periods`` periods of ``grain`` in local time."""
    if grain.calendar.is_utc:
        return value.dt.offset_by(step(grain, periods))
    return _instant(_local(value, grain).dt.offset_by(step(grain, periods)), grain)


def local_date(value: pl.Expr, grain: Grain) -> pl.Expr:
    """The local date of the UTC instant ``value`` (how ``period_start`` is printed)."""
    return _local(value, grain).dt.date()


__all__ = ["local_date", "period_of", "shift", "step"]
