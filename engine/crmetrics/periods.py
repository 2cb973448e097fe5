"""Calendar periods in UTC: grains, aligned ranges and the grid of period starts."""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl

from crmetrics.errors import Issue, UsageError, did_you_mean

#: Polars duration strings; Polars starts weeks on Monday, as the spec requires.
GRAINS: dict[str, str] = {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}

PERIOD_START = "period_start"


@dataclass(frozen=True)
class Grain:
    """A period length: ``day``, ``week`` (from Monday), ``month``, ``quarter`` or ``year``."""

    name: str

    @classmethod
    def parse(cls, name: str) -> Grain:
        """The grain called ``name``; an unknown one is a usage error."""
        if name not in GRAINS:
            raise UsageError(Issue("bad-grain", f"unknown grain {name!r}", hint=did_you_mean(name, GRAINS)))
        return cls(name)

    @property
    def every(self) -> str:
        """The grain as a Polars duration string (``1mo``)."""
        return GRAINS[self.name]

    def truncate(self, moment: datetime) -> datetime:
        """The start of the period holding ``moment``."""
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.name == "day":
            return day
        if self.name == "week":  # weeks start on Monday
            return day - timedelta(days=day.weekday())
        month = {"month": day.month, "quarter": 3 * ((day.month - 1) // 3) + 1, "year": 1}[self.name]
        return day.replace(month=month, day=1)

    def shift(self, moment: datetime, periods: int) -> datetime:
        """``moment`` moved by ``periods`` periods (back when negative).

        Months, quarters and years keep the day of the month, or the month's last day
        when it has fewer days, as Polars' ``offset_by`` does.
        """
        if self.name in ("day", "week"):
            return moment + timedelta(days=periods * (7 if self.name == "week" else 1))
        months = periods * {"month": 1, "quarter": 3, "year": 12}[self.name]
        year, month = divmod(moment.month - 1 + months, 12)
        year, month = moment.year + year, month + 1
        return moment.replace(year=year, month=month, day=min(moment.day, monthrange(year, month)[1]))


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
