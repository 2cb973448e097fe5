"""Column labels of HubSpot's UI exports, and the internal property names they stand for.

The UI ("Export view") writes property labels as headers: ``Record ID``, ``Deal Stage``,
``Close Date``. Labels not listed here are snake_cased, which matches the internal name
of most custom properties (``Churn Date`` -> ``churn_date``); ``csv_headers`` in the options
covers the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import polars as pl

_COMMON = {
    "record id": "id",
    # Older exports name the record id after the object.
    "company id": "id",
    "contact id": "id",
    "deal id": "id",
    "ticket id": "id",
    "create date": "createdate",
    "created date": "createdate",
    "last modified date": "hs_lastmodifieddate",
    "associated company ids": "assoc.companies",
    "associated company id": "assoc.companies",
    "associated company ids (primary)": "assoc.companies",
    "associated contact ids": "assoc.contacts",
    "associated deal ids": "assoc.deals",
    "associated ticket ids": "assoc.tickets",
    "archived": "archived",
}

LABELS: dict[str, dict[str, str]] = {
    "companies": {
        "company name": "name",
        "industry": "industry",
        "country/region": "country",
        "number of employees": "numberofemployees",
        "lifecycle stage": "lifecyclestage",
        "became a customer date": "hs_lifecyclestage_customer_date",
        'date entered "customer (lifecycle stage pipeline)"': "hs_lifecyclestage_customer_date",
        "became a other date": "hs_lifecyclestage_other_date",
        'date entered "other (lifecycle stage pipeline)"': "hs_lifecyclestage_other_date",
        "original source": "hs_analytics_source",
        "original source type": "hs_analytics_source",
        "original traffic source": "hs_analytics_source",
        "merged record ids": "hs_merged_object_ids",
        "record id - company": "id",
    },
    "contacts": {
        "lifecycle stage": "lifecyclestage",
        "lead status": "hs_lead_status",
        "original source": "hs_analytics_source",
        "original source type": "hs_analytics_source",
        "original traffic source": "hs_analytics_source",
        "record id - contact": "id",
        "associated company id": "associatedcompanyid",
        "primary associated company id": "associatedcompanyid",
        "became a marketing qualified lead date": "hs_lifecyclestage_marketingqualifiedlead_date",
        'date entered "marketing qualified lead (lifecycle stage pipeline)"': (
            "hs_lifecyclestage_marketingqualifiedlead_date"
        ),
        "became a sales qualified lead date": "hs_lifecyclestage_salesqualifiedlead_date",
        'date entered "sales qualified lead (lifecycle stage pipeline)"': (
            "hs_lifecyclestage_salesqualifiedlead_date"
        ),
        "became an opportunity date": "hs_lifecyclestage_opportunity_date",
        'date entered "opportunity (lifecycle stage pipeline)"': "hs_lifecyclestage_opportunity_date",
        "became a customer date": "hs_lifecyclestage_customer_date",
        'date entered "customer (lifecycle stage pipeline)"': "hs_lifecyclestage_customer_date",
        "merged record ids": "hs_merged_object_ids",
    },
    "deals": {
        "deal name": "dealname",
        "record id - deal": "id",
        "deal stage": "dealstage",
        "close date": "closedate",
        "amount": "amount",
        "amount in company currency": "amount_in_home_currency",
        "currency": "deal_currency_code",
        "pipeline": "pipeline",
        "deal type": "dealtype",
        "is closed won": "hs_is_closed_won",
        "is deal closed?": "hs_is_closed",
    },
    "tickets": {
        "ticket name": "subject",
        "record id - ticket": "id",
        "ticket status": "hs_pipeline_stage",
        "priority": "hs_ticket_priority",
        "source": "source_type",
        "close date": "closed_date",
        "first agent reply date": "first_agent_reply_date",
    },
    "line_items": {
        "name": "name",
        "quantity": "quantity",
        "unit price": "price",
        "net price": "amount",
        "unit cost": "hs_cost_of_goods_sold",
        "currency": "hs_line_item_currency_code",
        "billing start date": "hs_recurring_billing_start_date",
    },
    "invoices": {
        "invoice status": "hs_invoice_status",
        "amount billed": "hs_amount_billed",
        "currency": "hs_currency",
        "invoice date": "hs_invoice_date",
    },
}


def property_name(label: str) -> str:
    """A label's snake_case form, the usual internal name of a custom property."""
    return re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")


def rename_labels(frame: pl.DataFrame, object_name: str, overrides: Mapping[str, str | None]) -> pl.DataFrame:
    """Headers of a UI export renamed to internal property names (lower-case).

    Headers that already are internal names (an API-shaped CSV) are only lower-cased.
    """
    labels = {**_COMMON, **LABELS.get(object_name, {})}
    labels.update({k.strip().lower(): v for k, v in overrides.items() if v})
    renamed: dict[str, str] = {}
    for header in frame.columns:
        key = header.strip().lower()
        name = labels.get(key) or (key if re.fullmatch(r"[a-z0-9_.]+", key) else property_name(key))
        if name not in renamed.values():
            renamed[header] = name
    return frame.select(pl.col(h).alias(n) for h, n in renamed.items())
