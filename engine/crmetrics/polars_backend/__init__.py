"""The Polars backend: the IR generated as lazy frames and collected in one go.

Each metric becomes a LazyFrame with one row per (period, group) over the whole window;
frames shared by several metrics are the same objects. The relations read from tables
are collected together in one ``collect_all``; derived metrics and the long result then
read them from memory. No Python loop runs over rows or periods.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from crmetrics.canonical import CollectEngine
from crmetrics.catalog import Catalog
from crmetrics.connector import Connector
from crmetrics.errors import DataError, Issue
from crmetrics.formula.typed import Kind
from crmetrics.ir.build import build_query
from crmetrics.ir.nodes import Distinct, Project, Query, Relation
from crmetrics.ir.text import inputs
from crmetrics.model import TABLES, kind_of_dtype
from crmetrics.plan import LogicalPlan
from crmetrics.polars_backend.generator import PolarsGenerator, TableSource


class _Tables:
    """The source's tables, each scanned once per run."""

    def __init__(self, scan: TableSource) -> None:
        self._scan = scan
        self._frames: dict[str, pl.LazyFrame] = {}

    def frame(self, table: str) -> pl.LazyFrame:
        if table not in self._frames:
            self._frames[table] = self._scan(table)
        return self._frames[table]

    def kinds(self, table: str) -> dict[str, Kind]:
        return {name: kind_of_dtype(dtype) for name, dtype in self.frame(table).collect_schema().items()}


def query_of(plan: LogicalPlan, catalog: Catalog, scan: TableSource) -> Query:
    """The IR of ``plan`` on the tables ``scan`` reads."""
    try:
        return build_query(plan, catalog, _Tables(scan).kinds)
    except pl.exceptions.ColumnNotFoundError as error:
        raise _missing_column(error) from None


def render(plan: LogicalPlan, catalog: Catalog, scan: TableSource) -> pl.LazyFrame:
    """The long-format result of ``plan`` as one LazyFrame."""
    tables = _Tables(scan)
    try:
        query = build_query(plan, catalog, tables.kinds)
        return PolarsGenerator(tables.frame, catalog.functions).frame(query.result)
    except pl.exceptions.ColumnNotFoundError as error:
        raise _missing_column(error) from None


def evaluate(
    plan: LogicalPlan,
    catalog: Catalog,
    connector: Connector,
    *,
    streaming: bool = False,
    trust: bool = False,
) -> pl.DataFrame:
    """Collect ``plan`` on ``connector``'s tables, then the data-quality checks of those tables.

    The relations read from the tables are collected together in one ``collect_all``; each
    is computed once, and every derived metric reads it from memory. The checks of lazily
    scanned tables follow, one table at a time: run alongside the query they would add
    their hash tables to its peak memory for no gain in time on a few cores. When they are
    clean the query's result stands; when a table breaks a rule, it is read again the eager
    way (which raises naming the rows, or drops them with a warning) and the query runs
    once more.

    ``streaming`` runs both on Polars' streaming engine, which processes the tables in
    batches instead of holding them in memory, and collects the relations one after the
    other, so that one relation at a time holds its hash tables. ``trust`` skips the row
    checks of tables already in canonical types (see ``Connector.deferred_checks``).
    """
    engine: CollectEngine = "streaming" if streaming else "auto"
    with connector.deferred_checks(trust=trust):
        tables = _Tables(connector.scan)
        try:
            query = build_query(plan, catalog, tables.kinds)
        except pl.exceptions.ColumnNotFoundError as error:
            raise _missing_column(error) from None
        # Every retry turns at least one lazy table eager for good, so this ends.
        for attempt in range(len(TABLES) + 1):
            # A retry reads the tables again: the connector has made the broken ones eager.
            source = tables.frame if attempt == 0 else _Tables(connector.scan).frame
            # Unless trusted, every table's keys are checked before a result stands.
            generator = PolarsGenerator(source, catalog.functions, keys_checked=not trust)
            try:
                groups = group_values(query.bases)
                found = _collect(
                    [generator.frame(node) for node in groups], streaming=streaming, shared=False
                )
                for node, values in zip(groups, found, strict=True):
                    generator.known(node, values.lazy())
                bases = [generator.frame(base) for base in query.bases]
            except pl.exceptions.ColumnNotFoundError as error:
                raise _missing_column(error) from None
            except pl.exceptions.ComputeError as error:
                raise _trusted_keys_refused(error, trust) from None
            try:
                frames = _collect(bases, streaming=streaming, shared=True)
            except pl.exceptions.ComputeError as error:
                raise _trusted_keys_refused(error, trust) from None
            if not connector.settle(connector.run_checks(engine)):
                for base, frame in zip(query.bases, frames, strict=True):
                    generator.known(base, frame.lazy())
                for layer in derived_layers(query.result, query.bases):
                    computed = _collect(
                        [generator.frame(metric) for metric in layer], streaming=streaming, shared=True
                    )
                    for metric, values in zip(layer, computed, strict=True):
                        generator.known(metric, values.lazy())
                return generator.frame(query.result).collect()
    raise AssertionError("unreachable: every table is eager after the retries")


# Polars' common-subplan elimination reads a subplan several queries share once, into a
# cache: a table's windowed rows that a metric and the health score both read are decoded
# once (at 1M rows per table, ungrouped, on one thread: 0.80 s of CPU with it, 0.87 s
# without). A table's windowed scan and its whole-table scan for group values would be
# merged too, into a cache of every row that the window can no longer be pushed into
# (measured at 10M rows, grouped: 2.8 GB and 21 s with it, 1.7 GB and 19 s without): the
# group values are collected first, on their own and without shared scans, so that the
# bases never read a table whole for them.
_NO_SHARED_SCANS = pl.QueryOptFlags(comm_subplan_elim=False)


def group_values(bases: Sequence[Relation]) -> list[Distinct]:
    """The group values the ``bases`` read: each outermost distinct relation, once."""
    found: dict[int, Distinct] = {}
    seen: set[int] = set()
    pending = list(bases)
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Distinct):
            found.setdefault(id(node), node)
            continue  # what it reads is computed with it
        pending.extend(inputs(node))
    return list(found.values())


def derived_layers(result: Relation, bases: Sequence[Relation]) -> list[list[Project]]:
    """The derived metrics ``result`` reads, in layers each computed from the ones before.

    A layer reads only the bases and earlier layers, all in memory once computed, so its
    metrics are collected side by side in one go. Left lazy across layers, a metric reading
    two others that both read the same one would copy that plan twice: a diamond of 16
    levels planned 65,536 copies (38 s, 1.8 GB).
    """
    depth: dict[int, int] = {id(base): 0 for base in bases}
    derived: dict[int, Project] = {}

    def level(node: Relation) -> int:
        # The most derived metrics on a path from ``node`` down to the bases.
        key = id(node)
        if key not in depth:
            below = max((level(child) for child in inputs(node)), default=0)
            depth[key] = below + (1 if isinstance(node, Project) else 0)
            if isinstance(node, Project):
                derived[key] = node
        return depth[key]

    level(result)
    layers: dict[int, list[Project]] = {}
    for key, node in derived.items():
        layers.setdefault(depth[key], []).append(node)
    return [layers[d] for d in sorted(layers)]


def _collect(frames: list[pl.LazyFrame], *, streaming: bool, shared: bool) -> list[pl.DataFrame]:
    """``frames`` collected side by side in one ``collect_all``, or one after the other when streaming.

    ``collect_all`` runs its queries side by side, so the hash tables of their joins,
    group-bys and distinct counts are held at the same time; streaming is for data larger
    than memory, where a lower peak matters more than running the queries in parallel, and
    where no subplan is cached. ``shared`` lets the queries share the subplans they have in
    common (see above).
    """
    if not frames:
        return []
    if streaming:
        return [frame.collect(engine="streaming", optimizations=_NO_SHARED_SCANS) for frame in frames]
    return pl.collect_all(
        frames, engine="auto", optimizations=pl.QueryOptFlags() if shared else _NO_SHARED_SCANS
    )


def _trusted_keys_refused(error: pl.exceptions.ComputeError, trust: bool) -> Exception:
    """``error`` itself, or what it means when the tables were taken on trust.

    Taken on trust, keys are not checked, and joining a row to its customer's attributes
    checks that one customer matches: two mean a repeated ``customer_id``.
    """
    if not (trust and "m:1" in str(error)):
        return error
    return DataError(
        Issue(
            "trusted-duplicate-key",
            "customers holds a customer_id more than once, and --trust took its keys on trust: "
            "a row reaching its customer's attributes would join two customers",
            hint="drop --trust: the checks keep the last copy of a repeated key and say which",
        )
    )


def _missing_column(error: Exception) -> DataError:
    return DataError(Issue("missing-column", f"a column the metrics need is missing: {error}"))


__all__ = ["evaluate", "query_of", "render"]
