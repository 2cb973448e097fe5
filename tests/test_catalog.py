"""Acceptance tests for the built-in metric catalog.

Every expected number below follows from the definitions in the metrics specification and
the rows in catalog_fixtures.py; the arithmetic is written next to each number.

Reminders used throughout:
- a customer is active at t when acquired_at < t and (churned_at is null or churned_at >= t);
- event metrics count rows with their time column in [period_start, period_end);
- division by zero or by null gives null; counts and sums of nothing are 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

import polars as pl
import pytest
from catalog_fixtures import (
    CUSTOMERS_SCHEMA,
    DEALS_SCHEMA,
    LEADS_SCHEMA,
    REVENUE_SCHEMA,
    SPEND_SCHEMA,
    STR,
    SURVEYS_SCHEMA,
    TICKETS_SCHEMA,
    TS,
    empty_source,
    health_source,
    main_customers,
    main_source,
    table,
    utc,
    week_source,
)

import crmetrics

CATALOG = [
    # building blocks
    "new_customers",
    "lost_customers",
    "customers_at_start",
    "customers_at_end",
    "revenue",
    "cost_of_revenue",
    "paying_customers",
    "revenue_per_customer",
    "sales_marketing_spend",
    "retention_spend",
    "expansion_deals",
    # the articles' metrics
    "customer_acquisition_cost",
    "customer_lifetime_value",
    "net_promoter_score",
    "churn_rate",
    "upsell_cross_sell_rate",
    "customer_retention_rate",
    "customer_health_score",
    "lead_conversion_rate",
    "customer_service_response_time",
    "gross_profit_margin",
    "revenue_growth_rate",
    "acquisition_retention_cost_ratio",
]

COUNTS_AND_SUMS = {
    "new_customers",
    "lost_customers",
    "customers_at_start",
    "customers_at_end",
    "revenue",
    "cost_of_revenue",
    "paying_customers",
    "sales_marketing_spend",
    "retention_spend",
    "expansion_deals",
}

JAN, FEB, MAR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)
MAY, JUN = date(2025, 5, 1), date(2025, 6, 1)
MONTHS = (JAN, FEB, MAR)

Key = tuple
Expected = dict[Key, float | None]


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def evaluate(
    metrics: Iterable[str], source, start: str, end: str, grain: str = "month", **options
) -> pl.DataFrame:
    return crmetrics.evaluate(
        metrics=list(metrics), source=source, grain=grain, start=start, end=end, **options
    )


def collect(result: pl.DataFrame, by: Sequence[str] = ()) -> dict[Key, float | None]:
    """Check the shape of a result and index its values by (metric, period_start, *groups)."""
    assert isinstance(result, pl.DataFrame)
    assert result.columns == ["metric", "period_start", *by, "value"]
    assert result.schema["metric"] == pl.String
    assert result.schema["period_start"] == pl.Date
    assert result.schema["value"] == pl.Float64
    order = result.select("metric", "period_start").rows()
    assert order == sorted(order), "rows are not sorted by metric, period_start"
    values: dict[Key, float | None] = {}
    for row in result.iter_rows():
        key = tuple(row[:-1])
        assert key not in values, f"duplicate row for {key}"
        values[key] = row[-1]
    return values


def check(actual: dict[Key, float | None], expected: Expected, *, exact: bool = True) -> None:
    """Compare values: floats to rel 1e-12, None must be null. ``exact``: same set of rows."""
    if exact:
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        assert not missing and not extra, f"missing rows {missing}, unexpected rows {extra}"
    for key, want in expected.items():
        assert key in actual, f"missing row {key}"
        got = actual[key]
        if want is None:
            assert got is None, f"{key}: expected null, got {got!r}"
        else:
            assert got is not None, f"{key}: expected {want!r}, got null"
            assert not math.isnan(got) and not math.isinf(got), f"{key}: got {got!r}"
            assert got == pytest.approx(want, rel=1e-12), f"{key}: expected {want!r}, got {got!r}"


def per_period(series: dict[str, Sequence[float | None]], periods: Sequence[date]) -> Expected:
    """{metric: (v1, v2, ...)} -> {(metric, period): v}."""
    return {
        (metric, period): value
        for metric, values in series.items()
        for period, value in zip(periods, values, strict=True)
    }


def per_group(
    series: dict[str, dict[str | None, Sequence[float | None]]], periods: Sequence[date]
) -> Expected:
    """{metric: {group: (v1, v2, ...)}} -> {(metric, period, group): v}."""
    return {
        (metric, period, group): value
        for metric, groups in series.items()
        for group, values in groups.items()
        for period, value in zip(periods, values, strict=True)
    }


# ---------------------------------------------------------------------------------------
# The main fixture, month grain, [2025-01-01, 2025-04-01)
# ---------------------------------------------------------------------------------------

MAIN_MONTHLY: dict[str, tuple[float | None, ...]] = {
    # Jan: C6 | Feb: C4 (exactly Feb 1 00:00Z), C7 (Mar 1 01:00+02:00 = Feb 28 23:00Z) | Mar: C8
    "new_customers": (1.0, 2.0, 1.0),
    # Jan: C6 | Feb: C2 | Mar: C5 (churned exactly Mar 1 00:00Z)
    "lost_customers": (1.0, 1.0, 1.0),
    # at Jan 1: C1 C2 C3 C5 = 4
    # at Feb 1: C1 C2 C3 C5 = 4 (C4 has acquired_at == Feb 1, not < t; C6 churned Jan 25)
    # at Mar 1: C1 C3 C4 C5 C7 = 5 (C5 has churned_at == Mar 1 >= t; C2 churned Feb 10)
    "customers_at_start": (4.0, 4.0, 5.0),
    # at Feb 1: 4 | at Mar 1: 5 | at Apr 1: C1 C3 C4 C7 C8 = 5
    # identity: 4+1-1 = 4, 4+2-1 = 5, 5+1-1 = 5
    "customers_at_end": (4.0, 5.0, 5.0),
    # Jan: 100+200+300+100+100 = 800 | Feb: 500+400 = 900 | Mar: no rows (R9 is Apr 1) = 0
    "revenue": (800.0, 900.0, 0.0),
    # Jan: 30+50+0 (null cost)+20+0 = 100 | Feb: 250+50 = 300 | Mar: 0
    "cost_of_revenue": (100.0, 300.0, 0.0),
    # Jan: {C1, C2, C3, C6} = 4 | Feb: {C3, C4} = 2 | Mar: 0
    "paying_customers": (4.0, 2.0, 0.0),
    # Jan: 800/4 = 200 | Feb: 900/2 = 450 | Mar: 0/0 -> null
    "revenue_per_customer": (200.0, 450.0, None),
    # Jan: S1 1000 + S2 500 = 1500 (S4 'other' and S3 retention excluded, S0 is December)
    # Feb: S5 600 (exactly Feb 1) | Mar: S7 777 (exactly Mar 1)
    "sales_marketing_spend": (1500.0, 600.0, 777.0),
    # Jan: S3 200 | Feb: S6 400 | Mar: 0
    "retention_spend": (200.0, 400.0, 0.0),
    # Jan: D1, D2 | Feb: D6 | Mar: D8 (closed exactly Mar 1)
    "expansion_deals": (2.0, 1.0, 1.0),
    # Jan: 1500/1 | Feb: 600/2 = 300 | Mar: 777/1
    "customer_acquisition_cost": (1500.0, 300.0, 777.0),
    # churn: Jan 1/4 = 0.25, Feb 1/4 = 0.25, Mar 1/5 = 0.2
    # Jan (31 days): annual = 200 * 365.25 / 31 = 2356.4516...,
    #   lifespan = 31 / 365.25 / 0.25 = 0.33949...; product = 200 / 0.25 = 800
    # Feb (28 days): annual = 450 * 365.25 / 28 = 5870.0892...,
    #   lifespan = 28 / 365.25 / 0.25 = 0.30663...; product = 450 / 0.25 = 1800
    # Mar: revenue_per_customer is null -> null
    "customer_lifetime_value": (800.0, 1800.0, None),
    # Jan nps: 10, 9, 7, 3 (csat 5 and ces 2 ignored): promoters 2, detractors 1
    #   -> 100 * (2 - 1) / 4 = 25
    # Feb nps: 6, 5, 9 (csat 4 ignored): promoters 1, detractors 2 -> 100 * (1 - 2) / 3
    # Mar: only a csat response -> no nps responses -> null
    "net_promoter_score": (25.0, -100.0 / 3.0, None),
    # Jan 1/4 | Feb 1/4 | Mar 1/5
    "churn_rate": (0.25, 0.25, 0.2),
    # Jan 2/4 | Feb 1/4 | Mar 1/5
    "upsell_cross_sell_rate": (0.5, 0.25, 0.2),
    # Jan (4-1)/4 | Feb (5-2)/4 | Mar (5-1)/5
    "customer_retention_rate": (0.75, 0.75, 0.8),
    # score = 100 * (0.5 * usage + 0.3 * satisfaction + 0.2 * support)
    # Jan, active at Feb 1: C1 C2 C3 C5
    #   C1: 5 activity rows -> 5/20 = 0.25; nps 10, 3 -> 6.5 -> 0.65; 1 ticket (T1) -> 0.8
    #       100 * (0.125 + 0.195 + 0.16) = 48
    #   C2: no activity; nps 7 -> 0.7; ticket T2 -> 0.8: 100 * (0 + 0.21 + 0.16) = 37
    #   C3: no activity; nps 9 -> 0.9 (ces ignored); ticket T3 -> 0.8: 100 * (0.27 + 0.16) = 43
    #   C5: no activity; no nps -> 0.5; ticket T6 (Jan 31 23:00) -> 0.8: 100 * (0.15+0.16) = 31
    #   (C6 has activity but is not active at Feb 1)
    #   mean (48 + 37 + 43 + 31) / 4 = 159 / 4 = 39.75
    # Feb, active at Mar 1: C1 C3 C4 C5 C7
    #   C1: 100 * (0 + 0.15 + 0.2) = 35
    #   C3: nps 5 -> 0.5; ticket T5 -> 0.8: 100 * (0.15 + 0.16) = 31
    #   C4: nps 6, 9 -> 7.5 -> 0.75; ticket T4 -> 0.8: 100 * (0.225 + 0.16) = 38.5
    #   C5: 35; C7 (csat only -> 0.5): 35
    #   mean (35 + 31 + 38.5 + 35 + 35) / 5 = 174.5 / 5 = 34.9
    # Mar, active at Apr 1: C1 C3 C4 C7 C8
    #   C1: ticket T7 -> 0.8: 100 * (0.15 + 0.16) = 31; the others 35
    #   mean (31 + 4 * 35) / 5 = 171 / 5 = 34.2
    "customer_health_score": (39.75, 34.9, 34.2),
    # Jan: L1, L2, L3 (created Jan 31 23:59:59, converted in Feb), L4 -> 2 converted of 4
    # Feb: L5, L6, L7, L9 (Mar 1 01:00+02:00 = Feb 28 23:00Z) -> 1 of 4 | Mar: L8 -> 1 of 1
    "lead_conversion_rate": (0.5, 0.25, 1.0),
    # Jan: T1 2.5 h, T2 24 h + 1 us, T6 2 h (T3 unanswered, skipped)
    #   -> (28.5 + 1/3_600_000_000) / 3 hours
    # Feb: T4 1.5 h (created 10:00+02:00 = 08:00Z), T5 1 h -> 1.25 | Mar: T7 unanswered -> null
    "customer_service_response_time": ((28.5 + 1 / 3_600_000_000) / 3, 1.25, None),
    # Jan (800 - 100)/800 = 0.875 | Feb (900 - 300)/900 = 2/3 | Mar revenue 0 -> null
    "gross_profit_margin": (0.875, 2.0 / 3.0, None),
    # Dec revenue 100 + 300 = 400
    # Jan (800 - 400)/400 = 1 | Feb (900 - 800)/800 = 0.125 | Mar (0 - 900)/900 = -1
    "revenue_growth_rate": (1.0, 0.125, -1.0),
    # Jan 1500 / (200/4 = 50) = 30 | Feb 300 / (400/4 = 100) = 3 | Mar retention 0 -> null
    "acquisition_retention_cost_ratio": (30.0, 3.0, None),
}


@pytest.mark.parametrize("metric", list(MAIN_MONTHLY), ids=list(MAIN_MONTHLY))
def test_catalog_metric_by_month(metric: str) -> None:
    result = evaluate([metric], main_source(), "2025-01-01", "2025-04-01")
    check(collect(result), per_period({metric: MAIN_MONTHLY[metric]}, MONTHS))


def test_whole_catalog_in_one_call() -> None:
    assert set(MAIN_MONTHLY) == set(CATALOG)
    result = evaluate(CATALOG, main_source(), "2025-01-01", "2025-04-01")
    assert result.height == len(CATALOG) * len(MONTHS)
    check(collect(result), per_period(MAIN_MONTHLY, MONTHS))


# ---------------------------------------------------------------------------------------
# identities
# ---------------------------------------------------------------------------------------

IDENTITY_CASES = [
    pytest.param(main_source, "month", "2025-01-01", "2025-04-01", (), id="month"),
    pytest.param(main_source, "month", "2025-01-01", "2025-04-01", ("segment",), id="month-by-segment"),
    pytest.param(main_source, "quarter", "2024-10-01", "2025-07-01", (), id="quarter"),
    pytest.param(main_source, "week", "2025-01-06", "2025-03-10", ("segment",), id="week-by-segment"),
    pytest.param(week_source, "week", "2025-01-06", "2025-01-27", (), id="week-fixture"),
]


@pytest.mark.parametrize(("source", "grain", "start", "end", "by"), IDENTITY_CASES)
def test_customers_at_end_identity(
    source: Callable, grain: str, start: str, end: str, by: tuple[str, ...]
) -> None:
    blocks = ["customers_at_start", "new_customers", "lost_customers", "customers_at_end"]
    options = {"by": list(by)} if by else {}
    values = collect(evaluate(blocks, source(), start, end, grain, **options), by)
    cells = {key[1:] for key in values}
    assert cells
    for cell in cells:
        start_n = values[("customers_at_start", *cell)]
        new_n = values[("new_customers", *cell)]
        lost_n = values[("lost_customers", *cell)]
        end_n = values[("customers_at_end", *cell)]
        assert None not in (start_n, new_n, lost_n, end_n), cell
        assert end_n == start_n + new_n - lost_n, cell


@pytest.mark.parametrize("by", [(), ("segment",)], ids=["total", "by-segment"])
def test_retention_equals_one_minus_churn(by: tuple[str, ...]) -> None:
    # retention = (end - new)/start = (start - lost)/start = 1 - lost/start = 1 - churn
    options = {"by": list(by)} if by else {}
    values = collect(
        evaluate(
            ["churn_rate", "customer_retention_rate"], main_source(), "2025-01-01", "2025-04-01", **options
        ),
        by,
    )
    cells = {key[1:] for key in values}
    assert len(cells) == (3 if not by else 9)
    for cell in cells:
        churn = values[("churn_rate", *cell)]
        retention = values[("customer_retention_rate", *cell)]
        if churn is None:
            assert retention is None, cell
        else:
            assert retention == pytest.approx(1.0 - churn, rel=1e-12), cell


# ---------------------------------------------------------------------------------------
# the half-open active rule at period boundaries, one customer at a time
# ---------------------------------------------------------------------------------------

ZERO = (0.0, 0.0, 0.0, 0.0)

# (acquired_at, churned_at) -> per month (customers_at_start, new, lost, customers_at_end)
BOUNDARY_CASES = [
    pytest.param(
        "2025-02-01T00:00:00Z",
        None,
        # new in Feb; not active at Feb 1 (acquired_at < t is false); active at Mar 1
        [ZERO, (0.0, 1.0, 0.0, 1.0), (1.0, 0.0, 0.0, 1.0)],
        id="acquired-exactly-at-feb-1",
    ),
    pytest.param(
        utc(2025, 2, 1),
        None,
        # the same instant given as a datetime instead of a string
        [ZERO, (0.0, 1.0, 0.0, 1.0), (1.0, 0.0, 0.0, 1.0)],
        id="acquired-exactly-at-feb-1-datetime",
    ),
    pytest.param(
        "2025-02-01",
        None,
        # a bare date is midnight UTC: identical to the case above
        [ZERO, (0.0, 1.0, 0.0, 1.0), (1.0, 0.0, 0.0, 1.0)],
        id="bare-date-is-midnight-utc",
    ),
    pytest.param(
        "2024-12-01T00:00:00Z",
        "2025-03-01T00:00:00Z",
        # active at Mar 1 (churned_at >= t), so still in Feb's end and Mar's start; lost in Mar
        [(1.0, 0.0, 0.0, 1.0), (1.0, 0.0, 0.0, 1.0), (1.0, 0.0, 1.0, 0.0)],
        id="churned-exactly-at-mar-1",
    ),
    pytest.param(
        "2025-02-05T00:00:00Z",
        "2025-02-20T00:00:00Z",
        # new and lost in Feb, never in a start or end count
        [ZERO, (0.0, 1.0, 1.0, 0.0), ZERO],
        id="acquired-and-lost-inside-feb",
    ),
    pytest.param(
        "2025-02-10T00:00:00Z",
        "2025-02-10T00:00:00Z",
        # acquired_at < t <= churned_at never holds: new and lost in Feb, never active
        [ZERO, (0.0, 1.0, 1.0, 0.0), ZERO],
        id="acquired-and-churned-same-instant",
    ),
    pytest.param(
        "2025-03-01T01:00:00+02:00",
        None,
        # = 2025-02-28T23:00Z: a February acquisition, active at Mar 1
        [ZERO, (0.0, 1.0, 0.0, 1.0), (1.0, 0.0, 0.0, 1.0)],
        id="offset-acquisition-is-february",
    ),
    pytest.param(
        "2024-12-01T00:00:00Z",
        "2025-02-01T01:30:00+02:00",
        # churned_at = 2025-01-31T23:30Z: lost in Jan, not active at Feb 1
        [(1.0, 0.0, 1.0, 0.0), ZERO, ZERO],
        id="offset-churn-is-january",
    ),
]


@pytest.mark.parametrize(("acquired_at", "churned_at", "months"), BOUNDARY_CASES)
def test_customer_boundaries(
    acquired_at: str | datetime, churned_at: str | datetime | None, months: list[tuple[float, ...]]
) -> None:
    dtype = STR if isinstance(acquired_at, str) else TS
    customers = table(
        {"customer_id": STR, "acquired_at": dtype, "churned_at": dtype},
        [("X1", acquired_at, churned_at)],
    )
    blocks = ["customers_at_start", "new_customers", "lost_customers", "customers_at_end"]
    expected = {
        (metric, period): value
        for period, quad in zip(MONTHS, months, strict=True)
        for metric, value in zip(blocks, quad, strict=True)
    }
    values = collect(evaluate(blocks, {"customers": customers}, "2025-01-01", "2025-04-01"))
    check(values, expected)


# ---------------------------------------------------------------------------------------
# grouping
# ---------------------------------------------------------------------------------------


def test_customer_metrics_by_segment_every_group_every_period() -> None:
    # SMB: C1, C2 (lost Feb 10), C5 (lost exactly Mar 1), C7 (new Feb 28 23:00Z)
    # Enterprise: C3, C4 (new exactly Feb 1), C8 (new Mar 15)
    # Mid-Market: C6 (new and lost in Jan): still present in Feb and Mar with 0 / null
    expected = per_group(
        {
            "customers_at_start": {
                "SMB": (3.0, 3.0, 3.0),  # {C1 C2 C5}, {C1 C2 C5}, {C1 C5 C7}
                "Enterprise": (1.0, 1.0, 2.0),  # {C3}, {C3}, {C3 C4}
                "Mid-Market": (0.0, 0.0, 0.0),
            },
            "new_customers": {
                "SMB": (0.0, 1.0, 0.0),
                "Enterprise": (0.0, 1.0, 1.0),
                "Mid-Market": (1.0, 0.0, 0.0),
            },
            "lost_customers": {
                "SMB": (0.0, 1.0, 1.0),
                "Enterprise": (0.0, 0.0, 0.0),
                "Mid-Market": (1.0, 0.0, 0.0),
            },
            "customers_at_end": {
                "SMB": (3.0, 3.0, 2.0),  # 3+0-0, 3+1-1, 3+0-1
                "Enterprise": (1.0, 2.0, 3.0),  # 1+0-0, 1+1-0, 2+1-0
                "Mid-Market": (0.0, 0.0, 0.0),  # 0+1-1
            },
            "churn_rate": {
                "SMB": (0.0, 1.0 / 3.0, 1.0 / 3.0),
                "Enterprise": (0.0, 0.0, 0.0),
                "Mid-Market": (None, None, None),  # no customer at start
            },
            "customer_retention_rate": {
                "SMB": (1.0, 2.0 / 3.0, 2.0 / 3.0),  # (3-0)/3, (3-1)/3, (2-0)/3
                "Enterprise": (1.0, 1.0, 1.0),  # (1-0)/1, (2-1)/1, (3-1)/2
                "Mid-Market": (None, None, None),
            },
        },
        MONTHS,
    )
    result = evaluate(
        [
            "customers_at_start",
            "new_customers",
            "lost_customers",
            "customers_at_end",
            "churn_rate",
            "customer_retention_rate",
        ],
        main_source(),
        "2025-01-01",
        "2025-04-01",
        by=["segment"],
    )
    check(collect(result, ("segment",)), expected)


def test_revenue_by_segment_through_customers_join() -> None:
    # Jan: SMB R1 100 + R2 200 + R4 100 = 400; Enterprise R3 300; Mid-Market R5 100
    # Feb: Enterprise R6 500 + R7 400 = 900 | Mar: nothing
    # paying: Jan SMB {C1, C2}, Ent {C3}, MM {C6}; Feb Ent {C3, C4}
    expected = per_group(
        {
            "revenue": {
                "SMB": (400.0, 0.0, 0.0),
                "Enterprise": (300.0, 900.0, 0.0),
                "Mid-Market": (100.0, 0.0, 0.0),
            },
            "paying_customers": {
                "SMB": (2.0, 0.0, 0.0),
                "Enterprise": (1.0, 2.0, 0.0),
                "Mid-Market": (1.0, 0.0, 0.0),
            },
            "revenue_per_customer": {
                "SMB": (200.0, None, None),  # 400/2
                "Enterprise": (300.0, 450.0, None),  # 300/1, 900/2
                "Mid-Market": (100.0, None, None),  # 100/1
            },
        },
        MONTHS,
    )
    result = evaluate(
        ["revenue", "paying_customers", "revenue_per_customer"],
        main_source(),
        "2025-01-01",
        "2025-04-01",
        by=["segment"],
    )
    check(collect(result, ("segment",)), expected)


def test_revenue_growth_by_segment_looks_back_before_start() -> None:
    # December: SMB 100 (R01), Enterprise 300 (R02), Mid-Market 0
    # SMB: Jan (400-100)/100 = 3; Feb (0-400)/400 = -1; Mar (0-0)/0 -> null
    # Ent: Jan (300-300)/300 = 0; Feb (900-300)/300 = 2; Mar (0-900)/900 = -1
    # MM:  Jan (100-0)/0 -> null; Feb (0-100)/100 = -1; Mar 0/0 -> null
    expected = per_group(
        {
            "revenue_growth_rate": {
                "SMB": (3.0, -1.0, None),
                "Enterprise": (0.0, 2.0, -1.0),
                "Mid-Market": (None, -1.0, None),
            },
        },
        MONTHS,
    )
    result = evaluate(["revenue_growth_rate"], main_source(), "2025-01-01", "2025-04-01", by=["segment"])
    check(collect(result, ("segment",)), expected)


def test_revenue_growth_first_period_uses_month_before_start() -> None:
    # range starts in February: January (800) lies before start but is the look-back
    # Feb (900 - 800)/800 = 0.125; Mar (0 - 900)/900 = -1
    result = evaluate(["revenue_growth_rate"], main_source(), "2025-02-01", "2025-04-01")
    check(collect(result), per_period({"revenue_growth_rate": (0.125, -1.0)}, (FEB, MAR)))


def test_lead_conversion_by_segment_keeps_the_null_group() -> None:
    # leads join customers on customer_id; leads without one form the null group
    # Jan: L1 -> C6 Mid-Market converted; L3 -> C4 Enterprise converted; L2, L4 no customer
    # Feb: L5 -> C7 SMB converted; L6, L7, L9 no customer, not converted
    # Mar: L8 -> C8 Enterprise converted
    expected = per_group(
        {
            "lead_conversion_rate": {
                "SMB": (None, 1.0, None),
                "Enterprise": (1.0, None, 1.0),
                "Mid-Market": (1.0, None, None),
                None: (0.0, 0.0, None),  # 0/2, 0/3, no leads
            },
        },
        MONTHS,
    )
    result = evaluate(["lead_conversion_rate"], main_source(), "2025-01-01", "2025-04-01", by=["segment"])
    check(collect(result, ("segment",)), expected)


def test_upsell_cross_sell_rate_by_segment() -> None:
    # expansion deals: Jan D1 (C1 SMB), D2 (C3 Ent); Feb D6 (C4 Ent); Mar D8 (C7 SMB)
    # customers at start: SMB 3, 3, 3; Enterprise 1, 1, 2; Mid-Market 0, 0, 0
    expected = per_group(
        {
            "upsell_cross_sell_rate": {
                "SMB": (1.0 / 3.0, 0.0, 1.0 / 3.0),
                "Enterprise": (1.0, 1.0, 0.0),
                "Mid-Market": (None, None, None),
            },
        },
        MONTHS,
    )
    result = evaluate(["upsell_cross_sell_rate"], main_source(), "2025-01-01", "2025-04-01", by=["segment"])
    check(collect(result, ("segment",)), expected)


@pytest.mark.parametrize(
    "metric",
    [
        "sales_marketing_spend",
        "retention_spend",
        "customer_acquisition_cost",
        "acquisition_retention_cost_ratio",
    ],
)
def test_grouping_a_metric_that_cannot_reach_the_column(metric: str) -> None:
    # spend has no customer_id, so it cannot be joined to customers.segment
    with pytest.raises(crmetrics.UsageError) as excinfo:
        evaluate([metric], main_source(), "2025-01-01", "2025-04-01", by=["segment"])
    message = str(excinfo.value)
    assert metric in message
    assert "spend" in message
    assert "segment" in message


def test_where_filter_restricts_to_segment() -> None:
    # only SMB customers (C1, C2, C5, C7) and rows attributed to them
    # revenue: Jan R1 + R2 + R4 = 400; leads: Feb L5 (C7) only, converted
    expected = per_period(
        {
            "customers_at_start": (3.0, 3.0, 3.0),
            "new_customers": (0.0, 1.0, 0.0),
            "lost_customers": (0.0, 1.0, 1.0),
            "customers_at_end": (3.0, 3.0, 2.0),
            "churn_rate": (0.0, 1.0 / 3.0, 1.0 / 3.0),
            "revenue": (400.0, 0.0, 0.0),
            "lead_conversion_rate": (None, 1.0, None),
        },
        MONTHS,
    )
    result = evaluate(
        [
            "customers_at_start",
            "new_customers",
            "lost_customers",
            "customers_at_end",
            "churn_rate",
            "revenue",
            "lead_conversion_rate",
        ],
        main_source(),
        "2025-01-01",
        "2025-04-01",
        where="segment = 'SMB'",
    )
    check(collect(result), expected)


# ---------------------------------------------------------------------------------------
# empty periods and zero denominators
# ---------------------------------------------------------------------------------------


def test_quiet_months_after_the_data() -> None:
    # May and June 2025 have no events; C1 C3 C4 C7 C8 stay active throughout.
    # health: each of the 5 customers scores 100 * (0 + 0.3*0.5 + 0.2*1) = 35
    # growth: April revenue is R9 999 -> May (0-999)/999 = -1; June 0/0 -> null
    quiet = {
        "new_customers": (0.0, 0.0),
        "lost_customers": (0.0, 0.0),
        "customers_at_start": (5.0, 5.0),
        "customers_at_end": (5.0, 5.0),
        "revenue": (0.0, 0.0),
        "cost_of_revenue": (0.0, 0.0),
        "paying_customers": (0.0, 0.0),
        "revenue_per_customer": (None, None),
        "sales_marketing_spend": (0.0, 0.0),
        "retention_spend": (0.0, 0.0),
        "expansion_deals": (0.0, 0.0),
        "customer_acquisition_cost": (None, None),  # 0/0
        "customer_lifetime_value": (None, None),  # no revenue per customer, churn 0
        "net_promoter_score": (None, None),
        "churn_rate": (0.0, 0.0),  # 0/5
        "upsell_cross_sell_rate": (0.0, 0.0),  # 0/5
        "customer_retention_rate": (1.0, 1.0),  # (5-0)/5
        "customer_health_score": (35.0, 35.0),
        "lead_conversion_rate": (None, None),
        "customer_service_response_time": (None, None),
        "gross_profit_margin": (None, None),
        "revenue_growth_rate": (-1.0, None),
        "acquisition_retention_cost_ratio": (None, None),  # CAC null
    }
    result = evaluate(CATALOG, main_source(), "2025-05-01", "2025-07-01")
    check(collect(result), per_period(quiet, (MAY, JUN)))


def test_no_data_at_all() -> None:
    # every table present but empty: counts and sums 0, everything else null
    # (the health score is null because no customer is active)
    expected = per_period(
        {m: (0.0, 0.0) if m in COUNTS_AND_SUMS else (None, None) for m in CATALOG},
        (JAN, FEB),
    )
    result = evaluate(CATALOG, empty_source(), "2025-01-01", "2025-03-01")
    check(collect(result), expected)


def _customers(*rows: tuple) -> pl.DataFrame:
    return table(CUSTOMERS_SCHEMA, [(cid, None, acquired, churned) for cid, acquired, churned in rows])


def _zero_start_source() -> dict[str, pl.DataFrame]:
    # Z1 acquired Jan 10: nobody at Jan 1, one customer at Feb 1 and Mar 1.
    # D1 upsell won in Jan.
    return {
        "customers": _customers(("Z1", utc(2025, 1, 10), None)),
        "deals": table(
            DEALS_SCHEMA,
            [
                ("D1", "Z1", "Closed Won", True, True, "upsell", utc(2025, 1, 10), utc(2025, 1, 20)),
            ],
        ),
    }


def _gross_margin_source() -> dict[str, pl.DataFrame]:
    # Jan: revenue 0, cost 0; Feb: revenue 100, cost null; Mar: no rows
    return {
        "customers": _customers(("Z1", utc(2024, 12, 1), None)),
        "revenue": table(
            REVENUE_SCHEMA,
            [
                ("R1", "Z1", utc(2025, 1, 10), 0.0, 0.0),
                ("R2", "Z1", utc(2025, 2, 10), 100.0, None),
            ],
        ),
    }


def _cac_source() -> dict[str, pl.DataFrame]:
    # Jan: marketing 500, no new customer; Feb: Z1 new, no spend; Mar: nothing
    return {
        "customers": _customers(("Z1", utc(2025, 2, 10), None)),
        "spend": table(SPEND_SCHEMA, [("S1", utc(2025, 1, 5), "marketing", 500.0)]),
    }


def _clv_source() -> dict[str, pl.DataFrame]:
    # Z1 and Z2 active from December; Z2 churns Feb 15.
    # revenue: Z1 100 in Jan, Z2 50 in Feb
    return {
        "customers": _customers(
            ("Z1", utc(2024, 12, 1), None),
            ("Z2", utc(2024, 12, 1), utc(2025, 2, 15)),
        ),
        "revenue": table(
            REVENUE_SCHEMA,
            [
                ("R1", "Z1", utc(2025, 1, 10), 100.0, None),
                ("R2", "Z2", utc(2025, 2, 10), 50.0, None),
            ],
        ),
    }


def _growth_source() -> dict[str, pl.DataFrame]:
    # revenue only in February: 100
    return {
        "customers": _customers(("Z1", utc(2024, 12, 1), None)),
        "revenue": table(REVENUE_SCHEMA, [("R1", "Z1", utc(2025, 2, 10), 100.0, None)]),
    }


def _ratio_source() -> dict[str, pl.DataFrame]:
    # Z1 from December, Z2 new Jan 10, Z3 new Feb 5.
    # Jan: marketing 300; Feb: marketing 200, retention 100; Mar: nothing
    return {
        "customers": _customers(
            ("Z1", utc(2024, 12, 1), None),
            ("Z2", utc(2025, 1, 10), None),
            ("Z3", utc(2025, 2, 5), None),
        ),
        "spend": table(
            SPEND_SCHEMA,
            [
                ("S1", utc(2025, 1, 5), "marketing", 300.0),
                ("S2", utc(2025, 2, 6), "marketing", 200.0),
                ("S3", utc(2025, 2, 7), "retention", 100.0),
            ],
        ),
    }


def _nps_source() -> dict[str, pl.DataFrame]:
    # Jan: one csat response only; Feb: one nps 8 (passive); Mar: nothing
    return {
        "customers": _customers(("Z1", utc(2024, 12, 1), None)),
        "survey_responses": table(
            SURVEYS_SCHEMA,
            [
                ("P1", "Z1", "csat", 5.0, utc(2025, 1, 10)),
                ("P2", "Z1", "nps", 8.0, utc(2025, 2, 10)),
            ],
        ),
    }


def _leads_source() -> dict[str, pl.DataFrame]:
    # one unconverted lead in February
    return {
        "customers": _customers(("Z1", utc(2024, 12, 1), None)),
        "leads": table(LEADS_SCHEMA, [("L1", utc(2025, 2, 10), False, None, None)]),
    }


def _tickets_source() -> dict[str, pl.DataFrame]:
    # Jan: a ticket never answered; Feb: answered after 30 minutes; Mar: nothing
    return {
        "customers": _customers(("Z1", utc(2024, 12, 1), None)),
        "tickets": table(
            TICKETS_SCHEMA,
            [
                ("T1", "Z1", utc(2025, 1, 10), None),
                ("T2", "Z1", utc(2025, 2, 10, 9), utc(2025, 2, 10, 9, 30)),
            ],
        ),
    }


ZERO_DENOMINATOR_CASES = [
    pytest.param(
        "churn_rate", _zero_start_source, (None, 0.0, 0.0), id="churn-no-customers-at-start"
    ),  # 0/0, 0/1, 0/1
    pytest.param(
        "customer_retention_rate", _zero_start_source, (None, 1.0, 1.0), id="retention-no-customers-at-start"
    ),  # (0-1)/0, (1-0)/1, (1-0)/1
    pytest.param(
        "upsell_cross_sell_rate", _zero_start_source, (None, 0.0, 0.0), id="upsell-no-customers-at-start"
    ),  # 1/0, 0/1, 0/1
    pytest.param(
        "gross_profit_margin", _gross_margin_source, (None, 1.0, None), id="gross-margin-revenue-zero"
    ),  # 0/0, (100-0)/100, 0/0
    pytest.param(
        "customer_acquisition_cost", _cac_source, (None, 0.0, None), id="cac-no-new-customers"
    ),  # 500/0, 0/1, 0/0
    # Jan: revenue per customer 100/1, churn 0/2 = 0 -> null
    # Feb (28 days): 50/1 = 50, churn 1/2 = 0.5:
    #   (50 * 365.25 / 28) * (28 / 365.25 / 0.5) = 50 / 0.5 = 100
    # Mar: no revenue -> null
    pytest.param("customer_lifetime_value", _clv_source, (None, 100.0, None), id="clv-churn-zero"),
    pytest.param(
        "revenue_growth_rate", _growth_source, (None, None, -1.0), id="growth-prior-revenue-zero"
    ),  # 0/0, 100/0, (0-100)/100
    # Jan: CAC 300/1 = 300, retention 0 / start 1 = 0 -> null
    # Feb: CAC 200/1 = 200, retention 100 / start 2 = 50 -> 4
    # Mar: CAC 0/0 -> null
    pytest.param(
        "acquisition_retention_cost_ratio", _ratio_source, (None, 4.0, None), id="ratio-retention-spend-zero"
    ),
    pytest.param(
        "revenue_per_customer", _growth_source, (None, 100.0, None), id="revenue-per-customer-no-payers"
    ),  # 0/0, 100/1, 0/0
    pytest.param(
        "net_promoter_score", _nps_source, (None, 0.0, None), id="nps-no-nps-responses"
    ),  # -, 100*(0-0)/1, -
    pytest.param(
        "lead_conversion_rate", _leads_source, (None, 0.0, None), id="lead-conversion-no-leads"
    ),  # -, 0/1, -
    pytest.param(
        "customer_service_response_time",
        _tickets_source,
        (None, 0.5, None),
        id="response-time-no-answered-ticket",
    ),  # -, 0.5 h, -
]


@pytest.mark.parametrize(("metric", "source", "values"), ZERO_DENOMINATOR_CASES)
def test_zero_denominator_gives_null(metric: str, source: Callable, values: tuple[float | None, ...]) -> None:
    result = evaluate([metric], source(), "2025-01-01", "2025-04-01")
    check(collect(result), per_period({metric: values}, MONTHS))


# ---------------------------------------------------------------------------------------
# customer health score (fixture: March 2025)
# ---------------------------------------------------------------------------------------

# score = 100 * (0.5 * usage + 0.3 * satisfaction + 0.2 * support)
# H1: usage 10/20 = 0.5; nps 9, 7 -> 8 -> 0.8 (Feb nps 0 ignored); 1 ticket -> 1 - 1/5 = 0.8
#     100 * (0.25 + 0.24 + 0.16) = 65
# H2: usage 25/20 capped at 1; no nps (csat 2 ignored) -> 0.5; no March ticket -> 1
#     100 * (0.5 + 0.15 + 0.2) = 85
# H3: usage 4/20 = 0.2 (the Apr 1 row is April); nps 3 -> 0.3 (ces 7 ignored);
#     7 tickets -> 1 - min(7/5, 1) = 0: 100 * (0.1 + 0.09 + 0) = 19
# H5: nothing in March: 100 * (0 + 0.15 + 0.2) = 35
# H4 (churned Mar 20) and H6 (churned Feb 15) are not active at 2025-04-01.
HEALTH_PER_CUSTOMER = {"H1": 65.0, "H2": 85.0, "H3": 19.0, "H5": 35.0}


def test_health_score_per_customer() -> None:
    result = evaluate(
        ["customer_health_score"], health_source(), "2025-03-01", "2025-04-01", by=["customer_id"]
    )
    values = collect(result, ("customer_id",))
    expected = {("customer_health_score", MAR, cid): s for cid, s in HEALTH_PER_CUSTOMER.items()}
    check(values, expected, exact=False)
    # customers not active at period_end have no score: absent, or present with null
    for key, value in values.items():
        if key not in expected:
            assert key[2] in {"H4", "H6"}, key
            assert value is None, key


def test_health_score_mean_over_active_customers() -> None:
    # (65 + 85 + 19 + 35) / 4 = 204 / 4 = 51
    result = evaluate(["customer_health_score"], health_source(), "2025-03-01", "2025-04-01")
    check(collect(result), {("customer_health_score", MAR): 51.0})


def test_health_score_by_segment() -> None:
    # SMB (H1, H2): (65 + 85)/2 = 75; Enterprise (H3, H5; H4 not active): (19 + 35)/2 = 27
    # Mid-Market: H6 churned before period end -> nobody active -> null
    result = evaluate(["customer_health_score"], health_source(), "2025-03-01", "2025-04-01", by=["segment"])
    expected = {
        ("customer_health_score", MAR, "SMB"): 75.0,
        ("customer_health_score", MAR, "Enterprise"): 27.0,
        ("customer_health_score", MAR, "Mid-Market"): None,
    }
    check(collect(result, ("segment",)), expected)


def test_health_score_null_when_no_customer_is_active() -> None:
    # every customer was acquired 2024-06-01 or later: nobody is active at 2024-02-01
    result = evaluate(["customer_health_score"], health_source(), "2024-01-01", "2024-02-01")
    check(collect(result), {("customer_health_score", date(2024, 1, 1)): None})


HEALTH_PARAM_CASES = [
    pytest.param(
        {"customer_health_score.usage_target": 10},
        # H1 usage 10/10 = 1: 100 * (0.5 + 0.24 + 0.16) = 90
        # H2 capped: 85; H3 usage 4/10 = 0.4: 100 * (0.2 + 0.09 + 0) = 29; H5 35
        {"H1": 90.0, "H2": 85.0, "H3": 29.0, "H5": 35.0},
        239.0 / 4,  # (90 + 85 + 29 + 35) / 4 = 59.75
        id="usage_target",
    ),
    pytest.param(
        {"customer_health_score.ticket_target": 10},
        # H1 support 1 - 1/10 = 0.9: 100 * (0.25 + 0.24 + 0.18) = 67
        # H3 support 1 - 7/10 = 0.3: 100 * (0.1 + 0.09 + 0.06) = 25
        {"H1": 67.0, "H2": 85.0, "H3": 25.0, "H5": 35.0},
        53.0,  # (67 + 85 + 25 + 35) / 4 = 212 / 4
        id="ticket_target",
    ),
    pytest.param(
        {"customer_health_score.neutral_satisfaction": 0.7},
        # H2: 100 * (0.5 + 0.21 + 0.2) = 91; H5: 100 * (0 + 0.21 + 0.2) = 41
        {"H1": 65.0, "H2": 91.0, "H3": 19.0, "H5": 41.0},
        54.0,  # (65 + 91 + 19 + 41) / 4 = 216 / 4
        id="neutral_satisfaction",
    ),
    pytest.param(
        {
            "customer_health_score.usage_weight": 0.2,
            "customer_health_score.satisfaction_weight": 0.6,
            "customer_health_score.support_weight": 0.2,
        },
        # H1: 100 * (0.2*0.5 + 0.6*0.8 + 0.2*0.8) = 100 * (0.1 + 0.48 + 0.16) = 74
        # H2: 100 * (0.2*1 + 0.6*0.5 + 0.2*1) = 70
        # H3: 100 * (0.2*0.2 + 0.6*0.3 + 0.2*0) = 22
        # H5: 100 * (0 + 0.6*0.5 + 0.2*1) = 50
        {"H1": 74.0, "H2": 70.0, "H3": 22.0, "H5": 50.0},
        54.0,  # (74 + 70 + 22 + 50) / 4 = 216 / 4
        id="weights",
    ),
]


@pytest.mark.parametrize(("params", "per_customer", "mean"), HEALTH_PARAM_CASES)
def test_health_score_params(params: dict, per_customer: dict[str, float], mean: float) -> None:
    source = health_source()
    total = evaluate(["customer_health_score"], source, "2025-03-01", "2025-04-01", params=params)
    check(collect(total), {("customer_health_score", MAR): mean})
    by_customer = evaluate(
        ["customer_health_score"], source, "2025-03-01", "2025-04-01", by=["customer_id"], params=params
    )
    expected = {("customer_health_score", MAR, cid): s for cid, s in per_customer.items()}
    check(collect(by_customer, ("customer_id",)), expected, exact=False)


# ---------------------------------------------------------------------------------------
# other grains
# ---------------------------------------------------------------------------------------


def test_week_grain_weeks_start_on_monday() -> None:
    # weeks of Mon 2025-01-06 and Mon 2025-01-13
    # new: week 1 K1 (Mon 00:00), K2 (Sun 23:59:59.999999), K3 (Mon 01:00+02:00 = Sun 23:00Z)
    #      = 3; week 2 K4 (Mon 00:00), K5 = 2; K0 (Sun Jan 5) belongs to the week before
    # at Jan 6: K0 = 1; at Jan 13: K0..K3 = 4 (K4 acquired exactly then is not active);
    # at Jan 20: K0..K5 = 6 (K5 churned exactly Jan 20 is still active; lost in week 3)
    # revenue: week 1 150, week 2 50 (the Jan 20 row is week 3); the week before: 100
    # growth: (150 - 100)/100 = 0.5; (50 - 150)/150 = -2/3
    weeks = (date(2025, 1, 6), date(2025, 1, 13))
    expected = per_period(
        {
            "new_customers": (3.0, 2.0),
            "lost_customers": (0.0, 0.0),
            "customers_at_start": (1.0, 4.0),
            "customers_at_end": (4.0, 6.0),
            "churn_rate": (0.0, 0.0),  # 0/1, 0/4
            "revenue": (150.0, 50.0),
            "revenue_growth_rate": (0.5, -2.0 / 3.0),
        },
        weeks,
    )
    result = evaluate(
        [
            "new_customers",
            "lost_customers",
            "customers_at_start",
            "customers_at_end",
            "churn_rate",
            "revenue",
            "revenue_growth_rate",
        ],
        week_source(),
        "2025-01-06",
        "2025-01-20",
        grain="week",
    )
    check(collect(result), expected)


def test_quarter_grain() -> None:
    # Q1 2025: new C6, C4, C7, C8 = 4; lost C6, C2, C5 = 3; at Jan 1: 4; at Apr 1: 4+4-3 = 5
    #          churn 3/4 = 0.75
    # Q2 2025: nothing happens: 5 at start and end, churn 0/5 = 0
    # revenue: Q4 2024 400 (December), Q1 800 + 900 + 0 = 1700, Q2 999 (R9 on Apr 1)
    # growth: Q1 (1700 - 400)/400 = 3.25; Q2 (999 - 1700)/1700 = -701/1700
    # CLV Q1 (90 days): paying {C1, C2, C3, C4, C6} -> 1700/5 = 340 per customer;
    #   (340 * 365.25 / 90) * (90 / 365.25 / 0.75) = 340 / 0.75 = 1360/3
    # CLV Q2: churn 0 -> null
    quarters = (date(2025, 1, 1), date(2025, 4, 1))
    expected = per_period(
        {
            "new_customers": (4.0, 0.0),
            "lost_customers": (3.0, 0.0),
            "customers_at_start": (4.0, 5.0),
            "customers_at_end": (5.0, 5.0),
            "churn_rate": (0.75, 0.0),
            "revenue": (1700.0, 999.0),
            "revenue_growth_rate": (3.25, -701.0 / 1700.0),
            "customer_lifetime_value": (1360.0 / 3.0, None),
        },
        quarters,
    )
    result = evaluate(
        [
            "new_customers",
            "lost_customers",
            "customers_at_start",
            "customers_at_end",
            "churn_rate",
            "revenue",
            "revenue_growth_rate",
            "customer_lifetime_value",
        ],
        main_source(),
        "2025-01-01",
        "2025-07-01",
        grain="quarter",
    )
    check(collect(result), expected)


# ---------------------------------------------------------------------------------------
# sources and errors
# ---------------------------------------------------------------------------------------


def test_csv_source_directory(tmp_path) -> None:
    main_customers().write_csv(tmp_path / "customers.csv")
    result = evaluate(["new_customers", "customers_at_start"], f"csv:{tmp_path}", "2025-01-01", "2025-04-01")
    expected = per_period({"new_customers": (1.0, 2.0, 1.0), "customers_at_start": (4.0, 4.0, 5.0)}, MONTHS)
    check(collect(result), expected)


def test_unknown_metric_is_a_usage_error() -> None:
    with pytest.raises(crmetrics.UsageError) as excinfo:
        evaluate(["churn_rates"], main_source(), "2025-01-01", "2025-04-01")
    assert "churn_rates" in str(excinfo.value)


def test_missing_table_is_a_data_error() -> None:
    with pytest.raises(crmetrics.DataError) as excinfo:
        evaluate(["net_promoter_score"], {"customers": main_customers()}, "2025-01-01", "2025-04-01")
    assert "survey_responses" in str(excinfo.value)
