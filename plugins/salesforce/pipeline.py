"""Opportunities as canonical deals, and leads.

Closed-ness and won-ness come from IsClosed/IsWon, never from the stage text, which every
org renames. A deal's ``closed_at`` is its CloseDate (a date: midnight UTC) when it is closed;
an open deal's CloseDate is only a forecast.
"""

from __future__ import annotations

import polars as pl

from crmetrics.connector import RawTable
from crmetrics.mapping import ColumnSpec
from crmetrics.plugins.crm_common.frames import TableBuilder, bool_text, channel, column, truthy
from crmetrics.plugins.crm_common.mapping import builtin, user_mapping
from crmetrics.plugins.salesforce.objects import Objects


def deals(data: Objects) -> RawTable:
    """The deals table, from opportunities."""
    builder = TableBuilder("deals", data.where("Opportunity"))
    opportunities = data.rows("Opportunity", builder)
    settings = data.settings["deals"]
    mapping = builtin(
        "Opportunity",
        {
            "deal_id": "Id",
            "customer_id": "AccountId",
            "amount": "Amount",
            "stage": "StageName",
            "is_closed": "IsClosed",
            "is_won": "IsWon",
            "deal_type": ColumnSpec(field=settings["deal_type_field"], values=settings["deal_type_map"]),
            "created_at": "CreatedDate",
            # An open deal's CloseDate is only a forecast.
            "closed_at": ColumnSpec(expr="CASE WHEN IsClosed THEN CloseDate END"),
        },
        currency="CurrencyIsoCode",
        user=user_mapping(data.settings, "deals"),
    )
    frame = data.apply(
        builder,
        opportunities,
        mapping,
        hints={"deal_type": "deals.deal_type_map"},
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
    rows = rows.with_columns(
        is_converted.alias("derived.is_converted"),
        channel(column(rows, "leadsource"), data.settings["channel_map"]).alias("derived.source"),
    )
    mapping = builtin(
        "Lead",
        {
            "lead_id": "Id",
            "created_at": "CreatedDate",
            "source": "derived.source",
            "is_converted": "derived.is_converted",
            "converted_at": "ConvertedDate",
            "customer_id": "ConvertedAccountId",
        },
        user=user_mapping(data.settings, "leads"),
    )
    return builder.result(data.apply(builder, rows, mapping))


def _converted_statuses(data: Objects) -> list[str]:
    statuses = {s.strip().lower() for s in data.settings["leads"]["converted_statuses"]}
    table = data.current("LeadStatus")
    if table.width:
        converted = table.filter(truthy(column(table, "isconverted")).fill_null(False))
        for name in ("masterlabel", "apiname"):
            if name in converted.columns:
                statuses.update(v.strip().lower() for v in converted[name].drop_nulls())
    return sorted(statuses)
