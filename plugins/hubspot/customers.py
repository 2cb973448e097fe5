"""Companies as canonical customers.

HubSpot records when a company entered the "customer" lifecycle stage
(``hs_lifecyclestage_customer_date``), but not reliably: stages can be set by hand or
skipped. By default a company became a customer at that date, else at the closedate of its
first won deal; companies with neither are prospects and are left out, counted. HubSpot has
no churn date at all, so churn comes only from a property the options name.
"""

from __future__ import annotations

import polars as pl

from crmetrics.connector import RawTable
from crmetrics.mapping import ColumnSpec
from crmetrics.plugins.crm_common.frames import (
    TableBuilder,
    channel,
    column,
    segment,
    timestamp,
    timestamp_text,
)
from crmetrics.plugins.crm_common.mapping import apply_mapping, builtin, user_mapping
from crmetrics.plugins.hubspot.objects import Objects, primary
from crmetrics.plugins.hubspot.pipeline import deal_flags
from crmetrics.plugins.hubspot.stages import StageBook

_STAMP = pl.Datetime("us", "UTC")


def customers(data: Objects, stages: StageBook) -> RawTable:
    """The customers table: companies with a customer date or a won deal."""
    settings = data.settings["customers"]
    builder = TableBuilder("customers", data.where("companies"))
    companies = data.rows("companies", builder)
    companies = companies.join(_first_won_deals(data, stages), left_on="id", right_on="__company", how="left")
    lifecycle = timestamp(column(companies, "hs_lifecyclestage_customer_date"))
    method = settings["acquired_at"]
    acquired = {
        "auto": pl.coalesce(lifecycle, pl.col("__first_won")),
        "lifecycle_date": lifecycle,
        "first_won_deal": pl.col("__first_won"),
        "field": timestamp_text(column(companies, settings["acquired_at_field"])),
    }[method]
    churned = {
        "none": pl.lit(None, dtype=_STAMP),
        "field": timestamp_text(column(companies, settings["churned_at_field"])),
        "lifecycle_other": timestamp_text(column(companies, "hs_lifecyclestage_other_date")),
    }[settings["churned_at"]]
    companies = companies.with_columns(
        acquired.alias("derived.acquired_at"),
        churned.alias("derived.churned_at"),
        segment(companies, settings["segment"], "numberofemployees").alias("derived.segment"),
        channel(column(companies, "hs_analytics_source"), data.settings["channel_map"]).alias(
            "derived.acquisition_channel"
        ),
    ).drop("__first_won")
    mapping = builtin(
        "companies",
        {
            "customer_id": "id",
            "name": "name",
            "acquired_at": "derived.acquired_at",
            "churned_at": "derived.churned_at",
            "segment": "derived.segment",
            "region": ColumnSpec(field=settings["region_field"])
            if settings["region_field"]
            else ColumnSpec(),
            "industry": "industry",
            "acquisition_channel": "derived.acquisition_channel",
        },
        user=user_mapping(data.settings, "customers"),
    )
    frame = apply_mapping(builder, companies, mapping, currency=data.settings["currency"])
    if not settings["include_prospects"]:
        reason = (
            f"not a customer (no {settings['acquired_at_field']})"
            if method == "field"
            else "not a customer (no customer date or won deal)"
        )
        frame = builder.reject(frame, pl.col("acquired_at").is_null(), reason)
    return builder.result(frame)


def _first_won_deals(data: Objects, stages: StageBook) -> pl.DataFrame:
    schema = pl.Schema({"__company": pl.String(), "__first_won": _STAMP})
    deals = data.current("deals")
    if not deals.width:
        return pl.DataFrame(schema=schema)
    _, is_won = deal_flags(deals, stages)
    return (
        deals.with_columns(
            primary(deals, "companies").alias("__company"),
            timestamp(column(deals, "closedate")).alias("__close"),
            is_won.alias("__won"),
        )
        .filter(pl.col("__won").fill_null(False) & pl.col("__company").is_not_null())
        .group_by("__company")
        .agg(pl.col("__close").min().alias("__first_won"))
        .cast(schema)
    )
