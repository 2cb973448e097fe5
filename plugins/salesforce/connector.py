"""The Salesforce connector class; the package registers it, imported on first use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from crmetrics.connector import RawTable
from crmetrics.errors import Issue
from crmetrics.model import TABLES
from crmetrics.plugins.crm_common.connector import CrmConnector, present_tables
from crmetrics.plugins.crm_common.http import error_code
from crmetrics.plugins.crm_common.mapping import replaces_builtin, user_mapping
from crmetrics.plugins.salesforce import customers, finance, pipeline, support
from crmetrics.plugins.salesforce.objects import Objects, read_custom
from crmetrics.plugins.salesforce.options import OPTIONS_SCHEMA
from crmetrics.plugins.salesforce.source import ApiSource, FileSource

if TYPE_CHECKING:
    import httpx

#: The object whose presence makes each table available (revenue and activity: see below).
PRIMARY = {
    "customers": "Account",
    "deals": "Opportunity",
    "leads": "Lead",
    "tickets": "Case",
    "spend": "Campaign",
}


class SalesforceConnector(CrmConnector):
    """Salesforce objects as canonical tables, from export files or the REST API."""

    scheme = "salesforce"
    description = "Salesforce: REST JSON / Bulk CSV exports in a folder, or the live REST API"
    tables = ("customers", "deals", "leads", "tickets", "spend", "revenue", "activity")
    options_schema: ClassVar[dict[str, Any]] = OPTIONS_SCHEMA
    token_env: ClassVar[str] = "CRMETRICS_SALESFORCE_TOKEN"
    service: ClassVar[str] = "Salesforce"

    _data: Objects | None = None

    @property
    def data(self) -> Objects:
        """The Salesforce objects, read once per connector."""
        if self._data is None:
            if self.is_live:
                source: Any = ApiSource(self.client(classify_salesforce_error), self.settings["api_version"])
            else:
                source = FileSource(self.folder, self.settings["date_format"])
            self._data = Objects(source, self.settings)
        return self._data

    def available_tables(self) -> list[str]:
        """The canonical tables the objects found can build."""
        return present_tables(
            self.data.has,
            PRIMARY,
            revenue=lambda: finance.revenue_object(self.data),
            activity_objects=self.settings["activity"]["objects"],
            custom=self._custom_objects(),
        )

    def _custom_objects(self) -> dict[str, str]:
        """Tables the project maps from another object than the built-in one."""
        builtin = {**PRIMARY, "revenue": "", "activity": ""}
        standard = {
            "revenue": ("OpportunityLineItem", "Order", self.settings["revenue"]["invoice"]["object"]),
            "activity": tuple(self.settings["activity"]["objects"]),
        }
        out = {}
        for table in TABLES:
            user = user_mapping(self.settings, table)
            other = (user or {}).get("object")
            if not other:
                continue
            known = standard.get(table, (builtin.get(table, ""),))
            if all(replaces_builtin(user, name) for name in known):
                out[table] = str(other)
        return out

    def readers(self) -> Mapping[str, Callable[[], RawTable]]:
        """A builder per canonical table."""
        data = self.data
        readers: dict[str, Callable[[], RawTable]] = {
            "customers": lambda: customers.customers(data),
            "deals": lambda: pipeline.deals(data),
            "leads": lambda: pipeline.leads(data),
            "tickets": lambda: support.tickets(data),
            "activity": lambda: support.activity(data),
            "spend": lambda: finance.spend(data),
            "revenue": lambda: finance.revenue(data),
        }
        for table, name in self._custom_objects().items():
            readers[table] = partial(read_custom, data, table, name)
        return readers


def classify_salesforce_error(response: httpx.Response) -> Issue | None:
    """The daily API limit: an HTTP 403 that no retry within the run can get past."""
    if response.status_code == 403 and error_code(response) == "REQUEST_LIMIT_EXCEEDED":
        usage = response.headers.get("Sforce-Limit-Info", "")
        shown = f" ({usage})" if usage else ""
        return Issue(
            "api-limit-exceeded",
            f"Salesforce refused the request: the org's daily API request limit is used up{shown}",
            hint="the limit is a rolling 24 hours; try later, or ask the org's admin to raise it. "
            "crmetrics does not retry this, since no retry within minutes can succeed",
        )
    return None
