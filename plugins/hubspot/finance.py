"""Revenue from paid invoices, or from the line items of won deals.

Invoices are the better record of revenue where a portal uses them (HubSpot's own billing,
or a synced billing tool); otherwise the line items of won deals stand in, recognised on
their billing start date, else the deal's close date. A line's cost of goods sold is per
unit in HubSpot, so the cost is ``hs_cost_of_goods_sold x quantity``.
"""

from __future__ import annotations

import polars as pl

from crmetrics.connector import RawTable
from crmetrics.plugins.crm_common.frames import (
    TableBuilder,
    column,
    first_of,
    number,
)
from crmetrics.plugins.crm_common.mapping import apply_mapping, derived_revenue
from crmetrics.plugins.hubspot.objects import Objects, primary
from crmetrics.plugins.hubspot.pipeline import deal_flags
from crmetrics.plugins.hubspot.stages import StageBook

_COLUMNS = ("revenue_id", "customer_id", "recognized_at", "amount", "cost")


def revenue_object(data: Objects) -> str | None:
    """``invoices`` or ``line_items``, per ``revenue.source``."""
    source = data.settings["revenue"]["source"]
    if source != "auto":
        return source if data.has(source) else None
    if data.has("invoices") and data.raw("invoices", optional=True).height:
        return "invoices"
    return "line_items" if data.has("line_items") else None


def revenue_available(data: Objects) -> bool:
    """Whether revenue can be read, without fetching anything (``auto`` decides later)."""
    source = data.settings["revenue"]["source"]
    names = ("invoices", "line_items") if source == "auto" else (source,)
    return any(data.has(n) for n in names)


def revenue(data: Objects, stages: StageBook) -> RawTable:
    """The revenue table: invoices, or won deals where there are none."""
    name = revenue_object(data) or "line_items"
    builder = TableBuilder("revenue", data.where(name))
    rows = data.rows(name, builder)
    if not rows.width:
        return builder.result(pl.DataFrame(schema=dict.fromkeys(_COLUMNS, pl.String)))
    if name == "invoices":
        statuses = [s.lower() for s in data.settings["revenue"]["invoice_statuses"]]
        rows = rows.filter(column(rows, "hs_invoice_status").str.to_lowercase().is_in(statuses))
        rows = rows.with_columns(
            primary(rows, "companies").alias("__customer"),
            column(rows, "hs_invoice_date").alias("__date"),
            column(rows, "hs_amount_billed").alias("__amount"),
            pl.lit(None, dtype=pl.String).alias("__cost"),
            column(rows, "hs_currency").alias("__currency"),
        )
    else:
        rows = _line_items_of_won_deals(data, stages, rows)
    rows, mapping = derived_revenue(rows, name, "id", data.settings)
    return builder.result(apply_mapping(builder, rows, mapping, currency=data.settings["currency"]))


def _line_items_of_won_deals(data: Objects, stages: StageBook, items: pl.DataFrame) -> pl.DataFrame:
    deals = data.current("deals")
    schema = {
        "__deal": pl.String,
        "__deal_company": pl.String,
        "__won": pl.Boolean,
        "__close": pl.String,
        "__deal_currency": pl.String,
    }
    if deals.width:
        _, is_won = deal_flags(deals, stages)
        deals = deals.select(
            pl.col("id").alias("__deal"),
            primary(deals, "companies").alias("__deal_company"),
            is_won.fill_null(False).alias("__won"),
            column(deals, "closedate").alias("__close"),
            column(deals, "deal_currency_code").alias("__deal_currency"),
        ).cast(schema)
    else:
        deals = pl.DataFrame(schema=schema)
    items = items.with_columns(primary(items, "deals").alias("__item_deal")).join(
        deals, left_on="__item_deal", right_on="__deal", how="left"
    )
    unit_cost = number(column(items, "hs_cost_of_goods_sold"))
    quantity = number(column(items, "quantity")).fill_null(1.0)
    return items.filter(pl.col("__won").fill_null(False)).with_columns(
        pl.col("__deal_company").alias("__customer"),
        first_of(items, "hs_recurring_billing_start_date").fill_null(pl.col("__close")).alias("__date"),
        column(items, "amount").alias("__amount"),
        (unit_cost * quantity).cast(pl.String).alias("__cost"),
        first_of(items, "hs_line_item_currency_code")
        .fill_null(pl.col("__deal_currency"))
        .alias("__currency"),
    )
