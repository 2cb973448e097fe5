"""The Salesforce objects the mappings read, the fields they need, and record recency.

Each object is read once per connector and shared by every table that needs it (an
Opportunity feeds deals, customers and revenue). Deleted and merged records are dropped
on the latest copy of each record, so a record deleted after an earlier page listed it
disappears entirely.
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
    drop_where_latest,
    ensure,
    latest,
    latest_last,
    truthy,
)
from crmetrics.plugins.crm_common.mapping import apply_mapping, mapped_fields
from crmetrics.plugins.salesforce.source import ObjectSource, long_ids

#: Modification stamps, most precise first: SystemModstamp also moves on system updates.
MODIFIED = ("systemmodstamp", "lastmodifieddate", "createddate")

_COMMON = ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")
FIELDS: dict[str, tuple[str, ...]] = {
    "Account": (
        "Name",
        "Type",
        "Industry",
        "AccountSource",
        "NumberOfEmployees",
        "BillingCountry",
        "MasterRecordId",
    ),
    "Opportunity": (
        "AccountId",
        "Amount",
        "StageName",
        "IsClosed",
        "IsWon",
        "CloseDate",
        "Type",
        "LeadSource",
        "CurrencyIsoCode",
    ),
    "OpportunityLineItem": (
        "OpportunityId",
        "TotalPrice",
        "Quantity",
        "UnitPrice",
        "ServiceDate",
        "CurrencyIsoCode",
        "Opportunity.AccountId",
    ),
    "Order": ("AccountId", "Status", "ActivatedDate", "EffectiveDate", "TotalAmount", "CurrencyIsoCode"),
    "Contract": ("AccountId", "Status", "StatusCode", "StartDate", "EndDate"),
    "Lead": ("Status", "LeadSource", "IsConverted", "ConvertedDate", "ConvertedAccountId"),
    "LeadStatus": ("MasterLabel", "ApiName", "IsConverted"),
    "Case": ("AccountId", "Origin", "Priority", "Status", "IsClosed", "ClosedDate"),
    "CaseMilestone": ("CaseId", "MilestoneTypeId", "MilestoneType.Name", "CompletionDate", "IsCompleted"),
    "MilestoneType": ("Name",),
    "EmailMessage": ("ParentId", "Incoming", "MessageDate"),
    "AgentWork": ("WorkItemId", "HandleTime"),
    "Task": ("AccountId", "WhatId", "ActivityDate", "Type", "TaskSubtype", "CallDurationInSeconds"),
    "Event": ("AccountId", "WhatId", "ActivityDate", "ActivityDateTime", "Type"),
    "Campaign": ("Name", "Type", "StartDate", "ActualCost", "CurrencyIsoCode"),
}


#: Standard checkbox fields: exports write a false checkbox as an empty cell, never a null.
CHECKBOXES = frozenset(
    {
        "isdeleted",
        "isclosed",
        "iswon",
        "isconverted",
        "incoming",
        "isescalated",
        "isclosedoncreate",
        "iscompleted",
        "isviolated",
        "hasopportunitylineitem",
        "isactive",
        "isprivate",
        "isunreadbyowner",
        "isexcludedfromterritory2filter",
        "isarchived",
        "isrecurrence",
        "isreminderset",
        "isvisibleinselfservice",
    }
)

#: The object each table's built-in mapping reads (revenue and activity: see their readers).
BUILTIN_OBJECTS = {
    "customers": "Account",
    "deals": "Opportunity",
    "leads": "Lead",
    "tickets": "Case",
    "spend": "Campaign",
    "revenue": "OpportunityLineItem",
    "activity": "Task",
}


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

    def fields(self, name: str) -> list[str]:
        """The fields to ask for: the mapping's own and those the options name."""
        s = self.settings
        extra: list[str | None] = []
        if name == "Account":
            c = s["customers"]
            extra = [c["acquired_at_field"], c["churned_at_field"], c["region_field"], c["segment"]["field"]]
        elif name == "Opportunity":
            extra = [s["deals"]["deal_type_field"]]
        elif name == "Case":
            extra = [s["tickets"]["first_response_field"], s["tickets"]["handle_time_field"]]
        elif name in ("OpportunityLineItem", "Order"):
            extra = [s["revenue"]["cost_field"]]
        elif name == s["revenue"]["invoice"]["object"]:
            inv = s["revenue"]["invoice"]
            extra = [
                inv["customer_field"],
                inv["date_field"],
                inv["amount_field"],
                inv["status_field"],
                s["revenue"]["cost_field"],
                "CurrencyIsoCode",
            ]
        mapped = mapped_fields(s, name, BUILTIN_OBJECTS)
        return [*_COMMON, *FIELDS.get(name, ()), *(f for f in extra if f), *mapped]

    def checkboxes(self, name: str) -> set[str]:
        """The object's checkbox fields (lower-case): standard, configured, or described."""
        configured = {f.lower() for f in self.settings["checkbox_fields"]}
        return {*CHECKBOXES, *configured, *self.source.checkboxes(name)}

    def raw(self, name: str) -> pl.DataFrame:
        """Every row as read, duplicates and deleted records included."""
        if name not in self._raw:
            frame = self.source.read(name, self.fields(name)) if self.has(name) else pl.DataFrame()
            if self.has(name) and not frame.height:
                # An object with no records still has its fields, so every table reads empty.
                names = dict.fromkeys(f.lower() for f in self.fields(name))
                frame = (
                    ensure(frame, *names)
                    if frame.width
                    else pl.DataFrame(schema=dict.fromkeys(names, pl.String))
                )
            checkboxes = self.checkboxes(name)
            boxes = [c for c in frame.columns if c in checkboxes]
            frame = frame.with_columns(pl.col(c).fill_null("false") for c in boxes)
            if frame.width and "id" not in frame.columns:
                raise DataError(
                    Issue(
                        "missing-column",
                        f"{name} has no Id column",
                        Location(self.where(name)),
                        hint=f"export {name} with its Id field; columns found: {', '.join(frame.columns)}",
                    )
                )
            self._raw[name] = frame
        return self._raw[name]

    def rows(self, name: str, builder: TableBuilder | None = None) -> pl.DataFrame:
        """Rows of live records, the most recent copy of each record last.

        Duplicates stay for the canonical conversion to drop and report; deleted and merged
        records go, counted in ``builder`` when the object is the table's own.
        """
        frame = self.raw(name)
        if not frame.width:
            return frame
        frame = latest_last(frame, MODIFIED)
        if not self.settings["include_deleted"]:
            if "masterrecordid" in frame.columns:
                frame = drop_where_latest(
                    builder, frame, "id", MODIFIED, pl.col("masterrecordid").is_not_null(), "merged"
                )
            if "isdeleted" in frame.columns:
                frame = drop_where_latest(
                    builder, frame, "id", MODIFIED, truthy(pl.col("isdeleted")), "deleted"
                )
        return frame

    def apply(
        self,
        builder: TableBuilder,
        frame: pl.DataFrame,
        mapping: TableMapping,
        *,
        hints: Mapping[str, str] | None = None,
    ) -> pl.DataFrame:
        """``mapping`` applied with the connector's currency, and Salesforce's 15-character
        ids widened in the id columns it computes (a custom lookup such as Account__c holds
        whatever form the export wrote)."""
        return apply_mapping(
            builder, frame, mapping, currency=self.settings["currency"], hints=hints, ids=long_ids
        )

    def current(self, name: str) -> pl.DataFrame:
        """One row per live record, its most recent copy: for lookups and aggregates."""
        frame = self.rows(name)
        return latest(frame, "id", MODIFIED) if frame.width else frame


def read_custom(data: Objects, table: str, name: str) -> RawTable:
    """``table`` from an object the project maps whole (a custom object such as Spend__c).

    The object gets what every object gets: 18-character ids, checkbox cells, deleted and
    merged records dropped, the most recent copy of a duplicate kept.
    """
    builder = TableBuilder(table, data.where(name))
    rows = data.rows(name, builder)
    mapping = TableMapping.parse(data.settings["mappings"][table])
    return builder.result(data.apply(builder, rows, mapping))
