"""An entity's measures from several tables, computed in one group-by over their rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import crmetrics
from crmetrics.plan import Request
from crmetrics.polars_backend.generator import _stackable

UTC_US = pl.Datetime("us", "UTC")

DEFINITIONS = """\
metrics:
  - name: load
    type: entity
    entity: customers
    population: active_at_end
    rollup: {rollup}
    measures:
      logins:
        table: activity
        time: occurred_at
        expr: count(*) FILTER (WHERE activity_type = 'login')
      handle_seconds:
        table: tickets
        time: created_at
        expr: avg(handle_time_seconds)
    expr: logins + coalesce(handle_seconds / 60, 10)
"""


def _day(month: int, day: int, year: int = 2025) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def _write(folder: Path) -> None:
    folder.mkdir()
    pl.DataFrame(
        {"customer_id": ["C1", "C2"], "acquired_at": [_day(12, 1, 2024), _day(12, 15, 2024)]},
        schema_overrides={"acquired_at": UTC_US},
    ).with_columns(pl.lit(None, dtype=UTC_US).alias("churned_at")).write_parquet(folder / "customers.parquet")
    pl.DataFrame(
        {
            "activity_id": ["A1", "A2", "A3"],
            "customer_id": ["C1", "C1", "C2"],
            "occurred_at": [_day(1, 5), _day(1, 20), _day(2, 3)],
            "activity_type": ["login", "login", "email"],
        },
        schema_overrides={"occurred_at": UTC_US},
    ).write_parquet(folder / "activity.parquet")
    pl.DataFrame(
        {
            "ticket_id": ["T1", "T2", "T3"],
            "customer_id": ["C1", "C2", "C2"],
            "created_at": [_day(1, 7), _day(1, 9), _day(2, 10)],
            "handle_time_seconds": [60.0, None, 120.0],
        },
        schema_overrides={"created_at": UTC_US},
    ).write_parquet(folder / "tickets.parquet")


def _load_by_month(tmp_path: Path, rollup: str) -> list[float]:
    """The ``load`` entity metric with ``rollup``, January and February 2025, on the test rows."""
    _write(tmp_path / "data")
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "metrics.yaml").write_text(DEFINITIONS.format(rollup=rollup))
    engine = crmetrics.Engine(definitions=[tmp_path / "defs"])
    request = Request.build(["load"], start="2025-01-01", end="2025-03-01")
    values: list[float] = engine.evaluate(request, f"parquet:{tmp_path / 'data'}")["value"].to_list()
    return values


@pytest.mark.parametrize("rollup", ["avg", "median"])
def test_measures_from_two_tables_score_each_entity(tmp_path: Path, rollup: str) -> None:
    values = _load_by_month(tmp_path, rollup)
    # January: C1 2 logins + 60 s / 60 = 3; C2 no activity (0 logins) and T2 without a
    # handle time (a mean of nothing: 10) = 10. Mean and median of 3 and 10: 6.5.
    # February: C1 no rows in either table, 0 + 10 = 10; C2's A3 is no login (0) and
    # T3 took 120 s, 0 + 2 = 2. Mean and median of 10 and 2: 6.
    assert values == [6.5, 6.0]


@pytest.mark.parametrize(
    ("rollup", "values"), [("sum", [13.0, 12.0]), ("min", [3.0, 2.0]), ("max", [10.0, 10.0])]
)
def test_rollups_read_their_own_statistic(tmp_path: Path, rollup: str, values: list[float]) -> None:
    got = _load_by_month(tmp_path, rollup)
    # The scores of the test above: January C1 3 and C2 10 (sum 13, min 3, max 10),
    # February C1 10 and C2 2 (sum 12, min 2, max 10).
    assert got == values


def test_measures_reading_a_column_of_two_types_are_not_stacked() -> None:
    # Stacked rows share their columns: a weight that is a number in one table and text
    # in the other would not fit one column, so those measures are joined instead.
    numbers = pl.LazyFrame({"weight": [1]})
    text = pl.LazyFrame({"weight": ["a"]})
    assert _stackable([numbers, numbers], [["weight"], ["weight"]])
    assert not _stackable([numbers, text], [["weight"], ["weight"]])
    assert _stackable([numbers, text], [["weight"], []])
