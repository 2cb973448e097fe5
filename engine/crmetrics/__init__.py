"""crmetrics: CRM metrics declared once in YAML, evaluated with Polars on any source.

The public API::

    import crmetrics

    result = crmetrics.evaluate(["churn_rate"], "sample", start="2025-01-01", end="2025-07-01")

See ``docs/python-api.md`` for the :class:`Engine` facade, requests and plugins.
"""

from crmetrics.canonical import TableReport
from crmetrics.connector import Connector, RawTable
from crmetrics.engine import Engine, MemoryConnector, evaluate
from crmetrics.errors import (
    CrmetricsError,
    DataError,
    DefinitionError,
    Issue,
    Location,
    PluginError,
    UsageError,
)
from crmetrics.formula.functions import FunctionSpec
from crmetrics.hookspecs import hookimpl
from crmetrics.output import OutputFormat, RenderInfo
from crmetrics.plan import Request

__version__ = "0.1.0"

__all__ = [
    "Connector",
    "CrmetricsError",
    "DataError",
    "DefinitionError",
    "Engine",
    "FunctionSpec",
    "Issue",
    "Location",
    "MemoryConnector",
    "OutputFormat",
    "PluginError",
    "RawTable",
    "RenderInfo",
    "Request",
    "TableReport",
    "UsageError",
    "__version__",
    "evaluate",
    "hookimpl",
]
