"""The relational IR as stable text of our own: what ``explain`` prints as the plan.

One line per relation, numbered in the order they are computed (inputs first), each
naming its inputs by number: ``%3 = aggregate %2 by month(closed_at): deals = count(*)``.
A relation used by several others is listed once. The text depends only on the IR, never
on a backend's internal plan, so it is stable across Polars and SQL versions and tests
compare it with snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from crmetrics.ir.nodes import (
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


def _instant(moment: datetime) -> str:
    return (
        f"{moment:%Y-%m-%d}"
        if (moment.hour, moment.minute, moment.second) == (0, 0, 0)
        else moment.isoformat()
    )


def _value(value: Any) -> str:
    return "null" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _empty(pairs: tuple[tuple[str, Any], ...]) -> str:
    return ", ".join(f"{name} = {_value(value)}" for name, value in pairs)


def _aggregation(aggregation: Aggregation) -> str:
    text = f"{aggregation.name} = {aggregation.value.text}"
    return text + (f" where {aggregation.filter.text}" if aggregation.filter is not None else "")


def _by(keys: tuple[str, ...]) -> str:
    return f", {', '.join(keys)}" if keys else ""


def inputs(node: Relation) -> Iterator[Relation]:
    """The relations ``node`` reads, in order."""
    for value in vars(node).values():
        if isinstance(value, Relation):
            yield value
        elif isinstance(value, Output):
            yield value.relation
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, Relation):
                    yield item
                elif isinstance(item, Output):
                    yield item.relation


class _Text:
    def __init__(self) -> None:
        self.numbers: dict[int, int] = {}
        self.lines: list[str] = []

    def ref(self, node: Relation | None) -> str:
        return "-" if node is None else f"%{self.numbers[id(node)]}"

    def out(self, output: Output) -> str:
        return f"{output.name} = {self.ref(output.relation)}.{output.column}"

    def visit(self, node: Relation) -> None:
        if id(node) in self.numbers:
            return
        for child in inputs(node):
            self.visit(child)
        self.numbers[id(node)] = len(self.numbers) + 1
        self.lines.append(f"  {self.ref(node)} = {_DESCRIBE[type(node)](self, node)}")


_DESCRIBE: dict[type, Callable[[_Text, Any], str]] = {
    Scan: lambda t, n: f"scan {n.table}",
    Reach: lambda t, n: (
        f"reach {t.ref(n.input)} joining {t.ref(n.customers)} on customer_id: {', '.join(n.columns)}"
    ),
    Filter: lambda t, n: f"filter {t.ref(n.input)}: {n.condition.text}",
    TimeRange: lambda t, n: (
        f"window {t.ref(n.input)}: {n.column} in [{_instant(n.start)}, {_instant(n.end)})"
    ),
    Distinct: lambda t, n: f"distinct {t.ref(n.input)}: {', '.join(n.columns)}",
    Periods: lambda t, n: f"periods {n.grain.name} [{_instant(n.start)}, {_instant(n.end)})",
    Grid: lambda t, n: f"grid {t.ref(n.periods)}" + (f" x {t.ref(n.groups)}" if n.groups is not None else ""),
    Complete: lambda t, n: f"complete {t.ref(n.values)} on {t.ref(n.grid)}, empty: {_empty(n.empty)}",
    Aggregate: lambda t, n: (
        f"aggregate {t.ref(n.input)} by {n.grain.name}({n.time}){_by(n.keys)}: "
        + "; ".join(_aggregation(a) for a in n.aggregations)
    ),
    PointInTime: lambda t, n: (
        f"point_in_time {t.ref(n.input)} on {t.ref(n.periods)}"
        + (f" x {t.ref(n.groups)}" if n.groups is not None else "")
        + (": active when" if n.value is None else f": sum({n.value.text}) of rows active when")
        + f" {n.from_column} < t"
        + (f" and ({n.until_column} is null or {n.until_column} >= t)" if n.until_column else "")
        + f", earlier changes from {_instant(n.before)}"
    ),
    Population: lambda t, n: (
        f"population {t.ref(n.customers)} on {t.ref(n.periods)}: acquired_at <= t < churned_at"
        + (f", {n.lag} period(s) later" if n.lag else "")
    ),
    EntityMeasure: lambda t, n: (
        f"entity_measure {t.ref(n.input)} by customer_id, {n.grain.name}({n.time}): "
        + _aggregation(n.aggregation)
    ),
    EntityRollup: lambda t, n: (
        f"entity_rollup {t.ref(n.population)} with {', '.join(t.ref(m) for m in n.measures)}"
        f" by period{_by(n.keys)}: {n.name} = {n.rollup}({n.score.text}), measures empty: {_empty(n.empty)},"
        f" quiet score {_value(n.quiet_score)}"
    ),
    Combine: lambda t, n: (
        f"combine {', '.join(t.out(o) for o in n.inputs)} with {t.ref(n.periods)}, empty: {_empty(n.empty)}"
    ),
    Lag: lambda t, n: (
        f"lag {t.ref(n.input)}{_by(n.keys)}: "
        + ", ".join(
            f"{target} = {source} {periods} period(s) earlier" for source, target, periods in n.columns
        )
    ),
    PeriodColumn: lambda t, n: f"period_column {t.ref(n.input)}: {n.name} = {n.grain.name}({n.column})",
    CohortRows: lambda t, n: (
        f"cohort_rows {', '.join(t.ref(m) for m in n.measures)} from {_instant(n.start)}, base through "
        f"{t.ref(n.map)}: " + ", ".join(n.lagged) + f", empty: {_empty(n.empty)}"
    ),
    PeriodMap: lambda t, n: (
        f"period_map {n.grain.name}: {len(n.pairs)} (bucket, period) pairs from {_instant(n.pairs[0][0])}"
    ),
    WindowAggregate: lambda t, n: (
        f"window_aggregate {t.ref(n.input)} by {n.map.grain.name}({n.time}) through {t.ref(n.map)}"
        f"{_by(n.keys)}: " + "; ".join(_aggregation(a) for a in n.aggregations)
    ),
    Share: lambda t, n: f"share {t.ref(n.values)}.{n.column} of {t.ref(n.totals)}.{n.column}: {n.name}",
    Project: lambda t, n: f"project {t.ref(n.input)}: {n.name} = {n.value.text}",
    Result: lambda t, n: (
        f"result from {_instant(n.start)}{_by(n.keys)}: " + ", ".join(t.out(o) for o in n.outputs)
    ),
}


def query_text(query: Query) -> str:
    """``query`` as numbered lines, inputs first, under a heading naming grain and groups."""
    text = _Text()
    text.visit(query.result)
    by = f" by {', '.join(query.by)}" if query.by else ""
    return "\n".join([f"plan ({query.grain.name}{by}):", *text.lines])


__all__ = ["inputs", "query_text"]
