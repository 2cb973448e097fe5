"""Generating one SQL statement from the relational IR: one handler per node class.

Every relation becomes a CTE named in order of creation; a node used by several relations
is one CTE. The handlers translate the nodes into sqlglot trees and decide nothing: the
grouping, windows, empty values and populations come from the IR. Point-in-time counts
are running sums of starts and ends per period (window functions), populations are joins
of entities with the period grid, and look-back is ``LAG`` over each group's periods.
Groups are compared null-safely: a null group is a group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlglot import exp

from crmetrics.formula.functions import FunctionTable
from crmetrics.ir.nodes import (
    AT_END,
    AT_START,
    ENTITY_KEY,
    PERIOD_DAYS_COLUMN,
    PREVIOUS,
    ROWS,
    SOURCE,
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
from crmetrics.periods import FISCAL_PERIOD, PERIOD_START, Grain
from crmetrics.sql.dialects import (
    as_timestamp,
    double,
    local_date,
    localize,
    number,
    timestamp,
    timestamp_text,
    truncate,
)
from crmetrics.sql.formula import SqlFormula
from crmetrics.sql.tables import Tables, identifier

_DELTA, _BUCKET, _SCORE = "__delta", "__bucket", "__score"
#: The argument holding a query's WITH clause: ``with_`` since sqlglot 28, ``with`` before.
_WITH = "with_" if "with_" in exp.Select.arg_types else "with"
_ROLLUPS: dict[str, type[exp.Expr]] = {
    "avg": exp.Avg,
    "sum": exp.Sum,
    "min": exp.Min,
    "max": exp.Max,
    "median": exp.Median,
}


def col(name: str, table: str | None = None) -> exp.Column:
    """A quoted column, optionally qualified by a quoted table alias."""
    return exp.Column(this=identifier(name), table=identifier(table) if table else None)


def alias(value: exp.Expr, name: str) -> exp.Expr:
    """``value AS "name"``."""
    return exp.Alias(this=value, alias=identifier(name))


def literal(value: Any) -> exp.Expr:
    """A Python value (an empty value: a number, a boolean or None) as a SQL literal."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    return number(value)


def all_of(conditions: Sequence[exp.Expr]) -> exp.Expr:
    """The conjunction of ``conditions`` (at least one)."""
    result = conditions[0]
    for condition in conditions[1:]:
        result = exp.And(this=result, expression=condition)
    return result


def grouped(select: exp.Select, expressions: Sequence[exp.Expr]) -> exp.Select:
    """``select`` grouped by ``expressions`` (repeated, not by alias or position: portable)."""
    return select.group_by(*(e.copy() for e in expressions), copy=False) if expressions else select


def table_ref(name: str, as_: str) -> exp.Table:
    """The CTE ``name`` under the alias ``as_``."""
    return exp.Table(this=identifier(name), alias=exp.TableAlias(this=identifier(as_)))


def key_match(left: str, right: str, columns: Sequence[str]) -> exp.Expr:
    """``left`` and ``right`` agree on ``columns``; equal groups include both null."""
    return all_of(
        [
            exp.EQ(this=col(c, left), expression=col(c, right))
            if c == PERIOD_START
            else exp.NullSafeEQ(this=col(c, left), expression=col(c, right))
            for c in columns
        ]
    )


def _utc_timestamp(value: exp.Expr) -> exp.Expr:
    """PostgreSQL: a TIMESTAMP or TIMESTAMPTZ column as the plain TIMESTAMP of its UTC instant."""
    epoch = exp.Extract(this=exp.var("EPOCH"), expression=value)
    instant = exp.Anonymous(this="TO_TIMESTAMP", expressions=[epoch])
    return exp.paren(exp.AtTimeZone(this=instant, zone=exp.Literal.string("UTC")))


def is_null(value: exp.Expr) -> exp.Expr:
    return exp.Is(this=value, expression=exp.Null())


class SqlGenerator:
    """Turns IR nodes into the CTEs of one statement reading ``tables`` in ``dialect``."""

    def __init__(self, tables: Tables, dialect: str, functions: FunctionTable) -> None:
        self.tables = tables
        self.dialect = dialect
        self.functions = functions
        self.ctes: list[tuple[str, exp.Query]] = []
        self.names: dict[int, str] = {}

    def cte(self, node: Relation) -> str:
        """The name of the CTE holding ``node``, generated once."""
        key = id(node)
        if key not in self.names:
            hint, query = _HANDLERS[type(node)](self, node)
            self.names[key] = self.add(hint, query)
        return self.names[key]

    def add(self, hint: str, query: exp.Query) -> str:
        """Add ``query`` as the next CTE; its name numbers it and says what it holds."""
        name = f"__{len(self.ctes) + 1}_{hint}"
        self.ctes.append((name, query))
        return name

    def statement(self, query: Query, *, ordered: bool = True) -> exp.Query:
        """The whole statement computing ``query``'s result."""
        result = self.cte(query.result)
        final = exp.select(exp.Star()).from_(table_ref(result, "r"), copy=False)
        if ordered:
            final = final.order_by(
                *(exp.Ordered(this=col(c), nulls_first=True) for c in ["metric", *query.keys]), copy=False
            )
        # One WITH node built at once: adding CTEs one by one copies the statement each time.
        ctes = [exp.CTE(this=q, alias=exp.TableAlias(this=identifier(n))) for n, q in self.ctes]
        final.set(_WITH, exp.With(expressions=ctes))
        return final

    def truncate(self, column: str, grain: Grain, table: str | None = None) -> exp.Expr:
        """The start of the period of ``grain`` holding ``column``."""
        return truncate(col(column, table), grain, self.dialect)

    def timestamp(self, moment: Any) -> exp.Expr:
        """``moment`` as a UTC timestamp literal of the dialect."""
        return timestamp(moment, self.dialect)

    def formula(self, aggregation: Aggregation) -> exp.Expr:
        """The SQL of an aggregation, reading only the rows its filter keeps."""
        row_filter = None
        if aggregation.filter is not None:
            assert aggregation.filter_formula is not None
            row_filter = SqlFormula(
                aggregation.filter,
                aggregation.filter_formula,
                aggregation.subject,
                self.functions,
                self.dialect,
            ).compile()
        return SqlFormula(
            aggregation.value,
            aggregation.formula,
            aggregation.subject,
            self.functions,
            self.dialect,
            row_filter,
        ).compile()

    # ---- rows -----------------------------------------------------------------------------

    def _scan(self, node: Scan) -> tuple[str, exp.Query]:
        relation = self.tables.relation(node.table)
        relation.set("alias", exp.TableAlias(this=identifier("t")))
        kinds = self.tables.kinds.get(node.table, {})
        if self.dialect != "postgres" or "datetime" not in kinds.values():
            return node.table, exp.select(exp.Star()).from_(relation, copy=False)
        # PostgreSQL compares and truncates a TIMESTAMPTZ in the session's time zone. The
        # epoch of a TIMESTAMPTZ is its instant, and that of a TIMESTAMP its value read as
        # UTC: either way this gives the UTC instant as a plain TIMESTAMP, so nothing after
        # the scan depends on the session.
        columns = [
            alias(_utc_timestamp(col(name)), name) if kind == "datetime" else col(name)
            for name, kind in kinds.items()
        ]
        return node.table, exp.select(*columns).from_(relation, copy=False)

    def _period_column(self, node: PeriodColumn) -> tuple[str, exp.Query]:
        start = truncate(col(node.column), node.grain, self.dialect)
        text = exp.Cast(this=local_date(start, node.grain, self.dialect), to=exp.DataType.build("VARCHAR"))
        query = exp.select(exp.Star(), alias(text, node.name)).from_(
            table_ref(self.cte(node.input), "t"), copy=False
        )
        return "dimension", query

    def _reach(self, node: Reach) -> tuple[str, exp.Query]:
        attributes = exp.select(col(ENTITY_KEY), *(col(c) for c in node.columns)).from_(
            table_ref(self.cte(node.customers), "c"), copy=False
        )
        query = (
            exp.select(
                exp.Column(this=exp.Star(), table=identifier("t")), *(col(c, "a") for c in node.columns)
            )
            .from_(table_ref(self.cte(node.input), "t"), copy=False)
            .join(
                exp.Join(
                    this=attributes.subquery(identifier("a")),
                    on=exp.EQ(this=col(ENTITY_KEY, "t"), expression=col(ENTITY_KEY, "a")),
                    side="LEFT",
                ),
                copy=False,
            )
        )
        return "reach", query

    def _filter(self, node: Filter) -> tuple[str, exp.Query]:
        condition = SqlFormula(
            node.condition, node.formula, node.subject, self.functions, self.dialect
        ).compile()
        return "where", exp.select(exp.Star()).from_(table_ref(self.cte(node.input), "t"), copy=False).where(
            condition, copy=False
        )

    def _time_range(self, node: TimeRange) -> tuple[str, exp.Query]:
        column = col(node.column)
        window = exp.And(
            this=exp.GTE(this=column, expression=self.timestamp(node.start)),
            expression=exp.LT(this=column.copy(), expression=self.timestamp(node.end)),
        )
        return "window", exp.select(exp.Star()).from_(table_ref(self.cte(node.input), "t"), copy=False).where(
            window, copy=False
        )

    def _distinct(self, node: Distinct) -> tuple[str, exp.Query]:
        query = (
            exp.select(*(col(c) for c in node.columns))
            .distinct(copy=False)
            .from_(table_ref(self.cte(node.input), "t"), copy=False)
        )
        return "groups", query

    # ---- periods and groups -----------------------------------------------------------------

    def _periods(self, node: Periods) -> tuple[str, exp.Query]:
        """The window's periods: start, previous start and length in days, as literal rows."""
        rows = [  # a few dozen literal rows, not data
            exp.Tuple(expressions=[timestamp_text(start), timestamp_text(previous), double(number(days))])
            for start, previous, days in node.rows()
        ]
        return "periods", self._literal_rows(rows, [PERIOD_START, PREVIOUS], [PERIOD_DAYS_COLUMN])

    def _literal_rows(self, rows: list[exp.Tuple], moments: list[str], others: list[str]) -> exp.Query:
        """``rows`` as a relation: its columns ``moments`` (UTC date and time texts, cast
        to timestamps once for the column, not once per row) then ``others``."""
        names = [identifier(c) for c in (*moments, *others)]
        values = exp.Values(expressions=rows, alias=exp.TableAlias(this=identifier("v"), columns=names))
        columns = [
            *(alias(as_timestamp(col(c, "v"), self.dialect), c) for c in moments),
            *(alias(col(c, "v"), c) for c in others),
        ]
        return exp.select(*columns).from_(values, copy=False)

    def _grid(self, node: Grid) -> tuple[str, exp.Query]:
        periods = table_ref(self.cte(node.periods), "p")
        if node.groups is None:
            return "grid", exp.select(col(PERIOD_START, "p")).from_(periods, copy=False)
        query = (
            exp.select(col(PERIOD_START, "p"), exp.Column(this=exp.Star(), table=identifier("g")))
            .from_(periods, copy=False)
            .join(exp.Join(this=table_ref(self.cte(node.groups), "g"), kind="CROSS"), copy=False)
        )
        return "grid", query

    def _complete(self, node: Complete) -> tuple[str, exp.Query]:
        keys = [PERIOD_START, *node.keys]
        missing = is_null(col(ROWS, "v"))
        columns = [
            alias(
                exp.Case(ifs=[exp.If(this=missing.copy(), true=literal(value))], default=col(name, "v")), name
            )
            for name, value in node.empty
        ]
        query = (
            exp.select(*(col(k, "g") for k in keys), *columns)
            .from_(table_ref(self.cte(node.grid), "g"), copy=False)
            .join(
                exp.Join(
                    this=table_ref(self.cte(node.values), "v"), on=key_match("g", "v", keys), side="LEFT"
                ),
                copy=False,
            )
        )
        return "complete", query

    # ---- metrics read from tables -----------------------------------------------------------

    def _aggregate(self, node: Aggregate) -> tuple[str, exp.Query]:
        period = self.truncate(node.time, node.grain)
        groups = [period, *(col(c) for c in node.keys)]
        query = exp.select(
            alias(period.copy(), PERIOD_START),
            *(col(c) for c in node.keys),
            *(alias(self.formula(a), a.name) for a in node.aggregations),
            alias(exp.Count(this=exp.Star()), ROWS),
        ).from_(table_ref(self.cte(node.input), "t"), copy=False)
        return "aggregate", grouped(query, groups)

    def _point_in_time(self, node: PointInTime) -> tuple[str, exp.Query]:
        rows = self.cte(node.input)
        before = self.timestamp(node.before)
        started = exp.Not(this=is_null(col(node.from_column)))
        by = [col(c) for c in node.keys]
        keys = [PERIOD_START, *node.keys]
        size: exp.Expr = exp.Literal.number(1)
        if node.value is not None:
            assert node.value_formula is not None
            value = SqlFormula(node.value, node.value_formula, node.subject, self.functions, self.dialect)
            size = exp.Coalesce(this=double(value.compile()), expressions=[double(exp.Literal.number(0))])

        def moves(column: str, change: exp.Expr, condition: exp.Expr) -> exp.Select:
            return (
                exp.select(*by, alias(self.truncate(column, node.grain), _BUCKET), alias(change, _DELTA))
                .from_(table_ref(rows, "t"), copy=False)
                .where(condition, copy=False)
            )

        starts: exp.Query = moves(node.from_column, size, started)
        if node.until_column:
            ended = exp.And(this=started.copy(), expression=exp.Not(this=is_null(col(node.until_column))))
            negative = exp.Neg(this=size.copy() if node.value is None else exp.paren(size.copy()))
            ends = moves(node.until_column, negative, ended)
            starts = exp.union(starts, ends, distinct=False)
        changes = self.add("snapshot_changes", starts)
        # Starts and ends before the window all count from the period before it.
        bucket = exp.Case(
            ifs=[exp.If(this=exp.GT(this=col(_BUCKET), expression=before), true=col(_BUCKET))],
            default=before.copy(),
        )
        assert isinstance(node.periods, Periods)
        deltas = self.add(
            "snapshot_deltas",
            grouped(
                exp.select(alias(bucket, PERIOD_START), *by, alias(exp.Sum(this=col(_DELTA)), _DELTA))
                .from_(table_ref(changes, "t"), copy=False)
                .where(exp.LT(this=col(_BUCKET), expression=self.timestamp(node.periods.end)), copy=False),
                [bucket, *by],
            ),
        )
        periods = self.add(
            "snapshot_periods",
            exp.union(
                exp.select(alias(before.copy(), PERIOD_START)),
                exp.select(col(PERIOD_START)).from_(table_ref(self.cte(node.periods), "p"), copy=False),
                distinct=False,
            ),
        )
        grid = periods
        if node.groups is not None:
            grid = self.add(
                "grid",
                exp.select(col(PERIOD_START, "p"), exp.Column(this=exp.Star(), table=identifier("g")))
                .from_(table_ref(periods, "p"), copy=False)
                .join(exp.Join(this=table_ref(self.cte(node.groups), "g"), kind="CROSS"), copy=False),
            )
        delta = exp.Coalesce(this=col(_DELTA, "d"), expressions=[exp.Literal.number(0)])
        window = exp.Window(
            this=exp.Sum(this=delta.copy()),
            partition_by=[col(c, "g") for c in node.keys] or None,
            order=exp.Order(expressions=[exp.Ordered(this=col(PERIOD_START, "g"))]),
            spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"),
        )
        running = self.add(
            "snapshot_running",
            exp.select(*(col(k, "g") for k in keys), alias(delta, _DELTA), alias(window, AT_END))
            .from_(table_ref(grid, "g"), copy=False)
            .join(
                exp.Join(this=table_ref(deltas, "d"), on=key_match("g", "d", keys), side="LEFT"), copy=False
            ),
        )
        counts = (
            exp.select(
                *(col(k) for k in keys),
                alias(exp.Sub(this=col(AT_END), expression=col(_DELTA)), AT_START),
                col(AT_END),
            )
            .from_(table_ref(running, "r"), copy=False)
            .where(exp.GT(this=col(PERIOD_START), expression=before.copy()), copy=False)
        )
        return "snapshot", counts

    # ---- entity metrics ---------------------------------------------------------------------

    def _population(self, node: Population) -> tuple[str, exp.Query]:
        # The period an entity is counted in, moved back by the population's lag, must lie
        # in [truncate(acquired_at), truncate(churned_at)).
        moment = col(PREVIOUS if node.lag else PERIOD_START, "p")
        condition = exp.And(
            this=exp.GTE(this=moment, expression=self.truncate("acquired_at", node.grain, "c")),
            expression=exp.paren(
                exp.Or(
                    this=is_null(col("churned_at", "c")),
                    expression=exp.LT(
                        this=moment.copy(), expression=self.truncate("churned_at", node.grain, "c")
                    ),
                )
            ),
        )
        others = [c for c in node.keys if c != ENTITY_KEY]
        query = (
            exp.select(col(ENTITY_KEY, "c"), *(col(c, "c") for c in others), col(PERIOD_START, "p"))
            .from_(table_ref(self.cte(node.customers), "c"), copy=False)
            .join(
                exp.Join(this=table_ref(self.cte(node.periods), "p"), on=condition, kind="INNER"), copy=False
            )
        )
        return "population", query

    def _entity_measure(self, node: EntityMeasure) -> tuple[str, exp.Query]:
        period = self.truncate(node.time, node.grain)
        query = exp.select(
            col(ENTITY_KEY),
            alias(period.copy(), PERIOD_START),
            alias(self.formula(node.aggregation), node.aggregation.name),
        ).from_(table_ref(self.cte(node.input), "t"), copy=False)
        return "measure", grouped(query, [col(ENTITY_KEY), period])

    def _cohort_rows(self, node: CohortRows) -> tuple[str, exp.Query]:
        # Each measure twice, as itself and moved to the period whose base it is: stacked,
        # then one row per (entity, period) with at most one value in each column.
        columns = [n for n, _ in node.empty]
        mapped = self.cte(node.map)
        parts: list[exp.Query] = []
        for measure, lagged in zip(node.measures, node.lagged, strict=True):
            name = measure.aggregation.name
            source = self.cte(measure)

            def slots(value: exp.Expr, into: str) -> list[exp.Expr]:
                return [alias(double(value.copy()) if c == into else double(exp.Null()), c) for c in columns]

            parts.append(
                exp.select(col(ENTITY_KEY), col(PERIOD_START), *slots(col(name), name))
                .from_(table_ref(source, "m"), copy=False)
                .where(exp.GTE(this=col(PERIOD_START), expression=self.timestamp(node.start)), copy=False)
            )
            parts.append(
                exp.select(col(ENTITY_KEY, "m"), col(PERIOD_START, "p"), *slots(col(name, "m"), lagged))
                .from_(table_ref(source, "m"), copy=False)
                .join(
                    exp.Join(
                        this=table_ref(mapped, "p"),
                        on=exp.EQ(this=col(PERIOD_START, "m"), expression=col(SOURCE, "p")),
                        kind="INNER",
                    ),
                    copy=False,
                )
            )
        stacked: exp.Query = parts[0]
        for part in parts[1:]:
            stacked = exp.union(stacked, part, distinct=False, copy=False)
        stack = self.add("cohort_stack", stacked)
        filled = []
        for name, value in node.empty:
            merged: exp.Expr = exp.Max(this=col(name))
            if value is not None:
                merged = exp.Coalesce(this=merged, expressions=[literal(value)])
            filled.append(alias(merged, name))
        query = exp.select(col(ENTITY_KEY), col(PERIOD_START), *filled).from_(
            table_ref(stack, "s"), copy=False
        )
        return "cohort_rows", grouped(query, [col(ENTITY_KEY), col(PERIOD_START)])

    def _entity_rollup(self, node: EntityRollup) -> tuple[str, exp.Query]:
        keys = [PERIOD_START, *node.keys]
        columns = list(dict.fromkeys([ENTITY_KEY, *node.keys, PERIOD_START]))
        query = exp.select(*(col(c, "e") for c in columns)).from_(
            table_ref(self.cte(node.population), "e"), copy=False
        )
        for index, measure in enumerate(node.measures):
            short, name = f"m{index}", measure.aggregation.name
            match = key_match("e", short, [ENTITY_KEY, PERIOD_START])
            query = query.select(alias(col(name, short), name), append=True, copy=False)
            query = query.join(
                exp.Join(this=table_ref(self.cte(measure), short), on=match, side="LEFT"), copy=False
            )
        joined = self.add("entity_measures", query)
        filled = [
            alias(exp.Coalesce(this=col(n), expressions=[literal(v)]), n) if v is not None else col(n)
            for n, v in node.empty
        ]
        inputs = exp.select(*(col(c) for c in columns), *filled).from_(table_ref(joined, "j"), copy=False)
        score = SqlFormula(node.score, node.formula, node.name, self.functions, self.dialect).compile()
        scored = self.add(
            "entity_scores",
            exp.select(*(col(c) for c in keys), alias(score, _SCORE)).from_(
                inputs.subquery(identifier("s")), copy=False
            ),
        )
        # Formulas come localized (SqlFormula.compile); a median rollup is made here.
        rollup = localize(_ROLLUPS[node.rollup](this=col(_SCORE)), self.dialect)
        if node.rollup == "sum":  # a sum over no entities (or only null scores) is 0
            rollup = exp.Coalesce(this=rollup, expressions=[exp.Literal.number(0)])
        rolled = exp.select(
            *(col(c) for c in keys), alias(rollup, node.name), alias(exp.Count(this=exp.Star()), ROWS)
        ).from_(table_ref(scored, "s"), copy=False)
        return "entity", grouped(rolled, [col(c) for c in keys])

    # ---- derived metrics and the result -----------------------------------------------------

    def _combine(self, node: Combine) -> tuple[str, exp.Query]:
        keys = [PERIOD_START, *node.keys]
        if not node.inputs:  # a formula of the period alone, e.g. period_days()
            periods = table_ref(self.cte(node.periods), "p")
            return "derived_inputs", exp.select(col(PERIOD_START), col(PERIOD_DAYS_COLUMN)).from_(periods)
        # A full outer join of the inputs on the keys, written as a stack and a group-by so
        # that each input is read once: nested joins would copy every input's subquery.
        slots = [f"__input_{i}" for i in range(len(node.inputs))]
        parts = []
        for index, output in enumerate(node.inputs):
            values = [
                alias(double(col(output.column)) if i == index else double(exp.Null()), slot)
                for i, slot in enumerate(slots)
            ]
            parts.append(
                exp.select(*(col(k) for k in keys), *values).from_(
                    table_ref(self.cte(output.relation), "f"), copy=False
                )
            )
        stacked: exp.Query = parts[0]
        for part in parts[1:]:
            stacked = exp.union(stacked, part, distinct=False, copy=False)
        stacked_name = self.add("derived_stack", stacked)
        merged = self.add(
            "derived_merged",
            grouped(
                exp.select(*(col(k) for k in keys), *(alias(exp.Max(this=col(s)), s) for s in slots)).from_(
                    table_ref(stacked_name, "s"), copy=False
                ),
                [col(k) for k in keys],
            ),
        )
        inputs = exp.select(*(col(k, "k") for k in keys)).from_(table_ref(merged, "k"), copy=False)
        for slot, (name, value) in zip(slots, node.empty, strict=True):
            column: exp.Expr = col(slot, "k")
            if value is not None:
                column = exp.Coalesce(this=column, expressions=[literal(value)])
            inputs = inputs.select(alias(column, name), append=True, copy=False)
        inputs = inputs.select(col(PERIOD_DAYS_COLUMN, "p"), append=True, copy=False).join(
            exp.Join(
                this=table_ref(self.cte(node.periods), "p"),
                on=key_match("k", "p", [PERIOD_START]),
                side="LEFT",
            ),
            copy=False,
        )
        return "derived_inputs", inputs

    def _lag(self, node: Lag) -> tuple[str, exp.Query]:
        lags = [
            alias(
                exp.Window(
                    this=exp.Anonymous(this="LAG", expressions=[col(source), exp.Literal.number(periods)])
                    if periods != 1
                    else exp.Anonymous(this="LAG", expressions=[col(source)]),
                    partition_by=[col(c) for c in node.keys] or None,
                    order=exp.Order(expressions=[exp.Ordered(this=col(PERIOD_START))]),
                ),
                target,
            )
            for source, target, periods in node.columns
        ]
        return "lag", exp.select(exp.Star(), *lags).from_(table_ref(self.cte(node.input), "i"), copy=False)

    # ---- time constructs --------------------------------------------------------------------

    def _period_map(self, node: PeriodMap) -> tuple[str, exp.Query]:
        # Tuple nodes built directly: exp.tuple_ copies each of its (hundreds of) values.
        rows = [exp.Tuple(expressions=[timestamp_text(s), timestamp_text(t)]) for s, t in node.pairs]
        return "period_map", self._literal_rows(rows, [SOURCE, PERIOD_START], [])

    def _window_aggregate(self, node: WindowAggregate) -> tuple[str, exp.Query]:
        # One pass over the rows: each joins the (few) periods whose window holds its bucket.
        bucket = self.truncate(node.time, node.map.grain, "t")
        joined = (
            exp.select(exp.Column(this=exp.Star(), table=identifier("t")), col(PERIOD_START, "m"))
            .from_(table_ref(self.cte(node.input), "t"), copy=False)
            .join(
                exp.Join(
                    this=table_ref(self.cte(node.map), "m"),
                    on=exp.EQ(this=bucket, expression=col(SOURCE, "m")),
                    kind="INNER",
                ),
                copy=False,
            )
        )
        spread = self.add("window_rows", joined)
        groups = [col(PERIOD_START), *(col(c) for c in node.keys)]
        query = exp.select(
            col(PERIOD_START),
            *(col(c) for c in node.keys),
            *(alias(self.formula(a), a.name) for a in node.aggregations),
            alias(exp.Count(this=exp.Star()), ROWS),
        ).from_(table_ref(spread, "t"), copy=False)
        return "window_aggregate", grouped(query, groups)

    def _share(self, node: Share) -> tuple[str, exp.Query]:
        total = col(node.column, "t")
        ratio = exp.Case(
            ifs=[
                exp.If(
                    this=exp.NEQ(this=total, expression=exp.Literal.number(0)),
                    true=exp.Div(this=double(col(node.column, "v")), expression=double(total.copy())),
                )
            ]
        )
        query = (
            exp.select(col(PERIOD_START, "v"), *(col(c, "v") for c in node.keys), alias(ratio, node.name))
            .from_(table_ref(self.cte(node.values), "v"), copy=False)
            .join(
                exp.Join(
                    this=table_ref(self.cte(node.totals), "t"),
                    on=key_match("v", "t", [PERIOD_START]),
                    side="LEFT",
                ),
                copy=False,
            )
        )
        return "share", query

    def _project(self, node: Project) -> tuple[str, exp.Query]:
        value = SqlFormula(node.value, node.formula, node.name, self.functions, self.dialect).compile()
        query = exp.select(col(PERIOD_START), *(col(k) for k in node.keys), alias(value, node.name)).from_(
            table_ref(self.cte(node.input), "w"), copy=False
        )
        return "derived", query

    def _result(self, node: Result) -> tuple[str, exp.Query]:
        parts = []
        for output in node.outputs:
            labels = []
            if node.labels:
                names = [
                    exp.If(
                        this=exp.EQ(this=col(PERIOD_START), expression=self.timestamp(start)),
                        true=exp.Literal.string(label),
                    )
                    for start, label in node.labels
                ]
                labels.append(alias(exp.Case(ifs=names), FISCAL_PERIOD))
            parts.append(
                exp.select(
                    alias(exp.Literal.string(output.name), "metric"),
                    alias(local_date(col(PERIOD_START), node.grain, self.dialect), PERIOD_START),
                    *labels,
                    *(col(c) for c in node.keys),
                    alias(double(col(output.column)), "value"),
                )
                .from_(table_ref(self.cte(output.relation), "m"), copy=False)
                .where(exp.GTE(this=col(PERIOD_START), expression=self.timestamp(node.start)), copy=False)
            )
        stacked: exp.Query = parts[0]
        for part in parts[1:]:
            stacked = exp.union(stacked, part, distinct=False, copy=False)
        return "result", stacked


_HANDLERS: dict[type, Callable[[SqlGenerator, Any], tuple[str, exp.Query]]] = {
    Scan: SqlGenerator._scan,
    Reach: SqlGenerator._reach,
    Filter: SqlGenerator._filter,
    TimeRange: SqlGenerator._time_range,
    Distinct: SqlGenerator._distinct,
    Periods: SqlGenerator._periods,
    Grid: SqlGenerator._grid,
    Complete: SqlGenerator._complete,
    Aggregate: SqlGenerator._aggregate,
    PointInTime: SqlGenerator._point_in_time,
    Population: SqlGenerator._population,
    EntityMeasure: SqlGenerator._entity_measure,
    EntityRollup: SqlGenerator._entity_rollup,
    Combine: SqlGenerator._combine,
    Lag: SqlGenerator._lag,
    PeriodColumn: SqlGenerator._period_column,
    CohortRows: SqlGenerator._cohort_rows,
    PeriodMap: SqlGenerator._period_map,
    WindowAggregate: SqlGenerator._window_aggregate,
    Share: SqlGenerator._share,
    Project: SqlGenerator._project,
    Result: SqlGenerator._result,
}


def generate_sql(
    query: Query, tables: Tables, dialect: str, functions: FunctionTable, *, ordered: bool = True
) -> exp.Query:
    """The statement computing ``query``'s long result, as a sqlglot tree.

    ``ordered=False`` leaves out the final ORDER BY, for callers that sort the rows
    themselves: on Spark a global sort costs an extra pass over the whole plan.
    """
    return SqlGenerator(tables, dialect, functions).statement(query, ordered=ordered)


__all__ = ["SqlGenerator", "generate_sql"]
