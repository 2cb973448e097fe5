"""Revenue from opportunity products, orders or invoices, and spend from campaigns.

Revenue is booked where the org records it: the products of won opportunities (recognised
on the product's ServiceDate, else the opportunity's CloseDate), activated orders, or posted
invoices. Amounts in another currency are converted with the configured rates or rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from crmetrics.connector import RawTable
from crmetrics.plugins.crm_common.frames import (
    TableBuilder,
    column,
    ensure,
    first_of,
    snake,
    truthy,
)
from crmetrics.plugins.crm_common.mapping import builtin, derived_revenue, user_mapping
from crmetrics.plugins.salesforce.objects import Objects

_COLUMNS = ("revenue_id", "customer_id", "recognized_at", "amount", "cost")


def revenue_object(data: Objects) -> str | None:
    """The object revenue is read from, per ``revenue.source``."""
    settings = data.settings["revenue"]
    choices = {
        "opportunity_line_items": "OpportunityLineItem",
        "orders": "Order",
        "invoices": settings["invoice"]["object"],
    }
    if settings["source"] != "auto":
        name = choices[settings["source"]]
        return name if data.has(name) else None
    return next((name for name in choices.values() if data.has(name)), None)


def revenue(data: Objects) -> RawTable:
    """The revenue table, from orders or won opportunities."""
    name = revenue_object(data) or "OpportunityLineItem"
    builder = TableBuilder("revenue", data.where(name))
    settings = data.settings["revenue"]
    rows = data.rows(name, builder)
    if name == "OpportunityLineItem":
        rows = _line_items_of_won_deals(data, rows)
    elif name == "Order":
        rows = _with_status(rows, "status", settings["order_statuses"]).with_columns(
            column(rows, "accountid").alias("__customer"),
            first_of(rows, "activateddate", "effectivedate").alias("__date"),
            column(rows, "totalamount").alias("__amount"),
            column(rows, "currencyisocode").alias("__currency"),
        )
    else:
        invoice = settings["invoice"]
        rows = _with_status(rows, invoice["status_field"].lower(), invoice["statuses"]).with_columns(
            column(rows, invoice["customer_field"]).alias("__customer"),
            column(rows, invoice["date_field"]).alias("__date"),
            column(rows, invoice["amount_field"]).alias("__amount"),
            column(rows, "currencyisocode").alias("__currency"),
        )
    rows = rows.with_columns(
        column(rows, settings["cost_field"]).alias("__cost") if rows.width else pl.lit(None).alias("__cost")
    )
    rows = ensure(rows, "id", "__customer", "__date", "__amount", "__currency")
    rows, mapping = derived_revenue(rows, name, "Id", data.settings)
    return builder.result(data.apply(builder, rows, mapping))


def _with_status(rows: pl.DataFrame, field: str, statuses: list[str]) -> pl.DataFrame:
    """Only rows in one of ``statuses`` are revenue; drafts and cancellations are not."""
    if field not in rows.columns or not statuses:
        return rows
    wanted = [s.strip().lower() for s in statuses]
    return rows.filter(pl.col(field).str.strip_chars().str.to_lowercase().is_in(wanted))


def _line_items_of_won_deals(data: Objects, items: pl.DataFrame) -> pl.DataFrame:
    opportunities = data.current("Opportunity")
    opportunities = (
        opportunities.select(
            pl.col("id").alias("__opportunity"),
            column(opportunities, "accountid").alias("__opp_account"),
            truthy(column(opportunities, "iswon")).fill_null(False).alias("__won"),
            column(opportunities, "closedate").alias("__close"),
            column(opportunities, "currencyisocode").alias("__opp_currency"),
        )
        if opportunities.width
        else pl.DataFrame(
            schema={
                "__opportunity": pl.String,
                "__opp_account": pl.String,
                "__won": pl.Boolean,
                "__close": pl.String,
                "__opp_currency": pl.String,
            }
        )
    )
    if not items.width:
        return items
    items = ensure(items, "opportunityid").join(
        opportunities, left_on="opportunityid", right_on="__opportunity", how="left"
    )
    return items.filter(pl.col("__won").fill_null(False)).with_columns(
        pl.coalesce(column(items, "opportunity.accountid"), pl.col("__opp_account")).alias("__customer"),
        pl.coalesce(column(items, "servicedate"), pl.col("__close")).alias("__date"),
        column(items, "totalprice").alias("__amount"),
        pl.coalesce(column(items, "currencyisocode"), pl.col("__opp_currency")).alias("__currency"),
    )


def spend(data: Objects) -> RawTable:
    """The spend table, from campaigns' actual costs."""
    builder = TableBuilder("spend", data.where("Campaign"))
    settings: Mapping[str, Any] = data.settings["spend"]
    user = user_mapping(data.settings, "spend")
    campaigns = data.rows("Campaign", builder)
    if "amount" not in ((user or {}).get("columns") or {}):
        campaigns = builder.reject(campaigns, column(campaigns, "actualcost").is_null(), "no ActualCost")
    categories = {str(k).strip().lower(): v for k, v in settings["category_map"].items()}
    kind = column(campaigns, "type").str.strip_chars().str.to_lowercase()
    campaigns = campaigns.with_columns(
        kind.replace_strict(categories, default=settings["category"], return_dtype=pl.String).alias(
            "derived.category"
        ),
        snake(column(campaigns, "type")).alias("derived.channel"),
    )
    mapping = builtin(
        "Campaign",
        {
            "spend_id": "Id",
            "spent_at": "StartDate",
            "category": "derived.category",
            "channel": "derived.channel",
            "amount": "ActualCost",
        },
        currency="CurrencyIsoCode",
        user=user,
    )
    return builder.result(data.apply(builder, campaigns, mapping))
