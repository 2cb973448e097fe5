"""Column statistics read from a Parquet footer, and the rules they prove."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from crmetrics.errors import DataError
from crmetrics.parquet_footer import ColumnStatistics, KeyRange, column_statistics, key_ranges
from crmetrics.plugins.files import ParquetConnector

JAN = datetime(2025, 1, 10, tzinfo=UTC)


def test_statistics_add_up_over_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    frame = pl.DataFrame(
        {
            "x": [3.0, None, 0.5, 7.0, 4.0],
            "y": [1.0, 2.0, None, None, 3.0],
            "s": ["b", "a", None, "c", "d"],
            "n": [5, 2, 9, 4, 8],
        }
    )
    frame.write_parquet(path, row_group_size=2)  # row groups: rows 1-2, 3-4, 5
    stats = column_statistics(path)
    # x: a null in row 2; smallest value 0.5 (row group 2).
    assert stats["x"] == ColumnStatistics(null_count=1, minimum=0.5)
    # y: rows 3 and 4 null; row group 2 holds no value, so records no minimum: none known.
    assert stats["y"] == ColumnStatistics(null_count=2, minimum=None)
    # s: one null; text has no numeric minimum. n: no null, smallest 2.
    assert stats["s"] == ColumnStatistics(null_count=1, minimum=None)
    assert stats["n"] == ColumnStatistics(null_count=0, minimum=2.0)


def test_a_file_without_statistics_proves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pl.DataFrame({"x": [1.0, 2.0]}).write_parquet(path, statistics=False)
    assert column_statistics(path) == {"x": ColumnStatistics(null_count=None, minimum=None)}


def test_a_broken_footer_yields_no_statistics(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pl.DataFrame({"x": [1.0, 2.0]}).write_parquet(path)
    data = bytearray(path.read_bytes())
    length = int.from_bytes(data[-8:-4], "little")
    data[-8 - length : -8] = b"\xff" * length  # the footer overwritten, its frame kept
    path.write_bytes(bytes(data))
    assert column_statistics(path) == {}
    assert column_statistics(tmp_path / "missing.parquet") == {}


def _tickets(handle_times: list[float | None]) -> pl.DataFrame:
    n = len(handle_times)
    return pl.DataFrame(
        {
            "ticket_id": [f"T{i}" for i in range(n)],
            "customer_id": ["C1"] * n,
            "created_at": [JAN] * n,
            "first_response_at": [None] * n,
            "resolved_at": [None] * n,
            "handle_time_seconds": handle_times,
            "channel": ["email"] * n,
            "priority": ["low"] * n,
        },
        schema_overrides={
            "created_at": pl.Datetime("us", "UTC"),
            "first_response_at": pl.Datetime("us", "UTC"),
            "resolved_at": pl.Datetime("us", "UTC"),
            "handle_time_seconds": pl.Float64,
        },
    )


def _rule_counts(folder: Path) -> list[str]:
    connector = ParquetConnector(str(folder))
    connector.checks_cache = None
    with connector.deferred_checks():
        connector.scan("tickets")
        pending = connector._Connector__scan_state.pending  # type: ignore[attr-defined]
        return pending["tickets"].rule_checks.collect_schema().names()


def test_a_minimum_at_zero_proves_no_handle_time_is_negative(tmp_path: Path) -> None:
    _tickets([0.0, 30.0, None]).write_parquet(tmp_path / "tickets.parquet")
    # Smallest recorded value 0.0 >= 0: the rule is not counted row by row.
    assert "negative handle_time_seconds" not in _rule_counts(tmp_path)


def test_a_negative_minimum_is_checked_and_reported(tmp_path: Path) -> None:
    _tickets([5.0, -2.0, 1.0]).write_parquet(tmp_path / "tickets.parquet")
    assert "negative handle_time_seconds" in _rule_counts(tmp_path)
    connector = ParquetConnector(str(tmp_path))
    connector.checks_cache = None
    # -2.0 is on the second row of the file.
    with pytest.raises(DataError, match=r"negative handle_time_seconds: row 2: '-2.0'"):
        connector.scan("tickets")


def test_key_ranges_per_row_group(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    frame = pl.DataFrame(
        {
            "deal_id": ["D5", "D1", "D9", "D10", "é", "z"],
            "n": [7, -2, 300, 41, 5, 5],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    frame.write_parquet(path, row_group_size=2)  # row groups: rows 1-2, 3-4, 5-6
    # Text orders byte by byte: "D1" < "D5"; "D10" < "D9" ("1" is 0x31, "9" is 0x39);
    # "z" is 0x7A and "é" is 0xC3 0xA9, so "z" < "é" as unsigned bytes.
    assert key_ranges(path, "deal_id") == [
        KeyRange(b"D1", b"D5"),
        KeyRange(b"D10", b"D9"),
        KeyRange(b"z", "é".encode()),
    ]
    # Integers by value, signed: -2 < 7; 41 < 300; 5 alone.
    assert key_ranges(path, "n") == [KeyRange(-2, 7), KeyRange(41, 300), KeyRange(5, 5)]
    # A float column is no key type, and a missing column has no range: nothing known.
    assert key_ranges(path, "x") == [None, None, None]
    assert key_ranges(path, "lead_id") == [None, None, None]
    assert key_ranges(tmp_path / "missing.parquet", "deal_id") is None


def test_key_ranges_without_statistics_are_unknown(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pl.DataFrame({"deal_id": ["D1", "D2"]}).write_parquet(path, statistics=False)
    assert key_ranges(path, "deal_id") == [None]
