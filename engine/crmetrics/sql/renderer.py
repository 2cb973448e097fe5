"""Rendering a logical plan as one SQL statement, in the steps the Polars renderer takes.

Each metric becomes a CTE with one row per (period, group) over the whole window, like the
Polars renderer's frames, and the requested ones are stacked into the long result. The two
renderers read the same plan and the same decisions of :mod:`crmetrics.semantics`; they
differ only in the language they write. Point-in-time counts are running sums of starts
and ends per period (window functions), populations are joins of entities with the period
grid, and ``prior()`` is ``LAG`` over each group's periods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlglot import exp

from crmetrics import semantics
from crmetrics.catalog import Catalog
from crmetrics.formula.compiler import PERIOD_DAYS_COLUMN, compile_formula, prior_column
from crmetrics.formula.functions import Kind
from crmetrics.metric import MetricDefinition
from crmetrics.model import UTC_DATETIME
from crmetrics.periods import PERIOD_START
from crmetrics.plan import AggregateScan, LogicalPlan, SnapshotScan
from crmetrics.sql.dialects import double, localize
from crmetrics.sql.entities import render_entity
from crmetrics.sql.query import ROWS, Statement, alias, all_of, col, grouped, literal, table_ref
from crmetrics.sql.sources import Relation, Sources
from crmetrics.sql.tables import Tables, identifier

_DELTA, _BUCKET, _AT_START, _AT_END, _SCORE = "__delta", "__bucket", "__at_start", "__at_end", "__score"

_DTYPES: dict[Kind, pl.DataType] = {
    "number": pl.Float64(),
    "text": pl.String(),
    "boolean": pl.Boolean(),
    "datetime": UTC_DATETIME,
    "any": pl.String(),
}


@dataclass
class SqlRenderer:
    """Turns a :class:`LogicalPlan` into one SQL statement of long-format results."""

    plan: LogicalPlan
    catalog: Catalog
    tables: Tables
    dialect: str
    ordered: bool = True
    frames: dict[str, tuple[str, str]] = field(default_factory=dict)
    empty: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.statement = Statement(self.plan.request.by)
        self.sources = Sources(self.plan, self.catalog, self.tables, self.dialect, self.statement)

    @property
    def by(self) -> list[str]:
        return list(self.plan.request.by)

    @property
    def keys(self) -> list[str]:
        return [PERIOD_START, *self.by]

    def render(self) -> exp.Query:
        semantics.check_reach(self.plan, self.catalog, self.tables.columns)
        for scan in self.plan.aggregates:
            self._aggregate(scan)
        for snapshot in self.plan.snapshots:
            self._snapshot(snapshot)
        for name in self.plan.entities:
            render_entity(self, self.catalog.metrics[name])
        for name in self.plan.derived:
            self._derived(self.catalog.metrics[name])
        return localize(self._result(), self.dialect)

    def _result(self) -> exp.Query:
        request = self.plan.request
        parts = []
        for name in request.metrics:
            cte, column = self.frames[name]
            parts.append(
                exp.select(
                    alias(exp.Literal.string(name), "metric"),
                    alias(exp.cast(col(PERIOD_START), exp.DataType.build("DATE")), PERIOD_START),
                    *(col(c) for c in self.by),
                    alias(double(col(column)), "value"),
                )
                .from_(table_ref(cte, "m"))
                .where(exp.GTE(this=col(PERIOD_START), expression=self.sources.timestamp(request.start)))
            )
        stacked: exp.Query = parts[0]
        for part in parts[1:]:
            stacked = exp.union(stacked, part, distinct=False)
        result = self.statement.add("result", stacked)
        final = exp.select(exp.Star()).from_(table_ref(result, "r"))
        if self.ordered:
            final = final.order_by(
                *(exp.Ordered(this=col(c), nulls_first=True) for c in ["metric", *self.keys])
            )
        return self.statement.build(final)

    # ---- aggregate metrics ------------------------------------------------------------------

    def _aggregations(
        self, metrics: Sequence[MetricDefinition], relation: Relation, owner: str
    ) -> dict[str, exp.Expression]:
        """Each metric's aggregate over ``relation``; records their empty values too."""
        expressions, polars = {}, {}
        for metric in metrics:
            assert metric.expr is not None
            row_filter, polars_filter = None, None
            if metric.filter is not None:
                context = self.sources.context(metric.filter, owner, "row", relation.kinds)
                row_filter = self.sources.sql(context)
                polars_filter = compile_formula(
                    self.sources.context(metric.filter, owner, "row", relation.kinds)
                ).expr
            context = self.sources.context(metric.expr, owner, "aggregate", relation.kinds)
            expressions[metric.name] = self.sources.sql(context, row_filter)
            polars[metric.name] = compile_formula(
                self.sources.context(
                    metric.expr, owner, "aggregate", relation.kinds, row_filter=polars_filter
                )
            ).expr
        schema = {name: _DTYPES[kind] for name, kind in relation.kinds.items()}
        self.empty.update(semantics.aggregate_empty(schema, polars))
        return expressions

    def _aggregate(self, scan: AggregateScan) -> None:
        metrics = [self.catalog.metrics[n] for n in scan.metrics]
        table = self.sources.filtered(scan.metrics[0], scan.table)
        expressions = self._aggregations(metrics, table, scan.metrics[0])
        period = self.sources.truncate(scan.time)
        groups = [period, *(col(c) for c in self.by)]
        query = exp.select(
            alias(period.copy(), PERIOD_START),
            *(col(c) for c in self.by),
            *(alias(e, n) for n, e in expressions.items()),
            alias(exp.Count(this=exp.Star()), ROWS),
        ).from_(table_ref(table.name, "t"))
        values = self.statement.add(
            "aggregate", grouped(query.where(self.sources.in_window(scan.time)), groups)
        )
        grid = self.statement.grid(self.sources.periods(), self.sources.groups(table))
        result = self.statement.complete(grid, values, {n: self.empty[n] for n in expressions})
        for name in scan.metrics:
            self.frames[name] = (result, name)

    # ---- point-in-time counts ---------------------------------------------------------------

    def _snapshot(self, scan: SnapshotScan) -> None:
        owner = self.catalog.metrics[scan.metrics[0]]
        table = self.sources.filtered(owner.name, scan.table, [scan.from_column, scan.until_column])
        if owner.filter is not None:
            context = self.sources.context(owner.filter, owner.name, "row", table.kinds)
            query = exp.select(exp.Star()).from_(table_ref(table.name, "t")).where(self.sources.sql(context))
            table = Relation(self.statement.add("snapshot_filter", query), table.kinds)
        before = self.sources.timestamp(semantics.snapshot_before(self.plan))
        started = exp.Not(this=exp.Is(this=col(scan.from_column), expression=exp.Null()))
        ended = exp.Not(this=exp.Is(this=col(scan.until_column), expression=exp.Null()))
        by = [col(c) for c in self.by]

        def moves(column: str, delta: int, condition: exp.Expression) -> exp.Select:
            change = exp.Literal.number(delta) if delta > 0 else exp.Neg(this=exp.Literal.number(-delta))
            return (
                exp.select(*by, alias(self.sources.truncate(column), _BUCKET), alias(change, _DELTA))
                .from_(table_ref(table.name, "t"))
                .where(condition)
            )

        changes = exp.union(
            moves(scan.from_column, 1, started),
            moves(scan.until_column, -1, all_of([started, ended])),
            distinct=False,
        )
        raw = self.statement.add("snapshot_changes", changes)
        # Starts and ends before the window all count from the period before it.
        bucket = exp.Case(
            ifs=[exp.If(this=exp.GT(this=col(_BUCKET), expression=before), true=col(_BUCKET))],
            default=before.copy(),
        )
        deltas = grouped(
            exp.select(alias(bucket, PERIOD_START), *by, alias(exp.Sum(this=col(_DELTA)), _DELTA))
            .from_(table_ref(raw, "t"))
            .where(exp.LT(this=col(_BUCKET), expression=self.sources.timestamp(self.plan.request.end))),
            [bucket, *by],
        )
        deltas_name = self.statement.add("snapshot_deltas", deltas)
        grid = self.statement.grid(self.sources.snapshot_periods(), self.sources.groups(table))
        delta = exp.Coalesce(this=col(_DELTA, "d"), expressions=[exp.Literal.number(0)])
        window = exp.Window(
            this=exp.Sum(this=delta.copy()),
            partition_by=[col(c, "g") for c in self.by] or None,
            order=exp.Order(expressions=[exp.Ordered(this=col(PERIOD_START, "g"))]),
            spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"),
        )
        running = (
            exp.select(*(col(k, "g") for k in self.keys), alias(delta, _DELTA), alias(window, _AT_END))
            .from_(table_ref(grid, "g"))
            .join(table_ref(deltas_name, "d"), on=self.statement.key_match("g", "d"), join_type="LEFT")
        )
        running_name = self.statement.add("snapshot_running", running)
        counts = (
            exp.select(
                *(col(k) for k in self.keys),
                alias(exp.Sub(this=col(_AT_END), expression=col(_DELTA)), _AT_START),
                col(_AT_END),
            )
            .from_(table_ref(running_name, "r"))
            .where(exp.GT(this=col(PERIOD_START), expression=before.copy()))
        )
        result = self.statement.add("snapshot", counts)
        for name in scan.metrics:
            at = self.catalog.metrics[name].active_at
            self.frames[name] = (result, _AT_START if at == "period_start" else _AT_END)
            self.empty[name] = 0

    # ---- derived metrics --------------------------------------------------------------------

    def _derived(self, metric: MetricDefinition) -> None:
        assert metric.expr is not None
        references = sorted(self.catalog.references.get(metric.name, ()))
        priors = sorted(self.catalog.priors.get(metric.name, set()))
        # A full outer join of the inputs on the keys, written as a stack and a group-by so
        # that each input is read once: nested joins would copy every input's subquery.
        slots = [f"__input_{i}" for i in range(len(references))]
        stacked: exp.Query | None = None
        for index, name in enumerate(references):
            cte, column = self.frames[name]
            values = [
                alias(double(col(column)) if i == index else double(exp.Null()), slot)
                for i, slot in enumerate(slots)
            ]
            part = exp.select(*(col(k) for k in self.keys), *values).from_(table_ref(cte, "f"))
            stacked = part if stacked is None else exp.union(stacked, part, distinct=False)
        assert stacked is not None
        stacked_name = self.statement.add("derived_stack", stacked)
        merged = grouped(
            exp.select(*(col(k) for k in self.keys), *(alias(exp.Max(this=col(s)), s) for s in slots)).from_(
                table_ref(stacked_name, "s")
            ),
            [col(k) for k in self.keys],
        )
        merged_name = self.statement.add("derived_merged", merged)
        inputs = exp.select(*(col(k, "k") for k in self.keys)).from_(table_ref(merged_name, "k"))
        for slot, name in zip(slots, references, strict=True):
            value: exp.Expression = col(slot, "k")
            if self.empty.get(name) is not None:
                value = exp.Coalesce(this=value, expressions=[literal(self.empty[name])])
            inputs = inputs.select(alias(value, name), append=True)
        inputs = inputs.select(col(PERIOD_DAYS_COLUMN, "p"), append=True).join(
            table_ref(self.sources.periods(), "p"),
            on=self.statement.key_match("k", "p", [PERIOD_START]),
            join_type="LEFT",
        )
        inputs_name = self.statement.add("derived_inputs", inputs)
        lags = [
            alias(
                exp.Window(
                    this=exp.Anonymous(this="LAG", expressions=[col(n)]),
                    partition_by=[col(c) for c in self.by] or None,
                    order=exp.Order(expressions=[exp.Ordered(this=col(PERIOD_START))]),
                ),
                prior_column(n),
            )
            for n in priors
        ]
        with_priors = exp.select(exp.Star(), *lags).from_(table_ref(inputs_name, "i"))
        context = self.sources.context(
            metric.expr, metric.name, "derived", names=dict.fromkeys(self.catalog.metrics, "number")
        )
        expression = self.sources.sql(context)
        query = exp.select(*(col(k) for k in self.keys), alias(expression, metric.name)).from_(
            with_priors.subquery(identifier("w"))
        )
        self.frames[metric.name] = (self.statement.add("derived", query), metric.name)
        polars = compile_formula(
            self.sources.context(
                metric.expr, metric.name, "derived", names=dict.fromkeys(self.catalog.metrics, "number")
            )
        ).expr
        self.empty[metric.name] = semantics.derived_empty(polars, references, set(priors), self.empty)


def render_sql(
    plan: LogicalPlan, catalog: Catalog, tables: Tables, dialect: str, *, ordered: bool = True
) -> exp.Query:
    """The long-format result of ``plan`` as one SQL statement's tree.

    ``ordered=False`` leaves out the final ORDER BY, for callers that sort the rows
    themselves: on Spark a global sort costs an extra pass over the whole plan.
    """
    return SqlRenderer(plan, catalog, tables, dialect, ordered=ordered).render()
