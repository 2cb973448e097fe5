"""The relational IR: what a request computes, as a graph of relations, for every backend.

Each node is a relation: a set of rows with named columns. Most hold one row per
(period, group), keyed by ``period_start`` and the request's grouping columns; the rest
are table rows on their way there. The builder (:mod:`crmetrics.ir.build`) makes every
semantic decision once — which columns come from ``customers``, which rows are in the
window, what a metric is where nothing happened, which periods an entity belongs to — and
writes it into the nodes. A backend generates each node class with a few lines of its
own language and decides nothing: the same graph gives the same numbers everywhere.

Nodes compare by identity: the builder hands out one object per distinct relation, so a
node used twice (a table read by several metrics) is generated once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crmetrics.formula.typed import Checked
from crmetrics.metric import Formula
from crmetrics.periods import PERIOD_START, Grain

#: The column that ties every table to ``customers`` and identifies an entity.
ENTITY_KEY = "customer_id"
CUSTOMERS = "customers"
#: Row count of a group in an :class:`Aggregate`: null after :class:`Complete` where no row was.
ROWS = "__rows"
#: The start of the period before, in :class:`Periods`.
PREVIOUS = "__previous_start"
#: The period's length in days, in :class:`Periods` and :class:`Combine`.
PERIOD_DAYS_COLUMN = "__period_days"
#: The bucket a row falls in, in :class:`PeriodMap`.
SOURCE = "__source"
#: Point-in-time counts at the start and at the end of each period, in :class:`PointInTime`.
AT_START = "__at_start"
AT_END = "__at_end"


@dataclass(frozen=True, eq=False)
class Relation:
    """A node of the IR."""


@dataclass(frozen=True, eq=False)
class Scan(Relation):
    """A canonical table as the source holds it, every column."""

    table: str


@dataclass(frozen=True, eq=False)
class PeriodColumn(Relation):
    """``input`` with a text column ``name``: the local ISO date (``2025-03-01``) of the
    start of the period of ``grain`` holding ``column`` (null where ``column`` is null)."""

    input: Relation
    name: str
    column: str
    grain: Grain


@dataclass(frozen=True, eq=False)
class Reach(Relation):
    """``input`` with ``columns`` of ``customers`` joined on ``customer_id`` (left, many to one)."""

    input: Relation
    customers: Relation
    columns: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Filter(Relation):
    """The rows of ``input`` where ``condition`` is true (null counts as false).

    Attributes:
        condition: the checked row formula.
        formula: its text and location, for errors of plugin functions.
        subject: the metric it belongs to.
    """

    input: Relation
    condition: Checked
    formula: Formula
    subject: str


@dataclass(frozen=True, eq=False)
class TimeRange(Relation):
    """The rows of ``input`` whose ``column`` lies in ``[start, end)``."""

    input: Relation
    column: str
    start: datetime
    end: datetime


@dataclass(frozen=True, eq=False)
class Distinct(Relation):
    """The distinct values of ``columns`` in ``input`` (a null is a value)."""

    input: Relation
    columns: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Periods(Relation):
    """One row per period of ``grain`` in ``[start, end)``: its start, the previous start
    (:data:`PREVIOUS`) and its length in days (:data:`PERIOD_DAYS_COLUMN`)."""

    start: datetime
    end: datetime
    grain: Grain

    def rows(self) -> list[tuple[datetime, datetime, float]]:
        """Each period's start, the previous period's start and its length in days."""
        rows = []
        for start in self.grain.starts(self.start, self.end):
            following = self.grain.shift(start, 1)
            days = (following - start).total_seconds() / 86_400
            rows.append((start, self.grain.shift(start, -1), days))
        return rows


@dataclass(frozen=True, eq=False)
class PeriodMap(Relation):
    """Which periods' rows count in which period: pairs (:data:`SOURCE`, ``period_start``).

    A source is the start of a bucket of rows (a period of ``grain``); a target is a period
    of the request. A rolling window maps each period and the ones before it to it; a
    to-date value maps each period since the start of its year, quarter or month to it.
    """

    grain: Grain
    pairs: tuple[tuple[datetime, datetime], ...]


@dataclass(frozen=True, eq=False)
class Grid(Relation):
    """Every period of ``periods`` for every row of ``groups`` (just the periods without groups)."""

    periods: Relation
    groups: Relation | None


@dataclass(frozen=True, eq=False)
class Aggregation:
    """One aggregate of an :class:`Aggregate`: a checked formula and the rows it reads.

    Attributes:
        name: the output column.
        value: the checked aggregate formula.
        formula: its text and location.
        filter: the checked row filter of the metric, if any: the aggregate reads only
            the rows where it is true.
        filter_formula: the filter's text and location.
        subject: the metric the formulas belong to.
    """

    name: str
    value: Checked
    formula: Formula
    filter: Checked | None
    filter_formula: Formula | None
    subject: str


@dataclass(frozen=True, eq=False)
class Aggregate(Relation):
    """``input`` grouped by the period of ``time`` (truncated to ``grain``) and ``keys``.

    One row per (period, key values) with rows: each aggregation and :data:`ROWS`.
    """

    input: Relation
    time: str
    grain: Grain
    keys: tuple[str, ...]
    aggregations: tuple[Aggregation, ...]


@dataclass(frozen=True, eq=False)
class WindowAggregate(Relation):
    """``aggregations`` recomputed over several periods' rows at once, per target period.

    Each row of ``input`` falls in the bucket of ``map.grain`` holding its ``time``, counts
    in every target period ``map`` pairs that bucket with, and the aggregates are taken
    over all the rows of a target period and group (``keys``) together: a rolling mean or
    distinct count is over the window's rows, not a combination of period values. One row
    per (target period, key values) with rows: each aggregation and :data:`ROWS`.
    """

    input: Relation
    time: str
    map: PeriodMap
    keys: tuple[str, ...]
    aggregations: tuple[Aggregation, ...]


@dataclass(frozen=True, eq=False)
class Share(Relation):
    """Column ``column`` of ``values`` (per period and group) over column ``column`` of
    ``totals`` (per period, all groups), as column ``name``; null where the total is 0 or null."""

    values: Relation
    totals: Relation
    column: str
    name: str
    keys: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Complete(Relation):
    """``values`` on every (period, group) of ``grid``; where ``values`` had no row
    (:data:`ROWS` is null), each column takes its empty value from ``empty``."""

    grid: Relation
    values: Relation
    keys: tuple[str, ...]
    empty: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, eq=False)
class PointInTime(Relation):
    """How many rows of ``input`` are active at each period boundary, per group.

    A row is active at instant t when ``from_column < t`` and (``until_column`` is null or
    ``until_column >= t``; without an ``until_column`` a row stays active). The output
    holds, for every period of ``periods`` and every group of ``groups``, the count at the
    period's start (:data:`AT_START`) and at its end (:data:`AT_END`) — or, with a
    ``value``, the sum of that row formula over the active rows (a null adds nothing).
    Every start or end before ``periods`` counts from ``before``, the start of the period
    before the first: the count starts with everything earlier.
    """

    input: Relation
    from_column: str
    until_column: str
    grain: Grain
    before: datetime
    periods: Relation
    groups: Relation | None
    keys: tuple[str, ...]
    value: Checked | None = None
    value_formula: Formula | None = None
    subject: str = ""


@dataclass(frozen=True, eq=False)
class Population(Relation):
    """The (entity, period) pairs of an entity metric's population.

    An entity of ``customers`` belongs to the periods of ``periods`` from the one holding
    its ``acquired_at`` to the one before the period holding its ``churned_at`` (all
    later periods if null), both moved ``lag`` periods later. Columns: ``customer_id``,
    the grouping columns ``keys`` other than it, ``period_start``.
    """

    customers: Relation
    periods: Relation
    grain: Grain
    lag: int
    keys: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class EntityMeasure(Relation):
    """One measure per (entity, period): ``aggregation`` over ``input``'s rows of that
    entity whose ``time`` lies in the period. Columns: ``customer_id``, ``period_start``,
    the measure."""

    input: Relation
    time: str
    grain: Grain
    aggregation: Aggregation


@dataclass(frozen=True, eq=False)
class CohortRows(Relation):
    """Per (entity, period from ``start`` on): each measure in the period, and in the base
    period ``map`` pairs it with, as the column of ``lagged`` at the same position.

    Rows are the (entity, period) pairs with rows in either; a measure without rows takes
    its empty value from ``empty`` (the lagged columns that of their measure). Columns:
    ``customer_id``, ``period_start``, the measures and the lagged columns.
    """

    measures: tuple[EntityMeasure, ...]
    lagged: tuple[str, ...]
    map: PeriodMap
    start: datetime
    empty: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, eq=False)
class EntityRollup(Relation):
    """An entity metric: a score per entity in the population, rolled up per (period, group).

    Each entity of ``population`` in a period reads each of ``measures`` (its empty value
    in ``empty`` where the entity had no rows), is scored by ``score`` and the scores are
    rolled up by ``rollup`` (avg, sum, min, max or median) into column ``name``, with
    :data:`ROWS` the number of entities. ``quiet_score`` is the score of an entity
    without rows in any measure; ``customers`` are the entities with ``acquired_at`` and
    ``churned_at``, which a backend may use to count the population instead of listing
    it, when that cannot change a number.
    """

    name: str
    population: Population
    customers: Relation
    measures: tuple[EntityMeasure, ...]
    empty: tuple[tuple[str, Any], ...]
    score: Checked
    formula: Formula
    rollup: str
    quiet_score: float | None
    keys: tuple[str, ...]
    grid: Relation


@dataclass(frozen=True, eq=False)
class Output:
    """A metric's values: column ``column`` of ``relation``, one row per (period, group)."""

    name: str
    relation: Relation
    column: str


@dataclass(frozen=True, eq=False)
class Combine(Relation):
    """The inputs of a derived metric side by side, on every (period, group) any of them has.

    Each input missing from a (period, group) takes its empty value from ``empty``; the
    period's length in days (:data:`PERIOD_DAYS_COLUMN`) comes from ``periods``.
    """

    inputs: tuple[Output, ...]
    empty: tuple[tuple[str, Any], ...]
    periods: Relation
    keys: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Lag(Relation):
    """``input`` with columns read earlier in the same group: for each (source, target,
    periods) of ``columns``, column target is column source ``periods`` periods earlier;
    null in the group's first ``periods`` periods."""

    input: Relation
    columns: tuple[tuple[str, str, int], ...]
    keys: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Project(Relation):
    """A derived metric: ``formula`` over the columns of ``input``, as column ``name``."""

    input: Relation
    name: str
    value: Checked
    formula: Formula
    keys: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Result(Relation):
    """The long result: one row per (metric, period, group) from ``start`` on, sorted.

    ``period_start`` is written as the local date of ``grain``'s calendar; at a fiscal
    grain ``labels`` name each period (the :data:`~crmetrics.periods.FISCAL_PERIOD` column).
    """

    outputs: tuple[Output, ...]
    start: datetime
    keys: tuple[str, ...]
    grain: Grain
    labels: tuple[tuple[datetime, str], ...] = ()


@dataclass(frozen=True, eq=False)
class Query:
    """A request's IR: the result, and the relations read from tables.

    Attributes:
        result: the long result.
        bases: the relations computed from tables; everything after them (derived
            metrics, the result) only combines their rows. A backend may compute them
            first, together, and read them from memory afterwards.
        tables: the canonical tables read.
        by: the grouping columns.
        grain: the period grain.
    """

    result: Result
    bases: tuple[Relation, ...]
    tables: tuple[str, ...]
    by: tuple[str, ...]
    grain: Grain
    params: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @property
    def keys(self) -> tuple[str, ...]:
        """The key columns of every per-period relation."""
        return (PERIOD_START, *self.by)


__all__ = [
    "AT_END",
    "AT_START",
    "CUSTOMERS",
    "ENTITY_KEY",
    "PERIOD_DAYS_COLUMN",
    "PREVIOUS",
    "ROWS",
    "SOURCE",
    "Aggregate",
    "Aggregation",
    "CohortRows",
    "Combine",
    "Complete",
    "Distinct",
    "EntityMeasure",
    "EntityRollup",
    "Filter",
    "Grid",
    "Lag",
    "Output",
    "PeriodColumn",
    "PeriodMap",
    "Periods",
    "PointInTime",
    "Population",
    "Project",
    "Query",
    "Reach",
    "Relation",
    "Result",
    "Scan",
    "Share",
    "TimeRange",
    "WindowAggregate",
]
