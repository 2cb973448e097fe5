"""Time spans of typed Parquet files read from their footers' statistics, not their rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from crmetrics.cli import main
from crmetrics.engine import Engine
from crmetrics.plugins.files import footer_span


def _day(month: int, day: int) -> datetime:
    return datetime(2025, month, day, tzinfo=UTC)


def _write(path: Path, times: list[datetime | None], dtype: pl.DataType | None = None) -> Path:
    frame = pl.DataFrame(
        {"recognized_at": times}, schema={"recognized_at": dtype or pl.Datetime("us", "UTC")}
    )
    # Two rows per row group: [Jan 5, Jan 20], [Mar 3, Mar 9], [Jun 1, null].
    frame.write_parquet(path, row_group_size=2, statistics=True)
    return path


TIMES = [_day(1, 5), _day(1, 20), _day(3, 3), _day(3, 9), _day(6, 1), None]


def test_a_row_group_inside_the_range_proves_a_value_in_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "revenue.parquet", TIMES)
    span = footer_span([path], "recognized_at", _day(3, 1), _day(4, 1))
    # March 3 to 9 lies inside [Mar 1, Apr 1); the least minimum is Jan 5, the greatest
    # maximum Jun 1 (the null is no value).
    assert span is not None
    assert (span.first, span.last, span.in_range) == (_day(1, 5), _day(6, 1), True)


def test_row_groups_all_outside_the_range_prove_it_empty(tmp_path: Path) -> None:
    path = _write(tmp_path / "revenue.parquet", TIMES)
    # February: Jan 5-20 ends before it, Mar 3-9 and Jun 1 start after it.
    span = footer_span([path], "recognized_at", _day(2, 1), _day(3, 1))
    assert span is not None and span.in_range is False


def test_row_groups_across_a_bound_prove_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path / "revenue.parquet", TIMES)
    # [Jan 10, Mar 5): Jan 5-20 and Mar 3-9 both cross a bound, none lies inside; whether
    # a value falls in the range takes reading the rows.
    assert footer_span([path], "recognized_at", _day(1, 10), _day(3, 5)) is None


def test_a_column_not_in_utc_microseconds_proves_nothing(tmp_path: Path) -> None:
    naive = _write(
        tmp_path / "naive.parquet", [t.replace(tzinfo=None) if t else None for t in TIMES], pl.Datetime("us")
    )
    assert footer_span([naive], "recognized_at", _day(3, 1), _day(4, 1)) is None
    assert footer_span([naive], "missing", _day(3, 1), _day(4, 1)) is None


def _revenue(folder: Path, ids: list[str]) -> None:
    folder.mkdir(exist_ok=True)
    pl.DataFrame(
        {
            "revenue_id": ids,
            "customer_id": ["C1"] * len(ids),
            "recognized_at": [_day(1, 10), _day(2, 10), _day(2, 20)][: len(ids)],
            "amount": [10.0] * len(ids),
            "cost": [None] * len(ids),
        },
        schema_overrides={"recognized_at": pl.Datetime("us", "UTC"), "cost": pl.Float64},
    ).write_parquet(folder / "revenue.parquet")


def test_the_range_warning_on_parquet_names_the_span_from_the_footer(tmp_path: Path) -> None:
    _revenue(tmp_path / "data", ["R1", "R2", "R3"])
    result = CliRunner().invoke(
        main,
        [
            "run",
            "-s",
            f"parquet:{tmp_path / 'data'}",
            "-m",
            "revenue",
            "--start",
            "2030-01-01",
            "--end",
            "2030-03-01",
        ],
        env={"CRMETRICS_NO_CACHE": "1"},
    )
    assert result.exit_code == 0, result.output
    assert "warning: the range 2030-01-01 to 2030-03-01 holds no row of revenue" in result.stderr
    assert "revenue.recognized_at spans 2025-01-10 to 2025-02-20" in result.stderr


def test_a_table_whose_rows_were_dropped_is_not_answered_from_its_footer(tmp_path: Path) -> None:
    # R2 twice: the duplicate key makes the table read the eager way, keeping the last copy,
    # so its footer no longer describes the rows the metrics read.
    _revenue(tmp_path / "data", ["R1", "R2", "R2"])
    connector = Engine().open_source(f"parquet:{tmp_path / 'data'}")
    connector.scan("revenue")
    assert not connector.reads_in_place("revenue")
    assert connector.column_span("revenue", "recognized_at", _day(1, 1), _day(3, 1)) is None


def test_a_clean_typed_table_is_answered_from_its_footer(tmp_path: Path) -> None:
    _revenue(tmp_path / "data", ["R1", "R2", "R3"])
    connector = Engine().open_source(f"parquet:{tmp_path / 'data'}")
    connector.checks_cache = None
    assert connector.column_span("revenue", "recognized_at", _day(1, 1), _day(3, 1)) is None  # not read yet
    connector.scan("revenue")
    assert connector.reads_in_place("revenue")
    span = connector.column_span("revenue", "recognized_at", _day(1, 1), _day(3, 1))
    # One row group, Jan 10 to Feb 20, inside [Jan 1, Mar 1).
    assert span is not None and (span.first, span.last, span.in_range) == (_day(1, 10), _day(2, 20), True)
