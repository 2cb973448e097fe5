"""A run as the ``run`` command makes it: the metrics that apply, comparisons, sample sizes
and the warnings that go with them.

:meth:`Engine.evaluate` computes a request; this module adds what a person running it
needs around that: ``all`` resolved to what the source can compute, ``--compare`` and
``--with-n``/``--min-n`` applied to the long result, and every warning (skipped metrics,
hidden values, a filter or a range without data, the source's data-quality findings)
collected as data for the caller to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import polars as pl

from crmetrics import comparison, diagnostics, sample_size
from crmetrics.applicable import applicable
from crmetrics.backends import check_engine
from crmetrics.catalog import Catalog
from crmetrics.connector import Connector, SourceURI
from crmetrics.discovery import Schemas, canonical_schemas, source_schemas
from crmetrics.errors import Issue, UsageError
from crmetrics.job import ResolvedSource
from crmetrics.metric import MetricDefinition
from crmetrics.model import TABLES
from crmetrics.plan import LogicalPlan, Request

Source = str | Connector | Mapping[str, pl.DataFrame | pl.LazyFrame]


class Engine(Protocol):
    """What a run needs of :class:`crmetrics.Engine` (named here, so that this module does
    not import the facade that calls it)."""

    @property
    def catalog(self) -> Catalog: ...

    def list_metrics(self) -> list[MetricDefinition]: ...

    def check_names(self, names: Sequence[str]) -> None: ...

    def plan(self, request: Request) -> LogicalPlan: ...

    def open_source(self, source: Source) -> Connector: ...

    def native_source(self, source: Source) -> SourceURI | None: ...

    def resolve_source(self, source: Source) -> ResolvedSource: ...

    def evaluate(
        self,
        request: Request,
        source: Source | ResolvedSource,
        *,
        streaming: bool = False,
        engine: str = "polars",
        trust: bool = False,
    ) -> pl.DataFrame: ...


@dataclass(frozen=True)
class Run:
    """The outcome of :meth:`Engine.run`.

    Attributes:
        frame: the long-format result: ``metric``, ``period_start``, the grouping columns,
            ``value``; with ``compare``, ``compare_value``, ``change`` and
            ``relative_change``; with ``with_n``, ``n``.
        request: the request as run (``all`` replaced by the metrics that apply).
        notes: warnings for stderr: skipped metrics, suppressed values, a filter or range
            that leaves a table without data, comparison periods before the data, and the
            source's data-quality findings.
        source: a description of the source, for captions.
    """

    frame: pl.DataFrame
    request: Request
    notes: list[Issue] = field(default_factory=list)
    source: str = ""


def run(
    engine: Engine,
    request: Request,
    source: Source,
    *,
    engine_name: str = "polars",
    streaming: bool = False,
    trust: bool = False,
    compare: str | None = None,
    with_n: bool = False,
    min_n: int | None = None,
) -> Run:
    """Evaluate ``request`` on ``source`` as :meth:`Engine.run` documents."""
    check_engine(engine_name)
    if compare is not None:
        comparison.distance(compare, request.grain.name)
    if min_n is not None and min_n < 1:
        raise UsageError(Issue("bad-min-n", f"--min-n must be 1 or more, not {min_n}"))
    # The source is read once: the connector (or the engine tables) serves every step.
    resolved = engine.resolve_source(source)
    connector = resolved.connector
    notes: list[Issue] = []
    if request.metrics == ("all",):
        request, notes = applicable_metrics(engine, request, connector or source)
    names = list(dict.fromkeys(request.metrics))
    engine.check_names(names)
    if connector is not None:
        diagnostics.check_bare_words(request.where, connector)
    widened = comparison.widened(request, compare) if compare else request
    widened = sample_size.with_counts(widened, engine.catalog, names)
    frame = engine.evaluate(widened, resolved, engine=engine_name, streaming=streaming, trust=trust)
    limits = sample_size.thresholds(engine.catalog, names, min_n)
    frame, suppressed = sample_size.attach(frame, engine.catalog, names, request.by, min_n=limits)
    if suppressed.total:
        notes.append(suppressed.issue())
    if not with_n:
        frame = frame.drop(sample_size.N_COLUMN)
    if compare:
        frame = comparison.compared(frame, request, compare)
    if connector is not None:
        notes.extend(diagnostics.emptiness(engine.plan(request), engine.catalog, connector, compare=compare))
        notes.extend(issue for report in connector.reports() for issue in report.issues)
    described = source if isinstance(source, str) else getattr(connector, "scheme", "memory")
    return Run(frame, request, notes, described)


def applicable_metrics(engine: Engine, request: Request, source: Source) -> tuple[Request, list[Issue]]:
    """``request`` with ``all`` replaced by the metrics ``source`` can compute, and a warning
    for each other one (see :meth:`Engine.applicable`)."""
    names = [m.name for m in engine.list_metrics()] if request.metrics == ("all",) else request.metrics
    schemas: Schemas
    if isinstance(source, str) and engine.native_source(source) is not None:
        present, schemas = list(TABLES), canonical_schemas
    else:
        connector = engine.open_source(source)
        present, schemas = connector.available_tables(), source_schemas(connector)
    kept, skipped = applicable(
        engine.catalog,
        list(names),
        present=present,
        by=request.by,
        where=request.where,
        schema_of=lambda table: list(schemas(table)),
    )
    if not kept:
        raise UsageError(
            Issue(
                "nothing-applies",
                "no metric applies to this source and grouping",
                hint="; ".join(i.message for i in skipped[:5]),
            )
        )
    return replace(request, metrics=tuple(kept)), skipped


def sql_request(engine: Engine, request: Request) -> tuple[Request, list[Issue]]:
    """``request`` as :meth:`Engine.sql` renders it: ``all`` judged on the canonical tables."""
    if request.metrics != ("all",):
        return request, []
    kept, skipped = applicable(
        engine.catalog,
        [m.name for m in engine.list_metrics()],
        present=list(TABLES),
        by=request.by,
        where=request.where,
        schema_of=lambda table: list(canonical_schemas(table)),
    )
    return replace(request, metrics=tuple(kept)), skipped


__all__ = ["Run", "applicable_metrics", "run", "sql_request"]
