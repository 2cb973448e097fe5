"""The HubSpot objects the mappings read, the properties they need, and record recency.

Each object is read once per connector and shared by every table that needs it. Archived
records, and records merged into another (listed in its ``hs_merged_object_ids``), are
dropped on the latest copy of each record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from crmetrics.connector import RawTable
from crmetrics.errors import DataError, Issue, Location
from crmetrics.mapping import TableMapping
from crmetrics.plugins.crm_common.frames import (
    TableBuilder,
    column,
    drop_where_latest,
    ensure,
    latest,
    latest_last,
    truthy,
)
from crmetrics.plugins.crm_common.mapping import apply_mapping, mapped_fields
from crmetrics.plugins.hubspot.source import ObjectSource

#: Modification stamps: the envelope's updatedAt first, then the property copies of it.
MODIFIED = ("updatedat", "hs_lastmodifieddate", "lastmodifieddate", "createdat", "createdate")

ENGAGEMENTS = ("calls", "emails", "meetings", "notes", "tasks")
_COMMON = ("createdate", "hs_lastmodifieddate", "hs_object_id")
PROPERTIES: dict[str, tuple[str, ...]] = {
    "companies": (
        "name",
        "industry",
        "country",
        "numberofemployees",
        "lifecyclestage",
        "hs_lifecyclestage_customer_date",
        "hs_lifecyclestage_other_date",
        "hs_analytics_source",
        "hs_merged_object_ids",
    ),
    "contacts": (
        "lifecyclestage",
        "hs_lead_status",
        "hs_analytics_source",
        "associatedcompanyid",
        "hs_merged_object_ids",
        "lastmodifieddate",
        "hs_lifecyclestage_marketingqualifiedlead_date",
        "hs_lifecyclestage_salesqualifiedlead_date",
        "hs_lifecyclestage_opportunity_date",
        "hs_lifecyclestage_customer_date",
    ),
    "deals": (
        "dealname",
        "amount",
        "amount_in_home_currency",
        "deal_currency_code",
        "dealstage",
        "pipeline",
        "closedate",
        "dealtype",
        "hs_is_closed",
        "hs_is_closed_won",
    ),
    "tickets": (
        "closed_date",
        "first_agent_reply_date",
        "time_to_first_agent_reply",
        "hs_ticket_priority",
        "source_type",
        "hs_pipeline_stage",
    ),
    "feedback_submissions": (
        "hs_survey_type",
        "hs_survey_name",
        "hs_survey_id",
        "hs_value",
        "hs_submission_timestamp",
        "hs_contact_id",
        "hs_createdate",
    ),
    "line_items": (
        "amount",
        "quantity",
        "price",
        "hs_cost_of_goods_sold",
        "hs_line_item_currency_code",
        "hs_recurring_billing_start_date",
    ),
    "invoices": ("hs_invoice_status", "hs_amount_billed", "hs_currency", "hs_invoice_date"),
    **{name: ("hs_timestamp", "hs_call_duration") for name in ENGAGEMENTS},
}
ASSOCIATIONS: dict[str, tuple[str, ...]] = {
    "contacts": ("companies",),
    "deals": ("companies",),
    "tickets": ("companies",),
    "feedback_submissions": ("companies", "contacts"),
    "line_items": ("deals",),
    "invoices": ("companies",),
    **{name: ("companies", "tickets") for name in ENGAGEMENTS},
}


#: The object each table's built-in mapping reads (revenue and activity: see their readers).
BUILTIN_OBJECTS = {
    "customers": "companies",
    "deals": "deals",
    "leads": "contacts",
    "tickets": "tickets",
    "survey_responses": "feedback_submissions",
    "revenue": "line_items",
    "activity": "calls",
}


def primary(frame: pl.DataFrame, association: str) -> pl.Expr:
    """The first (primary) associated id of type ``association``."""
    return column(frame, f"assoc.{association}").str.split(";").list.first().str.strip_chars()


class Objects:
    """Reads objects from a source once and serves them in the forms mappings need."""

    def __init__(self, source: ObjectSource, settings: Mapping[str, Any]) -> None:
        self.source = source
        self.settings = settings
        self._raw: dict[str, pl.DataFrame] = {}

    def has(self, name: str) -> bool:
        """Whether object ``name`` was found."""
        return self.source.has(name)

    def where(self, name: str) -> str:
        """Where object ``name`` was read from, for messages."""
        return self.source.where(name)

    def properties(self, name: str) -> list[str]:
        """The properties to ask for: the mapping's own and those the options name."""
        s = self.settings
        extra: list[str | None] = []
        if name == "companies":
            c = s["customers"]
            extra = [c["acquired_at_field"], c["churned_at_field"], c["region_field"], c["segment"]["field"]]
        elif name == "tickets":
            extra = [s["tickets"]["first_response_field"], s["tickets"]["handle_time_field"]]
        mapped = mapped_fields(s, name, BUILTIN_OBJECTS)
        return [*_COMMON, *PROPERTIES.get(name, ()), *(e for e in extra if e), *mapped]

    def raw(self, name: str, *, optional: bool = False) -> pl.DataFrame:
        """Every row as read; ``optional`` objects the API refuses read as empty."""
        if name not in self._raw:
            frame = pl.DataFrame()
            if self.has(name):
                frame = self.source.read(
                    name, self.properties(name), ASSOCIATIONS.get(name, ()), optional=optional
                )
            if self.has(name) and not frame.height:
                # An object with no records still has its properties, so every table reads empty.
                names = dict.fromkeys(["id", *(p.lower() for p in self.properties(name))])
                names.update(dict.fromkeys(f"assoc.{a}" for a in ASSOCIATIONS.get(name, ())))
                frame = (
                    ensure(frame, *names)
                    if frame.width
                    else pl.DataFrame(schema=dict.fromkeys(names, pl.String))
                )
            if frame.width and "id" not in frame.columns and "hs_object_id" in frame.columns:
                frame = frame.with_columns(pl.col("hs_object_id").alias("id"))
            if frame.width and "id" not in frame.columns:
                raise DataError(
                    Issue(
                        "missing-column",
                        f"{name} has no record id",
                        Location(self.where(name)),
                        hint="export the Record ID column (or hs_object_id); "
                        f"columns found: {', '.join(frame.columns)}",
                    )
                )
            self._raw[name] = frame
        return self._raw[name]

    def rows(self, name: str, builder: TableBuilder | None = None, *, optional: bool = False) -> pl.DataFrame:
        """Rows of live records, the most recent copy of each last (duplicates kept)."""
        frame = self.raw(name, optional=optional)
        if not frame.width or "id" not in frame.columns:
            return frame
        frame = latest_last(frame, MODIFIED)
        if self.settings["include_archived"]:
            return frame
        if "hs_merged_object_ids" in frame.columns:
            # A survivor may list its own id among the merged ones; it must not drop itself.
            merged = (
                latest(frame, "id", MODIFIED)
                .select("id", pl.col("hs_merged_object_ids").str.split(";").alias("__merged"))
                .explode("__merged")
                .filter(pl.col("__merged").str.strip_chars() != pl.col("id"))
            )["__merged"].str.strip_chars()
            if builder is None:
                frame = frame.filter(~pl.col("id").is_in(merged.implode()))
            else:
                frame = builder.reject(frame, pl.col("id").is_in(merged.implode()), "merged")
        if "archived" in frame.columns:
            frame = drop_where_latest(builder, frame, "id", MODIFIED, truthy(pl.col("archived")), "archived")
        return frame

    def current(self, name: str, *, optional: bool = False) -> pl.DataFrame:
        """One row per live record, its most recent copy."""
        frame = self.rows(name, optional=optional)
        return latest(frame, "id", MODIFIED) if frame.width and "id" in frame.columns else frame


def read_custom(data: Objects, table: str, name: str) -> RawTable:
    """``table`` from an object the project maps whole (a custom object such as p_marketing_spend).

    The object gets what every object gets: archived and merged records dropped, the most
    recent copy of a duplicate kept.
    """
    builder = TableBuilder(table, data.where(name))
    rows = data.rows(name, builder)
    mapping = TableMapping.parse(data.settings["mappings"][table])
    return builder.result(apply_mapping(builder, rows, mapping, currency=data.settings["currency"]))
