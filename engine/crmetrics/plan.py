"""The logical plan of a run: what to scan, group and derive, independent of any backend.

A request (metrics, grain, range, grouping, filter, parameters) and the catalog give one
:class:`LogicalPlan`: aggregate metrics over the same table and time column share one
scan; point-in-time counts over the same table share one; derived metrics come after
their inputs; the window reaches back as far as ``prior`` looks. The relational IR
(:mod:`crmetrics.ir`) is built from this plan, and the backends generate from the IR.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from crmetrics.catalog import Catalog
from crmetrics.errors import Issue, UsageError, did_you_mean
from crmetrics.formula.typed import Prior
from crmetrics.periods import Calendar, Grain, aligned, parse_instant


@dataclass(frozen=True)
class Request:
    """One evaluation: which metrics, over which periods, grouped and filtered how.

    Attributes:
        metrics: metric names (results are sorted by metric name, period and groups).
        grain: ``day``, ``week``, ``month``, ``quarter``, ``year``, ``fiscal_quarter`` or
            ``fiscal_year``, on the project's calendar.
        start: first period start (inclusive), aligned to the grain.
        end: end of the range (exclusive), aligned to the grain.
        by: grouping columns, of the metric's table or of ``customers``.
        where: a SQL boolean filter on those columns.
        params: parameter overrides, ``{"metric.param": value}`` or ``{"param": value}``.
    """

    metrics: tuple[str, ...]
    grain: Grain
    start: datetime
    end: datetime
    by: tuple[str, ...] = ()
    where: str | None = None
    params: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        metrics: Sequence[str],
        *,
        grain: str = "month",
        start: str | date | datetime,
        end: str | date | datetime,
        by: Sequence[str] = (),
        where: str | None = None,
        params: Mapping[str, float] | None = None,
        calendar: Calendar | None = None,
    ) -> Request:
        """A request from user-level values; bad values raise :class:`UsageError`.

        ``start`` and ``end`` are local dates of ``calendar`` (the project file's
        ``calendar:``; UTC, Monday weeks and January years by default).
        """
        grain_ = Grain.parse(grain, calendar)
        start_ = aligned(parse_instant(start, "start", calendar), grain_, "start")
        end_ = aligned(parse_instant(end, "end", calendar), grain_, "end")
        if end_ <= start_:
            raise UsageError(
                Issue(
                    "empty-range",
                    f"end {end_:%Y-%m-%d} is not after start {start_:%Y-%m-%d}",
                    hint="the range is [start, end): end must be later than start",
                )
            )
        if isinstance(metrics, str):
            metrics = [metrics]
        if not metrics:
            raise UsageError(Issue("no-metrics", "no metric requested", hint="name metrics, or 'all'"))
        if len(set(by)) != len(by):
            raise UsageError(Issue("duplicate-group", f"a grouping column is repeated: {', '.join(by)}"))
        return cls(tuple(metrics), grain_, start_, end_, tuple(by), where or None, dict(params or {}))


@dataclass(frozen=True)
class AggregateScan:
    """Aggregate metrics sharing one table and time column: one group-by."""

    table: str
    time: str
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class SnapshotScan:
    """Point-in-time counts (or sums) sharing a table, its from/until columns, a row filter
    and what is totalled over the active rows."""

    table: str
    from_column: str
    until_column: str
    filter: str | None
    expr: str | None
    metrics: tuple[str, ...]


@dataclass
class LogicalPlan:
    """A request's metrics in evaluation order, grouped into shared scans.

    Attributes:
        request: the request, with ``all`` expanded to metric names.
        order: every metric needed, dependencies first.
        lookback: how many periods before ``start`` the window reaches for ``prior``.
        window_start: the first period computed: ``start`` moved back by ``lookback``.
        aggregates: aggregate metrics sharing a table and time column.
        snapshots: point-in-time counts sharing a table, columns and filter.
        entities: entity metrics.
        cohorts: cohort metrics.
        derived: derived metrics, each after its inputs.
        params: each metric's parameters, overrides applied.
    """

    request: Request
    order: list[str]
    lookback: int
    window_start: datetime
    aggregates: list[AggregateScan]
    snapshots: list[SnapshotScan]
    entities: list[str]
    cohorts: list[str]
    derived: list[str]
    params: dict[str, dict[str, float]]


def resolve_params(
    catalog: Catalog, names: Sequence[str], overrides: Mapping[str, float]
) -> dict[str, dict[str, float]]:
    """Each metric's parameters with the request's overrides applied; unknown names are errors."""
    effective = {n: dict(catalog.metrics[n].params) for n in names}
    for key, value in overrides.items():
        metric, _, param = key.rpartition(".")
        targets = [metric] if metric else [n for n in names if key in effective[n]]
        known = [f"{n}.{p}" for n in names for p in effective[n]]
        if not targets or any(t not in effective or param not in effective[t] for t in targets):
            raise UsageError(
                Issue(
                    "unknown-param",
                    f"unknown parameter {key!r} for the requested metrics",
                    hint=did_you_mean(key, known) or "these metrics take no parameters",
                )
            )
        try:
            number = float(value)
            if not math.isfinite(number):  # inf, nan, 1e309: no amount, rate or target
                raise ValueError(value)
        except (TypeError, ValueError):
            raise UsageError(
                Issue(
                    "bad-param",
                    f"parameter {key!r} must be a number, not {value!r}",
                    hint=f"e.g. --param {key}=0.5",
                )
            ) from None
        for target in targets:
            effective[target][param] = number
    return effective


#: Periods of each grain in one calendar year, for ``year_ago``.
PERIODS_PER_YEAR: dict[str, int] = {
    "month": 12,
    "quarter": 4,
    "year": 1,
    "fiscal_quarter": 4,
    "fiscal_year": 1,
}


def lag_periods(node: Prior, grain: Grain, metric: str) -> int:
    """How many periods of ``grain`` back ``node`` reads; ``year_ago`` at day or week grain is an error."""
    if not node.year_ago:
        return node.periods
    if grain.name not in PERIODS_PER_YEAR:
        raise UsageError(
            Issue(
                "year-ago-grain",
                f"metric {metric!r} reads year_ago({node.name}), which is not defined at {grain.name} grain: "
                f"a {grain.name} a year earlier does not start on the same date",
                subject=metric,
                hint="run it at month, quarter or year grain (or a fiscal one), or use "
                f"prior({node.name}, n) for a fixed number of {grain.name}s",
            )
        )
    return PERIODS_PER_YEAR[grain.name]


def _lookback(catalog: Catalog, order: list[str], grain: Grain) -> int:
    need = dict.fromkeys(order, 0)
    for name in reversed(order):  # dependants come after their dependencies
        for node in catalog.windows.get(name, ()):
            if isinstance(node, Prior):
                periods = lag_periods(node, grain, name)
                need[node.name] = max(need[node.name], need[name] + periods)
        for dependency in catalog.references.get(name, ()):
            need[dependency] = max(need[dependency], need[name])
    return max(need.values(), default=0)


def build_plan(catalog: Catalog, request: Request) -> LogicalPlan:
    """The logical plan for ``request``; unknown metrics raise :class:`UsageError`."""
    names = list(catalog.metrics) if request.metrics == ("all",) else list(dict.fromkeys(request.metrics))
    order = catalog.closure(names)
    lookback = _lookback(catalog, order, request.grain)
    aggregates: dict[tuple[str, str], list[str]] = {}
    snapshots: dict[tuple[str, str, str, str | None, str | None], list[str]] = {}
    entities, cohorts, derived = [], [], []
    for name in order:
        metric = catalog.metrics[name]
        if metric.type == "aggregate":
            aggregates.setdefault((metric.table, metric.time), []).append(name)
        elif metric.type == "snapshot":
            key = (
                metric.table,
                metric.from_column,
                metric.until_column,
                metric.filter.text if metric.filter else None,
                metric.expr.text if metric.expr else None,
            )
            snapshots.setdefault(key, []).append(name)
        elif metric.type == "entity":
            entities.append(name)
        elif metric.type == "cohort":
            cohorts.append(name)
        else:
            derived.append(name)
    return LogicalPlan(
        request=Request(
            tuple(names), request.grain, request.start, request.end, request.by, request.where, request.params
        ),
        order=order,
        lookback=lookback,
        window_start=request.grain.shift(request.start, -lookback),
        aggregates=[AggregateScan(t, c, tuple(m)) for (t, c), m in aggregates.items()],
        snapshots=[SnapshotScan(*key, metrics=tuple(m)) for key, m in snapshots.items()],
        entities=entities,
        cohorts=cohorts,
        derived=derived,
        params=resolve_params(catalog, order, request.params),
    )
