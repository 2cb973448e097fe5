"""Rendering a logical plan as one Polars lazy query.

Each metric becomes a LazyFrame with one row per (period, group) over the whole window;
frames shared by several metrics are the same objects, so Polars' common-subplan
elimination computes them once. The requested metrics are concatenated into the long
result and collected in one go. No Python loop runs over rows or periods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from crmetrics import semantics
from crmetrics.catalog import Catalog, kind_of_dtype
from crmetrics.connector import Connector
from crmetrics.errors import DataError, DefinitionError, Issue, Location, UsageError
from crmetrics.formula.compiler import PERIOD_DAYS_COLUMN, Context, compile_formula, prior_column
from crmetrics.metric import Formula, MetricDefinition
from crmetrics.model import TABLES
from crmetrics.periods import PERIOD_START, days_in_period, period_grid
from crmetrics.plan import AggregateScan, LogicalPlan, SnapshotScan
from crmetrics.semantics import ENTITY_KEY

_ROWS = "__rows"
_DELTA = "__delta"
_SCORE = "__score"

TableSource = Callable[[str], pl.LazyFrame]


@dataclass
class PolarsRenderer:
    """Turns a :class:`LogicalPlan` into one LazyFrame of long-format results."""

    plan: LogicalPlan
    catalog: Catalog
    scan: TableSource
    frames: dict[str, pl.LazyFrame] = field(default_factory=dict)
    empty: dict[str, Any] = field(default_factory=dict)
    _tables: dict[str, pl.LazyFrame] = field(default_factory=dict)
    _bases: list[tuple[pl.LazyFrame, tuple[str, ...]]] = field(default_factory=list)

    @property
    def by(self) -> list[str]:
        return list(self.plan.request.by)

    @property
    def keys(self) -> list[str]:
        return [PERIOD_START, *self.by]

    def render(self) -> pl.LazyFrame:
        """The whole request as one LazyFrame (what ``explain`` shows)."""
        self.bases()
        return self.finish()

    def bases(self) -> list[pl.LazyFrame]:
        """The frames read from the tables: one per shared scan, snapshot and entity metric.

        Each holds the (period, group) rows of the metrics computed from it; everything
        after them (derived metrics, the long result) only combines these small frames.
        """
        self.check_reach()
        for scan in self.plan.aggregates:
            self._aggregate(scan)
        for snapshot in self.plan.snapshots:
            self._snapshot(snapshot)
        for name in self.plan.entities:
            self._entity(self.catalog.metrics[name])
        return [frame for frame, _ in self._bases]

    def finish(self, collected: Sequence[pl.DataFrame] | None = None) -> pl.LazyFrame:
        """Derived metrics and the long result, from :meth:`bases` or from their results.

        Given the collected bases, every later step reads them from memory. Left lazy, each
        consumer of a base would re-plan it with its own projection, and Polars' common
        subplan elimination cannot always see that the variants are one computation.
        """
        if collected is not None:
            for (_, names), frame in zip(self._bases, collected, strict=True):
                for name in names:
                    self.frames[name] = frame.lazy().select(*self.keys, name)
        for name in self.plan.derived:
            self._derived(self.catalog.metrics[name])
            if collected is not None:
                # Each derived metric is a few rows per period; computing it now keeps the
                # plans of the metrics that reuse it small. Left lazy, a metric that reads
                # two others which both read the same one copies that plan twice, and a
                # diamond of 16 levels plans 65,536 copies (38 s, 1.8 GB).
                self.frames[name] = self.frames[name].collect().lazy()
        request = self.plan.request
        parts = [
            self.frames[name].select(
                pl.lit(name).alias("metric"),
                pl.col(PERIOD_START).dt.date(),
                *self.by,
                pl.col(name).cast(pl.Float64).fill_nan(None).alias("value"),
            )
            for name in request.metrics
        ]
        result = pl.concat(parts, how="vertical") if parts else pl.LazyFrame()
        result = result.filter(pl.col(PERIOD_START) >= request.start.date())
        return result.sort(["metric", PERIOD_START, *self.by], maintain_order=True)

    def _base(self, frame: pl.LazyFrame, names: Sequence[str]) -> None:
        self._bases.append((frame.select(*self.keys, *names), tuple(names)))
        for name in names:
            self.frames[name] = frame.select(*self.keys, name)

    # ---- tables, grouping and filters -----------------------------------------------

    def table(self, name: str) -> pl.LazyFrame:
        if name not in self._tables:
            self._tables[name] = self.scan(name)
        return self._tables[name]

    def column_names(self, table: str) -> list[str]:
        return list(self.table(table).collect_schema())

    def check_reach(self) -> None:
        """Every requested metric can reach the grouping and filter columns, or a clear error."""
        semantics.check_reach(self.plan, self.catalog, self.column_names)

    def reach(self, table: str, columns: Sequence[str]) -> pl.LazyFrame:
        """``table`` with ``columns`` available, joining ``customers`` where needed."""
        frame = self.table(table)
        schema = frame.collect_schema()
        missing = [c for c in dict.fromkeys(columns) if c not in schema]
        if not missing:
            return frame
        attributes = self.table("customers").select(ENTITY_KEY, *missing)
        return frame.join(attributes, on=ENTITY_KEY, how="left", validate="m:1")

    def where_columns(self) -> list[str]:
        return semantics.where_columns(self.plan.request.where)

    def filtered(self, metric: str, table: str, extra: Sequence[str] = ()) -> pl.LazyFrame:
        """``table`` reaching the grouping and --where columns, with --where applied."""
        frame = self.reach(table, [*self.by, *self.where_columns(), *extra])
        where = self.plan.request.where
        if where:
            context = self._context(Formula(where, Location("--where")), metric, "row", frame)
            try:
                condition = compile_formula(context)
            except DefinitionError as error:
                raise UsageError(error.issues) from None
            frame = frame.filter(condition.expr.fill_null(False))
        return frame

    def _context(
        self, formula: Formula, metric: str, scope: str, frame: pl.LazyFrame | None = None, **kw: Any
    ) -> Context:
        columns = (
            {n: kind_of_dtype(t) for n, t in frame.collect_schema().items()} if frame is not None else {}
        )
        return Context(
            formula=formula,
            scope=scope,
            subject=metric,  # type: ignore[arg-type]
            functions=self.catalog.functions,
            columns=columns,
            params=self.plan.params.get(metric, {}),
            **kw,
        )

    def in_window(self, frame: pl.LazyFrame, time: str) -> pl.LazyFrame:
        request = self.plan.request
        return frame.filter((pl.col(time) >= self.plan.window_start) & (pl.col(time) < request.end))

    def periods(self) -> pl.LazyFrame:
        return period_grid(self.plan.window_start, self.plan.request.end, self.plan.request.grain)

    def truncate(self, column: str) -> pl.Expr:
        return pl.col(column).dt.truncate(self.plan.request.grain.every)

    def groups(self, table: pl.LazyFrame) -> pl.LazyFrame | None:
        """The group values of a metric: every value its (filtered) table holds, at any time."""
        return table.select(self.by).unique() if self.by else None

    def table_groups(self, table: str, filtered: pl.LazyFrame) -> pl.LazyFrame | None:
        """The group values of ``table``'s rows (``filtered`` is the table after --where)."""
        if not self.by:
            return None
        frame = self.table(table)
        schema = frame.collect_schema()
        joined = [c for c in self.by if c not in schema]
        if not joined or self.plan.request.where:
            return self.groups(filtered)
        # A customer brings the same attributes to each of its rows: joining its distinct
        # keys gives the same values as joining every row, with a far smaller join.
        keys = frame.select(ENTITY_KEY, *(c for c in self.by if c in schema)).unique()
        attributes = self.table("customers").select(ENTITY_KEY, *joined)
        return keys.join(attributes, on=ENTITY_KEY, how="left").select(self.by).unique()

    def grid(self, groups: pl.LazyFrame | None) -> pl.LazyFrame:
        """Every period of the window for every group."""
        if not self.by or groups is None:
            return self.periods()
        return self.periods().join(groups, how="cross")

    def complete(self, grid: pl.LazyFrame, values: pl.LazyFrame, names: Sequence[str]) -> pl.LazyFrame:
        """``values`` on the full grid; a (period, group) without rows gets each metric's empty value."""
        joined = grid.join(values, on=self.keys, how="left", nulls_equal=True)
        return joined.with_columns(
            pl.when(pl.col(_ROWS).is_null()).then(pl.lit(self.empty[n])).otherwise(pl.col(n)).alias(n)
            for n in names
        )

    def row_filter(
        self, metric: MetricDefinition, formula: Formula | None, frame: pl.LazyFrame
    ) -> pl.Expr | None:
        if formula is None:
            return None
        return compile_formula(self._context(formula, metric.name, "row", frame)).expr

    # ---- aggregate metrics --------------------------------------------------------------

    def _aggregations(
        self, metrics: Sequence[MetricDefinition], frame: pl.LazyFrame, owner: str
    ) -> dict[str, pl.Expr]:
        expressions = {}
        for metric in metrics:
            assert metric.expr is not None
            context = self._context(
                metric.expr,
                owner,
                "aggregate",
                frame,
                row_filter=self.row_filter(metric, metric.filter, frame),
            )
            expressions[metric.name] = compile_formula(context).expr.alias(metric.name)
        self.empty.update(semantics.aggregate_empty(frame.collect_schema(), expressions))
        return expressions

    def _aggregate(self, scan: AggregateScan) -> None:
        metrics = [self.catalog.metrics[n] for n in scan.metrics]
        table = self.filtered(scan.metrics[0], scan.table)
        frame = self.in_window(table, scan.time)
        expressions = self._aggregations(metrics, frame, scan.metrics[0])
        grouped = frame.group_by(self.truncate(scan.time).alias(PERIOD_START), *self.by).agg(
            *expressions.values(), pl.len().alias(_ROWS)
        )
        groups = self.table_groups(scan.table, table)
        self._base(self.complete(self.grid(groups), grouped, list(expressions)), scan.metrics)

    # ---- point-in-time counts -----------------------------------------------------------

    def _snapshot(self, scan: SnapshotScan) -> None:
        owner = self.catalog.metrics[scan.metrics[0]]
        request = self.plan.request
        frame = self.filtered(owner.name, scan.table, [scan.from_column, scan.until_column])
        condition = self.row_filter(owner, owner.filter, frame)
        if condition is not None:
            frame = frame.filter(condition.fill_null(False))
        # Active at t when from < t and (until is null or until >= t). Since every t is a
        # period start, from < t exactly when truncate(from) < t: counting starts and ends
        # per period and summing them up gives every period's count without a loop.
        before = semantics.snapshot_before(self.plan)
        bucket = pl.max_horizontal(pl.col("__bucket"), pl.lit(before))
        starts = frame.filter(pl.col(scan.from_column).is_not_null()).select(
            *self.by, self.truncate(scan.from_column).alias("__bucket"), pl.lit(1).alias(_DELTA)
        )
        ends = frame.filter(
            pl.col(scan.from_column).is_not_null() & pl.col(scan.until_column).is_not_null()
        ).select(*self.by, self.truncate(scan.until_column).alias("__bucket"), pl.lit(-1).alias(_DELTA))
        deltas = (
            pl.concat([starts, ends])
            .filter(pl.col("__bucket") < request.end)
            .group_by(bucket.alias(PERIOD_START), *self.by)
            .agg(pl.col(_DELTA).sum())
        )
        groups = self.groups(frame)
        periods = pl.concat(
            [
                pl.LazyFrame({PERIOD_START: [before]}).cast({PERIOD_START: pl.Datetime("us", "UTC")}),
                self.periods(),
            ]
        )
        grid = periods.join(groups, how="cross") if groups is not None else periods
        running = (
            grid.join(deltas, on=self.keys, how="left", nulls_equal=True)
            .with_columns(pl.col(_DELTA).fill_null(0))
            .sort([*self.by, PERIOD_START], nulls_last=False)
            .with_columns(
                pl.col(_DELTA).cum_sum().over(self.by).alias("__at_end")
                if self.by
                else pl.col(_DELTA).cum_sum().alias("__at_end")
            )
            .with_columns((pl.col("__at_end") - pl.col(_DELTA)).alias("__at_start"))
            .filter(pl.col(PERIOD_START) > before)
        )
        counts = []
        for name in scan.metrics:
            at = self.catalog.metrics[name].active_at
            counts.append(pl.col("__at_start" if at == "period_start" else "__at_end").alias(name))
            self.empty[name] = 0
        self._base(running.select(*self.keys, *counts), scan.metrics)

    # ---- per-entity scores rolled up ----------------------------------------------------

    def _membership(self, metric: MetricDefinition) -> tuple[pl.Expr, pl.Expr]:
        """The first period an entity belongs to the population and the first it no longer does."""
        request = self.plan.request
        step = request.grain.every
        acquired = self.truncate("acquired_at")
        churned = pl.coalesce(self.truncate("churned_at"), pl.lit(request.end))
        if semantics.population_lag(metric):
            acquired, churned = acquired.dt.offset_by(step), churned.dt.offset_by(step)
        return acquired, churned

    def _population(self, metric: MetricDefinition) -> pl.LazyFrame:
        request = self.plan.request
        customers = self.filtered(metric.name, "customers", ["acquired_at", "churned_at"])
        step = request.grain.every
        acquired, churned = self._membership(metric)
        low = pl.max_horizontal(acquired, pl.lit(self.plan.window_start))
        high = pl.min_horizontal(churned, pl.lit(request.end))
        return (
            customers.select(
                ENTITY_KEY,
                *[c for c in self.by if c != ENTITY_KEY],
                pl.datetime_ranges(low, high, step, closed="left").alias(PERIOD_START),
            )
            .explode(PERIOD_START)
            .filter(pl.col(PERIOD_START).is_not_null())
        )

    def _measure_values(
        self, metric: MetricDefinition, entities_only: bool = False
    ) -> list[tuple[pl.LazyFrame, str, Any]]:
        """Each measure per (entity, period) in the window, with its value for no rows."""
        values = []
        for measure in metric.measures.values():
            frame = self.in_window(self.table(measure.table), measure.time)
            if entities_only:
                frame = frame.filter(pl.col(ENTITY_KEY).is_not_null())
            measure_metric = MetricDefinition(
                name=measure.name,
                type="aggregate",
                origin=metric.origin,
                location=metric.location,
                expr=measure.expr,
                filter=measure.filter,
            )
            expression = self._aggregations([measure_metric], frame, metric.name)[measure.name]
            per_entity = frame.group_by(ENTITY_KEY, self.truncate(measure.time).alias(PERIOD_START)).agg(
                expression
            )
            values.append((per_entity, measure.name, self.empty.pop(measure.name)))
        return values

    def _score(self, metric: MetricDefinition, names: Sequence[str]) -> pl.Expr:
        assert metric.expr is not None
        context = self._context(metric.expr, metric.name, "entity", names=dict.fromkeys(names, "number"))
        return compile_formula(context).expr

    def _entity(self, metric: MetricDefinition) -> None:
        if ENTITY_KEY not in self.by and metric.rollup in ("avg", "sum", "min", "max"):
            self._entity_rolled_up(metric)
            return
        scored = self._population(metric)
        names = {}
        for values, name, empty in self._measure_values(metric):
            scored = scored.join(values, on=[ENTITY_KEY, PERIOD_START], how="left")
            names[name] = empty
        scored = scored.with_columns(
            pl.col(n).fill_null(pl.lit(v)) if v is not None else pl.col(n) for n, v in names.items()
        )
        assert metric.expr is not None
        context = self._context(metric.expr, metric.name, "entity", names=dict.fromkeys(names, "number"))
        scored = scored.with_columns(compile_formula(context).expr.alias(_SCORE))
        rollup = semantics.ROLLUPS[metric.rollup]
        rolled = scored.group_by(self.keys).agg(
            getattr(pl.col(_SCORE), rollup)().alias(metric.name), pl.len().alias(_ROWS)
        )
        self.empty[metric.name] = semantics.rollup_empty(metric.rollup)
        if ENTITY_KEY in self.by:
            # One row per entity in the population: an entity outside it has no score.
            self._base(rolled, [metric.name])
            return
        groups = self.groups(self.filtered(metric.name, "customers"))
        self._base(self.complete(self.grid(groups), rolled, [metric.name]), [metric.name])

    def _entity_rolled_up(self, metric: MetricDefinition) -> None:
        """An entity metric rolled up by avg, sum, min or max, without listing the population.

        An entity without rows in any measure in a period has every measure at its empty
        value, so they all score the same: the score of the empty measures. Only entities
        with rows are scored one by one; the others enter the rollup as a count of that
        one score. The population's size per period comes from running sums of entries
        and exits, as for point-in-time counts, so no (entity, period) list is built.
        """
        request = self.plan.request
        measures = self._measure_values(metric, entities_only=True)
        empties = {name: empty for _, name, empty in measures}
        score = self._score(metric, list(empties))
        quiet_score = (
            pl.DataFrame({n: [v] for n, v in empties.items()}, schema=dict.fromkeys(empties, pl.Float64))
            .select(score.cast(pl.Float64))
            .item()
        )
        quiet = None if quiet_score is None or quiet_score != quiet_score else float(quiet_score)
        measured: pl.LazyFrame | None = None
        for values, _, _ in measures:
            measured = (
                values
                if measured is None
                else measured.join(values, on=[ENTITY_KEY, PERIOD_START], how="full", coalesce=True)
            )
        assert measured is not None
        customers = self.filtered(metric.name, "customers", ["acquired_at", "churned_at"])
        by = [c for c in self.by if c != ENTITY_KEY]
        entered, left = self._membership(metric)
        members = customers.select(ENTITY_KEY, *by, entered.alias("__from"), left.alias("__until"))
        scored = (
            measured.join(members, on=ENTITY_KEY, how="inner")
            .filter((pl.col("__from") <= pl.col(PERIOD_START)) & (pl.col(PERIOD_START) < pl.col("__until")))
            .with_columns(pl.col(n).fill_null(pl.lit(v)) for n, v in empties.items() if v is not None)
            .with_columns(score.cast(pl.Float64).fill_nan(None).alias(_SCORE))
            .group_by(self.keys)
            .agg(
                pl.col(_SCORE).sum().alias("__sum"),
                pl.col(_SCORE).min().alias("__min"),
                pl.col(_SCORE).max().alias("__max"),
                pl.col(_SCORE).count().alias("__scored"),
                pl.len().alias("__active"),
            )
        )
        start = pl.lit(self.plan.window_start)
        moves = (
            pl.concat(
                [
                    members.select(*by, pl.max_horizontal("__from", start).alias(PERIOD_START), pl.lit(1)),
                    members.select(*by, pl.max_horizontal("__until", start).alias(PERIOD_START), pl.lit(-1)),
                ]
            )
            .rename({"literal": _DELTA})
            .filter(pl.col(PERIOD_START) < request.end)
            .group_by(self.keys)
            .agg(pl.col(_DELTA).sum())
        )
        groups = self.groups(self.filtered(metric.name, "customers"))
        sizes = (
            self.grid(groups)
            .join(moves, on=self.keys, how="left", nulls_equal=True)
            .with_columns(pl.col(_DELTA).fill_null(0))
            .sort([*by, PERIOD_START], nulls_last=False)
            .with_columns(
                (pl.col(_DELTA).cum_sum().over(by) if by else pl.col(_DELTA).cum_sum()).alias("__members")
            )
            .join(scored, on=self.keys, how="left", nulls_equal=True)
        )
        quiet_count = (
            (pl.col("__members") - pl.col("__active").fill_null(0)) if quiet is not None else pl.lit(0)
        )
        total = pl.col("__sum").fill_null(0.0) + quiet_count * (quiet or 0.0)
        counted = pl.col("__scored").fill_null(0) + quiet_count
        quiet_value = pl.when(quiet_count > 0).then(pl.lit(quiet, dtype=pl.Float64))
        value = {
            "avg": pl.when(counted > 0).then(total / counted),
            "sum": total,
            "min": pl.min_horizontal(pl.col("__min"), quiet_value),
            "max": pl.max_horizontal(pl.col("__max"), quiet_value),
        }[metric.rollup]
        empty = semantics.rollup_empty(metric.rollup)
        self.empty[metric.name] = empty
        self._base(
            sizes.select(
                *self.keys,
                pl.when(pl.col("__members") > 0).then(value).otherwise(pl.lit(empty)).alias(metric.name),
            ),
            [metric.name],
        )

    # ---- derived metrics ----------------------------------------------------------------

    def _derived(self, metric: MetricDefinition) -> None:
        assert metric.expr is not None
        references = sorted(self.catalog.references.get(metric.name, ()))
        priors = self.catalog.priors.get(metric.name, set())
        frame: pl.LazyFrame | None = None
        for name in references:
            part = self.frames[name]
            frame = (
                part
                if frame is None
                else frame.join(part, on=self.keys, how="full", coalesce=True, nulls_equal=True)
            )
        assert frame is not None
        frame = frame.with_columns(
            pl.col(n).fill_null(pl.lit(self.empty[n])) for n in references if self.empty.get(n) is not None
        ).with_columns(days_in_period(PERIOD_START, self.plan.request.grain).alias(PERIOD_DAYS_COLUMN))
        if priors:
            frame = frame.sort([*self.by, PERIOD_START], nulls_last=False).with_columns(
                (pl.col(n).shift(1).over(self.by) if self.by else pl.col(n).shift(1)).alias(prior_column(n))
                for n in priors
            )
        context = self._context(
            metric.expr, metric.name, "derived", names=dict.fromkeys(self.catalog.metrics, "number")
        )
        expression = compile_formula(context).expr
        self.frames[metric.name] = frame.select(*self.keys, expression.alias(metric.name))
        self.empty[metric.name] = self._empty_derived(expression, references, priors)

    def _empty_derived(self, expression: pl.Expr, references: Sequence[str], priors: set[str]) -> Any:
        return semantics.derived_empty(expression, references, priors, self.empty)


def evaluate(
    plan: LogicalPlan,
    catalog: Catalog,
    connector: Connector,
    *,
    streaming: bool = False,
    trust: bool = False,
) -> pl.DataFrame:
    """Collect ``plan`` on ``connector``'s tables, then the data-quality checks of those tables.

    The frames read from the tables are collected together in one ``collect_all``; each
    is computed once, and every derived metric reads it from memory. The checks of lazily
    scanned tables follow, one table at a time:
    run alongside the query they would add their hash tables to its peak memory for no
    gain in time on a few cores. When they are clean the query's result stands; when a
    table breaks a rule, it is read again the eager way (which raises naming the rows, or
    drops them with a warning) and the query runs once more.

    ``streaming`` runs both on Polars' streaming engine, which processes the tables in
    batches instead of holding them in memory. ``trust`` skips the row checks of tables
    already in canonical types (see ``Connector.deferred_checks``).
    """
    engine = "streaming" if streaming else "auto"
    with connector.deferred_checks(trust=trust):
        # Every retry turns at least one lazy table eager for good, so this ends.
        for _ in range(len(TABLES) + 1):
            renderer = PolarsRenderer(plan, catalog, connector.scan)
            try:
                bases = renderer.bases()
            except pl.exceptions.ColumnNotFoundError as error:
                raise _missing_column(error) from None
            frames = pl.collect_all(bases, engine=engine, optimizations=_NO_SHARED_SCANS)  # type: ignore[arg-type]
            if not connector.settle(connector.run_checks(engine)):
                return renderer.finish(frames).collect()
    raise AssertionError("unreachable: every table is eager after the retries")


# Polars' common-subplan elimination would merge a table's windowed scan with its
# whole-table scan for group values into one cached read: the cache holds every row of
# the table in memory and the window can no longer be pushed into the scan (measured at
# 10M rows, grouped: 2.8 GB and 21 s with it, 1.7 GB and 19 s without). What several
# metrics share is shared explicitly instead: each base frame is collected once.
_NO_SHARED_SCANS = pl.QueryOptFlags(comm_subplan_elim=False)


def _missing_column(error: Exception) -> DataError:
    return DataError(Issue("missing-column", f"a column the metrics need is missing: {error}"))


def render(plan: LogicalPlan, catalog: Catalog, scan: TableSource) -> pl.LazyFrame:
    """The long-format result of ``plan`` as one LazyFrame."""
    try:
        return PolarsRenderer(plan, catalog, scan).render()
    except pl.exceptions.ColumnNotFoundError as error:
        raise _missing_column(error) from None


_ = Mapping
