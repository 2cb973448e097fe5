"""Every metric gives the same numbers on Polars, DuckDB and Spark.

Each case evaluates every metric that can take the grouping (the built-in catalog and the
customer-experience plugin's metrics) in one request per engine, and compares the results
row by row: same rows in the same order, same types, values equal to 1e-9 relative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from catalog_fixtures import health_source, main_source, week_source
from sql_helpers import compare, engine, groupable

import crmetrics
from crmetrics.plan import Request

DATASETS: dict[str, Callable[[], Any]] = {
    "main": main_source,
    "health": health_source,
    "sample": lambda: "sample",
}
RANGES = {
    ("main", "month"): ("2025-01-01", "2025-05-01"),
    ("main", "quarter"): ("2024-10-01", "2025-07-01"),
    ("health", "month"): ("2025-02-01", "2025-05-01"),
    ("health", "quarter"): ("2025-01-01", "2025-07-01"),
    ("sample", "month"): ("2024-07-01", "2025-07-01"),
    ("sample", "quarter"): ("2024-01-01", "2025-07-01"),
}
CASES = [
    pytest.param(dataset, grain, by, id=f"{dataset}-{grain}-{'-'.join(by) or 'total'}")
    for (dataset, grain) in RANGES
    for by in ((), ("segment",))
]
# Spark plans these large statements slowly (seconds each), so its cases pair each grain
# with each grouping once per fixture dataset: every metric still runs at month and
# quarter, grouped and not.
SPARK_CASES = [
    pytest.param(dataset, grain, by, id=f"{dataset}-{grain}-{'-'.join(by) or 'total'}")
    for dataset, grain, by in (
        ("main", "month", ()),
        ("main", "quarter", ("segment",)),
        ("health", "month", ("segment",)),
        ("health", "quarter", ()),
    )
]


def _results(dataset: str, grain: str, by: tuple[str, ...], engines: tuple[str, ...]) -> dict[str, Any]:
    facade = engine()
    source = DATASETS[dataset]()
    start, end = RANGES[(dataset, grain)]
    metrics = groupable(facade, source, by, start, end)
    assert {"customer_health_score", "first_response_business_hours", "churn_rate"} <= set(metrics)
    request = Request.build(metrics, grain=grain, start=start, end=end, by=by)
    return {name: facade.evaluate(request, source, engine=name) for name in engines}


@pytest.mark.parametrize(("dataset", "grain", "by"), CASES)
def test_duckdb_matches_polars(dataset: str, grain: str, by: tuple[str, ...]) -> None:
    compare(_results(dataset, grain, by, ("polars", "duckdb")), by)


@pytest.mark.spark
@pytest.mark.parametrize(("dataset", "grain", "by"), SPARK_CASES)
def test_spark_matches_polars(spark: Any, dataset: str, grain: str, by: tuple[str, ...]) -> None:
    compare(_results(dataset, grain, by, ("polars", "spark")), by)


@pytest.mark.parametrize("name", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_weeks_start_on_monday(request: pytest.FixtureRequest, name: str) -> None:
    if name == "spark":
        request.getfixturevalue("spark")
    facade = engine()
    metrics = ["new_customers", "customers_at_end", "revenue", "revenue_growth_rate"]
    query = Request.build(metrics, grain="week", start="2025-01-06", end="2025-01-20")
    results = {e: facade.evaluate(query, week_source(), engine=e) for e in ("polars", name)}
    compare(results, ())


@pytest.mark.parametrize("name", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_health_score_per_customer(request: pytest.FixtureRequest, name: str) -> None:
    if name == "spark":
        request.getfixturevalue("spark")
    facade = engine()
    query = Request.build(["customer_health_score"], start="2025-02-01", end="2025-05-01", by=["customer_id"])
    results = {e: facade.evaluate(query, health_source(), engine=e) for e in ("polars", name)}
    compare(results, ("customer_id",))


@pytest.mark.spark
def test_where_and_params_match(spark: Any) -> None:
    facade = engine()
    query = Request.build(
        ["churn_rate", "customer_health_score", "net_promoter_score"],
        start="2025-01-01",
        end="2025-05-01",
        by=["segment"],
        where="segment IN ('SMB', 'Enterprise') AND NOT segment = 'Mid-Market'",
        params={"usage_target": 4},
    )
    results = {e: facade.evaluate(query, main_source(), engine=e) for e in ("polars", "duckdb", "spark")}
    compare(results, ("segment",))


CONSTRUCTS = """
metrics:
  - name: rounded_amounts
    type: aggregate
    table: revenue
    time: recognized_at
    expr: sum(round(amount / 8, 0)) + sum(round(cost / 8, 1))
  - name: skipped_nulls
    type: aggregate
    table: revenue
    time: recognized_at
    expr: sum(least(cost, 60) + greatest(cost, amount / 10, null))
  - name: cases
    type: aggregate
    table: revenue
    time: recognized_at
    expr: >-
      sum(CASE WHEN amount BETWEEN 100 AND 300 THEN 1 WHEN cost IS NULL THEN 2 ELSE 0 END)
      + count(DISTINCT customer_id) FILTER (WHERE recognized_at >= '2025-01-15T00:00:00+02:00')
      + max(CAST(amount AS INT) % 7) + min(abs(0 - amount)) + avg(nullif(cost, 0))
  - name: ticket_waits
    type: aggregate
    table: tickets
    time: created_at
    expr: >-
      sum(seconds_between(created_at, first_response_at)) / count(first_response_at)
      - median(minutes_between(created_at, first_response_at))
"""


@pytest.mark.parametrize("name", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_formula_constructs_match(request: pytest.FixtureRequest, tmp_path: Any, name: str) -> None:
    if name == "spark":
        request.getfixturevalue("spark")
    path = tmp_path / "constructs.yaml"
    path.write_text(CONSTRUCTS, encoding="utf-8")
    facade = crmetrics.Engine(definitions=[path])
    query = Request.build(
        ["rounded_amounts", "skipped_nulls", "cases", "ticket_waits"], start="2024-12-01", end="2025-04-01"
    )
    results = {e: facade.evaluate(query, main_source(), engine=e) for e in ("polars", name)}
    compare(results, ())
