"""The :class:`Engine` facade: load, validate, plan, evaluate, explain.

The CLI calls exactly these methods; so can any Python program or notebook.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from crmetrics.backends import ENGINES, backend, check_engine, native_backend
from crmetrics.catalog import Catalog, load_catalog
from crmetrics.connector import Connector, RawTable, SourceURI
from crmetrics.discovery import Dimension
from crmetrics.errors import (
    CrmetricsError,
    DataError,
    DefinitionError,
    Issue,
    Location,
    UsageError,
    did_you_mean,
)
from crmetrics.explain import describe_metric, describe_metric_data
from crmetrics.inspect import TableInspection
from crmetrics.ir.build import build_query
from crmetrics.ir.nodes import Query
from crmetrics.ir.text import query_text
from crmetrics.job import Job, ResolvedSource
from crmetrics.metric import MetricDefinition
from crmetrics.model import TABLES
from crmetrics.output import OutputFormat
from crmetrics.plan import LogicalPlan, Request, build_plan
from crmetrics.polars_backend import query_of, render
from crmetrics.progress import Progress, reporting
from crmetrics.project import Project
from crmetrics.registry import Registry, build_registry
from crmetrics.runs import Run
from crmetrics.sql import Tables, to_sql

if TYPE_CHECKING:
    from crmetrics.report import Chart, ReportData
    from crmetrics.testing import CaseResult, TestCase

Source = str | Connector | Mapping[str, pl.DataFrame | pl.LazyFrame]


def _described(source: object) -> str:
    """A source as people name it: ``sample``, ``csv:data/``, ``duckdb:db.duckdb`` or ``memory``."""
    if isinstance(source, ResolvedSource):
        source = source.connector or source.native
    if isinstance(source, str | SourceURI):
        return str(source)
    if isinstance(source, Connector):
        return f"{source.scheme}:{source.location}" if source.location else source.scheme
    return "memory"


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
        """The tables among the frames given."""
        return list(self.frames)

    def read_table(self, table: str) -> RawTable:
        """The frame given for ``table``, to be conformed like any source's."""
        return RawTable(self.frames[table], f"<{table}>", first_row=1)


def distinct_definitions(
    paths: Sequence[Path], *, already: Sequence[Path] = ()
) -> tuple[list[Path], list[Path]]:
    """The folders and files of ``paths``, each loaded once however often it is named.

    A path named twice (the project file's ``definitions:`` and ``-d``, or ``metrics`` and
    ``metrics/``), a file inside a folder also named, and a folder ``already`` loaded (a
    plugin's) count once: loading them twice would report every metric in them as defined
    twice, in the same place.
    """
    seen = {folder.resolve() for folder in already}
    folders: list[Path] = []
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            if path.resolve() not in seen:
                seen.add(path.resolve())
                folders.append(path)
        elif path.is_file():
            files.append(path)
        else:
            raise DefinitionError(
                Issue(
                    "missing-definitions",
                    f"{path} does not exist",
                    Location(str(path)),
                    hint="--definitions takes a folder of *.yaml files or a file",
                )
            )
    loaded: set[Path] = set()
    unique_files = []
    for file in files:
        resolved = file.resolve()
        if resolved in loaded or (resolved.parent in seen and file.suffix in (".yaml", ".yml")):
            continue
        loaded.add(resolved)
        unique_files.append(file)
    return folders, unique_files


class Engine:
    """Loads plugins and definitions once, then validates, plans and evaluates requests.

    Args:
        definitions: extra folders or files of YAML metric definitions (the user's own).
        plugins: in-process plugins to register besides the installed ones.
        load_installed_plugins: False for an isolated engine with only ``plugins``.
        project: a project file's settings: named sources with connector options, more
            definition folders and parameter overrides.
        progress: receives what each evaluation reads (live pages, retries, tables); the
            command line passes one that draws on a terminal. Silent by default.
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
        progress: Progress | None = None,
        cache: bool = True,
        memory_limit: str | None = None,
    ) -> None:
        self.project = project or Project()
        self.progress = progress
        self.cache = cache
        self.memory_limit = memory_limit
        self._definitions = [*self.project.definitions, *(Path(p) for p in definitions)]
        self._plugins = list(plugins)
        self._load_installed = load_installed_plugins
        self._case_engines: dict[bool, Engine] = {}

    @cached_property
    def registry(self) -> Registry:
        """The plugins loaded, and what each registered."""
        return build_registry(self._plugins, entry_point_group="crmetrics" if self._load_installed else None)

    @property
    def problems(self) -> list[Issue]:
        """Warnings about plugins that failed to load or register: the caller shows them."""
        return self.registry.problems

    @cached_property
    def catalog(self) -> Catalog:
        """Every metric from plugins and the user's definitions, checked."""
        plugin_dirs = [folder for folder, _ in self.registry.definition_dirs]
        folders, files = distinct_definitions(self._definitions, already=plugin_dirs)
        return load_catalog(
            [*self.registry.definition_dirs, *((f, "user") for f in folders)],
            self.registry.functions,
            [(f, "user") for f in files],
            limits=self.project.limits,
        )

    def list_metrics(self) -> list[MetricDefinition]:
        """Every metric, sorted by category and name."""
        return sorted(self.catalog.metrics.values(), key=lambda m: (m.category, m.name))

    def validate(self) -> Catalog:
        """Load and check every definition; raises :class:`DefinitionError` with all issues."""
        return self.catalog

    def open_source(self, source: Source) -> Connector:
        """A connector for ``source``: a URI (``csv:DIR``, ``sample``), a connector, or frames.

        With ``tables:`` bindings in the project file, a named source or URI is the run's
        default source and the bound tables come from their own sources.
        """
        resolved = self.resolve_source(source)
        if resolved.connector is None:
            assert resolved.native is not None
            raise self._engine_source_error(resolved.native)
        return resolved.connector

    def open_sources(self, sources: Sequence[str], tables: Mapping[str, str] | None = None) -> Connector:
        """One connector over several sources: each canonical table from exactly one of them.

        Args:
            sources: the run's sources (names from the project file or URIs); a table that
                no binding names comes from the one that has it (two having it is an error).
            tables: table -> source bindings, over those of the project file.
        """
        from crmetrics.combined import open_combined

        return open_combined(self._open_one, sources, {**self.project.tables, **(tables or {})})

    def _open_one(self, source: str) -> Connector:
        resolved = self._resolve_one(source)
        if resolved.connector is None:
            assert resolved.native is not None
            raise self._engine_source_error(resolved.native)
        return resolved.connector

    @staticmethod
    def _engine_source_error(native: SourceURI) -> UsageError:
        engine = native_backend(native)
        return UsageError(
            Issue(
                "engine-source",
                f"source {native} holds {engine} tables, which only --engine {engine} reads",
                hint=f"add --engine {engine}, or use a crmetrics source such as csv:DIR",
            )
        )

    def native_source(self, source: Source) -> SourceURI | None:
        """The ``duckdb:``/``spark:`` URI ``source`` stands for, if it names an engine's own tables."""
        if not isinstance(source, str):
            return None
        named = self.project.sources.get(source)
        text = named.uri if named else source
        if ":" not in text:
            return None
        uri = SourceURI.parse(text)
        return uri if native_backend(uri) else None

    def resolve_source(self, source: Source) -> ResolvedSource:
        """``source`` read once: the connector reading it, or the engine tables it names."""
        resolved = self._resolve(source)
        if resolved.connector is not None and not self.cache:
            resolved.connector.checks_cache = None
        return resolved

    def _resolve(self, source: Source) -> ResolvedSource:
        if isinstance(source, str) and self.project.tables and self.native_source(source) is None:
            return ResolvedSource(connector=self.open_sources([source]))
        return self._resolve_one(source)

    def _resolve_one(self, source: Source) -> ResolvedSource:
        if isinstance(source, Connector):
            return ResolvedSource(connector=source)
        if isinstance(source, Mapping):
            return ResolvedSource(connector=MemoryConnector(source))
        named = self.project.sources.get(source)
        text = named.uri if named else source
        uri = SourceURI.parse(text) if ":" in text else SourceURI(text, "")
        if native_backend(uri):
            return ResolvedSource(native=uri)
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
            schema = getattr(connector, "options_schema", None)
            if named.mappings and "mappings" not in (schema or {}).get("properties", {}):
                raise UsageError(
                    Issue(
                        "mappings-unsupported",
                        f"source {named.name!r} ({uri.scheme}:) has mappings, but {uri.scheme} files "
                        "are read by their canonical column names",
                        self.project.document.location(["sources", named.name, "mappings"], key=True)
                        if self.project.document
                        else None,
                        hint="remove 'mappings', or rename the file's columns to the canonical ones",
                    )
                )
            self.project.check_options(named.name, schema)
        return ResolvedSource(connector=connector(uri.location, named.options if named else None))

    def check_names(self, names: Sequence[str]) -> None:
        """Raise one :class:`UsageError` listing every unknown metric of ``names``."""
        known = self.catalog.metrics
        unknown = [n for n in dict.fromkeys(names) if n != "all" and n not in known]
        if unknown:
            raise UsageError(
                [
                    Issue(
                        "unknown-metric", f"unknown metric {n!r}", hint=did_you_mean(n, self.catalog.metrics)
                    )
                    for n in unknown
                ]
            )

    def plan(self, request: Request) -> LogicalPlan:
        """The logical plan of ``request``, with the project file's parameters applied."""
        self.check_names(request.metrics)
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
        """The single lazy Polars query computing ``request`` on ``source``."""
        connector = self.open_source(source)
        return render(self.plan(request), self.catalog, connector.scan)

    def query(self, request: Request, source: Source | None = None) -> Query:
        """The relational IR of ``request``: on ``source``'s tables, or on the canonical ones."""
        plan = self.plan(request)
        if source is None:
            tables = Tables.warehouse(self.project.warehouse)
            return build_query(plan, self.catalog, lambda table: tables.kinds.get(table, {}))
        return query_of(plan, self.catalog, self.open_source(source).scan)

    def evaluate(
        self,
        request: Request,
        source: Source | ResolvedSource,
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
        of the same plan (docs/scaling.md). ``source`` may be one :meth:`resolve_source`
        already read, so that a caller reads it once however many steps use it.
        """
        with reporting(self.progress) as progress:
            progress.reading(self._reading(request, source))
            try:
                return self._evaluate(request, source, streaming=streaming, engine=engine, trust=trust)
            finally:
                progress.finished()

    def _reading(self, request: Request, source: Source | ResolvedSource) -> str:
        """``customers, revenue from csv:data/``: what an evaluation reads, for progress."""
        from crmetrics.sql.execute import plan_tables

        where = _described(source)
        try:
            tables = plan_tables(self.plan(request), self.catalog)
        except CrmetricsError:  # the evaluation itself reports the mistake
            return str(where)
        return f"{', '.join(tables)} from {where}"

    def _evaluate(
        self, request: Request, source: Source | ResolvedSource, *, streaming: bool, engine: str, trust: bool
    ) -> pl.DataFrame:
        chosen = backend(engine)
        resolved = source if isinstance(source, ResolvedSource) else self.resolve_source(source)
        if resolved.native is not None and native_backend(resolved.native) != chosen.name:
            scheme = resolved.native.scheme
            raise UsageError(
                Issue(
                    "engine-source",
                    f"source {resolved.native} holds {scheme} tables, which only --engine {scheme} reads",
                    hint=f"add --engine {scheme}, or use a crmetrics source such as csv:DIR",
                )
            )
        job = Job(
            self.plan(request),
            self.catalog,
            resolved,
            warehouse=self.project.warehouse,
            project_file=str(self.project.path) if self.project.path else None,
            streaming=streaming,
            trust=trust,
            memory_limit=self.memory_limit,
        )
        try:
            return chosen.evaluate(job)
        except pl.exceptions.PolarsError as error:
            if chosen.name != "polars":
                raise
            raise DataError(
                Issue(
                    "evaluation",
                    f"evaluating the metrics failed on this data: {error}",
                    hint="check the source's column types with 'crmetrics inspect'",
                )
            ) from None

    def run(
        self,
        request: Request,
        source: Source,
        *,
        engine: str = "polars",
        streaming: bool = False,
        trust: bool = False,
        compare: str | None = None,
        with_n: bool = False,
        min_n: int | None = None,
    ) -> Run:
        """Evaluate ``request`` as the ``run`` command does, with its warnings as data.

        Besides :meth:`evaluate`: ``metrics=("all",)`` keeps the metrics the source can
        compute (a note says why each other one was skipped); ``compare`` (``previous`` or
        ``year_ago``) adds each value's comparison and change; ``with_n`` adds each value's
        sample size ``n``; ``min_n`` hides values whose ``n`` is smaller (it replaces the
        definitions' own ``min_n``). A ``--where`` or a range that leaves a table the metrics
        read without data gets a note, and so do comparison periods before a table's first
        record and each finding of the source's data-quality checks.
        """
        from crmetrics.runs import run

        return run(
            self,
            request,
            source,
            engine_name=engine,
            streaming=streaming,
            trust=trust,
            compare=compare,
            with_n=with_n,
            min_n=min_n,
        )

    def applicable(self, request: Request, source: Source) -> tuple[Request, list[Issue]]:
        """``request`` with ``all`` replaced by the metrics ``source`` can compute, and why
        each other metric was skipped (a missing table, a ``--by`` column out of reach).

        An engine's own tables (``duckdb:FILE``, ``spark:``) and ``crmetrics sql`` are
        judged on the canonical tables.
        """
        from crmetrics.runs import applicable_metrics

        return applicable_metrics(self, request, source)

    def dimensions(self, metric: str | None = None, source: Source | None = None) -> list[Dimension]:
        """The columns ``metric`` can be grouped and filtered by (every table's without one).

        With a source, the columns it really has (extra columns included); without, the
        canonical model's.
        """
        from crmetrics.discovery import canonical_schemas, dimensions, source_schemas

        if metric is not None:
            self.catalog.get(metric)
        schemas = canonical_schemas if source is None else source_schemas(self.open_source(source))
        return dimensions(self.catalog, metric, schemas)

    def values(self, column: str, source: Source, *, table: str | None = None) -> pl.DataFrame:
        """The distinct values of ``column`` in ``source`` with their row counts: columns
        ``value``, ``count`` and ``table`` (where they were read), most frequent first."""
        from crmetrics.discovery import values

        return values(column, self.open_source(source), table)

    def sql(self, request: Request, dialect: str, *, pretty: bool = True) -> str:
        """One SQL statement computing ``request`` in ``dialect`` on the project's warehouse.

        ``all`` means the metrics that reach the request's ``by`` and ``where`` columns in the
        canonical tables; the others are skipped (see :meth:`sql_request`).
        """
        request, _ = self.sql_request(request)
        tables = Tables.warehouse(self.project.warehouse)
        return to_sql(self.plan(request), self.catalog, tables, dialect, pretty=pretty)

    def sql_request(self, request: Request) -> tuple[Request, list[Issue]]:
        """``request`` as :meth:`sql` renders it, and a warning per metric ``all`` skipped."""
        from crmetrics.runs import sql_request

        return sql_request(self, request)

    @property
    def engines(self) -> tuple[str, ...]:
        """The engines :meth:`evaluate` can compute on."""
        return ENGINES

    def explain(
        self,
        metric: str,
        request: Request | None = None,
        source: Source | None = None,
        *,
        plan: bool = False,
    ) -> str:
        """A metric's definition and dependency tree, then (``plan=True``) its relational plan.

        The plan is the IR every backend generates its code from, as stable text: on
        ``source``'s tables when given, otherwise on the canonical tables. Without a
        ``request`` it covers the first quarter of 2025 by month.
        """
        text = describe_metric(self.catalog, metric)
        if not plan:
            return text
        request = request or Request.build([metric], start="2025-01-01", end="2025-04-01")
        return f"{text}\n\n{query_text(self.query(request, source))}"

    def describe(
        self, metric: str, request: Request | None = None, source: Source | None = None
    ) -> dict[str, object]:
        """What :meth:`explain` shows, as data: the definition, the dependency tree and,
        with a request, the plan (the IR's text lines, on ``source``'s tables or the
        canonical ones)."""
        data = describe_metric_data(self.catalog, metric)
        if request is not None:
            data["plan"] = query_text(self.query(request, source)).splitlines()
        return data

    def empty_source(self) -> dict[str, pl.DataFrame]:
        """Every canonical table, empty: compiles a plan without any data."""
        return {name: pl.DataFrame(schema=table.schema) for name, table in TABLES.items()}

    def inspect(self, source: Source) -> list[TableInspection]:
        """Per table of ``source``: rows read, kept and rejected, null rates, time span."""
        from crmetrics.inspect import inspect_source

        return inspect_source(self.open_source(source))

    @property
    def output_formats(self) -> dict[str, OutputFormat]:
        """The output formats, built-in and added by plugins, by name."""
        return self.registry.output_formats

    def output_format(self, name: str) -> OutputFormat:
        """The output format ``name``; an unknown name is a :class:`UsageError`."""
        formats = self.output_formats
        if name not in formats:
            raise UsageError(
                Issue("unknown-format", f"unknown format {name!r}", hint=did_you_mean(name, formats))
            )
        return formats[name]

    def check_engine(self, name: str) -> str:
        """``name`` as :meth:`evaluate` takes it; an unknown engine is a :class:`UsageError`."""
        return check_engine(name)

    def test_cases(self, paths: Sequence[str | Path] = (), *, builtin: bool = False) -> list[TestCase]:
        """The metric test cases to run (docs/tests.md).

        Args:
            paths: more files or folders of cases, besides the ``tests:`` of the user's
                definitions files and the project file's ``tests:`` folders.
            builtin: the cases the installed plugins ship (the built-in catalog's among
                them) instead of the user's.

        Raises:
            DefinitionError: a case file is not valid YAML or breaks the schema, with every
                mistake at its file:line:column.
        """
        from crmetrics.testing.suite import plugin_cases, user_cases

        if builtin:
            return plugin_cases(self.registry.definition_dirs)
        return user_cases(self._definitions, [*self.project.tests, *(Path(p) for p in paths)])

    def run_test(self, case: TestCase, *, engine: str = "polars") -> CaseResult:
        """Run one test case on ``engine`` (polars, duckdb or spark) and compare its result.

        A case runs on its own input alone: the project file's sources and parameters do
        not apply. A user's case sees the user's definitions; a plugin's case sees only
        the installed plugins, so that a user's override cannot break a built-in case.

        Raises:
            DefinitionError: the definitions the case runs against are wrong.
        """
        from crmetrics.testing.runner import run_case

        isolated = self._case_engine(case.provider == "user")
        isolated.validate()
        return run_case(isolated, case, backend=engine)

    def _case_engine(self, with_definitions: bool) -> Engine:
        if with_definitions not in self._case_engines:
            self._case_engines[with_definitions] = Engine(
                definitions=self._definitions if with_definitions else (),
                plugins=self._plugins,
                load_installed_plugins=self._load_installed,
            )
        return self._case_engines[with_definitions]

    def report_data(self, request: Request, source: Source) -> ReportData:
        """What a report shows: per metric, the last period's value, its changes and its series.

        ``request.metrics`` may be ``("all",)``: every metric, grouped by category.
        """
        from crmetrics.report import report_data

        return report_data(self, request, source, source_name=source if isinstance(source, str) else "")

    def report(self, request: Request, source: Source, *, title: str = "Metrics report") -> str:
        """A self-contained static HTML report (docs/reports.md): a card and a chart per metric.

        Needs the ``report`` extra (altair and vl-convert-python).
        """
        return self.render_report(self.report_data(request, source), title=title)

    def render_report(self, data: ReportData, *, title: str = "Metrics report") -> str:
        """The HTML page of report ``data`` (from :meth:`report_data`)."""
        from crmetrics.report import render_html

        return render_html(data, title=title)

    def plot(self, request: Request, source: Source, *, image_format: str = "svg") -> bytes:
        """A chart of the requested metrics, a line per group, as ``svg`` or ``png`` bytes."""
        return self.chart(request, source, image_format=image_format).image

    def chart(self, request: Request, source: Source, *, image_format: str = "svg") -> Chart:
        """The chart of :meth:`plot` with the warnings ``crmetrics run`` prints for its
        numbers (a filter matching nothing, an empty table, duplicate keys)."""
        from crmetrics.report import chart

        return chart(self, request, source, image_format)


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
    project: str | Path | Project | None = None,
    streaming: bool = False,
    engine: str = "polars",
    trust: bool = False,
    compare: str | None = None,
    with_n: bool = False,
    min_n: int | None = None,
    cache: bool = True,
    memory_limit: str | None = None,
) -> pl.DataFrame:
    """Evaluate metrics on a source and return one row per (metric, period, group).

    Args:
        metrics: metric names, or ``"all"`` for every metric the source can compute.
        source: a URI (``csv:DIR``, ``parquet:DIR``, ``sample``), a source named in the
            project file, a :class:`Connector`, or ``{"table": DataFrame}``.
        grain: ``day``, ``week``, ``month``, ``quarter`` or ``year``.
        start: the first period's start (inclusive).
        end: the end of the range (exclusive).
        by: grouping columns.
        where: a SQL condition on grouping columns, e.g. ``"segment = 'SMB'"``.
        params: parameter overrides, ``{"metric.param": value}``.
        definitions: extra folders or files of metric definitions.
        plugins: in-process plugins to register besides the installed ones.
        project: a project file (its path or a loaded :class:`Project`); by default
            ``CRMETRICS_PROJECT`` or ``./crmetrics.yaml`` when present, as for the CLI.
        streaming: collect with Polars' streaming engine (sources larger than memory).
        engine: ``polars``, ``duckdb`` or ``spark`` (docs/scaling.md).
        trust: skip the row checks of already-typed tables (see :meth:`Engine.evaluate`).
        compare: ``previous`` or ``year_ago``: add ``compare_value``, ``change`` and
            ``relative_change``.
        with_n: add ``n``, the sample size behind each value of metrics that declare one.
        min_n: show values whose ``n`` is below this as null.
        cache: False checks every file again instead of reusing the verdict kept for an
            unchanged file (docs/performance.md).
        memory_limit: the most memory the DuckDB engine may use (``"2GB"``), or the driver
            memory of a new local Spark session (``"2g"``).

    Warnings (skipped metrics, suppressed values, a filter or range without data) are
    issued as Python :class:`UserWarning`.

    Example:
        >>> import crmetrics
        >>> result = crmetrics.evaluate(["churn_rate"], "sample", start="2025-01-01", end="2025-04-01")
        >>> result.columns
        ['metric', 'period_start', 'value']
    """
    from crmetrics.project import find_project, load_project

    if isinstance(project, Project):
        chosen = project
    elif project is not None:
        chosen = load_project(Path(project))
    else:
        chosen = find_project()
    facade = Engine(
        definitions=definitions, plugins=plugins, project=chosen, cache=cache, memory_limit=memory_limit
    )
    request = Request.build(
        [metrics] if isinstance(metrics, str) else metrics,
        grain=grain,
        start=start,
        end=end,
        by=by,
        where=where,
        params=params,
        calendar=chosen.calendar,
    )
    outcome = facade.run(
        request,
        source,
        engine=engine,
        streaming=streaming,
        trust=trust,
        compare=compare,
        with_n=with_n,
        min_n=min_n,
    )
    for note in outcome.notes:
        warnings.warn(note.render(), UserWarning, stacklevel=2)
    return outcome.frame
