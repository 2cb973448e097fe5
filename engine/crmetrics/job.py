"""What a backend is handed to evaluate: the plan, the catalog and the source, resolved once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crmetrics.catalog import Catalog
from crmetrics.connector import Connector, SourceURI
from crmetrics.plan import LogicalPlan


@dataclass(frozen=True)
class ResolvedSource:
    """A source as given by the user, read once: a connector, or an engine's own tables.

    Attributes:
        connector: the connector reading the source, for crmetrics sources.
        native: the ``duckdb:``/``spark:`` URI, for tables a SQL engine holds itself.
    """

    connector: Connector | None = None
    native: SourceURI | None = None


@dataclass(frozen=True)
class Job:
    """One evaluation: what a backend needs to compute a plan's long result.

    Attributes:
        plan: the logical plan.
        catalog: the checked metrics and functions.
        source: the source, resolved.
        warehouse: the project's ``warehouse`` mapping of canonical tables to tables.
        project_file: the project file's path, named in errors about the warehouse.
        streaming: collect with Polars' streaming engine.
        trust: skip the row checks of tables already in canonical types.
        memory_limit: the most memory a SQL engine may use (DuckDB), or the driver memory
            of a new local Spark session.
    """

    plan: LogicalPlan
    catalog: Catalog
    source: ResolvedSource
    warehouse: Mapping[str, Any] = field(default_factory=dict)
    project_file: str | None = None
    streaming: bool = False
    trust: bool = False
    memory_limit: str | None = None


__all__ = ["Job", "ResolvedSource"]
