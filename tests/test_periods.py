"""Period arithmetic: truncating to a grain and moving by whole periods, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from crmetrics.periods import Grain


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("grain", "moment", "start"),
    [
        ("day", "2024-03-10 23:59:59.999999", "2024-03-10"),
        # 2024-06-09 is a Sunday: its week started on Monday 2024-06-03.
        ("week", "2024-06-09 12:00", "2024-06-03"),
        ("week", "2024-06-03 00:00", "2024-06-03"),
        # A week across a year boundary: Monday 2024-12-30.
        ("week", "2025-01-01 08:00", "2024-12-30"),
        ("month", "2024-02-29 18:00", "2024-02-01"),
        ("quarter", "2024-05-15 13:00", "2024-04-01"),
        ("quarter", "2024-12-31 23:00", "2024-10-01"),
        ("year", "2024-07-04", "2024-01-01"),
    ],
    ids=lambda value: str(value),
)
def test_truncate_gives_the_period_start(grain: str, moment: str, start: str) -> None:
    assert Grain(grain).truncate(at(moment)) == at(start)


@pytest.mark.parametrize(
    ("grain", "moment", "periods", "moved"),
    [
        ("day", "2024-02-28", 2, "2024-03-01"),  # 2024 is a leap year: 28, 29, then March 1
        ("week", "2024-12-30", 1, "2025-01-06"),
        ("month", "2024-01-31", 1, "2024-02-29"),  # no February 31st: the month's last day
        ("month", "2024-03-31", -1, "2024-02-29"),
        ("month", "2024-01-01", -13, "2022-12-01"),
        ("quarter", "2024-11-01", 1, "2025-02-01"),
        ("year", "2024-02-29", 1, "2025-02-28"),
        ("year", "2024-01-01", -2, "2022-01-01"),
    ],
    ids=lambda value: str(value),
)
def test_shift_moves_by_whole_periods(grain: str, moment: str, periods: int, moved: str) -> None:
    assert Grain(grain).shift(at(moment), periods) == at(moved)


def test_a_shift_keeps_the_time_zone_object_it_was_given() -> None:
    # Worked out once per instant and kept: the same instant given with another tzinfo
    # object must still come back with its own. Jan 31 + 1 month = Feb 28 (2025 is not leap).
    month = Grain("month")
    zoned = datetime(2025, 1, 31, tzinfo=ZoneInfo("UTC"))
    assert month.shift(datetime(2025, 1, 31, tzinfo=UTC), 1) == datetime(2025, 2, 28, tzinfo=UTC)
    moved = month.shift(zoned, 1)
    assert moved == datetime(2025, 2, 28, tzinfo=UTC)
    assert moved.tzinfo is zoned.tzinfo


def test_starts_are_a_new_list_each_time() -> None:
    month = Grain("month")
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)
    first = month.starts(start, end)
    first.clear()
    # Jan, Feb and Mar 2025: three month starts in [Jan 1, Apr 1).
    assert month.starts(start, end) == [datetime(2025, m, 1, tzinfo=UTC) for m in (1, 2, 3)]
