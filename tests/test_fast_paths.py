"""The fast paths give the numbers and the errors of the plain ones.

Typed Parquet is scanned lazily with its checks deferred, the streaming engine collects the
same plan in batches, and an entity metric rolled up by segment is computed without listing
its population: each is checked here against the path it replaces.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import crmetrics
from crmetrics.engine import Engine
from crmetrics.errors import DataError
from crmetrics.model import TABLES
from crmetrics.plan import Request

RANGE = {"start": "2023-07-01", "end": "2025-01-01"}
CORE = [m for m in Engine().catalog.metrics.values() if m.origin.provider == "catalog" and not m.requires_by]
SPEND = {
    "sales_marketing_spend",
    "retention_spend",
    "customer_acquisition_cost",
    "acquisition_retention_cost_ratio",
}


def _metrics(by: tuple[str, ...]) -> list[str]:
    return sorted(m.name for m in CORE if not (by and m.name in SPEND))


@pytest.fixture(scope="module")
def sample_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample, converted once to typed Parquet by the CSV connector itself."""
    folder = tmp_path_factory.mktemp("parquet")
    connector = Engine().open_source("sample")
    for table in connector.available_tables():
        connector.scan(table).collect().write_parquet(folder / f"{table}.parquet")
    return folder


def _copy_with(folder: Path, target: Path, table: str, change: pl.DataFrame) -> Path:
    target.mkdir()
    for path in folder.glob("*.parquet"):
        frame = pl.read_parquet(path)
        if path.stem == table:
            frame = change
        frame.write_parquet(target / path.name)
    return target


@pytest.mark.parametrize("parquet", [False, True], ids=["csv", "parquet"])
@pytest.mark.parametrize("by", [(), ("segment",)], ids=["ungrouped", "segment"])
def test_streaming_gives_the_in_memory_numbers(
    sample_parquet: Path, parquet: bool, by: tuple[str, ...]
) -> None:
    metrics = _metrics(by)
    source = f"parquet:{sample_parquet}" if parquet else "sample"
    # From Polars 2 the default ("auto") engine is the streaming one: pin the in-memory one.
    with pl.Config(engine_affinity="in-memory"):
        in_memory = crmetrics.evaluate(metrics, source, by=by, **RANGE)
    streamed = crmetrics.evaluate(metrics, source, by=by, streaming=True, **RANGE)
    assert_frame_equal(streamed, in_memory)


@pytest.mark.parametrize("by", [(), ("segment",), ("region",)])
def test_lazy_parquet_gives_the_csv_numbers(sample_parquet: Path, by: tuple[str, ...]) -> None:
    metrics = _metrics(by)
    from_csv = crmetrics.evaluate(metrics, "sample", by=by, **RANGE)
    from_parquet = crmetrics.evaluate(metrics, f"parquet:{sample_parquet}", by=by, **RANGE)
    trusted = crmetrics.evaluate(metrics, f"parquet:{sample_parquet}", by=by, trust=True, **RANGE)
    assert_frame_equal(from_parquet, from_csv)
    assert_frame_equal(trusted, from_csv)


def test_lazy_parquet_pushes_the_window_into_the_scan(sample_parquet: Path) -> None:
    engine = Engine()
    request = Request.build(["revenue"], **RANGE)
    plan = engine.compile(request, f"parquet:{sample_parquet}").explain()
    scan = plan[plan.index("Parquet SCAN") :]
    assert "SELECTION" in scan and "recognized_at" in scan.split("SELECTION", 1)[1].splitlines()[0]
    assert "PROJECT 2/5 COLUMNS" in scan


def test_rolled_up_health_score_is_the_mean_of_the_customer_scores(sample_parquet: Path) -> None:
    source = f"parquet:{sample_parquet}"
    per_customer = crmetrics.evaluate(["customer_health_score"], source, by=["customer_id"], **RANGE).join(
        pl.read_parquet(sample_parquet / "customers.parquet").select("customer_id", "segment"),
        on="customer_id",
    )
    expected = per_customer.group_by("period_start", "segment").agg(pl.col("value").mean())
    rolled = crmetrics.evaluate(["customer_health_score"], source, by=["segment"], **RANGE)
    joined = rolled.join(expected, on=["period_start", "segment"], how="left", nulls_equal=True)
    assert joined.height == rolled.height
    assert ((joined["value"] - joined["value_right"]).abs().fill_null(0) < 1e-9).all()
    assert joined.filter(pl.col("value").is_null() != pl.col("value_right").is_null()).height == 0


def test_duplicate_key_in_typed_parquet_is_dropped_and_reported(sample_parquet: Path, tmp_path: Path) -> None:
    revenue = pl.read_parquet(sample_parquet / "revenue.parquet")
    doubled = pl.concat([revenue, revenue.head(1).with_columns(pl.col("amount") * 0 + 1e9)])
    folder = _copy_with(sample_parquet, tmp_path / "dup", "revenue", doubled)
    engine = Engine()
    connector = engine.open_source(f"parquet:{folder}")
    request = Request.build(["revenue"], **RANGE)
    result = engine.evaluate(request, connector)
    clean = crmetrics.evaluate(["revenue"], f"parquet:{sample_parquet}", **RANGE)
    first = revenue.row(0, named=True)
    month = first["recognized_at"].date().replace(day=1)
    changed = result.join(clean, on=["metric", "period_start"]).filter(
        (pl.col("value") - pl.col("value_right")).abs() > 1e-6 * pl.col("value_right").abs()
    )
    assert changed["period_start"].to_list() in ([], [month])
    report = next(r for r in connector.reports() if r.table == "revenue")
    assert report.duplicates_dropped == 1
    assert any(i.code == "duplicate-key" for i in report.issues)


def test_duplicate_customer_in_typed_parquet_is_dropped_when_grouped(
    sample_parquet: Path, tmp_path: Path
) -> None:
    # Grouped, every revenue row is joined to its customer's segment: a repeated customer
    # would double its rows, so the duplicate must reach the key check (which keeps the
    # latest copy, here the same row) instead of stopping or skewing the query.
    customers = pl.read_parquet(sample_parquet / "customers.parquet")
    doubled = pl.concat([customers, customers.head(1)])
    folder = _copy_with(sample_parquet, tmp_path / "dup", "customers", doubled)
    engine = Engine()
    connector = engine.open_source(f"parquet:{folder}")
    request = Request.build(["revenue"], by=["segment"], **RANGE)
    result = engine.evaluate(request, connector)
    clean = crmetrics.evaluate(["revenue"], f"parquet:{sample_parquet}", by=["segment"], **RANGE)
    assert_frame_equal(result, clean)
    report = next(r for r in connector.reports() if r.table == "customers")
    assert report.duplicates_dropped == 1


def test_bad_row_in_typed_parquet_names_the_row(sample_parquet: Path, tmp_path: Path) -> None:
    customers = pl.read_parquet(sample_parquet / "customers.parquet")
    broken = customers.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.col("acquired_at") - pl.duration(days=1))
        .otherwise(pl.col("churned_at"))
        .alias("churned_at")
    )
    folder = _copy_with(sample_parquet, tmp_path / "bad", "customers", broken)
    with pytest.raises(DataError) as caught:
        crmetrics.evaluate(["churn_rate"], f"parquet:{folder}", **RANGE)
    message = caught.value.render()
    assert "churned_at before acquired_at" in message and "row 4" in message
    # --trust takes the source's word for it, and says so.
    engine = Engine()
    connector = engine.open_source(f"parquet:{folder}")
    engine.evaluate(Request.build(["churn_rate"], **RANGE), connector, trust=True)
    assert any(i.code == "trusted-table" for r in connector.reports() for i in r.issues)


def test_text_columns_in_parquet_still_take_the_eager_path(sample_parquet: Path, tmp_path: Path) -> None:
    deals = pl.read_parquet(sample_parquet / "deals.parquet").with_columns(
        pl.col("created_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.f%z")
    )
    folder = _copy_with(sample_parquet, tmp_path / "text", "deals", deals)
    result = crmetrics.evaluate(["expansion_deals"], f"parquet:{folder}", **RANGE)
    expected = crmetrics.evaluate(["expansion_deals"], f"parquet:{sample_parquet}", **RANGE)
    assert_frame_equal(result, expected)
    assert set(TABLES) >= {p.stem for p in folder.glob("*.parquet")}
