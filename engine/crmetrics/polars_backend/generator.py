"""Generating Polars lazy frames from the relational IR: one handler per node class.

A node used by several relations is generated once and the same LazyFrame object is
reused. The handlers translate; the one place this backend chooses its own algorithm is
:meth:`PolarsGenerator._entity_rollup`, which for avg, sum, min and max counts an entity
metric's population from running sums instead of listing it (the same numbers, measured
in ``tests/test_fast_paths.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from crmetrics.formula.functions import FunctionTable
from crmetrics.ir.nodes import (
    AT_END,
    AT_START,
    ENTITY_KEY,
    PERIOD_DAYS_COLUMN,
    PREVIOUS,
    ROWS,
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
    Periods,
    PointInTime,
    Population,
    Project,
    Reach,
    Relation,
    Result,
    Scan,
    TimeRange,
    prior_column,
)
from crmetrics.periods import PERIOD_START, Grain, days_in_period, period_grid
from crmetrics.polars_backend.formula import PolarsFormula

TableSource = Callable[[str], pl.LazyFrame]

_DELTA, _BUCKET, _SCORE = "__delta", "__bucket", "__score"
_ROLLUPS: Mapping[str, str] = {"avg": "mean", "sum": "sum", "min": "min", "max": "max", "median": "median"}


def _truncate(column: str, grain: Grain) -> pl.Expr:
    return pl.col(column).dt.truncate(grain.every)


def _running(frame: pl.LazyFrame, by: Sequence[str], column: str, name: str) -> pl.LazyFrame:
    """``frame`` with the running sum of ``column`` over each group's periods as ``name``."""
    total = pl.col(column).cum_sum()
    return frame.sort([*by, PERIOD_START], nulls_last=False).with_columns(
        (total.over(by) if by else total).alias(name)
    )


class PolarsGenerator:
    """Turns IR nodes into LazyFrames reading tables from ``scan``."""

    def __init__(self, scan: TableSource, functions: FunctionTable) -> None:
        self.scan = scan
        self.functions = functions
        self.frames: dict[int, pl.LazyFrame] = {}

    def frame(self, node: Relation) -> pl.LazyFrame:
        """The LazyFrame of ``node``, generated once."""
        key = id(node)
        if key not in self.frames:
            self.frames[key] = _HANDLERS[type(node)](self, node)
        return self.frames[key]

    def known(self, node: Relation, frame: pl.LazyFrame) -> None:
        """Use ``frame`` (e.g. a collected result) as ``node``'s frame from now on."""
        self.frames[id(node)] = frame

    def formula(self, aggregation: Aggregation) -> pl.Expr:
        """The expression of an aggregation, reading only the rows its filter keeps."""
        row_filter = None
        if aggregation.filter is not None:
            assert aggregation.filter_formula is not None
            row_filter = PolarsFormula(
                aggregation.filter, aggregation.filter_formula, aggregation.subject, self.functions
            ).expr()
        return PolarsFormula(
            aggregation.value, aggregation.formula, aggregation.subject, self.functions, row_filter
        ).expr()

    # ---- rows -----------------------------------------------------------------------------

    def _table(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Scan)
        return self.scan(node.table)

    def _reach(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Reach)
        attributes = self.frame(node.customers).select(ENTITY_KEY, *node.columns)
        return self.frame(node.input).join(attributes, on=ENTITY_KEY, how="left", validate="m:1")

    def _filter(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Filter)
        condition = PolarsFormula(node.condition, node.formula, node.subject, self.functions).expr()
        return self.frame(node.input).filter(condition.fill_null(False))

    def _time_range(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, TimeRange)
        column = pl.col(node.column)
        return self.frame(node.input).filter((column >= node.start) & (column < node.end))

    def _distinct(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Distinct)
        return self.frame(node.input).select(node.columns).unique()

    # ---- periods and groups -----------------------------------------------------------------

    def _periods(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Periods)
        step = node.grain.every
        return period_grid(node.start, node.end, node.grain).with_columns(
            pl.col(PERIOD_START).dt.offset_by(f"-{step}").alias(PREVIOUS),
            days_in_period(PERIOD_START, node.grain).alias(PERIOD_DAYS_COLUMN),
        )

    def _grid(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Grid)
        periods = self.frame(node.periods).select(PERIOD_START)
        return periods if node.groups is None else periods.join(self.frame(node.groups), how="cross")

    def _complete(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Complete)
        keys = [PERIOD_START, *node.keys]
        joined = self.frame(node.grid).join(self.frame(node.values), on=keys, how="left", nulls_equal=True)
        return joined.select(
            *keys,
            *(
                pl.when(pl.col(ROWS).is_null()).then(pl.lit(value)).otherwise(pl.col(name)).alias(name)
                for name, value in node.empty
            ),
        )

    # ---- metrics read from tables -----------------------------------------------------------

    def _aggregate(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Aggregate)
        expressions = [self.formula(a).alias(a.name) for a in node.aggregations]
        return (
            self.frame(node.input)
            .group_by(_truncate(node.time, node.grain).alias(PERIOD_START), *node.keys)
            .agg(*expressions, pl.len().alias(ROWS))
        )

    def _point_in_time(self, node: Relation) -> pl.LazyFrame:
        # Active at t when from < t and (until is null or until >= t). Since every t is a
        # period start, from < t exactly when truncate(from) < t: counting starts and ends
        # per period and summing them up gives every period's count without a loop.
        assert isinstance(node, PointInTime)
        frame, by, keys = self.frame(node.input), list(node.keys), [PERIOD_START, *node.keys]
        started = pl.col(node.from_column).is_not_null()
        ended = started & pl.col(node.until_column).is_not_null()
        moves = pl.concat(
            [
                frame.filter(started).select(
                    *by, _truncate(node.from_column, node.grain).alias(_BUCKET), pl.lit(1).alias(_DELTA)
                ),
                frame.filter(ended).select(
                    *by, _truncate(node.until_column, node.grain).alias(_BUCKET), pl.lit(-1).alias(_DELTA)
                ),
            ]
        )
        end = node.periods.end if isinstance(node.periods, Periods) else None
        deltas = (
            moves.filter(pl.col(_BUCKET) < end)
            .group_by(pl.max_horizontal(pl.col(_BUCKET), pl.lit(node.before)).alias(PERIOD_START), *by)
            .agg(pl.col(_DELTA).sum())
        )
        before = pl.LazyFrame({PERIOD_START: [node.before]}).cast({PERIOD_START: pl.Datetime("us", "UTC")})
        periods = pl.concat([before, self.frame(node.periods).select(PERIOD_START)])
        grid = periods if node.groups is None else periods.join(self.frame(node.groups), how="cross")
        running = _running(
            grid.join(deltas, on=keys, how="left", nulls_equal=True).with_columns(
                pl.col(_DELTA).fill_null(0)
            ),
            by,
            _DELTA,
            AT_END,
        )
        return (
            running.with_columns((pl.col(AT_END) - pl.col(_DELTA)).alias(AT_START))
            .filter(pl.col(PERIOD_START) > node.before)
            .select(*keys, AT_START, AT_END)
        )

    # ---- entity metrics ---------------------------------------------------------------------

    def _membership(self, node: Population) -> tuple[pl.Expr, pl.Expr]:
        """The first period an entity belongs to the population and the first it no longer does."""
        assert isinstance(node.periods, Periods)
        step = node.grain.every
        acquired = _truncate("acquired_at", node.grain)
        churned = pl.coalesce(_truncate("churned_at", node.grain), pl.lit(node.periods.end))
        if node.lag:
            acquired, churned = acquired.dt.offset_by(step), churned.dt.offset_by(step)
        return acquired, churned

    def _population(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Population) and isinstance(node.periods, Periods)
        acquired, churned = self._membership(node)
        low = pl.max_horizontal(acquired, pl.lit(node.periods.start))
        high = pl.min_horizontal(churned, pl.lit(node.periods.end))
        return (
            self.frame(node.customers)
            .select(
                ENTITY_KEY,
                *[c for c in node.keys if c != ENTITY_KEY],
                pl.datetime_ranges(low, high, node.grain.every, closed="left").alias(PERIOD_START),
            )
            .explode(PERIOD_START)
            .filter(pl.col(PERIOD_START).is_not_null())
        )

    def _entity_measure(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, EntityMeasure)
        return (
            self.frame(node.input)
            .group_by(ENTITY_KEY, _truncate(node.time, node.grain).alias(PERIOD_START))
            .agg(self.formula(node.aggregation).alias(node.aggregation.name))
        )

    def score(self, node: EntityRollup) -> pl.Expr:
        """The per-entity score expression of an entity metric."""
        return PolarsFormula(node.score, node.formula, node.name, self.functions).expr()

    def _entity_rollup(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, EntityRollup)
        if ENTITY_KEY not in node.keys and node.rollup in ("avg", "sum", "min", "max"):
            return self._counted_rollup(node)
        keys = [PERIOD_START, *node.keys]
        scored = self.frame(node.population)
        for measure in node.measures:
            scored = scored.join(self.frame(measure), on=[ENTITY_KEY, PERIOD_START], how="left")
        scored = scored.with_columns(
            pl.col(n).fill_null(pl.lit(v)) if v is not None else pl.col(n) for n, v in node.empty
        ).with_columns(self.score(node).alias(_SCORE))
        rollup = getattr(pl.col(_SCORE), _ROLLUPS[node.rollup])()
        return scored.group_by(keys).agg(rollup.alias(node.name), pl.len().alias(ROWS))

    def _counted_rollup(self, node: EntityRollup) -> pl.LazyFrame:
        """An entity metric rolled up by avg, sum, min or max, without listing the population.

        An entity without rows in any measure in a period has every measure at its empty
        value, so they all score the same: the node's quiet score. Only entities with rows
        are scored one by one; the others enter the rollup as a count of that one score.
        The population's size per period comes from running sums of entries and exits, as
        for point-in-time counts, so no (entity, period) list is built.
        """
        population = node.population
        assert isinstance(population.periods, Periods)
        keys, by = [PERIOD_START, *node.keys], [c for c in node.keys if c != ENTITY_KEY]
        empties = dict(node.empty)
        measured: pl.LazyFrame | None = None
        for measure in node.measures:
            values = self.frame(measure).filter(pl.col(ENTITY_KEY).is_not_null())
            measured = (
                values
                if measured is None
                else measured.join(values, on=[ENTITY_KEY, PERIOD_START], how="full", coalesce=True)
            )
        assert measured is not None
        entered, left = self._membership(population)
        members = self.frame(node.customers).select(
            ENTITY_KEY, *by, entered.alias("__from"), left.alias("__until")
        )
        scored = (
            measured.join(members, on=ENTITY_KEY, how="inner")
            .filter((pl.col("__from") <= pl.col(PERIOD_START)) & (pl.col(PERIOD_START) < pl.col("__until")))
            .with_columns(pl.col(n).fill_null(pl.lit(v)) for n, v in empties.items() if v is not None)
            .with_columns(self.score(node).cast(pl.Float64).fill_nan(None).alias(_SCORE))
            .group_by(keys)
            .agg(
                pl.col(_SCORE).sum().alias("__sum"),
                pl.col(_SCORE).min().alias("__min"),
                pl.col(_SCORE).max().alias("__max"),
                pl.col(_SCORE).count().alias("__scored"),
                pl.len().alias("__active"),
            )
        )
        start = pl.lit(population.periods.start)
        moves = (
            pl.concat(
                [
                    members.select(*by, pl.max_horizontal("__from", start).alias(PERIOD_START), pl.lit(1)),
                    members.select(*by, pl.max_horizontal("__until", start).alias(PERIOD_START), pl.lit(-1)),
                ]
            )
            .rename({"literal": _DELTA})
            .filter(pl.col(PERIOD_START) < population.periods.end)
            .group_by(keys)
            .agg(pl.col(_DELTA).sum())
        )
        sizes = _running(
            self.frame(node.grid)
            .join(moves, on=keys, how="left", nulls_equal=True)
            .with_columns(pl.col(_DELTA).fill_null(0)),
            by,
            _DELTA,
            "__members",
        ).join(scored, on=keys, how="left", nulls_equal=True)
        quiet = node.quiet_score
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
        }[node.rollup]
        # Every (period, group) of the grid is here: where nobody belongs, the rollup's
        # empty value, which the completion after this node would give too.
        empty = 0.0 if node.rollup == "sum" else None
        return sizes.select(
            *keys,
            pl.when(pl.col("__members") > 0).then(value).otherwise(pl.lit(empty)).alias(node.name),
            pl.lit(1).alias(ROWS),
        )

    # ---- derived metrics and the result -----------------------------------------------------

    def _combine(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Combine) and isinstance(node.periods, Periods)
        keys = [PERIOD_START, *node.keys]
        frame: pl.LazyFrame | None = None
        for output in node.inputs:
            part = self.frame(output.relation).select(*keys, pl.col(output.column).alias(output.name))
            frame = (
                part
                if frame is None
                else frame.join(part, on=keys, how="full", coalesce=True, nulls_equal=True)
            )
        assert frame is not None
        return frame.with_columns(
            pl.col(n).fill_null(pl.lit(v)) for n, v in node.empty if v is not None
        ).with_columns(days_in_period(PERIOD_START, node.periods.grain).alias(PERIOD_DAYS_COLUMN))

    def _lag(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Lag)
        by = list(node.keys)
        return (
            self.frame(node.input)
            .sort([*by, PERIOD_START], nulls_last=False)
            .with_columns(
                (pl.col(n).shift(node.periods).over(by) if by else pl.col(n).shift(node.periods)).alias(
                    prior_column(n, node.periods)
                )
                for n in node.columns
            )
        )

    def _project(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Project)
        value = PolarsFormula(node.value, node.formula, node.name, self.functions).expr()
        return self.frame(node.input).select(PERIOD_START, *node.keys, value.alias(node.name))

    def _result(self, node: Relation) -> pl.LazyFrame:
        assert isinstance(node, Result)
        by = list(node.keys)
        parts = [
            self.frame(output.relation).select(
                pl.lit(output.name).alias("metric"),
                pl.col(PERIOD_START).dt.date(),
                *by,
                pl.col(output.column).cast(pl.Float64).fill_nan(None).alias("value"),
            )
            for output in node.outputs
        ]
        result = pl.concat(parts, how="vertical") if parts else pl.LazyFrame()
        result = result.filter(pl.col(PERIOD_START) >= node.start.date())
        return result.sort(["metric", PERIOD_START, *by], maintain_order=True)


_HANDLERS: dict[type, Callable[[PolarsGenerator, Any], pl.LazyFrame]] = {
    Scan: PolarsGenerator._table,
    Reach: PolarsGenerator._reach,
    Filter: PolarsGenerator._filter,
    TimeRange: PolarsGenerator._time_range,
    Distinct: PolarsGenerator._distinct,
    Periods: PolarsGenerator._periods,
    Grid: PolarsGenerator._grid,
    Complete: PolarsGenerator._complete,
    Aggregate: PolarsGenerator._aggregate,
    PointInTime: PolarsGenerator._point_in_time,
    Population: PolarsGenerator._population,
    EntityMeasure: PolarsGenerator._entity_measure,
    EntityRollup: PolarsGenerator._entity_rollup,
    Combine: PolarsGenerator._combine,
    Lag: PolarsGenerator._lag,
    Project: PolarsGenerator._project,
    Result: PolarsGenerator._result,
}


__all__ = ["PolarsGenerator", "TableSource"]
