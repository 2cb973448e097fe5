"""Building a request's relational IR from its logical plan, once, for every backend.

Every decision about what a run means is taken here: which columns a table reaches, which
rows a ``--where`` keeps, which rows are in the window (the requested range plus the
periods ``prior`` looks back to), which groups a metric has (every value its table holds,
at any time), what each metric is where nothing happened, and which periods an entity
belongs to. The backends then only translate the nodes.

Two rewrites make the IR cheaper without changing a number: the groups of a table that
takes grouping columns from ``customers`` are found from its distinct customers, not from
every row joined; and a table, its reach and its ``--where`` are one node however many
metrics read them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crmetrics.catalog import Catalog
from crmetrics.errors import DefinitionError, Location, UsageError
from crmetrics.formula.check import check_formula
from crmetrics.formula.empty import empty_value
from crmetrics.formula.typed import Checked, Kind, Scope
from crmetrics.ir.nodes import (
    AT_END,
    AT_START,
    CUSTOMERS,
    ENTITY_KEY,
    Aggregate,
    Aggregation,
    Combine,
    Complete,
    Distinct,
    EntityMeasure,
    EntityRollup,
    Filter,
    Grid,
    Lag,
    Output,
    Periods,
    PointInTime,
    Population,
    Project,
    Query,
    Reach,
    Relation,
    Result,
    Scan,
    TimeRange,
)
from crmetrics.ir.reach import check_reach, from_customers, where_columns
from crmetrics.metric import Formula, MetricDefinition
from crmetrics.plan import AggregateScan, LogicalPlan, SnapshotScan

#: The columns of a table as the source holds them, with their kinds.
KindsOf = Callable[[str], Mapping[str, Kind]]


def rollup_empty(rollup: str) -> float | None:
    """A rollup over no entities: a sum of nothing is 0, anything else is undefined."""
    return 0.0 if rollup == "sum" else None


def population_lag(metric: MetricDefinition) -> int:
    """Periods between the period holding an entity's acquisition and its first active one.

    ``active_at_end``: a customer acquired in a period is active at its end, and one lost in
    a period is not. ``active_at_start``: both move one period later.
    """
    return 1 if metric.population == "active_at_start" else 0


class Builder:
    """Builds the IR of one plan; ``kinds_of`` tells the columns of the source's tables."""

    def __init__(self, plan: LogicalPlan, catalog: Catalog, kinds_of: KindsOf) -> None:
        self.plan = plan
        self.catalog = catalog
        self.kinds_of = kinds_of
        self.by = tuple(plan.request.by)
        self.grain = plan.request.grain
        self.outputs: dict[str, Output] = {}
        self.empty: dict[str, Any] = {}
        self.bases: list[Relation] = []
        self._kinds: dict[int, dict[str, Kind]] = {}
        self._scans: dict[str, Scan] = {}
        self._filtered: dict[tuple[str, tuple[str, ...]], Relation] = {}
        self._grids: dict[int, Grid] = {}
        self._groups: dict[int, Distinct] = {}
        self._periods = Periods(plan.window_start, plan.request.end, self.grain)

    # ---- the whole query --------------------------------------------------------------------

    def build(self) -> Query:
        """The IR of the plan; a request that cannot run raises :class:`UsageError`."""
        request = self.plan.request
        columns = [*self.by, *where_columns(request.where)]
        check_reach(request.metrics, self.catalog, columns, self.columns_of)
        for scan in self.plan.aggregates:
            self.aggregate(scan)
        for snapshot in self.plan.snapshots:
            self.snapshot(snapshot)
        for name in self.plan.entities:
            self.entity(self.catalog.metrics[name])
        for name in self.plan.derived:
            self.derived(self.catalog.metrics[name])
        result = Result(tuple(self.outputs[m] for m in request.metrics), request.start, self.by)
        return Query(result, tuple(self.bases), tuple(self._scans), self.by, self.grain, self.plan.params)

    def columns_of(self, table: str) -> list[str]:
        """The columns the source's ``table`` holds."""
        return list(self.kinds_of(table))

    # ---- relations shared by metrics -------------------------------------------------------

    def kinds(self, relation: Relation) -> dict[str, Kind]:
        """The columns of ``relation`` and their kinds."""
        return self._kinds[id(relation)]

    def _keep(self, relation: Relation, kinds: dict[str, Kind]) -> Relation:
        self._kinds[id(relation)] = kinds
        return relation

    def scan(self, table: str) -> Scan:
        """The one scan of ``table``."""
        if table not in self._scans:
            self._scans[table] = Scan(table)
            self._kinds[id(self._scans[table])] = dict(self.kinds_of(table))
        return self._scans[table]

    def filtered(self, metric: str, table: str, extra: Sequence[str] = ()) -> Relation:
        """``table`` reaching the grouping and ``--where`` columns, with ``--where`` applied."""
        where = self.plan.request.where
        wanted = tuple(dict.fromkeys([*self.by, *where_columns(where), *extra]))
        key = (table, wanted)
        if key in self._filtered:
            return self._filtered[key]
        base: Relation = self.scan(table)
        missing = from_customers(table, wanted, self.columns_of)
        if missing:
            customers = self.scan(CUSTOMERS)
            kinds = {**self.kinds(base), **{c: self.kinds(customers).get(c, "any") for c in missing}}
            base = self._keep(Reach(base, customers, tuple(missing)), kinds)
        if where:
            formula = Formula(where, Location("--where"))
            try:
                condition = self.check(formula, "row", metric, columns=self.kinds(base))
            except DefinitionError as error:
                raise UsageError(error.issues) from None
            base = self._keep(Filter(base, condition, formula, metric), self.kinds(base))
        self._filtered[key] = base
        return base

    def in_window(self, relation: Relation, time: str) -> Relation:
        """The rows of ``relation`` whose ``time`` lies in the window (the range and its look-back)."""
        window = TimeRange(relation, time, self.plan.window_start, self.plan.request.end)
        return self._keep(window, self.kinds(relation))

    def groups(self, relation: Relation) -> Relation | None:
        """The group values of a metric: every value its (filtered) table holds, at any time."""
        if not self.by:
            return None
        if id(relation) not in self._groups:
            self._groups[id(relation)] = Distinct(relation, self.by)
        return self._groups[id(relation)]

    def table_groups(self, table: str, filtered: Relation) -> Relation | None:
        """The group values of ``table``'s rows (``filtered`` is the table after ``--where``)."""
        if not self.by:
            return None
        own = self.columns_of(table)
        joined = tuple(c for c in self.by if c not in own)
        if not joined or self.plan.request.where:
            return self.groups(filtered)
        # A customer brings the same attributes to each of its rows: joining its distinct
        # keys gives the same values as joining every row, with a far smaller join.
        keys = Distinct(self.scan(table), (ENTITY_KEY, *(c for c in self.by if c in own)))
        return self.groups(Reach(keys, self.scan(CUSTOMERS), joined))

    def grid(self, groups: Relation | None) -> Relation:
        """Every period of the window for every group."""
        if groups is None:
            return self._periods
        if id(groups) not in self._grids:
            self._grids[id(groups)] = Grid(self._periods, groups)
        return self._grids[id(groups)]

    def check(
        self,
        formula: Formula,
        scope: Scope,
        metric: str,
        *,
        columns: Mapping[str, Kind] | None = None,
        names: Mapping[str, Kind] | None = None,
    ) -> Checked:
        """``formula`` checked in ``scope`` for ``metric``, with the metric's parameters in effect."""
        params = self.plan.params.get(metric, {})
        return check_formula(
            formula, scope, metric, self.catalog.functions, columns=columns, names=names, params=params
        )

    def aggregation(
        self, name: str, metric: str, expr: Formula, row_filter: Formula | None, kinds: Mapping[str, Kind]
    ) -> Aggregation:
        """An aggregate of ``metric`` and its row filter, checked against ``kinds``."""
        value = self.check(expr, "aggregate", metric, columns=kinds)
        condition = self.check(row_filter, "row", metric, columns=kinds) if row_filter else None
        return Aggregation(name, value, expr, condition, row_filter, metric)

    # ---- metrics ----------------------------------------------------------------------------

    def aggregate(self, scan: AggregateScan) -> None:
        """Aggregate metrics sharing a table: one group-by, completed on every group's periods."""
        table = self.filtered(scan.metrics[0], scan.table)
        frame = self.in_window(table, scan.time)
        aggregations = []
        for name in scan.metrics:
            metric = self.catalog.metrics[name]
            assert metric.expr is not None
            aggregations.append(self.aggregation(name, name, metric.expr, metric.filter, self.kinds(frame)))
        empty = tuple((a.name, empty_value(a.value)) for a in aggregations)
        values = Aggregate(frame, scan.time, self.grain, self.by, tuple(aggregations))
        result = Complete(self.grid(self.table_groups(scan.table, table)), values, self.by, empty)
        self.bases.append(result)
        for name, value in empty:
            self.outputs[name] = Output(name, result, name)
            self.empty[name] = value

    def snapshot(self, scan: SnapshotScan) -> None:
        """Point-in-time counts sharing a table, columns and filter: one running count."""
        owner = self.catalog.metrics[scan.metrics[0]]
        frame = self.filtered(owner.name, scan.table, [scan.from_column, scan.until_column])
        if owner.filter is not None:
            condition = self.check(owner.filter, "row", owner.name, columns=self.kinds(frame))
            frame = self._keep(Filter(frame, condition, owner.filter, owner.name), self.kinds(frame))
        before = self.grain.shift(self.plan.window_start, -1)
        counts = PointInTime(
            frame,
            scan.from_column,
            scan.until_column,
            self.grain,
            before,
            self._periods,
            self.groups(frame),
            self.by,
        )
        self.bases.append(counts)
        for name in scan.metrics:
            at = self.catalog.metrics[name].active_at
            self.outputs[name] = Output(name, counts, AT_START if at == "period_start" else AT_END)
            self.empty[name] = 0

    def entity(self, metric: MetricDefinition) -> None:
        """An entity metric: its population, measures and score, rolled up per group."""
        customers = self.filtered(metric.name, CUSTOMERS, ["acquired_at", "churned_at"])
        population = Population(customers, self._periods, self.grain, population_lag(metric), self.by)
        measures, empty = [], {}
        for measure in metric.measures.values():
            frame = self.in_window(self.scan(measure.table), measure.time)
            aggregation = self.aggregation(
                measure.name, metric.name, measure.expr, measure.filter, self.kinds(frame)
            )
            measures.append(EntityMeasure(frame, measure.time, self.grain, aggregation))
            empty[measure.name] = empty_value(aggregation.value)
        assert metric.expr is not None
        score = self.check(metric.expr, "entity", metric.name, names=dict.fromkeys(empty, "number"))
        quiet = empty_value(score, empty)
        quiet = None if quiet is None or quiet != quiet else float(quiet)
        grid = self.grid(self.groups(customers))
        rolled: Relation = EntityRollup(
            metric.name,
            population,
            customers,
            tuple(measures),
            tuple(empty.items()),
            score,
            metric.expr,
            metric.rollup,
            quiet,
            self.by,
            grid,
        )
        self.empty[metric.name] = rollup_empty(metric.rollup)
        if ENTITY_KEY not in self.by:
            # With customer_id among the groups there is one row per entity in the
            # population: an entity outside it has no score, so no completion.
            rolled = Complete(grid, rolled, self.by, ((metric.name, self.empty[metric.name]),))
        self.bases.append(rolled)
        self.outputs[metric.name] = Output(metric.name, rolled, metric.name)

    def derived(self, metric: MetricDefinition) -> None:
        """A derived metric: its inputs combined, looked back where ``prior`` asks, projected."""
        assert metric.expr is not None
        references = sorted(self.catalog.references.get(metric.name, ()))
        priors = sorted(self.catalog.priors.get(metric.name, ()))
        inputs = tuple(Output(n, self.outputs[n].relation, self.outputs[n].column) for n in references)
        empty = tuple((n, self.empty.get(n)) for n in references)
        relation: Relation = Combine(inputs, empty, self._periods, self.by)
        if priors:
            relation = Lag(relation, tuple(priors), 1, self.by)
        names = dict.fromkeys(self.catalog.metrics, "number")
        value = self.check(metric.expr, "derived", metric.name, names=names)  # type: ignore[arg-type]
        self.outputs[metric.name] = Output(
            metric.name, Project(relation, metric.name, value, metric.expr, self.by), metric.name
        )
        self.empty[metric.name] = empty_value(value, dict(empty))


def build_query(plan: LogicalPlan, catalog: Catalog, kinds_of: KindsOf) -> Query:
    """The relational IR of ``plan`` on a source whose tables have the columns ``kinds_of`` gives."""
    return Builder(plan, catalog, kinds_of).build()


__all__ = ["Builder", "KindsOf", "build_query", "population_lag", "rollup_empty"]
