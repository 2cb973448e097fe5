"""Accounts as canonical customers.

Salesforce has no "became a customer" or "churned" date. By default an account became a
customer at the CloseDate of its first won opportunity (accounts without one are prospects
and are left out, counted), and churned when its last activated contract ended with no
open-ended one left; both rules can be replaced by a field of the org's own.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from crmetrics.connector import RawTable
from crmetrics.mapping import ColumnSpec
from crmetrics.plugins.crm_common.frames import (
    TableBuilder,
    channel,
    column,
    segment,
    snake,
    timestamp,
    timestamp_text,
    truthy,
)
from crmetrics.plugins.crm_common.mapping import builtin, user_mapping
from crmetrics.plugins.salesforce.objects import Objects

_WON_DEAL = "not a customer (no won opportunity)"


def customers(data: Objects) -> RawTable:
    """The customers table, from accounts, won deals and contracts."""
    settings = data.settings["customers"]
    builder = TableBuilder("customers", data.where("Account"))
    accounts = data.rows("Account", builder)
    accounts = _with_acquisition(data, accounts)
    accounts = _with_churn(data, accounts)
    source = pl.coalesce(column(accounts, "accountsource"), pl.col("__won_lead_source"))
    accounts = accounts.with_columns(
        pl.col("__acquired").alias("derived.acquired_at"),
        pl.col("__churned").alias("derived.churned_at"),
        segment(accounts, settings["segment"], "numberofemployees").alias("derived.segment"),
        channel(source, data.settings["channel_map"]).alias("derived.acquisition_channel"),
    ).drop("__acquired", "__churned", "__won_lead_source", "__first_won")
    mapping = builtin(
        "Account",
        {
            "customer_id": "Id",
            "name": "Name",
            "acquired_at": "derived.acquired_at",
            "churned_at": "derived.churned_at",
            "segment": "derived.segment",
            "region": ColumnSpec(field=settings["region_field"])
            if settings["region_field"]
            else ColumnSpec(),
            "industry": "Industry",
            "acquisition_channel": "derived.acquisition_channel",
        },
        user=user_mapping(data.settings, "customers"),
    )
    frame = data.apply(builder, accounts, mapping)
    if not settings["include_prospects"]:
        reason = (
            _WON_DEAL
            if settings["acquired_at"] == "first_won_deal"
            else (f"not a customer (no {settings['acquired_at_field']})")
        )
        frame = builder.reject(frame, pl.col("acquired_at").is_null(), reason)
    return builder.result(frame)


def _with_acquisition(data: Objects, accounts: pl.DataFrame) -> pl.DataFrame:
    """Adds ``__acquired`` and the lead source of the first won deal (a channel fallback)."""
    settings = data.settings["customers"]
    won = _first_won_deals(data)
    accounts = accounts.join(won, left_on="id", right_on="__account", how="left")
    if settings["acquired_at"] == "field":
        acquired = timestamp_text(column(accounts, settings["acquired_at_field"]))
        return accounts.with_columns(acquired.alias("__acquired"))
    return accounts.with_columns(pl.col("__first_won").alias("__acquired"))


def _first_won_deals(data: Objects) -> pl.DataFrame:
    schema = pl.Schema(
        {"__account": pl.String(), "__first_won": pl.Datetime("us", "UTC"), "__won_lead_source": pl.String()}
    )
    opportunities = data.current("Opportunity")
    if not opportunities.width or "accountid" not in opportunities.columns:
        return pl.DataFrame(schema=schema)
    return (
        opportunities.filter(truthy(column(opportunities, "iswon")).fill_null(False))
        .with_columns(timestamp(column(opportunities, "closedate")).alias("__close"))
        .filter(pl.col("accountid").is_not_null() & pl.col("__close").is_not_null())
        .sort("__close", maintain_order=True)
        .group_by("accountid", maintain_order=True)
        .agg(
            pl.col("__close").first().alias("__first_won"),
            column(opportunities, "leadsource").first().alias("__won_lead_source"),
        )
        .rename({"accountid": "__account"})
        .cast(schema)
    )


def _with_churn(data: Objects, accounts: pl.DataFrame) -> pl.DataFrame:
    settings = data.settings["customers"]
    method = settings["churned_at"]
    if method == "field":
        return accounts.with_columns(
            timestamp_text(column(accounts, settings["churned_at_field"])).alias("__churned")
        )
    if method == "none" or not data.has("Contract"):
        return accounts.with_columns(pl.lit(None, dtype=pl.String).alias("__churned"))
    ended = _contract_ends(data)
    return accounts.join(ended, left_on="id", right_on="__account", how="left")


def _contract_ends(data: Objects) -> pl.DataFrame:
    """Per account, when its last activated contract ended, if none is still running."""
    contracts = data.current("Contract")
    schema = pl.Schema({"__account": pl.String(), "__churned": pl.Datetime("us", "UTC")})
    if not contracts.width or "accountid" not in contracts.columns:
        return pl.DataFrame(schema=schema)
    status = pl.coalesce(column(contracts, "statuscode"), column(contracts, "status"))
    now = datetime.now(UTC)
    per_account = (
        contracts.filter(snake(status) == "activated")
        .with_columns(timestamp(column(contracts, "enddate")).alias("__end"))
        .group_by("accountid")
        .agg(
            pl.col("__end").max().alias("__last_end"),
            pl.col("__end").is_null().any().alias("__open_ended"),
        )
    )
    churned = pl.when(~pl.col("__open_ended") & (pl.col("__last_end") < pl.lit(now))).then(
        pl.col("__last_end")
    )
    return per_account.select(pl.col("accountid").alias("__account"), churned.alias("__churned")).cast(schema)
