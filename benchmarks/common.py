"""What every benchmark variant computes, and how their answers are compared.

The workload is the whole built-in catalog (23 metrics) at month grain over 24 months,
ungrouped and grouped by ``segment``. Grouped by segment, the four metrics built on the
``spend`` table cannot be computed (spend has no customer to reach a segment through, an
error by the spec), so the grouped workload is the other 19.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import polars as pl

START = date(2024, 1, 1)
END = date(2026, 1, 1)
# revenue_growth_rate looks one period back: every variant computes one month more.
WINDOW_START = date(2023, 12, 1)
BY = "segment"

START_AT = datetime(2024, 1, 1, tzinfo=UTC)
END_AT = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_START_AT = datetime(2023, 12, 1, tzinfo=UTC)

# The customer_health_score definition's parameters.
USAGE_WEIGHT, SATISFACTION_WEIGHT, SUPPORT_WEIGHT = 0.5, 0.3, 0.2
USAGE_TARGET, TICKET_TARGET, NEUTRAL_SATISFACTION = 20.0, 5.0, 0.5

SPEND_METRICS = (
    "sales_marketing_spend",
    "retention_spend",
    "customer_acquisition_cost",
    "acquisition_retention_cost_ratio",
)
METRICS = (
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
    "customer_acquisition_cost",
    "customer_lifetime_value",
    "upsell_cross_sell_rate",
    "gross_profit_margin",
    "revenue_growth_rate",
    "acquisition_retention_cost_ratio",
    "churn_rate",
    "lead_conversion_rate",
    "customer_service_response_time",
    "net_promoter_score",
    "customer_retention_rate",
    "customer_health_score",
)
# The sales and time metrics, with the building blocks they added to the catalog. Measured
# ungrouped against the hand-written Polars script only (the other hand-written variants
# stop at the 23 above). They look a year back: revenue and churn are read from LOOKBACK_START.
SALES_TIME_METRICS = (
    "deals_won",
    "deals_closed",
    "win_rate",
    "average_deal_size",
    "sales_cycle_days",
    "open_pipeline_value",
    "revenue_rolling_3",
    "revenue_year_to_date",
    "revenue_growth_yoy",
    "net_revenue_retention",
    "gross_revenue_retention",
    "revenue_share",
    "customer_lifetime_value_ttm",
    "customers_acquired_to_date",
    "new_leads",
    "nps_responses",
    "answered_tickets",
)
LOOKBACK_START_AT = datetime(2023, 1, 1, tzinfo=UTC)
GROUPED_METRICS = tuple(m for m in METRICS if m not in SPEND_METRICS)

# The base tables whose group values each metric's groups are the union of (grouped runs).
GROUP_SOURCES: dict[str, tuple[str, ...]] = {
    "new_customers": ("customers",),
    "lost_customers": ("customers",),
    "customers_at_start": ("customers",),
    "customers_at_end": ("customers",),
    "customer_health_score": ("customers",),
    "churn_rate": ("customers",),
    "customer_retention_rate": ("customers",),
    "revenue": ("revenue",),
    "cost_of_revenue": ("revenue",),
    "paying_customers": ("revenue",),
    "revenue_per_customer": ("revenue",),
    "gross_profit_margin": ("revenue",),
    "revenue_growth_rate": ("revenue",),
    "customer_lifetime_value": ("revenue", "customers"),
    "expansion_deals": ("deals",),
    "upsell_cross_sell_rate": ("deals", "customers"),
    "net_promoter_score": ("survey_responses",),
    "lead_conversion_rate": ("leads",),
    "customer_service_response_time": ("tickets",),
}


def metrics_for(grouped: bool, *, extended: bool = False) -> tuple[str, ...]:
    """The workload's metrics; ``extended`` adds the sales and time ones (ungrouped only)."""
    if grouped:
        return GROUPED_METRICS
    return (*METRICS, *SALES_TIME_METRICS) if extended else METRICS


#: How a mode reads: (grouped, extended). "full" is the whole catalog, ungrouped.
MODES = {"ungrouped": (False, False), "grouped": (True, False), "full": (False, True)}


def mode_metrics(mode: str) -> tuple[str, ...]:
    """The metrics a benchmark mode computes."""
    grouped, extended = MODES[mode]
    return metrics_for(grouped, extended=extended)


def normalise(frame: pl.DataFrame, grouped: bool) -> pl.DataFrame:
    """A result in the one comparable shape: metric, period_start (date), [segment], value."""
    columns = ["metric", "period_start", *([BY] if grouped else []), "value"]
    out = frame.select(columns).with_columns(
        pl.col("metric").cast(pl.String),
        pl.col("period_start").cast(pl.Date),
        pl.col("value").cast(pl.Float64).fill_nan(None),
        *([pl.col(BY).cast(pl.String)] if grouped else []),
    )
    return out.sort(columns[:-1], nulls_last=True)


def differences(
    reference: pl.DataFrame,
    other: pl.DataFrame,
    grouped: bool,
    tolerance: float = 1e-9,
    *,
    extended: bool = False,
) -> list[str]:
    """Why ``other`` does not give the numbers of ``reference`` (empty when they agree)."""
    keys = ["metric", "period_start", *([BY] if grouped else [])]
    left, right = normalise(reference, grouped), normalise(other, grouped)
    problems = []
    if left.height != right.height:
        problems.append(f"{right.height} rows instead of {left.height}")
    joined = left.join(right, on=keys, how="full", nulls_equal=True, suffix="_other", coalesce=True)
    for row in joined.iter_rows(named=True):
        a, b = row["value"], row["value_other"]
        if a is None and b is None:
            continue
        if a is None or b is None or not math.isclose(a, b, rel_tol=tolerance, abs_tol=1e-12):
            where = ", ".join(str(row[k]) for k in keys)
            problems.append(f"{where}: {a!r} != {b!r}")
            if len(problems) >= 10:
                break
    missing = set(metrics_for(grouped, extended=extended)) - set(right["metric"].unique().to_list())
    if missing:
        problems.append(f"metrics missing: {', '.join(sorted(missing))}")
    return problems
