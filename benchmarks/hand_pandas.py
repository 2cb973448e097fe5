"""The whole catalog written by hand in pandas, as an analyst's notebook would.

The same algorithm as the hand-written Polars script, in idiomatic vectorised pandas:
Parquet read with only the needed columns and the time window as a pyarrow filter,
segments mapped through a customer index, ``groupby(..., dropna=False)`` so that the null
segment stays a group. Ungrouped runs use one constant group.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from benchmarks.common import (
    GROUP_SOURCES,
    NEUTRAL_SATISFACTION,
    SATISFACTION_WEIGHT,
    SUPPORT_WEIGHT,
    TICKET_TARGET,
    USAGE_TARGET,
    USAGE_WEIGHT,
    metrics_for,
)

W = pd.Timestamp("2023-12-01", tz="UTC")
E = pd.Timestamp("2026-01-01", tz="UTC")
S = pd.Timestamp("2024-01-01")
BEFORE = np.datetime64("2023-11-01", "us")
KEYS = ["p", "g"]


def _month(values: pd.Series) -> np.ndarray:
    """Month starts of UTC timestamps, as naive microsecond datetimes."""
    naive = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    return naive.astype("datetime64[M]").astype("datetime64[us]")


def _div(a: pd.Series, b: pd.Series) -> pd.Series:
    a, b = a.astype("float64"), b.astype("float64")
    return (a / b.where(b != 0)).astype("float64")


def compute(folder: Path, grouped: bool) -> pl.DataFrame:
    def read(table: str, columns: list[str], time: str | None = None) -> pd.DataFrame:
        filters = [(time, ">=", W), (time, "<", E)] if time else None
        return pd.read_parquet(folder / f"{table}.parquet", columns=columns, filters=filters)

    customers = read(
        "customers", ["customer_id", "acquired_at", "churned_at", *(["segment"] if grouped else [])]
    )
    customers["g"] = customers["segment"] if grouped else "all"
    segment_of = customers.set_index("customer_id")["g"]

    def events(table: str, time: str, columns: list[str]) -> pd.DataFrame:
        wanted = list(dict.fromkeys([*columns, time, *(["customer_id"] if grouped else [])]))
        frame = read(table, wanted, time)
        frame["p"] = _month(frame[time])
        frame["g"] = frame["customer_id"].map(segment_of) if grouped else "all"
        return frame

    def groups(table: str) -> pd.Series:
        if not grouped:
            return pd.Series(["all"])
        if table == "customers":
            return pd.Series(customers["g"].unique())
        ids = read(table, ["customer_id"])["customer_id"].unique()
        return pd.Series(pd.Series(ids).map(segment_of).unique())

    months = pd.date_range("2023-12-01", "2025-12-01", freq="MS").to_numpy(dtype="datetime64[us]")

    def per_group(frame: pd.DataFrame, **aggregations: tuple[str, str]) -> pd.DataFrame:
        return frame.groupby(KEYS, dropna=False, sort=False).agg(**aggregations).reset_index()

    parts = []
    window = customers[(customers["acquired_at"] >= W) & (customers["acquired_at"] < E)]
    parts.append(
        per_group(window.assign(p=_month(window["acquired_at"])), new_customers=("customer_id", "size"))
    )
    churned = customers[(customers["churned_at"] >= W) & (customers["churned_at"] < E)]
    parts.append(
        per_group(churned.assign(p=_month(churned["churned_at"])), lost_customers=("customer_id", "size"))
    )

    starts = pd.DataFrame(
        {"p": np.maximum(_month(customers["acquired_at"]), BEFORE), "g": customers["g"], "d": 1}
    )
    ended = customers[customers["churned_at"].notna()]
    ends = pd.DataFrame({"p": np.maximum(_month(ended["churned_at"]), BEFORE), "g": ended["g"], "d": -1})
    deltas = pd.concat([starts, ends])
    deltas = deltas[deltas["p"] < np.datetime64("2026-01-01")]
    deltas = deltas.groupby(KEYS, dropna=False, sort=False)["d"].sum().reset_index()
    snapshot_grid = pd.DataFrame({"p": np.concatenate([[BEFORE], months])}).merge(
        pd.DataFrame({"g": groups("customers")}), how="cross"
    )
    running = snapshot_grid.merge(deltas, on=KEYS, how="left")
    running["d"] = running["d"].fillna(0).astype("int64")
    running = running.sort_values(["g", "p"], na_position="first")
    running["customers_at_end"] = running.groupby("g", dropna=False)["d"].cumsum()
    running["customers_at_start"] = running["customers_at_end"] - running["d"]
    parts.append(running[running["p"] > BEFORE][[*KEYS, "customers_at_start", "customers_at_end"]])

    revenue = events("revenue", "recognized_at", ["amount", "cost", "customer_id"])
    revenue["cost"] = revenue["cost"].fillna(0.0)
    parts.append(
        per_group(
            revenue,
            revenue=("amount", "sum"),
            cost_of_revenue=("cost", "sum"),
            paying_customers=("customer_id", "nunique"),
        )
    )
    if not grouped:
        spend = events("spend", "spent_at", ["amount", "category"])
        spend["sms"] = spend["amount"].where(spend["category"].isin(["marketing", "sales"]), 0.0)
        spend["ret"] = spend["amount"].where(spend["category"] == "retention", 0.0)
        parts.append(per_group(spend, sales_marketing_spend=("sms", "sum"), retention_spend=("ret", "sum")))
    deals = events("deals", "closed_at", ["is_won", "deal_type"])
    deals["x"] = deals["is_won"] & deals["deal_type"].isin(["upsell", "cross_sell"])
    parts.append(per_group(deals, expansion_deals=("x", "sum")))
    surveys = events("survey_responses", "submitted_at", ["survey_type", "score", "customer_id"])
    nps = surveys[surveys["survey_type"] == "nps"].assign(
        promoter=lambda f: f["score"] >= 9, detractor=lambda f: f["score"] <= 6
    )
    nps = per_group(nps, promoters=("promoter", "sum"), detractors=("detractor", "sum"), n=("score", "size"))
    nps["net_promoter_score"] = 100 * (nps["promoters"] - nps["detractors"]) / nps["n"]
    parts.append(nps[[*KEYS, "net_promoter_score"]])
    leads = events("leads", "created_at", ["is_converted"])
    leads = per_group(leads, converted=("is_converted", "sum"), n=("is_converted", "size"))
    leads["lead_conversion_rate"] = leads["converted"] / leads["n"]
    parts.append(leads[[*KEYS, "lead_conversion_rate"]])
    tickets = events("tickets", "created_at", ["first_response_at", "customer_id"])
    tickets["hours"] = (
        (tickets["first_response_at"] - tickets["created_at"]) / pd.Timedelta(microseconds=1) / 3.6e9
    )
    parts.append(per_group(tickets, customer_service_response_time=("hours", "mean")))

    # Health score: baseline for customers without events, lifts for those with events.
    baseline = 100 * (SATISFACTION_WEIGHT * NEUTRAL_SATISFACTION + SUPPORT_WEIGHT)
    activity = read("activity", ["customer_id", "occurred_at"], "occurred_at")
    activity["p"] = _month(activity["occurred_at"])
    usage = activity.groupby(["customer_id", "p"], sort=False).size().rename("a")
    opened = (
        tickets[tickets["customer_id"].notna()].groupby(["customer_id", "p"], sort=False).size().rename("t")
    )
    mean_nps = surveys[surveys["survey_type"] == "nps"]
    mean_nps = (
        mean_nps[mean_nps["customer_id"].notna()].groupby(["customer_id", "p"], sort=False)["score"].mean()
    )
    measured = pd.concat([usage, opened, mean_nps.rename("m")], axis=1, join="outer").reset_index()
    score = 100 * (
        USAGE_WEIGHT * np.minimum(measured["a"].fillna(0) / USAGE_TARGET, 1)
        + SATISFACTION_WEIGHT * (measured["m"] / 10).fillna(NEUTRAL_SATISFACTION)
        + SUPPORT_WEIGHT * (1 - np.minimum(measured["t"].fillna(0) / TICKET_TARGET, 1))
    )
    measured["lift"] = score - baseline
    spans = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "g": customers["g"],
            "from": _month(customers["acquired_at"]),
            "until": _month(customers["churned_at"].fillna(pd.Timestamp("2100-01-01", tz="UTC"))),
        }
    )
    measured = measured.merge(spans, on="customer_id", how="inner")
    measured = measured[(measured["from"] <= measured["p"]) & (measured["p"] < measured["until"])]
    parts.append(measured.groupby(KEYS, dropna=False, sort=False)["lift"].sum().reset_index())

    sources = sorted({t for m in metrics_for(grouped) for t in GROUP_SOURCES[m]}) if grouped else []
    if grouped:
        member = None
        for table in sources:
            flag = pd.DataFrame({"g": groups(table), f"in_{table}": True})
            member = flag if member is None else member.merge(flag, on="g", how="outer")
        assert member is not None
        grid = pd.DataFrame({"p": months}).merge(member, how="cross")
    else:
        grid = pd.DataFrame({"p": months, "g": "all"})
    wide = grid
    for part in parts:
        wide = wide.merge(part, on=KEYS, how="left")
    counts = [
        "new_customers",
        "lost_customers",
        "customers_at_start",
        "customers_at_end",
        "revenue",
        "cost_of_revenue",
        "paying_customers",
        "expansion_deals",
        *(["sales_marketing_spend", "retention_spend"] if not grouped else []),
    ]
    wide[counts] = wide[counts].fillna(0)
    wide["lift"] = wide["lift"].fillna(0.0)
    wide = wide.sort_values(["g", "p"], na_position="first").reset_index(drop=True)
    days = (pd.Series(months).dt.days_in_month.astype("float64")).set_axis(months)
    wide["days"] = wide["p"].map(days)
    wide["churn_rate"] = _div(wide["lost_customers"], wide["customers_at_start"])
    wide["revenue_per_customer"] = _div(wide["revenue"], wide["paying_customers"])
    wide["upsell_cross_sell_rate"] = _div(wide["expansion_deals"], wide["customers_at_start"])
    wide["gross_profit_margin"] = _div(wide["revenue"] - wide["cost_of_revenue"], wide["revenue"])
    prior = wide.groupby("g", dropna=False)["revenue"].shift(1)
    wide["revenue_growth_rate"] = _div(wide["revenue"] - prior, prior)
    wide["customer_retention_rate"] = _div(
        wide["customers_at_end"] - wide["new_customers"], wide["customers_at_start"]
    )
    wide["customer_health_score"] = _div(
        baseline * wide["customers_at_end"] + wide["lift"], wide["customers_at_end"]
    )
    lifespan = _div(wide["days"] / 365.25, wide["churn_rate"])
    wide["customer_lifetime_value"] = _div(wide["revenue_per_customer"] * 365.25, wide["days"]) * lifespan
    if not grouped:
        cac = _div(wide["sales_marketing_spend"], wide["new_customers"])
        wide["customer_acquisition_cost"] = cac
        wide["acquisition_retention_cost_ratio"] = _div(
            cac, _div(wide["retention_spend"], wide["customers_at_start"])
        )
    wide = wide[wide["p"] >= S]
    names = list(metrics_for(grouped))
    flags = [f"in_{t}" for t in sources]
    long = wide.melt(id_vars=[*KEYS, *flags], value_vars=names, var_name="metric", value_name="value")
    if grouped:
        keep = np.zeros(len(long), dtype=bool)
        for metric in names:
            member_of = np.zeros(len(long), dtype=bool)
            for table in GROUP_SOURCES[metric]:
                member_of |= long[f"in_{table}"].fillna(False).astype(bool).to_numpy()
            keep |= (long["metric"] == metric).to_numpy() & member_of
        long = long[keep]
    result = pl.DataFrame(
        {
            "metric": long["metric"].astype(str).to_numpy(),
            "period_start": long["p"].to_numpy(dtype="datetime64[us]"),
            "g": long["g"].astype(object).where(long["g"].notna(), None).tolist(),
            "value": long["value"].astype("float64").to_numpy(),
        }
    ).with_columns(pl.col("period_start").dt.date(), pl.col("value").fill_nan(None))
    return result.rename({"g": "segment"}) if grouped else result.drop("g")


def main() -> None:
    print(compute(Path(sys.argv[1]), sys.argv[2] == "grouped"))


if __name__ == "__main__":
    main()
