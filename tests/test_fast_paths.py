"""The fast paths give the numbers and the errors of the plain ones.

Typed Parquet is scanned lazily with its checks deferred, the streaming engine collects the
same plan in batches, and an entity metric rolled up by segment is computed without listing
its population: each is checked here against the path it replaces.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import crmetrics
from crmetrics.engine import Engine
from crmetrics.errors import DataError
from crmetrics.ir.nodes import PeriodMap
from crmetrics.model import TABLES
from crmetrics.periods import Grain
from crmetrics.plan import Request
from crmetrics.polars_backend import generator
from crmetrics.polars_backend.generator import _bucket_runs

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


def test_duplicate_customer_taken_on_trust_is_refused_by_name(sample_parquet: Path, tmp_path: Path) -> None:
    # On trust no key is checked, so the join to the segment meets two customers for one
    # id: refused with what it means and what to do, not Polars' own message.
    customers = pl.read_parquet(sample_parquet / "customers.parquet")
    doubled = pl.concat([customers, customers.head(1)])
    folder = _copy_with(sample_parquet, tmp_path / "dup", "customers", doubled)
    with pytest.raises(DataError) as raised:
        crmetrics.evaluate(["revenue"], f"parquet:{folder}", by=["segment"], trust=True, **RANGE)
    issue = raised.value.issues[0]
    assert issue.code == "trusted-duplicate-key"
    assert "customer_id more than once" in issue.message and "drop --trust" in (issue.hint or "")


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


def test_bucket_runs_of_a_rolling_window() -> None:
    month = Grain("month")
    jan, feb, mar = (datetime(2025, m, 1, tzinfo=UTC) for m in (1, 2, 3))
    nov, dec = datetime(2024, 11, 1, tzinfo=UTC), datetime(2024, 12, 1, tzinfo=UTC)
    # rolling(m, 3) over January to March: each period reads its own bucket and the two before.
    pairs = [
        (nov, jan),
        (dec, jan),
        (jan, jan),
        (dec, feb),
        (jan, feb),
        (feb, feb),
        (jan, mar),
        (feb, mar),
        (mar, mar),
    ]
    runs = _bucket_runs(PeriodMap(month, tuple(sorted(pairs))))
    # Periods by index: Jan 0, Feb 1, Mar 2. November counts in January only; December in
    # January and February; January in all three; February in Feb-Mar; March in March.
    assert runs == ([nov, dec, jan, feb, mar], [0, 0, 0, 1, 2], [0, 1, 2, 2, 2])


def test_bucket_runs_refuse_a_map_with_a_gap() -> None:
    month = Grain("month")
    jan, feb, mar = (datetime(2025, m, 1, tzinfo=UTC) for m in (1, 2, 3))
    # January's rows count in January and March but not February: no run of periods.
    assert _bucket_runs(PeriodMap(month, ((jan, jan), (jan, mar), (feb, feb)))) is None
    # A later bucket whose periods start before an earlier one's: runs would overlap.
    assert _bucket_runs(PeriodMap(month, ((jan, feb), (feb, jan)))) is None


WINDOWED_DISTINCT = """\
metrics:
  - {name: payers_3, label: Payers over 3 periods, category: financial, unit: count, type: derived,
     expr: "rolling(paying_customers, 3)"}
  - {name: payers_qtd, label: Payers quarter to date, category: financial, unit: count, type: derived,
     expr: "to_date(paying_customers, 'quarter')"}
  - {name: payers_mtd, label: Payers month to date, category: financial, unit: count, type: derived,
     expr: "to_date(paying_customers, 'month')"}
"""


@pytest.mark.parametrize(
    ("grain", "metrics", "span"),
    [
        ("month", ["payers_3", "payers_qtd"], ("2023-07-01", "2025-01-01")),
        ("week", ["payers_3", "payers_mtd"], ("2023-07-03", "2024-12-30")),
    ],
)
@pytest.mark.parametrize("by", [(), ("segment",)], ids=["ungrouped", "segment"])
def test_windowed_distinct_counts_give_the_row_copying_numbers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    grain: str,
    metrics: list[str],
    span: tuple[str, str],
    by: tuple[str, ...],
) -> None:
    """Distinct counts over windows from each value's runs of periods equal those over copied rows."""
    definitions = tmp_path / "windows.yaml"
    definitions.write_text(WINDOWED_DISTINCT)
    start, end = span
    options = {"by": by, "grain": grain, "start": start, "end": end, "definitions": [definitions]}
    runs = crmetrics.evaluate(metrics, "sample", **options)
    monkeypatch.setattr(generator, "_bucket_runs", lambda periods: None)
    copies = crmetrics.evaluate(metrics, "sample", **options)
    assert runs.height > 0 and runs["value"].sum() > 0
    assert_frame_equal(runs, copies)
