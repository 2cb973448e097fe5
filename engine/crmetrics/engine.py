"""The :class:`Engine` facade: load, validate, plan, evaluate, explain.

The CLI calls exactly these methods; so can any Python program or notebook.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

import polars as pl

from crmetrics.catalog import Catalog, load_catalog
from crmetrics.connector import Connector, RawTable, SourceURI
from crmetrics.errors import DataError, DefinitionError, Issue, Location, UsageError, did_you_mean
from crmetrics.metric import MetricDefinition
from crmetrics.model import TABLES
from crmetrics.plan import LogicalPlan, Request, build_plan
from crmetrics.polars_backend import evaluate as collect_plan
from crmetrics.polars_backend import render
from crmetrics.project import Project
from crmetrics.registry import Registry, build_registry

Source = str | Connector | Mapping[str, pl.DataFrame | pl.LazyFrame]


def _joined(first: str, second: str) -> str:
    """Two hint sentences as one line: ``did you mean 'csv'? write ...``."""
    if not first:
        return second
    return f"{first} {second}" if first.endswith("?") else f"{first}; {second}"


class MemoryConnector(Connector):
    """Canonical tables given as Polars frames (the Python API's ``source={...}``)."""

    scheme = "memory"
    description = "canonical tables passed as Polars frames from Python"

    def __init__(self, frames: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> None:
        super().__init__("<memory>")
        unknown = [name for name in frames if name not in TABLES]
        if unknown:
            raise UsageError(
                Issue(
                    "unknown-table",
                    f"unknown table {unknown[0]!r} in source",
                    hint=did_you_mean(unknown[0], TABLES),
                )
            )
        self.frames = dict(frames)

    def available_tables(self) -> list[str]:
        return list(self.frames)

    def read_table(self, table: str) -> RawTable:
        return RawTable(self.frames[table], f"<{table}>", first_row=1)


class Engine:
    """Loads plugins and definitions once, then validates, plans and evaluates requests.

    Args:
        definitions: extra folders or files of YAML metric definitions (the user's own).
        plugins: in-process plugins to register besides the installed ones.
        load_installed_plugins: False for an isolated engine with only ``plugins``.
        project: a project file's settings: named sources with connector options, more
            definition folders and parameter overrides.
        cache: remember the verdict of the data checks of unchanged files in the user's
            cache folder (``CRMETRICS_CACHE_DIR``); False checks every file on every run.
        memory_limit: the most memory the DuckDB engine may use (``512MB``, ``4GB``; it
            spills the rest to disk), or the driver memory of a new local Spark session.
    """

    def __init__(
        self,
        *,
        definitions: Sequence[str | Path] = (),
        plugins: Sequence[object] = (),
        load_installed_plugins: bool = True,
        project: Project | None = None,
        cache: bool = True,
        memory_limit: str | None = None,
    ) -> None:
        self.project = project or Project()
        self.cache = cache
        self.memory_limit = memory_limit
        self._definitions = [*self.project.definitions, *(Path(p) for p in definitions)]
        self._plugins = list(plugins)
        self._load_installed = load_installed_plugins

    @cached_property
    def registry(self) -> Registry:
        registry = build_registry(
            self._plugins, entry_point_group="crmetrics" if self._load_installed else None
        )
        for problem in registry.problems:
            print(problem.render(), file=sys.stderr)
        return registry

    @cached_property
    def catalog(self) -> Catalog:
        """Every metric from plugins and the user's definitions, checked."""
        folders, files = [], []
        for path in self._definitions:
            if path.is_dir():
                folders.append((path, "user"))
            elif path.is_file():
                files.append((path, "user"))
            else:
                raise DefinitionError(
                    Issue(
                        "missing-definitions",
                        f"{path} does not exist",
                        Location(str(path)),
                        hint="--definitions takes a folder of *.yaml files or a file",
                    )
                )
        return load_catalog([*self.registry.definition_dirs, *folders], self.registry.functions, files)

    def list_metrics(self) -> list[MetricDefinition]:
        return sorted(self.catalog.metrics.values(), key=lambda m: (m.category, m.name))

    def validate(self) -> Catalog:
        """Load and check every definition; raises :class:`DefinitionError` with all issues."""
        return self.catalog

    def open_source(self, source: Source) -> Connector:
        """A connector for ``source``: a URI (``csv:DIR``, ``sample``), a connector, or frames."""
        connector = self._connector(source)
        if not self.cache:
            connector.checks_cache = None
        return connector

    def _connector(self, source: Source) -> Connector:
        if isinstance(source, Connector):
            return source
        if isinstance(source, Mapping):
            return MemoryConnector(source)
        named = self.project.sources.get(source)
        text = named.uri if named else source
        uri = SourceURI.parse(text) if ":" in text else SourceURI(text, "")
        connector = self.registry.connectors.get(uri.scheme)
        if connector is None:
            known = [*self.registry.connectors, *self.project.sources]
            raise UsageError(
                Issue(
                    "unknown-source",
                    f"unknown source {source!r}",
                    hint=_joined(
                        did_you_mean(uri.scheme, known), "write SCHEME:LOCATION, e.g. csv:data/, or 'sample'"
                    ),
                )
            )
        if named:
            self.project.check_options(named.name, getattr(connector, "options_schema", None))
        return connector(uri.location, named.options if named else None)

    def plan(self, request: Request) -> LogicalPlan:
        """The logical plan of ``request``, with the project file's parameters applied."""
        defaults = self._project_params(request)
        if defaults:
            request = replace(request, params={**defaults, **request.params})
        return build_plan(self.catalog, request)

    def _project_params(self, request: Request) -> dict[str, float]:
        # The project's parameters are defaults for every run: those of metrics outside
        # this request are not errors, they simply do not apply.
        names = list(self.catalog.metrics) if request.metrics == ("all",) else list(request.metrics)
        involved = set(self.catalog.closure(names))
        chosen = {}
        for key, value in self.project.params.items():
            metric, _, param = key.rpartition(".")
            targets = [metric] if metric else list(involved)
            if any(t in involved and param in self.catalog.metrics[t].params for t in targets):
                chosen[key] = value
        return chosen

    def compile(self, request: Request, source: Source) -> pl.LazyFrame:
        """The single lazy query computing ``request`` on ``source``."""
        connector = self.open_source(source)
        plan = self.plan(request)
        return render(plan, self.catalog, connector.scan)

    def evaluate(
        self,
        request: Request,
        source: Source,
        *,
        streaming: bool = False,
        engine: str = "polars",
        trust: bool = False,
    ) -> pl.DataFrame:
        """The long-format result: ``metric``, ``period_start``, grouping columns, ``value``.

        ``streaming=True`` uses Polars' streaming engine, for sources larger than memory.
        ``trust=True`` skips the row checks (duplicate keys, required and allowed values,
        cross-column rules) of tables that already have the canonical column types, such as
        typed Parquet: faster, for sources that guarantee those rules themselves.
        ``engine="duckdb"`` or ``"spark"`` computes the same numbers from the SQL rendering
        of the same plan (docs/scaling.md).
        """
        from crmetrics.sql.run import check_engine, check_source, evaluate_sql

        if check_engine(engine) != "polars":
            return evaluate_sql(self, engine, request, source)
        check_source(self, engine, source)
        connector = self.open_source(source)
        plan = self.plan(request)
        try:
            return collect_plan(plan, self.catalog, connector, streaming=streaming, trust=trust)
        except pl.exceptions.PolarsError as error:
            raise DataError(
                Issue(
                    "evaluation",
                    f"evaluating the metrics failed on this data: {error}",
                    hint="check the source's column types with 'crmetrics inspect'",
                )
            ) from None

    def sql(self, request: Request, dialect: str, *, pretty: bool = True) -> str:
        """One SQL statement computing ``request`` in ``dialect`` on the project's warehouse."""
        from crmetrics.sql import Tables, to_sql

        tables = Tables.warehouse(self.project.warehouse)
        return to_sql(self.plan(request), self.catalog, tables, dialect, pretty=pretty)

    def explain(self, metric: str, request: Request | None = None, source: Source | None = None) -> str:
        """A metric's definition, dependency tree and (with a source) its compiled plan."""
        from crmetrics.explain import explain

        return explain(self, metric, request, source)


def evaluate(
    metrics: Sequence[str] | str,
    source: Source,
    *,
    grain: str = "month",
    start: str | date | datetime,
    end: str | date | datetime,
    by: Sequence[str] = (),
    where: str | None = None,
    params: Mapping[str, float] | None = None,
    definitions: Sequence[str | Path] = (),
    plugins: Sequence[object] = (),
    streaming: bool = False,
    engine: str = "polars",
    trust: bool = False,
    cache: bool = True,
    memory_limit: str | None = None,
) -> pl.DataFrame:
    """Evaluate metrics on a source and return one row per (metric, period, group).

    ``streaming=True`` collects with Polars' streaming engine (sources larger than memory);
    ``trust=True`` skips the row checks of already-typed tables (see :meth:`Engine.evaluate`);
    ``cache=False`` checks every file again instead of reusing the verdict of an unchanged
    file (docs/performance.md); ``memory_limit`` bounds the DuckDB engine (``"2GB"``) or a
    new local Spark session's driver (``"2g"``).
    ``engine`` is ``polars``, ``duckdb`` or ``spark`` (docs/scaling.md).

    Example:
        >>> import crmetrics
        >>> result = crmetrics.evaluate(["churn_rate"], "sample", start="2025-01-01", end="2025-04-01")
        >>> result.columns
        ['metric', 'period_start', 'value']
    """
    facade = Engine(definitions=definitions, plugins=plugins, cache=cache, memory_limit=memory_limit)
    request = Request.build(
        [metrics] if isinstance(metrics, str) else metrics,
        grain=grain,
        start=start,
        end=end,
        by=by,
        where=where,
        params=params,
    )
    return facade.evaluate(request, source, streaming=streaming, engine=engine, trust=trust)
