"""Opportunities as canonical deals, and leads.

Closed-ness and won-ness come from IsClosed/IsWon, never from the stage text, which every
org renames. A deal's ``closed_at`` is its CloseDate (a date: midnight UTC) when it is closed;
an open deal's CloseDate is only a forecast.
"""

from __future__ import annotations

import polars as pl

from crmetrics.connector import RawTable
from crmetrics.plugins.crm_common.frames import (
    TableBuilder,
    bool_text,
    channel,
    column,
    convert_currency,
    map_picklist,
    timestamp_text,
    truthy,
)
from crmetrics.plugins.salesforce.objects import Objects


def deals(data: Objects) -> RawTable:
    """The deals table, from opportunities."""
    builder = TableBuilder("deals", data.where("Opportunity"))
    opportunities = data.rows("Opportunity", builder)
    settings = data.settings["deals"]
    opportunities = opportunities.with_columns(column(opportunities, "amount").alias("__amount"))
    opportunities = convert_currency(
        builder,
        opportunities,
        amount="__amount",
        currency=column(opportunities, "currencyisocode"),
        settings=data.settings["currency"],
    )
    opportunities = map_picklist(
        builder,
        opportunities,
        column(opportunities, settings["deal_type_field"]),
        settings["deal_type_map"],
        target="__deal_type",
        label="deal_type",
        option="deals.deal_type_map",
    )
    is_closed = truthy(column(opportunities, "isclosed"))
    frame = opportunities.select(
        pl.col("id").alias("deal_id"),
        column(opportunities, "accountid").alias("customer_id"),
        pl.col("__amount").alias("amount"),
        column(opportunities, "stagename").alias("stage"),
        bool_text(column(opportunities, "isclosed")).alias("is_closed"),
        bool_text(column(opportunities, "iswon")).alias("is_won"),
        pl.col("__deal_type").alias("deal_type"),
        timestamp_text(column(opportunities, "createddate")).alias("created_at"),
        pl.when(is_closed.fill_null(False))
        .then(timestamp_text(column(opportunities, "closedate")))
        .alias("closed_at"),
    )
    return builder.result(frame)


def leads(data: Objects) -> RawTable:
    """The leads table."""
    builder = TableBuilder("leads", data.where("Lead"))
    rows = data.rows("Lead", builder)
    converted_statuses = _converted_statuses(data)
    by_status = column(rows, "status").str.strip_chars().str.to_lowercase().is_in(converted_statuses)
    # IsConverted is authoritative; the status only stands in where an export lacks it.
    flag = truthy(column(rows, "isconverted"))
    is_converted = (
        pl.when(flag.is_not_null())
        .then(bool_text(column(rows, "isconverted")))
        .when(column(rows, "isconverted").is_null())
        .then(pl.when(by_status).then(pl.lit("true")).otherwise(pl.lit("false")))
        .otherwise(column(rows, "isconverted"))
    )
    frame = rows.select(
        pl.col("id").alias("lead_id"),
        timestamp_text(column(rows, "createddate")).alias("created_at"),
        channel(column(rows, "leadsource"), data.settings["channel_map"]).alias("source"),
        is_converted.alias("is_converted"),
        timestamp_text(column(rows, "converteddate")).alias("converted_at"),
        column(rows, "convertedaccountid").alias("customer_id"),
    )
    return builder.result(frame)


def _converted_statuses(data: Objects) -> list[str]:
    statuses = {s.strip().lower() for s in data.settings["leads"]["converted_statuses"]}
    table = data.current("LeadStatus")
    if table.width:
        converted = table.filter(truthy(column(table, "isconverted")).fill_null(False))
        for name in ("masterlabel", "apiname"):
            if name in converted.columns:
                statuses.update(v.strip().lower() for v in converted[name].drop_nulls())
    return sorted(statuses)
