"""The HubSpot connector: ``hubspot:FOLDER`` of exports, or ``hubspot:https://api.hubapi.com``.

Files mode reads CRM v3 list pages (JSON) and UI exports (CSV with label headers), one per
object (see :mod:`crmetrics.plugins.hubspot.source` for the folder layout). Live mode lists
each object through the CRM v3 API with the token in ``CRMETRICS_HUBSPOT_TOKEN``. Either way
the objects map onto the canonical tables customers, deals, leads, tickets,
survey_responses, revenue and activity; docs/connectors/hubspot.md lists the mapping and the
options that change it.
"""

from __future__ import annotations

from collections.abc import Callable

from crmetrics.connector_reference import ConnectorReference
from crmetrics.hookspecs import hookimpl


@hookimpl
def register_connectors(register: Callable[[ConnectorReference], None]) -> None:
    """Register the HubSpot connector, imported the first time a ``hubspot:`` source is read."""
    register(ConnectorReference("hubspot", "crmetrics.plugins.hubspot.connector:HubSpotConnector"))


def __getattr__(name: str) -> object:
    # The connector class stays importable from here, as it was before it moved to its own
    # module; importing it only when asked keeps runs that never read this source fast.
    if name == "HubSpotConnector":
        from crmetrics.plugins.hubspot.connector import HubSpotConnector

        return HubSpotConnector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
