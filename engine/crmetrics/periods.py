"""Calendar periods in UTC: grains, aligned ranges and the grid of period starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import polars as pl

from crmetrics.errors import Issue, UsageError, did_you_mean

#: Polars duration strings; Polars starts weeks on Monday, as the spec requires.
GRAINS: dict[str, str] = {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}

PERIOD_START = "period_start"


@dataclass(frozen=True)
class Grain:
    name: str

    @classmethod
    def parse(cls, name: str) -> Grain:
        if name not in GRAINS:
            raise UsageError(Issue("bad-grain", f"unknown grain {name!r}", hint=did_you_mean(name, GRAINS)))
        return cls(name)

    @property
    def every(self) -> str:
        return GRAINS[self.name]

    def truncate(self, moment: datetime) -> datetime:
        return pl.select(pl.lit(moment).dt.truncate(self.every)).item()

    def shift(self, moment: datetime, periods: int) -> datetime:
        if periods == 0:
            return moment
        step = f"{periods}{self.every[1:]}" if self.every[0] == "1" else self.every
        return pl.select(pl.lit(moment).dt.offset_by(step)).item()


def parse_instant(text: str | date | datetime, what: str) -> datetime:
    """A date or timestamp given by a user, as a UTC datetime (a bare date is midnight UTC)."""
    if isinstance(text, datetime):
        moment = text
    elif isinstance(text, date):
        moment = datetime(text.year, text.month, text.day)
    else:
        try:
            moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(
                Issue(
                    "bad-date",
                    f"{what} {text!r} is not a date",
                    hint="write it as YYYY-MM-DD, e.g. 2025-01-01",
                )
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def aligned(moment: datetime, grain: Grain, what: str) -> datetime:
    """``moment`` if it starts a period of ``grain``; otherwise a usage error saying which does."""
    start = grain.truncate(moment)
    if start != moment:
        following = grain.shift(start, 1)
        raise UsageError(
            Issue(
                "unaligned-range",
                f"{what} {moment:%Y-%m-%d %H:%M} does not start a {grain.name}",
                hint=f"ranges are whole periods [start, end): use {start:%Y-%m-%d} or {following:%Y-%m-%d}",
            )
        )
    return moment


def period_grid(start: datetime, end: datetime, grain: Grain) -> pl.LazyFrame:
    """One row per period start in ``[start, end)``."""
    starts = pl.datetime_range(start, end, grain.every, closed="left", time_zone="UTC", eager=True)
    return pl.LazyFrame({PERIOD_START: starts.cast(pl.Datetime("us", "UTC"))})


def days_in_period(column: str, grain: Grain) -> pl.Expr:
    """The exact length in days of the period starting at ``column``."""
    start = pl.col(column)
    return (start.dt.offset_by(grain.every) - start).dt.total_microseconds() / (86_400 * 1_000_000)


__all__ = ["GRAINS", "PERIOD_START", "Grain", "aligned", "days_in_period", "parse_instant", "period_grid"]
