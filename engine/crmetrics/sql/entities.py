"""Rendering an entity metric: a score per entity and period, rolled up to each group.

The population (which entities count in which period) joins each entity with the periods
of the period grid it is active in, as :func:`crmetrics.semantics.population_lag` defines;
each measure is a per-entity aggregate joined onto it, its empty value filling the
periods without rows; the score formula is evaluated per row and rolled up per group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from crmetrics import semantics
from crmetrics.metric import MetricDefinition
from crmetrics.periods import PERIOD_START
from crmetrics.sql.query import ROWS, alias, col, grouped, literal, table_ref
from crmetrics.sql.sources import PREVIOUS
from crmetrics.sql.tables import identifier

if TYPE_CHECKING:
    from crmetrics.sql.renderer import SqlRenderer

_SCORE = "__score"


def _population(self: SqlRenderer, metric: MetricDefinition) -> str:
    customers = self.sources.filtered(metric.name, semantics.CUSTOMERS, ["acquired_at", "churned_at"])
    # The period an entity is counted in, moved back by the population's lag, must lie
    # in [truncate(acquired_at), truncate(churned_at)).
    moment = col(PREVIOUS if semantics.population_lag(metric) else PERIOD_START, "p")
    acquired = self.sources.truncate("acquired_at", "c")
    churned = self.sources.truncate("churned_at", "c")
    condition = exp.And(
        this=exp.GTE(this=moment, expression=acquired),
        expression=exp.paren(
            exp.Or(
                this=exp.Is(this=col("churned_at", "c"), expression=exp.Null()),
                expression=exp.LT(this=moment.copy(), expression=churned),
            )
        ),
    )
    others = [c for c in self.by if c != semantics.ENTITY_KEY]
    query = (
        exp.select(col(semantics.ENTITY_KEY, "c"), *(col(c, "c") for c in others), col(PERIOD_START, "p"))
        .from_(table_ref(customers.name, "c"))
        .join(table_ref(self.sources.periods(), "p"), on=condition, join_type="INNER")
    )
    return self.statement.add("population", query)


def render_entity(self: SqlRenderer, metric: MetricDefinition) -> None:
    """The entity metric's per-entity scores over its population, rolled up per group."""
    population = _population(self, metric)
    key = semantics.ENTITY_KEY
    joins, names = [], {}
    for index, measure in enumerate(metric.measures.values()):
        table = self.sources.base(measure.table)
        measure_metric = MetricDefinition(
            name=measure.name,
            type="aggregate",
            origin=metric.origin,
            location=metric.location,
            expr=measure.expr,
            filter=measure.filter,
        )
        expression = self._aggregations([measure_metric], table, metric.name)[measure.name]
        period = self.sources.truncate(measure.time)
        query = exp.select(col(key), alias(period.copy(), PERIOD_START), alias(expression, measure.name))
        query = query.from_(table_ref(table.name, "t")).where(self.sources.in_window(measure.time))
        joins.append((f"m{index}", self.statement.add("measure", grouped(query, [col(key), period]))))
        names[measure.name] = self.empty.pop(measure.name)
    columns = list(dict.fromkeys([key, *self.by, PERIOD_START]))
    query = exp.select(*(col(c, "e") for c in columns)).from_(table_ref(population, "e"))
    for (short, cte), name in zip(joins, names, strict=True):
        match = self.statement.key_match("e", short, [key, PERIOD_START])
        query = query.select(alias(col(name, short), name), append=True)
        query = query.join(table_ref(cte, short), on=match, join_type="LEFT")
    joined = self.statement.add("entity_measures", query)
    filled = [
        alias(exp.Coalesce(this=col(n), expressions=[literal(v)]), n) if v is not None else col(n)
        for n, v in names.items()
    ]
    inputs = exp.select(*(col(c) for c in columns), *filled).from_(table_ref(joined, "j"))
    assert metric.expr is not None
    context = self.sources.context(metric.expr, metric.name, "entity", names=dict.fromkeys(names, "number"))
    scored = exp.select(*(col(c) for c in self.keys), alias(self.sources.sql(context), _SCORE)).from_(
        inputs.subquery(identifier("s"))
    )
    scored_name = self.statement.add("entity_scores", scored)
    rollup: exp.Expression = {
        "avg": exp.Avg,
        "sum": exp.Sum,
        "min": exp.Min,
        "max": exp.Max,
        "median": exp.Median,
    }[metric.rollup](this=col(_SCORE))
    if metric.rollup == "sum":  # Polars sums nothing (or only nulls) to 0
        rollup = exp.Coalesce(this=rollup, expressions=[exp.Literal.number(0)])
    rolled = grouped(
        exp.select(
            *(col(c) for c in self.keys),
            alias(rollup, metric.name),
            alias(exp.Count(this=exp.Star()), ROWS),
        ).from_(table_ref(scored_name, "s")),
        [col(c) for c in self.keys],
    )
    rolled_name = self.statement.add("entity", rolled)
    self.empty[metric.name] = semantics.rollup_empty(metric.rollup)
    if key in self.by:
        # One row per entity in the population: an entity outside it has no score.
        self.frames[metric.name] = (rolled_name, metric.name)
        return
    customers = self.sources.filtered(metric.name, semantics.CUSTOMERS)
    grid = self.statement.grid(self.sources.periods(), self.sources.groups(customers))
    result = self.statement.complete(grid, rolled_name, {metric.name: self.empty[metric.name]})
    self.frames[metric.name] = (result, metric.name)
