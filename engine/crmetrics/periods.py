"""Calendar periods: grains, the project's calendar, aligned ranges and the grid of period starts.

A period starts at a local midnight of the calendar's time zone and is held as the UTC
instant of that midnight, so a month has the length it has in that zone (DST included).
Weeks start on the calendar's ``week_start``; fiscal quarters and years start on its
``fiscal_year_start_month`` and a fiscal year is named by the calendar year it ends in.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import polars as pl

from crmetrics.errors import Issue, UsageError, did_you_mean

#: Polars duration strings of each grain (weeks and fiscal periods are aligned separately).
GRAINS: dict[str, str] = {
    "day": "1d",
    "week": "1w",
    "month": "1mo",
    "quarter": "1q",
    "year": "1y",
    "fiscal_quarter": "1q",
    "fiscal_year": "1y",
}
#: Months in a period of each month-based grain.
MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12, "fiscal_quarter": 3, "fiscal_year": 12}
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

PERIOD_START = "period_start"
#: The column naming a fiscal period (``FY2026-Q1``), added to results at a fiscal grain.
FISCAL_PERIOD = "fiscal_period"


@dataclass(frozen=True)
class Calendar:
    """How periods are cut: the first day of a week, of a fiscal year, and the time zone.

    Attributes:
        week_start: the first day of a week, 0 (Monday) to 6 (Sunday).
        fiscal_year_start_month: the month (1-12) a fiscal year starts in.
        time_zone: the IANA zone whose midnights start periods.
    """

    week_start: int = 0
    fiscal_year_start_month: int = 1
    time_zone: str = "UTC"

    @classmethod
    def parse(
        cls, *, week_start: str = "monday", fiscal_year_start_month: int = 1, time_zone: str = "UTC"
    ) -> Calendar:
        """A calendar from a project file's values; a bad value is a usage error."""
        day = str(week_start).strip().lower()
        if day not in WEEKDAYS:
            raise UsageError(
                Issue("bad-calendar", f"unknown week_start {week_start!r}", hint=did_you_mean(day, WEEKDAYS))
            )
        if not (isinstance(fiscal_year_start_month, int) and 1 <= fiscal_year_start_month <= 12):
            raise UsageError(
                Issue(
                    "bad-calendar",
                    f"fiscal_year_start_month must be a month number 1-12, not {fiscal_year_start_month!r}",
                    hint="e.g. fiscal_year_start_month: 2 for fiscal years starting on 1 February",
                )
            )
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(
                Issue(
                    "bad-calendar",
                    f"unknown time_zone {time_zone!r}",
                    hint=did_you_mean(time_zone, sorted(available_timezones()))
                    or "write an IANA zone name, e.g. America/New_York",
                )
            ) from None
        return cls(WEEKDAYS.index(day), fiscal_year_start_month, time_zone)

    @cached_property
    def zone(self) -> ZoneInfo:
        """The time zone."""
        return ZoneInfo(self.time_zone)

    @property
    def is_utc(self) -> bool:
        """Whether periods are cut at UTC midnights."""
        return self.time_zone in ("UTC", "Etc/UTC")

    def local(self, moment: datetime) -> datetime:
        """``moment`` as a naive local date and time of the zone."""
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def instant(self, local: datetime) -> datetime:
        """The UTC instant of the naive local time ``local`` (the first one, if it is ambiguous)."""
        return local.replace(tzinfo=self.zone, fold=0).astimezone(UTC)


@dataclass(frozen=True)
class Grain:
    """A period length (``day``, ``week``, ``month``, ``quarter``, ``year``, ``fiscal_quarter``,
    ``fiscal_year``) on a calendar."""

    name: str
    calendar: Calendar = field(default_factory=Calendar)

    @classmethod
    def parse(cls, name: str, calendar: Calendar | None = None) -> Grain:
        """The grain called ``name``; an unknown one is a usage error."""
        if name not in GRAINS:
            raise UsageError(Issue("bad-grain", f"unknown grain {name!r}", hint=did_you_mean(name, GRAINS)))
        return cls(name, calendar or Calendar())

    @property
    def every(self) -> str:
        """The grain as a Polars duration string (``1mo``)."""
        return GRAINS[self.name]

    @property
    def is_fiscal(self) -> bool:
        """Whether periods are fiscal quarters or years."""
        return self.name.startswith("fiscal_")

    @property
    def month_offset(self) -> int:
        """Months from January to the start of this grain's year (0 unless fiscal)."""
        return self.calendar.fiscal_year_start_month - 1 if self.is_fiscal else 0

    def truncate_local(self, local: datetime) -> datetime:
        """The local start of the period holding the naive local time ``local``."""
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.name == "day":
            return day
        if self.name == "week":
            return day - timedelta(days=(day.weekday() - self.calendar.week_start) % 7)
        size, offset = MONTHS[self.name], self.month_offset
        index = day.year * 12 + day.month - 1 - offset
        index -= index % size
        year, month = divmod(index + offset, 12)
        return datetime(year, month + 1, 1)

    def truncate(self, moment: datetime) -> datetime:
        """The start (a UTC instant) of the period holding ``moment``."""
        if self.calendar.is_utc:
            return self.truncate_local(moment.astimezone(UTC).replace(tzinfo=None)).replace(tzinfo=UTC)
        return self.calendar.instant(self.truncate_local(self.calendar.local(moment)))

    def shift(self, moment: datetime, periods: int) -> datetime:
        """``moment`` moved by ``periods`` periods (back when negative), in local time.

        Months, quarters and years keep the day of the month, or the month's last day
        when it has fewer days, as Polars' ``offset_by`` does.
        """
        # A request shifts the same few hundred period starts again and again (every
        # rolling window, look-back and period map): each is worked out once. The time
        # zone object is part of the key, since it is part of the result.
        return _shifted(self, moment, moment.tzinfo, periods)

    def _shift(self, moment: datetime, periods: int) -> datetime:
        local = self.calendar.local(moment) if not self.calendar.is_utc else moment.replace(tzinfo=None)
        if self.name in ("day", "week"):
            moved = local + timedelta(days=periods * (7 if self.name == "week" else 1))
        else:
            year, month = divmod(local.month - 1 + periods * MONTHS[self.name], 12)
            year, month = local.year + year, month + 1
            moved = local.replace(year=year, month=month, day=min(local.day, monthrange(year, month)[1]))
        if self.calendar.is_utc:
            return moved.replace(tzinfo=moment.tzinfo or UTC)
        return self.calendar.instant(moved)

    def starts(self, start: datetime, end: datetime) -> list[datetime]:
        """The period starts in ``[start, end)`` (a few hundred at most: periods, not rows)."""
        return list(_starts(self, start, start.tzinfo, end))

    def label(self, start: datetime) -> str:
        """The fiscal name of the period starting at ``start``: ``FY2026`` or ``FY2026-Q1``."""
        local = self.calendar.local(start)
        first = self.calendar.fiscal_year_start_month
        months = (local.month - first) % 12
        year = local.year + (1 if first > 1 and local.month >= first else 0)
        return f"FY{year}" if self.name == "fiscal_year" else f"FY{year}-Q{months // 3 + 1}"


@lru_cache(maxsize=8192)
def _shifted(grain: Grain, moment: datetime, zone: tzinfo | None, periods: int) -> datetime:
    return grain._shift(moment, periods)


@lru_cache(maxsize=256)
def _starts(grain: Grain, start: datetime, zone: tzinfo | None, end: datetime) -> tuple[datetime, ...]:
    starts, moment = [], start
    while moment < end:
        starts.append(moment)
        moment = grain.shift(moment, 1)
    return tuple(starts)


def parse_instant(text: str | date | datetime, what: str, calendar: Calendar | None = None) -> datetime:
    """A date or timestamp given by a user, as a UTC datetime.

    A bare date, or a time without an offset, is local to ``calendar``'s zone (UTC by default).
    """
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
        return (calendar or Calendar()).instant(moment)
    return moment.astimezone(UTC)


def aligned(moment: datetime, grain: Grain, what: str) -> datetime:
    """``moment`` if it starts a period of ``grain``; otherwise a usage error saying which does."""
    start = grain.truncate(moment)
    if start != moment:
        following = grain.shift(start, 1)
        local = grain.calendar.local(moment)
        raise UsageError(
            Issue(
                "unaligned-range",
                f"{what} {local:%Y-%m-%d %H:%M} does not start a {grain.name.replace('_', ' ')}",
                hint="ranges are whole periods [start, end): use "
                f"{grain.calendar.local(start):%Y-%m-%d} or {grain.calendar.local(following):%Y-%m-%d}",
            )
        )
    return moment


def period_grid(start: datetime, end: datetime, grain: Grain) -> pl.LazyFrame:
    """One row per period start in ``[start, end)``."""
    starts = pl.Series(PERIOD_START, grain.starts(start, end), dtype=pl.Datetime("us", "UTC"))
    return pl.LazyFrame({PERIOD_START: starts})


__all__ = [
    "FISCAL_PERIOD",
    "GRAINS",
    "MONTHS",
    "PERIOD_START",
    "WEEKDAYS",
    "Calendar",
    "Grain",
    "aligned",
    "parse_instant",
    "period_grid",
]
