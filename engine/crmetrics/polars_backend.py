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
import sqlglot
from sqlglot import exp

from crmetrics.catalog import Catalog, kind_of_dtype
from crmetrics.errors import DataError, DefinitionError, Issue, Location, UsageError, did_you_mean
from crmetrics.formula.compiler import PERIOD_DAYS_COLUMN, Context, compile_formula, prior_column
from crmetrics.formula.parse import describe_parse_error
from crmetrics.metric import Formula, MetricDefinition
from crmetrics.periods import PERIOD_START, days_in_period, period_grid
from crmetrics.plan import AggregateScan, LogicalPlan, SnapshotScan

_ROWS = "__rows"
_DELTA = "__delta"
_SCORE = "__score"
ENTITY_KEY = "customer_id"

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

    @property
    def by(self) -> list[str]:
        return list(self.plan.request.by)

    @property
    def keys(self) -> list[str]:
        return [PERIOD_START, *self.by]

    def render(self) -> pl.LazyFrame:
        self.check_reach()
        for scan in self.plan.aggregates:
            self._aggregate(scan)
        for snapshot in self.plan.snapshots:
            self._snapshot(snapshot)
        for name in self.plan.entities:
            self._entity(self.catalog.metrics[name])
        for name in self.plan.derived:
            self._derived(self.catalog.metrics[name])
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

    # ---- tables, grouping and filters -----------------------------------------------

    def table(self, name: str) -> pl.LazyFrame:
        if name not in self._tables:
            self._tables[name] = self.scan(name)
        return self._tables[name]

    def unreachable(self, table: str, columns: Sequence[str]) -> str | None:
        """The first of ``columns`` that ``table`` cannot reach, directly or through customers."""
        schema = self.table(table).collect_schema()
        missing = [c for c in dict.fromkeys(columns) if c not in schema]
        if missing and ENTITY_KEY in schema and table != "customers":
            customers = self.table("customers").collect_schema()
            missing = [c for c in missing if c not in customers]
        return missing[0] if missing else None

    def check_reach(self) -> None:
        """Every requested metric can reach the grouping and filter columns, or a clear error."""
        columns = [*self.by, *self.where_columns()]
        if not columns:
            return
        for requested in self.plan.request.metrics:
            for name in self.catalog.closure([requested]):
                for table in _tables_of(self.catalog.metrics[name]):
                    column = self.unreachable(table, columns)
                    if column is None:
                        continue
                    schema = list(self.table(table).collect_schema())
                    via = "" if ENTITY_KEY in schema else " and no customer_id to reach customers"
                    through = "" if name == requested else f" through {name!r}"
                    joins = not via and table != "customers"
                    reachable = [*schema, *(self.table("customers").collect_schema() if joins else ())]
                    close = did_you_mean(column, reachable)
                    raise UsageError(
                        Issue(
                            "unreachable-column",
                            f"metric {requested!r} cannot be grouped or filtered by {column!r}: it reads "
                            f"table {table!r}{through}, which has no column {column!r}{via}",
                            subject=requested,
                            hint=(f"{close} " if close.startswith("did") else "")
                            + f"use a column of {table} ({', '.join(schema)})"
                            + (" or of customers" if joins else "")
                            + f", or request {requested} without --by/--where on {column!r}",
                        )
                    )

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
        where = self.plan.request.where
        if not where:
            return []
        try:
            tree = sqlglot.parse_one(where)
        except sqlglot.errors.ParseError as error:
            raise UsageError(
                Issue(
                    "bad-where",
                    f"cannot parse --where {where!r}: {describe_parse_error(error.errors[0]['description'])}",
                    hint="write a SQL condition, e.g. segment = 'SMB'",
                )
            ) from None
        return sorted({c.name for c in tree.find_all(exp.Column)})

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
        empty = pl.DataFrame(schema=frame.collect_schema()).select(*expressions.values())
        self.empty.update(empty.row(0, named=True))
        return expressions

    def _aggregate(self, scan: AggregateScan) -> None:
        metrics = [self.catalog.metrics[n] for n in scan.metrics]
        table = self.filtered(scan.metrics[0], scan.table)
        frame = self.in_window(table, scan.time)
        expressions = self._aggregations(metrics, frame, scan.metrics[0])
        grouped = frame.group_by(self.truncate(scan.time).alias(PERIOD_START), *self.by).agg(
            *expressions.values(), pl.len().alias(_ROWS)
        )
        groups = self.groups(table)
        result = self.complete(self.grid(groups), grouped, list(expressions))
        for name in scan.metrics:
            self.frames[name] = result.select(*self.keys, name)

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
        before = request.grain.shift(self.plan.window_start, -1)
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
        for name in scan.metrics:
            at = self.catalog.metrics[name].active_at
            column = "__at_start" if at == "period_start" else "__at_end"
            self.frames[name] = running.select(*self.keys, pl.col(column).alias(name))
            self.empty[name] = 0

    # ---- per-entity scores rolled up ----------------------------------------------------

    def _population(self, metric: MetricDefinition) -> pl.LazyFrame:
        request = self.plan.request
        customers = self.filtered(metric.name, "customers", ["acquired_at", "churned_at"])
        step = request.grain.every
        acquired = self.truncate("acquired_at")
        churned = pl.coalesce(self.truncate("churned_at"), pl.lit(request.end))
        if metric.population == "active_at_start":
            acquired, churned = acquired.dt.offset_by(step), churned.dt.offset_by(step)
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

    def _entity(self, metric: MetricDefinition) -> None:
        scored = self._population(metric)
        names = {}
        for measure in metric.measures.values():
            frame = self.in_window(self.table(measure.table), measure.time)
            measure_metric = MetricDefinition(
                name=measure.name,
                type="aggregate",
                origin=metric.origin,
                location=metric.location,
                expr=measure.expr,
                filter=measure.filter,
            )
            expression = self._aggregations([measure_metric], frame, metric.name)[measure.name]
            values = frame.group_by(ENTITY_KEY, self.truncate(measure.time).alias(PERIOD_START)).agg(
                expression
            )
            scored = scored.join(values, on=[ENTITY_KEY, PERIOD_START], how="left")
            names[measure.name] = self.empty.pop(measure.name)
        scored = scored.with_columns(
            pl.col(n).fill_null(pl.lit(v)) if v is not None else pl.col(n) for n, v in names.items()
        )
        assert metric.expr is not None
        context = self._context(metric.expr, metric.name, "entity", names=dict.fromkeys(names, "number"))
        scored = scored.with_columns(compile_formula(context).expr.alias(_SCORE))
        rollup = {"avg": "mean"}.get(metric.rollup, metric.rollup)
        rolled = scored.group_by(self.keys).agg(
            getattr(pl.col(_SCORE), rollup)().alias(metric.name), pl.len().alias(_ROWS)
        )
        self.empty[metric.name] = 0.0 if metric.rollup == "sum" else None
        if ENTITY_KEY in self.by:
            # One row per entity in the population: an entity outside it has no score.
            self.frames[metric.name] = rolled.select(*self.keys, metric.name)
            return
        groups = self.groups(self.filtered(metric.name, "customers"))
        self.frames[metric.name] = self.complete(self.grid(groups), rolled, [metric.name]).select(
            *self.keys, metric.name
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
        row = {n: [self.empty.get(n)] for n in references}
        row |= {prior_column(n): [self.empty.get(n)] for n in priors}
        row[PERIOD_DAYS_COLUMN] = [30.0]
        schema = {k: pl.Float64 for k in row}
        return pl.DataFrame(row, schema=schema).select(expression).item()


def _tables_of(metric: MetricDefinition) -> list[str]:
    if metric.type == "entity":
        return ["customers"]
    return [metric.table] if metric.table else []


def render(plan: LogicalPlan, catalog: Catalog, scan: TableSource) -> pl.LazyFrame:
    """The long-format result of ``plan`` as one LazyFrame."""
    try:
        return PolarsRenderer(plan, catalog, scan).render()
    except pl.exceptions.ColumnNotFoundError as error:
        raise DataError(Issue("missing-column", f"a column the metrics need is missing: {error}")) from None


_ = Mapping
