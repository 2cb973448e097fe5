"""Deals, and contacts as canonical leads.

A deal is closed and won per ``hs_is_closed`` / ``hs_is_closed_won`` when the portal sends
them, else per its stage's pipeline metadata. A deal whose stage nothing describes is left
out and reported: guessing that an unknown stage is open would count its amount as pipeline.
"""

from __future__ import annotations

import polars as pl

from crmetrics.connector import RawTable
from crmetrics.mapping import ColumnSpec
from crmetrics.plugins.crm_common.frames import TableBuilder, bool_text, channel, column, first_of, truthy
from crmetrics.plugins.crm_common.mapping import apply_mapping, builtin, user_mapping
from crmetrics.plugins.hubspot.objects import Objects, primary
from crmetrics.plugins.hubspot.stages import StageBook

LIFECYCLE = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
)


def _stage_key(frame: pl.DataFrame) -> pl.Expr:
    return column(frame, "dealstage").str.strip_chars().str.to_lowercase()


def deal_flags(frame: pl.DataFrame, stages: StageBook) -> tuple[pl.Expr, pl.Expr]:
    """``(is_closed, is_won)`` as booleans, null where neither flags nor stage tell."""
    table = stages.table()
    key = _stage_key(frame)
    closed = key.replace_strict(
        {k: s.is_closed for k, s in table.items()}, default=None, return_dtype=pl.Boolean
    )
    won = key.replace_strict({k: s.is_won for k, s in table.items()}, default=None, return_dtype=pl.Boolean)
    is_closed = pl.coalesce(truthy(column(frame, "hs_is_closed")), closed)
    is_won = pl.coalesce(truthy(column(frame, "hs_is_closed_won")), won)
    return is_closed, is_won


def deals(data: Objects, stages: StageBook) -> RawTable:
    """The deals table, with stages resolved through the pipelines."""
    builder = TableBuilder("deals", data.where("deals"))
    settings = data.settings["deals"]
    rows = data.rows("deals", builder)
    is_closed, is_won = deal_flags(rows, stages)
    rows = rows.with_columns(is_closed.alias("__closed"), is_won.alias("__won"))
    unknown = rows.filter(pl.col("__closed").is_null())
    if unknown.height:
        shown = unknown.select(column(unknown, "dealstage").alias("s"))["s"].unique().sort(nulls_last=True)
        values = ", ".join("no stage" if v is None else repr(v) for v in shown.head(5))
        builder.warn(
            "unknown-deal-stage",
            f"deals: {unknown.height} deal(s) in a stage no pipeline describes: {values}; left out",
            subject="deals.stage",
            hint="export pipelines/deals.json, or describe the stages under options.deals.stages",
        )
        rows = builder.reject(rows, pl.col("__closed").is_null(), "unknown deal stage")
    rows = _amount_in_reporting_currency(data, builder, rows)
    labels = {k: s.label for k, s in stages.table().items()}
    stage = column(rows, "dealstage")
    if settings["stage_name"] == "label":
        stage = _stage_key(rows).replace_strict(labels, default=stage, return_dtype=pl.String)
    rows = rows.with_columns(
        primary(rows, "companies").alias("derived.customer_id"),
        pl.col("__amount").alias("derived.amount"),
        pl.col("__currency").alias("derived.currency"),
        stage.alias("derived.stage"),
        bool_text(pl.col("__closed")).alias("derived.is_closed"),
        bool_text(pl.col("__won")).alias("derived.is_won"),
    )
    mapping = builtin(
        "deals",
        {
            "deal_id": "id",
            "customer_id": "derived.customer_id",
            "amount": "derived.amount",
            "stage": "derived.stage",
            "is_closed": "derived.is_closed",
            "is_won": "derived.is_won",
            "deal_type": ColumnSpec(field="dealtype", values=settings["deal_type_map"]),
            "created_at": ColumnSpec(expr="COALESCE(createdate, createdat)"),
            "closed_at": ColumnSpec(expr="CASE WHEN derived.is_closed THEN closedate END"),
        },
        currency="derived.currency",
        user=user_mapping(data.settings, "deals"),
    )
    frame = apply_mapping(
        builder, rows, mapping, currency=data.settings["currency"], hints={"deal_type": "deals.deal_type_map"}
    )
    return builder.result(frame)


def _amount_in_reporting_currency(data: Objects, builder: TableBuilder, rows: pl.DataFrame) -> pl.DataFrame:
    """HubSpot's own home-currency amount where it is in the reporting currency, else rates."""
    reporting = data.settings["currency"]["reporting"]
    home = data.settings["home_currency"] or reporting
    currency = column(rows, "deal_currency_code").str.strip_chars().str.to_uppercase()
    home_amount = column(rows, "amount_in_home_currency")
    use_home = (
        pl.lit(home == reporting)
        & currency.is_not_null()
        & (currency != reporting)
        & home_amount.is_not_null()
    )
    rows = rows.with_columns(
        pl.when(use_home).then(home_amount).otherwise(column(rows, "amount")).alias("__amount"),
        pl.when(use_home).then(pl.lit(None, dtype=pl.String)).otherwise(currency).alias("__currency"),
    )
    return rows


def leads(data: Objects) -> RawTable:
    """The leads table, from contacts."""
    builder = TableBuilder("leads", data.where("contacts"))
    rows = data.rows("contacts", builder)
    stage = data.settings["leads"]["converted_stage"]
    later = LIFECYCLE[LIFECYCLE.index(stage) :]
    lifecycle = column(rows, "lifecyclestage").str.to_lowercase().str.replace_all(r"[^a-z]", "")
    converted_at = first_of(rows, *(f"hs_lifecyclestage_{s}_date" for s in later))
    is_converted = lifecycle.is_in(list(later)).fill_null(False) | converted_at.is_not_null()
    company = first_of(rows, "associatedcompanyid").fill_null(primary(rows, "companies"))
    rows = rows.with_columns(
        channel(column(rows, "hs_analytics_source"), data.settings["channel_map"]).alias("derived.source"),
        bool_text(is_converted).alias("derived.is_converted"),
        converted_at.alias("derived.converted_at"),
        pl.when(is_converted).then(company).alias("derived.customer_id"),
    )
    mapping = builtin(
        "contacts",
        {
            "lead_id": "id",
            "created_at": ColumnSpec(expr="COALESCE(createdate, createdat)"),
            "source": "derived.source",
            "is_converted": "derived.is_converted",
            "converted_at": "derived.converted_at",
            "customer_id": "derived.customer_id",
        },
        user=user_mapping(data.settings, "leads"),
    )
    return builder.result(apply_mapping(builder, rows, mapping, currency=data.settings["currency"]))
