"""Compiling a parsed formula into a Polars expression.

One handler per sqlglot node class, each a few lines returning a :class:`Typed` expression.
A node without a handler is an error naming the construct and its position, so nothing a
user writes is ever run except through these handlers.

Scopes decide what a bare name means:

- ``row``: a column of the table (filters, ``--where``).
- ``aggregate``: columns, which must sit inside an aggregate function.
- ``derived``: other metrics, parameters, ``prior(metric)`` and ``period_days()``.
- ``entity``: the entity metric's measures and parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import polars as pl
from sqlglot import exp

from crmetrics.errors import DefinitionError, Issue, did_you_mean
from crmetrics.formula.functions import FunctionTable, Kind
from crmetrics.formula.parse import node_offset, parse_formula, pointer
from crmetrics.metric import Formula

Scope = Literal["row", "aggregate", "derived", "entity"]

PRIOR = "prior"
PERIOD_DAYS = "period_days"
#: Column holding the period's length in days, provided by the planner in derived scope.
PERIOD_DAYS_COLUMN = "__period_days"


def prior_column(name: str) -> str:
    return f"__prior__{name}"


@dataclass(frozen=True)
class Typed:
    expr: pl.Expr
    kind: Kind
    is_aggregate: bool = False


@dataclass
class Context:
    """What a formula may refer to, and what compiling it found."""

    formula: Formula
    scope: Scope
    subject: str
    functions: FunctionTable
    columns: Mapping[str, Kind] = field(default_factory=dict)
    names: Mapping[str, Kind] = field(default_factory=dict)
    params: Mapping[str, float] = field(default_factory=dict)
    row_filter: pl.Expr | None = None
    references: set[str] = field(default_factory=set)
    priors: set[str] = field(default_factory=set)
    uses_period_days: bool = False
    in_aggregate: bool = False

    def error(self, node: exp.Expression, message: str, hint: str = "") -> DefinitionError:
        where = self.formula.at(node_offset(node))
        return DefinitionError(
            Issue(
                "formula",
                message,
                where,
                subject=self.subject,
                hint=hint,
                context=pointer(self.formula.text, node_offset(node)),
            )
        )


def compile_formula(context: Context) -> Typed:
    """Parse and compile ``context.formula``; raises :class:`DefinitionError` on any problem."""
    tree = parse_formula(context.formula, context.subject)
    result = compile_node(tree, context)
    if context.scope == "aggregate" and not result.is_aggregate:
        raise context.error(
            tree,
            "this formula must aggregate rows (count, sum, avg, ...)",
            "write e.g. count(*) or sum(amount)",
        )
    return result


def compile_node(node: exp.Expression, context: Context) -> Typed:
    handler = _HANDLERS.get(type(node))
    if handler is None:
        name = node.key.upper() if not isinstance(node, exp.Func) else node.sql_name()
        raise context.error(
            node,
            f"{name} is not supported in formulas",
            _UNSUPPORTED_HINTS.get(type(node), "see docs/definitions.md for the supported SQL"),
        )
    return handler(node, context)


def _args(node: exp.Expression, context: Context) -> list[Typed]:
    return [compile_node(arg, context) for arg in node.iter_expressions()]


def _need(node: exp.Expression, typed: Typed, kinds: tuple[Kind, ...], what: str, context: Context) -> None:
    if typed.kind not in (*kinds, "any"):
        raise context.error(node, f"{what} needs {' or '.join(kinds)}, but {node.sql()!r} is {typed.kind}")


# ---- names and literals -----------------------------------------------------------------


def _column(node: exp.Column, context: Context) -> Typed:
    name = node.name
    if node.table:
        raise context.error(
            node,
            f"qualified name {node.sql()!r} is not supported",
            f"write {name!r}: columns come from the metric's table",
        )
    if name in context.params:
        return Typed(pl.lit(context.params[name], dtype=pl.Float64), "number")
    if context.scope in ("row", "aggregate"):
        if name not in context.columns:
            raise context.error(node, f"unknown column {name!r}", did_you_mean(name, context.columns))
        if context.scope == "aggregate" and not context.in_aggregate:
            raise context.error(node, f"column {name!r} must be inside an aggregate such as sum({name})")
        return Typed(pl.col(name), context.columns[name])
    if name not in context.names:
        what = "metric" if context.scope == "derived" else "measure or parameter"
        raise context.error(
            node, f"unknown {what} {name!r}", did_you_mean(name, [*context.names, *context.params])
        )
    context.references.add(name)
    return Typed(pl.col(name), context.names[name])


def _literal(node: exp.Literal, context: Context) -> Typed:
    if node.is_string:
        return Typed(pl.lit(node.this), "text")
    value = float(node.this) if any(c in node.this for c in ".eE") else int(node.this)
    if not math.isfinite(value):
        raise context.error(
            node, f"the number {node.this} is too large to compute with", "write a smaller one"
        )
    return Typed(pl.lit(value), "number")


def _boolean(node: exp.Boolean, context: Context) -> Typed:
    return Typed(pl.lit(node.this), "boolean")


def _null(node: exp.Null, context: Context) -> Typed:
    return Typed(pl.lit(None), "any")


def _paren(node: exp.Paren, context: Context) -> Typed:
    return compile_node(node.this, context)


# ---- arithmetic, comparison, logic ------------------------------------------------------


def safe_divide(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """Division that gives null for a zero or null denominator, never inf or NaN."""
    return pl.when(denominator != 0).then(numerator.cast(pl.Float64) / denominator).otherwise(None)


def truncated_modulo(dividend: pl.Expr, divisor: pl.Expr) -> pl.Expr:
    """``dividend % divisor`` as SQL computes it: the sign of the dividend (-7 % 3 = -1).

    Polars' ``%`` is Python's floored modulo, which takes the divisor's sign (-7 % 3 = 2);
    where the two differ, the floored remainder is one divisor away from the truncated one.
    """
    floored = dividend % divisor
    differs = (floored != 0) & ((floored < 0) != (dividend < 0))
    return pl.when(differs).then(floored - divisor).otherwise(floored)


_ARITHMETIC: dict[type, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    exp.Add: lambda a, b: a + b,
    exp.Sub: lambda a, b: a - b,
    exp.Mul: lambda a, b: a * b,
    exp.Div: safe_divide,
    exp.Mod: lambda a, b: pl.when(b != 0).then(truncated_modulo(a, b)).otherwise(None),
}


def _arithmetic(node: exp.Binary, context: Context) -> Typed:
    left, right = compile_node(node.left, context), compile_node(node.right, context)
    symbol = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}[type(node)]
    _need(node.left, left, ("number",), f"'{symbol}'", context)
    _need(node.right, right, ("number",), f"'{symbol}'", context)
    expr = _ARITHMETIC[type(node)](left.expr, right.expr)
    return Typed(expr, "number", left.is_aggregate or right.is_aggregate)


def _neg(node: exp.Neg, context: Context) -> Typed:
    inner = compile_node(node.this, context)
    _need(node.this, inner, ("number",), "'-'", context)
    return Typed(-inner.expr, "number", inner.is_aggregate)


_COMPARE: dict[type, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    exp.EQ: lambda a, b: a == b,
    exp.NEQ: lambda a, b: a != b,
    exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b,
    exp.LT: lambda a, b: a < b,
    exp.LTE: lambda a, b: a <= b,
}


def _comparable(node: exp.Expression, typed: Typed, other: Typed, context: Context) -> Typed:
    # A text literal compared with a timestamp is read as a UTC timestamp, as in SQL.
    if other.kind == "datetime" and isinstance(node, exp.Literal) and node.is_string:
        try:
            value = datetime.fromisoformat(node.this.replace("Z", "+00:00"))
        except ValueError:
            raise context.error(node, f"{node.this!r} is not a date or timestamp") from None
        return Typed(
            pl.lit(value).dt.replace_time_zone("UTC")
            if value.tzinfo is None
            else pl.lit(value).dt.convert_time_zone("UTC"),
            "datetime",
        )
    return typed


def _compare(node: exp.Binary, context: Context) -> Typed:
    left, right = compile_node(node.left, context), compile_node(node.right, context)
    left = _comparable(node.left, left, right, context)
    right = _comparable(node.right, right, left, context)
    if "any" not in (left.kind, right.kind) and left.kind != right.kind:
        raise context.error(
            node, f"cannot compare {left.kind} {node.left.sql()!r} with {right.kind} {node.right.sql()!r}"
        )
    return Typed(
        _COMPARE[type(node)](left.expr, right.expr), "boolean", left.is_aggregate or right.is_aggregate
    )


def _logic(node: exp.Connector, context: Context) -> Typed:
    left, right = compile_node(node.left, context), compile_node(node.right, context)
    for side, typed in ((node.left, left), (node.right, right)):
        _need(side, typed, ("boolean",), node.key.upper(), context)
    expr = left.expr & right.expr if isinstance(node, exp.And) else left.expr | right.expr
    return Typed(expr, "boolean", left.is_aggregate or right.is_aggregate)


def _not(node: exp.Not, context: Context) -> Typed:
    inner = compile_node(node.this, context)
    _need(node.this, inner, ("boolean",), "NOT", context)
    return Typed(~inner.expr, "boolean", inner.is_aggregate)


def _is(node: exp.Is, context: Context) -> Typed:
    if not isinstance(node.expression, exp.Null):
        raise context.error(node, "only IS NULL and IS NOT NULL are supported")
    inner = compile_node(node.this, context)
    return Typed(inner.expr.is_null(), "boolean", inner.is_aggregate)


def _in(node: exp.In, context: Context) -> Typed:
    inner = compile_node(node.this, context)
    if not node.expressions:  # IN (SELECT ...), IN UNNEST(...): no list of values
        raise context.error(node, "IN takes a list of values, e.g. stage IN ('won', 'lost'), not a query")
    values = []
    for item in node.expressions:
        if not isinstance(item, exp.Literal):
            raise context.error(item, "IN (...) takes literal values only")
        _same_kind(
            item, node.this, inner, Typed(pl.lit(None), "text" if item.is_string else "number"), context
        )
        values.append(item.this if item.is_string else float(item.this))
    return Typed(inner.expr.is_in(values), "boolean", inner.is_aggregate)


def _same_kind(
    node: exp.Expression, subject: exp.Expression, left: Typed, right: Typed, context: Context
) -> None:
    """Refuse comparing text with a number (or any two kinds): no backend agrees on it."""
    if "any" not in (left.kind, right.kind) and left.kind != right.kind:
        raise context.error(
            node, f"cannot compare {left.kind} {subject.sql()!r} with {right.kind} {node.sql()!r}"
        )


def _between(node: exp.Between, context: Context) -> Typed:
    inner = compile_node(node.this, context)
    low = _comparable(node.args["low"], compile_node(node.args["low"], context), inner, context)
    high = _comparable(node.args["high"], compile_node(node.args["high"], context), inner, context)
    _same_kind(node.args["low"], node.this, inner, low, context)
    _same_kind(node.args["high"], node.this, inner, high, context)
    return Typed(inner.expr.is_between(low.expr, high.expr), "boolean", inner.is_aggregate)


def _case(node: exp.Case, context: Context) -> Typed:
    subject = compile_node(node.this, context) if node.this else None
    chain = None
    kinds, aggregate = [], False
    for branch in node.args["ifs"]:
        condition = compile_node(branch.this, context)
        if subject is not None:
            _same_kind(branch.this, node.this, subject, condition, context)
            condition = Typed(subject.expr == condition.expr, "boolean", condition.is_aggregate)
        _need(branch.this, condition, ("boolean",), "WHEN", context)
        value = compile_node(branch.args["true"], context)
        kinds.append(value.kind)
        aggregate |= condition.is_aggregate or value.is_aggregate
        chain = (pl.when(condition.expr) if chain is None else chain.when(condition.expr)).then(value.expr)
    default = compile_node(node.args["default"], context) if node.args.get("default") else None
    expr = chain.otherwise(default.expr if default else None) if chain is not None else pl.lit(None)
    return Typed(expr, _common_kind(kinds + ([default.kind] if default else [])), aggregate)


def _if(node: exp.If, context: Context) -> Typed:
    condition = compile_node(node.this, context)
    # A number as a condition is true where it is not 0 in some engines and an error in
    # others: only a boolean means the same everywhere.
    _need(node.this, condition, ("boolean",), "IF", context)
    value = compile_node(node.args["true"], context)
    other = compile_node(node.args["false"], context) if node.args.get("false") else None
    expr = pl.when(condition.expr).then(value.expr).otherwise(other.expr if other else None)
    return Typed(expr, value.kind, condition.is_aggregate or value.is_aggregate)


def _common_kind(kinds: list[Kind]) -> Kind:
    known = {k for k in kinds if k != "any"}
    return known.pop() if len(known) == 1 else "any"


# ---- scalar functions -------------------------------------------------------------------


def _coalesce(node: exp.Coalesce, context: Context) -> Typed:
    args = _args(node, context)
    return Typed(
        pl.coalesce([a.expr for a in args]),
        _common_kind([a.kind for a in args]),
        any(a.is_aggregate for a in args),
    )


def _nullif(node: exp.Nullif, context: Context) -> Typed:
    value, other = compile_node(node.this, context), compile_node(node.expression, context)
    return Typed(
        pl.when(value.expr == other.expr).then(None).otherwise(value.expr),
        value.kind,
        value.is_aggregate or other.is_aggregate,
    )


def _horizontal(node: exp.Expression, context: Context) -> Typed:
    args = _args(node, context)
    for arg, typed in zip(node.iter_expressions(), args, strict=True):
        _need(arg, typed, ("number",), node.sql_name(), context)
    build = pl.min_horizontal if isinstance(node, exp.Least) else pl.max_horizontal
    return Typed(build([a.expr for a in args]), "number", any(a.is_aggregate for a in args))


def _abs(node: exp.Abs, context: Context) -> Typed:
    inner = compile_node(node.this, context)
    _need(node.this, inner, ("number",), "ABS", context)
    return Typed(inner.expr.abs(), "number", inner.is_aggregate)


#: More decimal places than a double holds mean nothing; SQL renders ``10 ** places``.
MAX_ROUND_PLACES = 15


def _round(node: exp.Round, context: Context) -> Typed:
    inner = compile_node(node.this, context)
    _need(node.this, inner, ("number",), "ROUND", context)
    digits = node.args.get("decimals")
    if digits is not None and not (
        isinstance(digits, exp.Literal) and digits.this.isdigit() and int(digits.this) <= MAX_ROUND_PLACES
    ):
        raise context.error(
            digits,
            f"ROUND takes a whole number of decimal places from 0 to {MAX_ROUND_PLACES}, e.g. round(x, 2)",
            "a double holds about 15 significant digits; more places change nothing",
        )
    places = int(digits.this) if digits is not None else 0
    return Typed(inner.expr.round(places), "number", inner.is_aggregate)


_CASTS: dict[str, tuple[pl.DataType, Kind]] = {
    "FLOAT": (pl.Float64(), "number"),
    "DOUBLE": (pl.Float64(), "number"),
    "DECIMAL": (pl.Float64(), "number"),
    "INT": (pl.Int64(), "number"),
    "BIGINT": (pl.Int64(), "number"),
    "TEXT": (pl.String(), "text"),
    "VARCHAR": (pl.String(), "text"),
    "BOOLEAN": (pl.Boolean(), "boolean"),
}


def _cast(node: exp.Cast, context: Context) -> Typed:
    inner = compile_node(node.this, context)
    target = node.to.this.name if hasattr(node.to.this, "name") else str(node.to.this)
    if target not in _CASTS:
        raise context.error(node, f"cannot cast to {target}", "cast to FLOAT, INT, TEXT or BOOLEAN")
    dtype, kind = _CASTS[target]
    return Typed(inner.expr.cast(dtype), kind, inner.is_aggregate)


def _anonymous(node: exp.Anonymous, context: Context) -> Typed:
    name = node.name.lower()
    if name == PRIOR:
        return _prior(node, context)
    if name == PERIOD_DAYS:
        if context.scope != "derived":
            raise context.error(node, "period_days() is only available in derived metrics")
        context.uses_period_days = True
        return Typed(pl.col(PERIOD_DAYS_COLUMN), "number")
    spec = context.functions.get(name)
    if spec is None:
        known = [
            *context.functions.names(),
            *SQL_FUNCTIONS,
            *(_AGGREGATE_FUNCTIONS if context.scope == "aggregate" else []),
            *(["prior", "period_days"] if context.scope == "derived" else []),
        ]
        raise context.error(node, f"unknown function {name!r}", did_you_mean(name, known))
    args = _args(node, context)
    if len(args) != len(spec.args):
        raise context.error(node, f"{name}() takes {len(spec.args)} argument(s), got {len(args)}")
    for arg, typed, kind in zip(node.expressions, args, spec.args, strict=True):
        _need(arg, typed, (kind,), f"argument of {name}()", context)
    try:
        expr = spec.polars(*(a.expr for a in args))
    except Exception as error:  # a plugin's implementation failed: name it, keep going
        raise context.error(
            node,
            f"function {name!r} ({context.functions.providers.get(name)}) "
            f"failed to build its expression: {error}",
        ) from None
    if not isinstance(expr, pl.Expr):
        raise context.error(
            node,
            f"function {name!r} ({context.functions.providers.get(name)}) "
            f"returned {type(expr).__name__}, not a polars expression",
        )
    return Typed(expr, spec.returns, any(a.is_aggregate for a in args))


def _prior(node: exp.Anonymous, context: Context) -> Typed:
    if context.scope != "derived":
        raise context.error(node, "prior() is only available in derived metrics")
    args = node.expressions
    if len(args) != 1 or not isinstance(args[0], exp.Column):
        raise context.error(node, "prior() takes one metric name, e.g. prior(revenue)")
    target = args[0].name
    if target not in context.names:
        raise context.error(args[0], f"unknown metric {target!r}", did_you_mean(target, context.names))
    context.references.add(target)
    context.priors.add(target)
    return Typed(pl.col(prior_column(target)), "number")


# ---- aggregates -------------------------------------------------------------------------


def _aggregate_input(node: exp.Expression, context: Context, name: str) -> Typed:
    if context.scope != "aggregate":
        raise context.error(
            node,
            f"{name}() aggregates rows, which this formula cannot do",
            "aggregates belong in 'aggregate' metrics and measures",
        )
    if context.in_aggregate:
        raise context.error(node, "an aggregate cannot contain another aggregate")
    context.in_aggregate = True
    try:
        return compile_node(node, context)
    finally:
        context.in_aggregate = False


def _filtered(expr: pl.Expr, context: Context) -> pl.Expr:
    return expr.filter(context.row_filter.fill_null(False)) if context.row_filter is not None else expr


def _count(node: exp.Count, context: Context) -> Typed:
    # Polars counts are unsigned; signed counts keep differences such as
    # promoters - detractors from wrapping around.
    counted = _count_unsigned(node, context)
    return Typed(counted.expr.cast(pl.Int64), "number", True)


def _count_unsigned(node: exp.Count, context: Context) -> Typed:
    target = node.this
    if isinstance(target, exp.Star) or target is None:
        if context.scope != "aggregate":
            raise context.error(node, "count(*) aggregates rows, which this formula cannot do")
        if context.in_aggregate:
            raise context.error(node, "an aggregate cannot contain another aggregate")
        if context.row_filter is None:
            return Typed(pl.len(), "number", True)
        return Typed(context.row_filter.fill_null(False).sum(), "number", True)
    if isinstance(target, exp.Distinct):
        # count(distinct a, b) counts the distinct combinations in which no value is null.
        inputs = [
            _aggregate_input(e, context, "count").expr.alias(f"_{i}")
            for i, e in enumerate(target.expressions)
        ]
        keep = pl.all_horizontal(e.is_not_null() for e in inputs)
        if context.row_filter is not None:
            keep = keep & context.row_filter.fill_null(False)
        combined = inputs[0] if len(inputs) == 1 else pl.struct(inputs)
        return Typed(combined.filter(keep).n_unique(), "number", True)
    inner = _aggregate_input(target, context, "count")
    return Typed(_filtered(inner.expr, context).count(), "number", True)


_AGGREGATES: dict[type, tuple[str, Callable[[pl.Expr], pl.Expr]]] = {
    exp.Sum: ("sum", lambda e: e.sum()),
    exp.Avg: ("avg", lambda e: e.mean()),
    exp.Median: ("median", lambda e: e.median()),
    exp.Min: ("min", lambda e: e.min()),
    exp.Max: ("max", lambda e: e.max()),
}


def _aggregate(node: exp.AggFunc, context: Context) -> Typed:
    name, build = _AGGREGATES[type(node)]
    inner = _aggregate_input(node.this, context, name)
    kinds: tuple[Kind, ...] = ("number",) if name in ("sum", "avg", "median") else ("number", "datetime")
    _need(node.this, inner, kinds, f"{name}()", context)
    return Typed(build(_filtered(inner.expr, context)), inner.kind, True)


def _filter(node: exp.Filter, context: Context) -> Typed:
    condition_node = node.expression.this
    if context.scope != "aggregate":
        raise context.error(node, "FILTER (WHERE ...) applies to aggregates only")
    context.in_aggregate = True
    try:
        condition = compile_node(condition_node, context)
    finally:
        context.in_aggregate = False
    _need(condition_node, condition, ("boolean",), "FILTER (WHERE ...)", context)
    outer = context.row_filter
    context.row_filter = condition.expr if outer is None else outer & condition.expr
    try:
        return compile_node(node.this, context)
    finally:
        context.row_filter = outer


#: Names of the SQL functions formulas may call, for did-you-mean hints.
SQL_FUNCTIONS = ("coalesce", "nullif", "least", "greatest", "abs", "round")
_AGGREGATE_FUNCTIONS = ("count", *(name for name, _ in _AGGREGATES.values()))

_UNSUPPORTED_HINTS: dict[type, str] = {
    exp.DateDiff: "use hours_between(start, end), days_between(start, end), minutes_between or "
    "seconds_between: exact durations, not calendar boundaries",
}

_HANDLERS: dict[type, Callable[..., Typed]] = {
    exp.Column: _column,
    exp.Literal: _literal,
    exp.Boolean: _boolean,
    exp.Null: _null,
    exp.Paren: _paren,
    **dict.fromkeys(_ARITHMETIC, _arithmetic),
    exp.Neg: _neg,
    **dict.fromkeys(_COMPARE, _compare),
    exp.And: _logic,
    exp.Or: _logic,
    exp.Not: _not,
    exp.Is: _is,
    exp.In: _in,
    exp.Between: _between,
    exp.Case: _case,
    exp.If: _if,
    exp.Coalesce: _coalesce,
    exp.Nullif: _nullif,
    exp.Least: _horizontal,
    exp.Greatest: _horizontal,
    exp.Abs: _abs,
    exp.Round: _round,
    exp.Cast: _cast,
    exp.Anonymous: _anonymous,
    exp.Count: _count,
    **dict.fromkeys(_AGGREGATES, _aggregate),
    exp.Filter: _filter,
}
