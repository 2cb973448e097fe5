"""Building a request's relational IR from its logical plan, once, for every backend.

Every decision about what a run means is taken here: which columns a table reaches, which
rows a ``--where`` keeps, which rows are in the window (the requested range plus the
periods ``prior`` looks back to), which groups a metric has (every value its table holds,
at any time), what each metric is where nothing happened, and which periods an entity
belongs to. The backends then only translate the nodes.

Two rewrites make the IR cheaper without changing a number: the groups of a table that
takes grouping columns from ``customers`` are found from its distinct customers, not from
every row joined; and a table, its reach and its ``--where`` are one node however many
metrics read them. Likewise a window of rows, a period map or a derived metric's inputs
asked for twice (two rolling windows of the same length, two ratios of the same metrics)
are one node (:meth:`Builder.shared`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlglot import exp

from crmetrics.catalog import Catalog
from crmetrics.errors import DefinitionError, Issue, Location, UsageError
from crmetrics.formula.check import check_formula
from crmetrics.formula.empty import empty_value
from crmetrics.formula.typed import Checked, Kind, Prior, Scope, Windowed
from crmetrics.ir.nodes import (
    AT_END,
    AT_START,
    CUSTOMERS,
    ENTITY_KEY,
    Aggregate,
    Aggregation,
    CohortRows,
    Combine,
    Complete,
    Distinct,
    EntityMeasure,
    EntityRollup,
    Filter,
    Grid,
    Lag,
    Output,
    PeriodColumn,
    PeriodMap,
    Periods,
    PointInTime,
    Population,
    Project,
    Query,
    Reach,
    Relation,
    Result,
    Scan,
    Share,
    TimeRange,
    WindowAggregate,
)
from crmetrics.ir.reach import check_reach, from_customers, where_columns
from crmetrics.metric import Formula, MetricDefinition
from crmetrics.periods import PERIOD_START, Grain
from crmetrics.plan import AggregateScan, LogicalPlan, SnapshotScan, lag_periods

#: The columns of a table as the source holds them, with their kinds.
KindsOf = Callable[[str], Mapping[str, Kind]]


#: A node of the IR, kept as its own class by :meth:`Builder.shared`.
R = TypeVar("R", bound=Relation)


#: How fine each grain and to-date unit is, to refuse a unit finer than the grain.
_FINENESS: dict[str, int] = {
    "day": 0,
    "week": 1,
    "month": 2,
    "quarter": 3,
    "fiscal_quarter": 3,
    "year": 4,
    "fiscal_year": 4,
}


@dataclass(frozen=True)
class AggregateSource:
    """What an aggregate metric is computed from: its table (grouped and filtered), time
    column, aggregation and groups; rolling, to-date and share values recompute from it."""

    table: Relation
    time: str
    aggregation: Aggregation
    groups: Relation | None
    values: Relation


def window_map(node: Windowed, grain: Grain, starts: Sequence[datetime], metric: str) -> PeriodMap:
    """The buckets of rows each period of ``starts`` reads for a rolling or to-date value."""
    if node.construct == "rolling":
        pairs = [(grain.shift(p, -k), p) for p in starts for k in range(node.periods)]
        return PeriodMap(grain, tuple(sorted(pairs)))
    unit = Grain(node.unit, grain.calendar)
    if _FINENESS[unit.name] < _FINENESS[grain.name]:
        raise UsageError(
            Issue(
                "to-date-unit",
                f"metric {metric!r} reads to_date({node.name}, '{node.unit}') at {grain.name} grain: "
                f"a {node.unit.replace('_', ' ')} is shorter than a period",
                subject=metric,
                hint=f"use a unit at least as long as a {grain.name}, or a finer grain",
            )
        )
    firsts = {p: unit.truncate(p) for p in starts}
    # Rows are bucketed by period when every unit starts a period (a year of months);
    # otherwise (a month of weeks, a fiscal year of calendar quarters) by day.
    bucket = grain if all(grain.truncate(f) == f for f in firsts.values()) else Grain("day", grain.calendar)
    pairs = [(b, p) for p, first in firsts.items() for b in bucket.starts(first, grain.shift(p, 1))]
    return PeriodMap(bucket, tuple(sorted(pairs)))


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
        self._read: dict[str, Relation] = {}
        self._filtered: dict[tuple[str, tuple[str, ...]], Relation] = {}
        self._grids: dict[int, Grid] = {}
        self._groups: dict[int, Distinct] = {}
        self._periods = Periods(plan.window_start, plan.request.end, self.grain)
        self.sources: dict[str, AggregateSource] = {}
        self._windowed: dict[str, Output] = {}
        self._shared: dict[tuple[Any, ...], Relation] = {}
        self._maps: dict[tuple[str, int, str], PeriodMap] = {}

    # ---- the whole query --------------------------------------------------------------------

    def build(self) -> Query:
        """The IR of the plan; a request that cannot run raises :class:`UsageError`."""
        request = self.plan.request
        columns = [*self.by, *where_columns(request.where)]
        self.check_required_groups()
        check_reach(request.metrics, self.catalog, columns, self.columns_of)
        for scan in self.plan.aggregates:
            self.aggregate(scan)
        for snapshot in self.plan.snapshots:
            self.snapshot(snapshot)
        for name in self.plan.entities:
            self.entity(self.catalog.metrics[name])
        for name in self.plan.cohorts:
            self.cohort(self.catalog.metrics[name])
        for name in self.plan.derived:
            self.derived(self.catalog.metrics[name])
        labels: tuple[tuple[datetime, str], ...] = ()
        if self.grain.is_fiscal:
            labels = tuple((p, self.grain.label(p)) for p in self.grain.starts(request.start, request.end))
        result = Result(
            tuple(self.outputs[m] for m in request.metrics), request.start, self.by, self.grain, labels
        )
        return Query(result, tuple(self.bases), tuple(self._scans), self.by, self.grain, self.plan.params)

    def columns_of(self, table: str) -> list[str]:
        """The columns the source's ``table`` holds, and the derived dimensions of ``customers``."""
        columns = list(self.kinds_of(table))
        if table == CUSTOMERS:
            columns += [d for d in self.dimensions() if d not in columns]
        return columns

    def dimensions(self) -> list[str]:
        """The derived dimensions the request groups or filters by."""
        wanted = [*self.by, *where_columns(self.plan.request.where)]
        return [c for c in dict.fromkeys(wanted) if c in self.catalog.dimensions]

    def check_required_groups(self) -> None:
        """A metric that means nothing without some grouping (``requires_by``) is refused without it."""
        for name in self.plan.order:
            missing = [c for c in self.catalog.metrics[name].requires_by if c not in self.by]
            if missing:
                raise UsageError(
                    Issue(
                        "missing-grouping",
                        f"metric {name!r} is only defined grouped by {', '.join(missing)}",
                        subject=name,
                        hint=f"add --by {','.join([*self.by, *missing])}",
                    )
                )

    # ---- relations shared by metrics -------------------------------------------------------

    def shared(self, node: R) -> R:
        """The node equal to ``node`` built before, or ``node``: one relation, generated once.

        Nodes are equal when they are of the same class with the same values and the very
        same input nodes (nodes compare by identity). Values are plain data (times, names,
        grains, period pairs), outputs, or aggregations, equal when their formulas' texts
        are (the metric they were written for names only errors).
        """

        def plain(value: Any) -> Any:
            if isinstance(value, Relation):
                return id(value)
            if isinstance(value, Output):
                return (value.name, id(value.relation), value.column)
            if isinstance(value, Aggregation):
                condition = value.filter_formula.text if value.filter_formula is not None else None
                return (value.name, value.formula.text, condition)
            if isinstance(value, tuple) and any(isinstance(v, (Relation, Output)) for v in value):
                return tuple(plain(v) for v in value)
            return value  # plain data as it is (a period map's pairs: hundreds of them)

        key = (type(node), *(plain(getattr(node, f.name)) for f in fields(node)))
        found = self._shared.setdefault(key, node)
        assert isinstance(found, type(node))
        return found

    def kinds(self, relation: Relation) -> dict[str, Kind]:
        """The columns of ``relation`` and their kinds."""
        return self._kinds[id(relation)]

    def _keep(self, relation: Relation, kinds: dict[str, Kind]) -> Relation:
        self._kinds[id(relation)] = kinds
        return relation

    def scan(self, table: str) -> Relation:
        """The one scan of ``table``, with the derived dimensions the request uses."""
        if table not in self._read:
            node = self._scans[table] = Scan(table)
            kinds = dict(self.kinds_of(table))
            relation: Relation = self._keep(node, dict(kinds))
            if table == CUSTOMERS:
                for name in self.dimensions():
                    if name in kinds:
                        continue  # the source's own column wins
                    dimension = self.catalog.dimensions[name]
                    grain = Grain(dimension.grain or self.grain.name, self.grain.calendar)
                    kinds[name] = "text"
                    relation = self._keep(
                        PeriodColumn(relation, name, dimension.period_of, grain), dict(kinds)
                    )
            self._read[table] = relation
        return self._read[table]

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
        window = self.shared(TimeRange(relation, time, self.plan.window_start, self.plan.request.end))
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
        lookback: bool = False,
    ) -> Checked:
        """``formula`` checked in ``scope`` for ``metric``, with the metric's parameters in effect."""
        params = self.plan.params.get(metric, {})
        return check_formula(
            formula,
            scope,
            metric,
            self.catalog.functions,
            columns=columns,
            names=names,
            params=params,
            lookback=lookback,
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
        groups = self.table_groups(scan.table, table)
        result = Complete(self.grid(groups), values, self.by, empty)
        self.bases.append(result)
        for (name, value), aggregation in zip(empty, aggregations, strict=True):
            self.outputs[name] = Output(name, result, name)
            self.empty[name] = value
            self.sources[name] = AggregateSource(table, scan.time, aggregation, groups, result)

    def snapshot(self, scan: SnapshotScan) -> None:
        """Point-in-time counts sharing a table, columns and filter: one running count."""
        owner = self.catalog.metrics[scan.metrics[0]]
        frame = self.filtered(owner.name, scan.table, [c for c in (scan.from_column, scan.until_column) if c])
        if owner.filter is not None:
            condition = self.check(owner.filter, "row", owner.name, columns=self.kinds(frame))
            frame = self._keep(Filter(frame, condition, owner.filter, owner.name), self.kinds(frame))
        before = self.grain.shift(self.plan.window_start, -1)
        value = self.snapshot_value(owner, frame)
        counts = PointInTime(
            frame,
            scan.from_column,
            scan.until_column,
            self.grain,
            before,
            self._periods,
            self.groups(frame),
            self.by,
            value,
            owner.expr if value is not None else None,
            owner.name,
        )
        self.bases.append(counts)
        for name in scan.metrics:
            at = self.catalog.metrics[name].active_at
            self.outputs[name] = Output(name, counts, AT_START if at == "period_start" else AT_END)
            self.empty[name] = 0

    def snapshot_value(self, metric: MetricDefinition, frame: Relation) -> Checked | None:
        """The row formula a snapshot sums over the active rows, or None when it counts them.

        A snapshot's ``expr`` is ``count(*)`` or ``sum(<row formula>)``: both change by a
        row's value when it starts or ends, which is what a running total can follow.
        """
        if metric.expr is None:
            return None
        checked = self.check(metric.expr, "aggregate", metric.name, columns=self.kinds(frame))
        tree = checked.tree
        if isinstance(tree.source, exp.Count) and not tree.args:
            return None
        if isinstance(tree.source, exp.Sum):
            return Checked(tree.args[0], checked.references, scope="row")
        raise DefinitionError(
            Issue(
                "snapshot-expr",
                "a snapshot's expr is count(*) or sum(...) of a column over the active rows, "
                f"not {checked.text!r}",
                metric.expr.location,
                subject=metric.name,
                hint="e.g. expr: sum(coalesce(amount, 0))",
            )
        )

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

    def cohort(self, metric: MetricDefinition) -> None:
        """A cohort metric: entities in the base (decided in the base period), followed.

        Each measure is computed per (entity, period) from the base period before the
        window on; every (entity, period) pairs the measure with its value in the base
        period; the base condition keeps the entities of the base; the expr aggregates
        them per period and per group the entity has in ``customers``.
        """
        assert metric.expr is not None and metric.base is not None
        names: dict[str, Kind] = {name: "number" for name in metric.measures}
        base = self.check(metric.base, "row", metric.name, columns=names, lookback=True)
        value = self.check(metric.expr, "aggregate", metric.name, columns=names, lookback=True)
        priors = [n for n in (*base.windows, *value.windows) if isinstance(n, Prior)]
        lags = {lag_periods(n, self.grain, metric.name) for n in priors}
        if len(lags) != 1:
            raise UsageError(
                Issue(
                    "cohort-base-period",
                    f"cohort metric {metric.name!r} must read its measures in one base period, "
                    f"not {len(lags)}",
                    subject=metric.name,
                    hint="use the same year_ago(m) or prior(m, n) throughout the base and the expr",
                )
            )
        lag = lags.pop()
        starts = self.grain.starts(self.plan.window_start, self.plan.request.end)
        periods = self.shared(PeriodMap(self.grain, tuple((self.grain.shift(p, -lag), p) for p in starts)))
        first = self.grain.shift(self.plan.window_start, -lag)
        measures, empty, lagged = [], {}, []
        for measure in metric.measures.values():
            table = self.filtered(metric.name, measure.table)
            frame = self._keep(
                self.shared(TimeRange(table, measure.time, first, self.plan.request.end)), self.kinds(table)
            )
            aggregation = self.aggregation(
                measure.name, metric.name, measure.expr, measure.filter, self.kinds(frame)
            )
            measures.append(self.shared(EntityMeasure(frame, measure.time, self.grain, aggregation)))
            empty[measure.name] = empty_value(aggregation.value)
            column = next((n.column for n in priors if n.name == measure.name), f"__base__{measure.name}")
            lagged.append(column)
            empty[column] = empty[measure.name]
        kinds: dict[str, Kind] = {
            ENTITY_KEY: "text",
            PERIOD_START: "datetime",
            **dict.fromkeys(empty, "number"),
        }
        cohort = CohortRows(
            tuple(measures), tuple(lagged), periods, self.plan.window_start, tuple(empty.items())
        )
        rows: Relation = self.shared(cohort)
        if rows is cohort:
            # Computed once among the bases (net and gross revenue retention follow the same
            # rows); each metric's base condition and aggregate then read them from memory.
            self.bases.append(self._keep(rows, kinds))
        joined = [c for c in self.by if c != ENTITY_KEY]
        groups = None
        if self.by:
            customers = self.filtered(metric.name, CUSTOMERS)
            groups = self.groups(customers)
            if joined:
                kinds = {**kinds, **{c: self.kinds(customers).get(c, "any") for c in joined}}
                rows = self._keep(Reach(rows, customers, tuple(joined)), kinds)
        rows = self._keep(Filter(rows, base, metric.base, metric.name), kinds)
        aggregation = Aggregation(metric.name, value, metric.expr, None, None, metric.name)
        values = Aggregate(rows, PERIOD_START, self.grain, self.by, (aggregation,))
        self.empty[metric.name] = empty_value(value, empty)
        result = Complete(self.grid(groups), values, self.by, ((metric.name, self.empty[metric.name]),))
        self.outputs[metric.name] = Output(metric.name, result, metric.name)

    def derived(self, metric: MetricDefinition) -> None:
        """A derived metric: its inputs combined, looked back where ``prior`` asks, projected."""
        assert metric.expr is not None
        references = sorted(self.catalog.references.get(metric.name, ()))
        windows = self.catalog.windows.get(metric.name, ())
        inputs = [Output(n, self.outputs[n].relation, self.outputs[n].column) for n in references]
        empty = [(n, self.empty.get(n)) for n in references]
        for node in windows:
            if isinstance(node, Windowed) and node.column not in dict(empty):
                inputs.append(self.windowed(node, metric.name))
                empty.append((node.column, None if node.construct == "share" else self.empty.get(node.name)))
        relation: Relation = self.shared(Combine(tuple(inputs), tuple(empty), self._periods, self.by))
        lags = {
            node.column: (node.name, node.column, lag_periods(node, self.grain, metric.name))
            for node in windows
            if isinstance(node, Prior)
        }
        if lags:
            relation = Lag(relation, tuple(lags.values()), self.by)
        names = dict.fromkeys(self.catalog.metrics, "number")
        value = self.check(metric.expr, "derived", metric.name, names=names)  # type: ignore[arg-type]
        self.outputs[metric.name] = Output(
            metric.name, Project(relation, metric.name, value, metric.expr, self.by), metric.name
        )
        self.empty[metric.name] = empty_value(value, dict(empty))

    def windowed(self, node: Windowed, metric: str) -> Output:
        """A rolling, to-date or share value of an aggregate metric, built once per request."""
        if node.column in self._windowed:
            return self._windowed[node.column]
        source = self.sources.get(node.name)
        if source is None:  # the catalog refuses it; a metric given from Python may not be checked
            raise UsageError(
                Issue(
                    "window-of-non-aggregate",
                    f"{node.construct}({node.name}) in {metric!r} needs an aggregate metric",
                    subject=metric,
                )
            )
        empty = self.empty[node.name]
        relation: Relation
        if node.construct == "share":
            totals = Aggregate(
                self.in_window(source.table, source.time), source.time, self.grain, (), (source.aggregation,)
            )
            complete = Complete(self._periods, totals, (), ((node.name, empty),))
            relation = Share(source.values, complete, node.name, node.column, self.by)
        else:
            key = (node.construct, node.periods, node.unit)
            if key not in self._maps:  # the same window of several metrics: its map once
                starts = self.grain.starts(self.plan.window_start, self.plan.request.end)
                self._maps[key] = self.shared(window_map(node, self.grain, starts, metric))
            periods = self._maps[key]
            first = periods.pairs[0][0]
            rows = self._keep(
                self.shared(TimeRange(source.table, source.time, first, self.plan.request.end)),
                self.kinds(source.table),
            )
            aggregation = replace(source.aggregation, name=node.column)
            values = WindowAggregate(rows, source.time, periods, self.by, (aggregation,))
            relation = Complete(self.grid(source.groups), values, self.by, ((node.column, empty),))
        self.bases.append(relation)
        output = Output(node.column, relation, node.column)
        self._windowed[node.column] = output
        return output


def build_query(plan: LogicalPlan, catalog: Catalog, kinds_of: KindsOf) -> Query:
    """The relational IR of ``plan`` on a source whose tables have the columns ``kinds_of`` gives."""
    return Builder(plan, catalog, kinds_of).build()


__all__ = [
    "AggregateSource",
    "Builder",
    "KindsOf",
    "build_query",
    "population_lag",
    "rollup_empty",
    "window_map",
]
