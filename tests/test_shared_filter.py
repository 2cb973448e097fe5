"""Aggregates that all read the rows of one filter: the rows it drops never reach the group-by.

A period whose rows the filter all drops then has no rows, and its values must be those
of the aggregates over none of its rows: a count of 0, a ratio of nothing null.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import crmetrics
from crmetrics.plan import Request

UTC_US = pl.Datetime("us", "UTC")

DEFINITIONS = """\
metrics:
  - name: logins
    type: aggregate
    table: activity
    time: occurred_at
    filter: activity_type = 'login'
    expr: count(*)
  - name: c1_login_share
    type: aggregate
    table: activity
    time: occurred_at
    filter: activity_type = 'login'
    expr: count(*) FILTER (WHERE customer_id = 'C1') / count(*)
"""


def _day(month: int, day: int) -> datetime:
    return datetime(2025, month, day, tzinfo=UTC)


@pytest.fixture
def engine_and_data(tmp_path: Path) -> tuple[crmetrics.Engine, Path]:
    data = tmp_path / "data"
    data.mkdir()
    pl.DataFrame(
        {"customer_id": ["C1", "C2"], "acquired_at": [_day(1, 1), _day(1, 1)], "segment": ["a", "b"]},
        schema_overrides={"acquired_at": UTC_US},
    ).with_columns(pl.lit(None, dtype=UTC_US).alias("churned_at")).write_parquet(data / "customers.parquet")
    pl.DataFrame(
        {
            "activity_id": ["A1", "A2", "A3", "A4"],
            "customer_id": ["C1", "C2", "C2", "C2"],
            "occurred_at": [_day(1, 5), _day(1, 20), _day(2, 3), _day(2, 9)],
            "activity_type": ["login", "login", "email", None],
        },
        schema_overrides={"occurred_at": UTC_US},
    ).write_parquet(data / "activity.parquet")
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "metrics.yaml").write_text(DEFINITIONS)
    return crmetrics.Engine(definitions=[tmp_path / "defs"]), data


def test_a_period_whose_rows_the_filter_drops_takes_the_values_of_no_rows(
    engine_and_data: tuple[crmetrics.Engine, Path],
) -> None:
    engine, data = engine_and_data
    request = Request.build(["logins", "c1_login_share"], start="2025-01-01", end="2025-04-01")
    frame = engine.evaluate(request, f"parquet:{data}")
    # January: A1 and A2 are logins, A1 by C1: 2 logins, 1 / 2 = 0.5. February: A3 is
    # an email and A4 has no type (the filter is not true): 0 logins, 0 / 0 is null.
    # March: no rows at all, the same values.
    assert frame.filter(pl.col("metric") == "logins")["value"].to_list() == [2.0, 0.0, 0.0]
    assert frame.filter(pl.col("metric") == "c1_login_share")["value"].to_list() == [0.5, None, None]


def test_grouped_every_group_keeps_its_periods(engine_and_data: tuple[crmetrics.Engine, Path]) -> None:
    engine, data = engine_and_data
    request = Request.build(
        ["logins", "c1_login_share"], start="2025-01-01", end="2025-03-01", by=["segment"]
    )
    frame = engine.evaluate(request, f"parquet:{data}").sort("metric", "period_start", "segment")
    # January: segment a (C1) 1 login, by C1: 1 / 1; segment b (C2) 1 login, 0 / 1.
    # February: a has no rows, b has two, neither a login: 0 logins and 0 / 0 (null) for both.
    logins = frame.filter(pl.col("metric") == "logins")
    shares = frame.filter(pl.col("metric") == "c1_login_share")
    assert logins["segment"].to_list() == ["a", "b", "a", "b"]
    assert logins["value"].to_list() == [1.0, 1.0, 0.0, 0.0]
    assert shares["value"].to_list() == [1.0, 0.0, None, None]
