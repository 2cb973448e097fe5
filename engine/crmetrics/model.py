"""The canonical CRM model: the tables every connector produces.

Every built-in metric is written against these tables, so one definition runs unchanged on
any source. A connector may provide a subset of them and may add extra columns, which are
kept and usable as dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from crmetrics.formula.typed import Kind

ColumnKind = Literal["str", "float", "bool", "datetime"]

UTC_DATETIME = pl.Datetime("us", "UTC")


def kind_of_dtype(dtype: pl.DataType) -> Kind:
    """The formula kind of a Polars column type."""
    if dtype.is_numeric():
        return "number"
    if isinstance(dtype, pl.Boolean):
        return "boolean"
    if isinstance(dtype, (pl.Datetime, pl.Date)):
        return "datetime"
    if isinstance(dtype, (pl.String, pl.Categorical, pl.Enum)):
        return "text"
    return "any"


POLARS_TYPES: dict[ColumnKind, pl.DataType] = {
    "str": pl.String(),
    "float": pl.Float64(),
    "bool": pl.Boolean(),
    "datetime": UTC_DATETIME,
}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    kind: ColumnKind
    nullable: bool
    description: str = ""

    @property
    def dtype(self) -> pl.DataType:
        """The Polars type of the column."""
        return POLARS_TYPES[self.kind]


@dataclass(frozen=True)
class Table:
    """A canonical table: its primary key and its columns, in order."""

    name: str
    key: str
    columns: tuple[Column, ...]
    description: str = ""

    def column(self, name: str) -> Column | None:
        """The column called ``name``, if the table has it."""
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> list[str]:
        """The names of the columns, in order."""
        return [c.name for c in self.columns]

    @property
    def schema(self) -> dict[str, pl.DataType]:
        """The canonical Polars schema of the table."""
        return {c.name: c.dtype for c in self.columns}


def _table(name: str, key: str, description: str, *columns: tuple[str, ColumnKind, bool]) -> Table:
    return Table(name, key, tuple(Column(n, k, nullable) for n, k, nullable in columns), description)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        _table(
            "customers",
            "customer_id",
            "Accounts that became paying customers.",
            ("customer_id", "str", False),
            ("name", "str", True),
            ("acquired_at", "datetime", False),
            ("churned_at", "datetime", True),
            ("segment", "str", True),
            ("region", "str", True),
            ("industry", "str", True),
            ("acquisition_channel", "str", True),
        ),
        _table(
            "deals",
            "deal_id",
            "Opportunities (Salesforce) and deals (HubSpot).",
            ("deal_id", "str", False),
            ("customer_id", "str", True),
            ("amount", "float", True),
            ("stage", "str", False),
            ("is_closed", "bool", False),
            ("is_won", "bool", False),
            ("deal_type", "str", True),
            ("created_at", "datetime", False),
            ("closed_at", "datetime", True),
        ),
        _table(
            "leads",
            "lead_id",
            "Leads and the customers they converted into.",
            ("lead_id", "str", False),
            ("created_at", "datetime", False),
            ("source", "str", True),
            ("is_converted", "bool", False),
            ("converted_at", "datetime", True),
            ("customer_id", "str", True),
        ),
        _table(
            "tickets",
            "ticket_id",
            "Support tickets (Salesforce Case, HubSpot ticket).",
            ("ticket_id", "str", False),
            ("customer_id", "str", True),
            ("created_at", "datetime", False),
            ("first_response_at", "datetime", True),
            ("resolved_at", "datetime", True),
            ("handle_time_seconds", "float", True),
            ("channel", "str", True),
            ("priority", "str", True),
        ),
        _table(
            "survey_responses",
            "response_id",
            "NPS, CSAT and CES survey answers.",
            ("response_id", "str", False),
            ("customer_id", "str", True),
            ("survey_type", "str", False),
            ("score", "float", False),
            ("submitted_at", "datetime", False),
        ),
        _table(
            "spend",
            "spend_id",
            "Costs: campaigns, invoices, payroll lines.",
            ("spend_id", "str", False),
            ("spent_at", "datetime", False),
            ("category", "str", False),
            ("channel", "str", True),
            ("amount", "float", False),
        ),
        _table(
            "revenue",
            "revenue_id",
            "Recognised revenue lines and their cost of goods sold.",
            ("revenue_id", "str", False),
            ("customer_id", "str", False),
            ("recognized_at", "datetime", False),
            ("amount", "float", False),
            ("cost", "float", True),
        ),
        _table(
            "activity",
            "activity_id",
            "Product usage and engagement events.",
            ("activity_id", "str", False),
            ("customer_id", "str", False),
            ("occurred_at", "datetime", False),
            ("activity_type", "str", True),
        ),
    )
}

#: Values a column may take, where the model restricts them.
ALLOWED_VALUES: dict[tuple[str, str], frozenset[str]] = {
    ("deals", "deal_type"): frozenset({"new_business", "upsell", "cross_sell", "renewal"}),
    ("survey_responses", "survey_type"): frozenset({"nps", "csat", "ces"}),
    ("spend", "category"): frozenset({"marketing", "sales", "retention", "other"}),
}

#: The inclusive scale of each survey type.
SURVEY_SCALES: dict[str, tuple[float, float]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
