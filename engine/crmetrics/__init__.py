"""crmetrics: CRM metrics declared once in YAML, evaluated with Polars on any source.

The public API::

    import crmetrics

    result = crmetrics.evaluate(["churn_rate"], "sample", start="2025-01-01", end="2025-07-01")

See ``docs/python-api.md`` for the :class:`Engine` facade, requests and plugins.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names resolve on first use, so that `crmetrics --help` and plugin discovery do not pay
# for importing Polars and sqlglot.
_EXPORTS = {
    "TableReport": "crmetrics.canonical",
    "Connector": "crmetrics.connector",
    "RawTable": "crmetrics.connector",
    "ConnectorReference": "crmetrics.connector_reference",
    "Dimension": "crmetrics.discovery",
    "Engine": "crmetrics.engine",
    "Run": "crmetrics.runs",
    "MemoryConnector": "crmetrics.engine",
    "evaluate": "crmetrics.engine",
    "CrmetricsError": "crmetrics.errors",
    "DataError": "crmetrics.errors",
    "DefinitionError": "crmetrics.errors",
    "Issue": "crmetrics.errors",
    "Location": "crmetrics.errors",
    "UsageError": "crmetrics.errors",
    "FunctionSpec": "crmetrics.formula.functions",
    "hookimpl": "crmetrics.hookspecs",
    "OutputFormat": "crmetrics.output",
    "RenderInfo": "crmetrics.output",
    "Request": "crmetrics.plan",
    "Calendar": "crmetrics.periods",
}

if TYPE_CHECKING:
    from crmetrics.canonical import TableReport
    from crmetrics.connector import Connector, RawTable
    from crmetrics.connector_reference import ConnectorReference
    from crmetrics.discovery import Dimension
    from crmetrics.engine import Engine, MemoryConnector, evaluate
    from crmetrics.errors import (
        CrmetricsError,
        DataError,
        DefinitionError,
        Issue,
        Location,
        UsageError,
    )
    from crmetrics.formula.functions import FunctionSpec
    from crmetrics.hookspecs import hookimpl
    from crmetrics.output import OutputFormat, RenderInfo
    from crmetrics.periods import Calendar
    from crmetrics.plan import Request
    from crmetrics.runs import Run


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'crmetrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__version__ = "0.1.0"

__all__ = [
    "Calendar",
    "Connector",
    "ConnectorReference",
    "CrmetricsError",
    "DataError",
    "DefinitionError",
    "Dimension",
    "Engine",
    "FunctionSpec",
    "Issue",
    "Location",
    "MemoryConnector",
    "OutputFormat",
    "RawTable",
    "RenderInfo",
    "Request",
    "Run",
    "TableReport",
    "UsageError",
    "__version__",
    "evaluate",
    "hookimpl",
]
