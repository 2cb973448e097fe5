"""The HubSpot connector class; the package registers it, imported on first use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, ClassVar

from crmetrics.connector import RawTable
from crmetrics.model import TABLES
from crmetrics.plugins.crm_common.connector import CrmConnector, present_tables
from crmetrics.plugins.crm_common.mapping import replaces_builtin, user_mapping
from crmetrics.plugins.hubspot import customers, finance, pipeline, support
from crmetrics.plugins.hubspot.objects import Objects, read_custom
from crmetrics.plugins.hubspot.options import OPTIONS_SCHEMA
from crmetrics.plugins.hubspot.source import ApiSource, FileSource
from crmetrics.plugins.hubspot.stages import StageBook

PRIMARY = {
    "customers": "companies",
    "deals": "deals",
    "leads": "contacts",
    "tickets": "tickets",
    "survey_responses": "feedback_submissions",
}


class HubSpotConnector(CrmConnector):
    """HubSpot CRM objects as canonical tables, from export files or the CRM v3 API."""

    scheme = "hubspot"
    description = "HubSpot: CRM v3 JSON pages / UI CSV exports in a folder, or the live CRM API"
    tables = ("customers", "deals", "leads", "tickets", "survey_responses", "revenue", "activity")
    options_schema: ClassVar[dict[str, Any]] = OPTIONS_SCHEMA
    token_env: ClassVar[str] = "CRMETRICS_HUBSPOT_TOKEN"
    service: ClassVar[str] = "HubSpot"

    _data: Objects | None = None
    _stages: StageBook | None = None

    @property
    def data(self) -> Objects:
        """The HubSpot objects, read once per connector."""
        if self._data is None:
            if self.is_live:
                source: Any = ApiSource(self.client(), self.settings["http"]["page_size"])
            else:
                source = FileSource(self.folder, self.settings["csv_headers"], self.settings["date_format"])
            self._data = Objects(source, self.settings)
        return self._data

    @property
    def stages(self) -> StageBook:
        """Deal stages; the pipelines are fetched only when a table needs them."""
        if self._stages is None:
            self._stages = StageBook(self.data.source.pipelines("deals"), self.settings["deals"]["stages"])
        return self._stages

    def available_tables(self) -> list[str]:
        """The canonical tables the objects found can build."""
        return present_tables(
            self.data.has,
            PRIMARY,
            revenue=lambda: finance.revenue_available(self.data),
            activity_objects=self.settings["activity"]["objects"],
            custom=self._custom_objects(),
        )

    def _custom_objects(self) -> dict[str, str]:
        """Tables the project maps from another object than the built-in one."""
        standard = {
            **{table: (name,) for table, name in PRIMARY.items()},
            "revenue": ("invoices", "line_items"),
            "activity": tuple(self.settings["activity"]["objects"]),
        }
        out = {}
        for table in TABLES:
            user = user_mapping(self.settings, table)
            other = (user or {}).get("object")
            if other and all(replaces_builtin(user, name) for name in standard.get(table, ())):
                out[table] = str(other)
        return out

    def readers(self) -> Mapping[str, Callable[[], RawTable]]:
        """A builder per canonical table."""
        data = self.data
        custom = {
            table: partial(read_custom, data, table, name) for table, name in self._custom_objects().items()
        }
        return (
            custom
            | {
                "customers": lambda: customers.customers(data, self.stages),
                "deals": lambda: pipeline.deals(data, self.stages),
                "leads": lambda: pipeline.leads(data),
                "tickets": lambda: support.tickets(data),
                "survey_responses": lambda: support.survey_responses(data),
                "revenue": lambda: finance.revenue(data, self.stages),
                "activity": lambda: support.activity(data),
            }
            | custom
        )
