"""The Salesforce connector: ``salesforce:FOLDER`` of exports, or ``salesforce:https://ORG``.

Files mode reads REST query results (JSON) and Bulk API 2.0 / Data Loader exports (CSV),
one per object (see :mod:`crmetrics.plugins.salesforce.source` for the folder layout).
Live mode runs one SOQL query per object through the REST API with the access token in
``CRMETRICS_SALESFORCE_TOKEN``. Either way the objects map onto the canonical tables
customers, deals, leads, tickets, spend, revenue and activity; docs/connectors/salesforce.md
lists the mapping and the options that change it.
"""

from __future__ import annotations

from collections.abc import Callable

from crmetrics.connector_reference import ConnectorReference
from crmetrics.hookspecs import hookimpl


@hookimpl
def register_connectors(register: Callable[[ConnectorReference], None]) -> None:
    """Register the Salesforce connector, imported the first time a ``salesforce:`` source is read."""
    register(ConnectorReference("salesforce", "crmetrics.plugins.salesforce.connector:SalesforceConnector"))


def __getattr__(name: str) -> object:
    # The connector class stays importable from here, as it was before it moved to its own
    # module; importing it only when asked keeps runs that never read this source fast.
    if name == "SalesforceConnector":
        from crmetrics.plugins.salesforce.connector import SalesforceConnector

        return SalesforceConnector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
