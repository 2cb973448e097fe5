"""Tests of the jsonl connector, as its author runs them: ``pip install -e . && pytest``.

The files in ``tests/data`` are small enough to check by hand:

customers.jsonl (acquired_at, as written -> in UTC)
    c1  2025-01-05T09:00:00Z        -> January
    c2  2025-01-31T23:30:00-02:00   -> 2025-02-01 01:30 UTC: February
    c3  2025-02-10 (a bare date)    -> February
    c4  1740787200000 (epoch ms)    -> 2025-03-01 00:00 UTC: March

revenue.jsonl (recognized_at -> month, amount)
    r1  2025-01-31T12:00:00Z        -> January   100
    r2  2025-02-15                  -> February  "250.25" (a string, parsed as a number)
    r3  2025-02-28T23:00:00-05:00   -> 2025-03-01 04:00 UTC: March  100.5
    r4  2025-03-10T00:00:00Z        -> March     49.5
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib.metadata import entry_points
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import crmetrics
import crmetrics_jsonl
from crmetrics.registry import build_registry
from crmetrics_jsonl import JsonLinesConnector

DATA = Path(__file__).parent / "data"
MONTHS = [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
REQUEST = crmetrics.Request.build(
    ["new_customers", "revenue"], grain="month", start="2025-01-01", end="2025-04-01"
)
EXPECTED = pl.DataFrame(
    {
        "metric": ["new_customers"] * 3 + ["revenue"] * 3,
        "period_start": MONTHS * 2,
        # new_customers: c1 | c2, c3 | c4.   revenue: r1 | r2 | r3 + r4 = 100.5 + 49.5.
        "value": [1.0, 2.0, 1.0, 100.0, 250.25, 150.0],
    }
)


def test_the_hook_registers_the_connector() -> None:
    registry = build_registry([crmetrics_jsonl], entry_point_group=None)
    assert registry.connectors["jsonl"] is JsonLinesConnector
    assert registry.plugins["crmetrics_jsonl"].errors == []


def test_tables_are_read_and_converted() -> None:
    connector = JsonLinesConnector(str(DATA))
    assert connector.available_tables() == ["customers", "revenue"]
    customers = connector.scan("customers").collect()
    assert customers["acquired_at"].to_list() == [
        datetime(2025, 1, 5, 9, tzinfo=UTC),
        datetime(2025, 2, 1, 1, 30, tzinfo=UTC),
        datetime(2025, 2, 10, tzinfo=UTC),
        datetime(2025, 3, 1, tzinfo=UTC),
    ]
    revenue = connector.scan("revenue").collect()
    assert revenue["amount"].to_list() == [100.0, 250.25, 100.5, 49.5]
    assert revenue["cost"].to_list() == [30.0, None, None, 10.0]


def test_metrics_on_the_connector() -> None:
    # A connector object is a source too: no installation needed for this one.
    engine = crmetrics.Engine()
    assert_frame_equal(engine.evaluate(REQUEST, JsonLinesConnector(str(DATA))), EXPECTED)


def test_installed_plugin_serves_jsonl_uris() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="crmetrics")}
    assert names.get("jsonl") == "crmetrics_jsonl", "install the plugin first: pip install -e ."
    result = crmetrics.evaluate(
        ["new_customers", "revenue"], f"jsonl:{DATA}", start="2025-01-01", end="2025-04-01"
    )
    assert_frame_equal(result, EXPECTED)


def test_missing_folder_is_a_data_error(tmp_path: Path) -> None:
    connector = JsonLinesConnector(str(tmp_path / "nowhere"))
    with pytest.raises(crmetrics.DataError) as caught:
        connector.scan("customers")
    assert caught.value.issues[0].code == "missing-source"
    assert "nowhere is not a folder" in caught.value.issues[0].message


def test_bad_value_names_file_and_row(tmp_path: Path) -> None:
    (tmp_path / "customers.jsonl").write_text(
        '{"customer_id": "c1", "acquired_at": "2025-01-05"}\n'
        '{"customer_id": "c2", "acquired_at": "last tuesday"}\n'
    )
    with pytest.raises(crmetrics.DataError) as caught:
        JsonLinesConnector(str(tmp_path)).scan("customers")
    issue = caught.value.issues[0]
    assert issue.location == crmetrics.Location(str(tmp_path / "customers.jsonl"), 2)
    assert "'last tuesday'" in issue.message


def test_unreadable_file_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "customers.jsonl").write_text("customer_id,acquired_at\nc1,2025-01-05\n")
    with pytest.raises(crmetrics.DataError) as caught:
        JsonLinesConnector(str(tmp_path)).scan("customers")
    assert caught.value.issues[0].code == "unreadable-file"
