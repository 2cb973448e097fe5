"""Checking a formula: parse, resolve every name, type every node, without any backend.

One handler per sqlglot node class, each a few lines returning a typed
:class:`~crmetrics.formula.typed.Node`. A node without a handler is an error naming the
construct and its position, so nothing a user writes reaches a backend unchecked.

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
from typing import Any

from sqlglot import exp

from crmetrics.errors import DefinitionError, Issue, did_you_mean
from crmetrics.formula.functions import FunctionTable
from crmetrics.formula.parse import node_offset, parse_formula, pointer
from crmetrics.formula.typed import (
    TO_DATE_UNITS,
    Call,
    Checked,
    Column,
    Kind,
    Node,
    Parameter,
    PeriodDays,
    Prior,
    Reference,
    Scope,
    Timestamp,
    Windowed,
)
from crmetrics.metric import Formula

#: More decimal places than a double holds mean nothing; SQL renders ``10 ** places``.
MAX_ROUND_PLACES = 15

PRIOR = "prior"
PERIOD_DAYS = "period_days"
#: The time constructs of derived formulas, with an example each for messages.
TIME_CONSTRUCTS: dict[str, str] = {
    "prior": "prior(revenue) or prior(revenue, 2)",
    "year_ago": "year_ago(revenue)",
    "rolling": "rolling(revenue, 3)",
    "to_date": "to_date(revenue, 'year')",
    "share": "share(revenue)",
}

#: Names of the SQL functions formulas may call, for did-you-mean hints.
SQL_FUNCTIONS = ("coalesce", "nullif", "least", "greatest", "abs", "round")
AGGREGATES: dict[type, str] = {
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Median: "median",
    exp.Min: "min",
    exp.Max: "max",
}
_AGGREGATE_FUNCTIONS = ("count", *AGGREGATES.values())
ARITHMETIC: dict[type, str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
COMPARISONS: tuple[type, ...] = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)

#: The types a CAST may target, and the kind each gives.
CASTS: dict[str, Kind] = {
    "FLOAT": "number",
    "DOUBLE": "number",
    "DECIMAL": "number",
    "INT": "number",
    "BIGINT": "number",
    "TEXT": "text",
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
}

_UNSUPPORTED_HINTS: dict[type, str] = {
    exp.DateDiff: "use hours_between(start, end), days_between(start, end), minutes_between or "
    "seconds_between: exact durations, not calendar boundaries",
}


def cast_target(node: exp.Cast) -> str:
    """The upper-case name of the type a CAST converts to."""
    target = node.to.this
    return target.name if hasattr(target, "name") else str(target)


@dataclass
class Checker:
    """What a formula may refer to, and what checking it found.

    Attributes:
        formula: the formula and where it is written.
        scope: ``row``, ``aggregate``, ``derived`` or ``entity``.
        subject: the metric the formula belongs to (named in errors).
        functions: the functions formulas may call.
        columns: the columns a row or aggregate formula reads, with their kinds.
        names: the metrics (derived) or measures (entity) it may read, with their kinds.
        params: the metric's parameters, with the values in effect.
    """

    formula: Formula
    scope: Scope
    subject: str
    functions: FunctionTable
    columns: Mapping[str, Kind] = field(default_factory=dict)
    names: Mapping[str, Kind] = field(default_factory=dict)
    params: Mapping[str, float] = field(default_factory=dict)
    references: set[str] = field(default_factory=set)
    priors: set[str] = field(default_factory=set)
    windows: list[Node] = field(default_factory=list)
    #: Whether ``prior`` and ``year_ago`` may read a column (a cohort's measure) in an earlier period.
    lookback: bool = False
    in_aggregate: bool = False

    def check(self) -> Checked:
        """The typed tree of the formula; raises :class:`DefinitionError` on any problem."""
        tree = parse_formula(self.formula, self.subject)
        typed = self.node(tree)
        if self.scope == "aggregate" and not typed.is_aggregate:
            raise self.error(
                tree,
                "this formula must aggregate rows (count, sum, avg, ...)",
                "write e.g. count(*) or sum(amount)",
            )
        return Checked(
            typed, frozenset(self.references), frozenset(self.priors), self.scope, tuple(self.windows)
        )

    def error(self, node: exp.Expr, message: str, hint: str = "") -> DefinitionError:
        """A formula error pointing at ``node``'s first character."""
        offset = node_offset(node)
        return DefinitionError(
            Issue(
                "formula",
                message,
                self.formula.at(offset),
                subject=self.subject,
                hint=hint,
                context=pointer(self.formula.text, offset),
            )
        )

    def node(self, node: exp.Expr) -> Node:
        """The typed form of ``node``, checked."""
        handler = _HANDLERS.get(type(node))
        if handler is None and isinstance(node, exp.Subquery | exp.Exists | exp.Query):
            raise self.error(
                node,
                "a query (SELECT ...) cannot be used here: a formula or a filter reads only the "
                "metric's own rows",
                "compare with values, e.g. segment IN ('SMB', 'Enterprise'), or use another metric "
                "in a derived formula",
            )
        if handler is None:
            name = node.key.upper() if not isinstance(node, exp.Func) else node.sql_name()
            raise self.error(
                node,
                f"{name} is not supported in formulas",
                _UNSUPPORTED_HINTS.get(type(node), "see docs/definitions.md for the supported SQL"),
            )
        return handler(self, node)

    def need(self, node: exp.Expr, typed: Node, kinds: tuple[Kind, ...], what: str) -> None:
        """An error unless ``typed`` is one of ``kinds`` (or of unknown kind)."""
        if typed.kind not in (*kinds, "any"):
            raise self.error(node, f"{what} needs {' or '.join(kinds)}, but {node.sql()!r} is {typed.kind}")

    def all(self, node: exp.Expr) -> tuple[Node, ...]:
        """Every operand of ``node``, typed."""
        return tuple(self.node(arg) for arg in node.iter_expressions())

    # ---- names and literals -------------------------------------------------------------

    def _column(self, node: exp.Column) -> Node:
        name = node.name
        if node.table:
            raise self.error(
                node,
                f"qualified name {node.sql()!r} is not supported",
                f"write {name!r}: columns come from the metric's table",
            )
        if name in self.params:
            return Parameter(node, "number", name=name, value=float(self.params[name]))
        if self.scope in ("row", "aggregate"):
            if name not in self.columns:
                raise self.error(node, f"unknown column {name!r}", did_you_mean(name, self.columns))
            if self.scope == "aggregate" and not self.in_aggregate:
                raise self.error(node, f"column {name!r} must be inside an aggregate such as sum({name})")
            return Column(node, self.columns[name], name=name)
        if name not in self.names:
            what = "metric" if self.scope == "derived" else "measure or parameter"
            raise self.error(
                node, f"unknown {what} {name!r}", did_you_mean(name, [*self.names, *self.params])
            )
        self.references.add(name)
        return Reference(node, self.names[name], name=name)

    def _literal(self, node: exp.Literal) -> Node:
        if not node.is_string and not math.isfinite(float(node.this)):
            # 1e309 overflows to infinity: Polars computes with inf, SQL reads a bare `inf`.
            raise self.error(node, f"the number {node.this} is too large to compute with")
        return Node(node, "text" if node.is_string else "number")

    def _boolean(self, node: exp.Boolean) -> Node:
        return Node(node, "boolean")

    def _null(self, node: exp.Null) -> Node:
        return Node(node, "any")

    def _paren(self, node: exp.Paren) -> Node:
        return self.node(node.this)

    # ---- arithmetic, comparison, logic --------------------------------------------------

    def _arithmetic(self, node: exp.Binary) -> Node:
        left, right = self.node(node.left), self.node(node.right)
        symbol = ARITHMETIC[type(node)]
        self.need(node.left, left, ("number",), f"'{symbol}'")
        self.need(node.right, right, ("number",), f"'{symbol}'")
        return Node(node, "number", (left, right), left.is_aggregate or right.is_aggregate)

    def _neg(self, node: exp.Neg) -> Node:
        inner = self.node(node.this)
        self.need(node.this, inner, ("number",), "'-'")
        return Node(node, "number", (inner,), inner.is_aggregate)

    def comparable(self, node: exp.Expr, typed: Node, other: Node) -> Node:
        """A text literal compared with a timestamp is read as a UTC timestamp, as in SQL."""
        if other.kind == "datetime" and isinstance(node, exp.Literal) and node.is_string:
            try:
                datetime.fromisoformat(node.this.replace("Z", "+00:00"))
            except ValueError:
                raise self.error(node, f"{node.this!r} is not a date or timestamp") from None
            return Timestamp(node, "datetime", text=node.this)
        return typed

    def _compare(self, node: exp.Binary) -> Node:
        left, right = self.node(node.left), self.node(node.right)
        left = self.comparable(node.left, left, right)
        right = self.comparable(node.right, right, left)
        if "any" not in (left.kind, right.kind) and left.kind != right.kind:
            raise self.error(
                node, f"cannot compare {left.kind} {node.left.sql()!r} with {right.kind} {node.right.sql()!r}"
            )
        return Node(node, "boolean", (left, right), left.is_aggregate or right.is_aggregate)

    def _logic(self, node: exp.Connector) -> Node:
        left, right = self.node(node.left), self.node(node.right)
        for side, typed in ((node.left, left), (node.right, right)):
            self.need(side, typed, ("boolean",), node.key.upper())
        return Node(node, "boolean", (left, right), left.is_aggregate or right.is_aggregate)

    def _not_(self, node: exp.Not) -> Node:
        inner = self.node(node.this)
        self.need(node.this, inner, ("boolean",), "NOT")
        return Node(node, "boolean", (inner,), inner.is_aggregate)

    def _is_(self, node: exp.Is) -> Node:
        if not isinstance(node.expression, exp.Null):
            raise self.error(node, "only IS NULL and IS NOT NULL are supported")
        inner = self.node(node.this)
        return Node(node, "boolean", (inner,), inner.is_aggregate)

    def _in_(self, node: exp.In) -> Node:
        inner = self.node(node.this)
        if not node.expressions:  # IN (SELECT ...), IN UNNEST(...): would compile to IN ()
            raise self.error(node, "IN takes a list of values, e.g. stage IN ('won', 'lost'), not a query")
        values = []
        for item in node.expressions:
            if not isinstance(item, exp.Literal):
                raise self.error(item, "IN (...) takes literal values only")
            value = self._literal(item)
            self.same_kind(item, node.this, inner, value)
            values.append(value)
        return Node(node, "boolean", (inner, *values), inner.is_aggregate)

    def same_kind(self, node: exp.Expr, subject: exp.Expr, left: Node, right: Node) -> None:
        """Refuse comparing text with a number (or any two kinds): no backend agrees on it."""
        if "any" not in (left.kind, right.kind) and left.kind != right.kind:
            raise self.error(
                node, f"cannot compare {left.kind} {subject.sql()!r} with {right.kind} {node.sql()!r}"
            )

    def _between(self, node: exp.Between) -> Node:
        inner = self.node(node.this)
        low = self.comparable(node.args["low"], self.node(node.args["low"]), inner)
        high = self.comparable(node.args["high"], self.node(node.args["high"]), inner)
        self.same_kind(node.args["low"], node.this, inner, low)
        self.same_kind(node.args["high"], node.this, inner, high)
        return Node(node, "boolean", (inner, low, high), inner.is_aggregate)

    def _case(self, node: exp.Case) -> Node:
        """Arguments: condition, value, condition, value, ... and the default if any."""
        subject = self.node(node.this) if node.this else None
        args: list[Node] = []
        kinds: list[Kind] = []
        for branch in node.args["ifs"]:
            condition = self.node(branch.this)
            if subject is not None:
                assert node.this is not None
                self.same_kind(branch.this, node.this, subject, condition)
                # CASE x WHEN v is CASE WHEN x = v: a bare EQ marks the comparison.
                condition = Node(exp.EQ(), "boolean", (subject, condition), condition.is_aggregate)
            self.need(branch.this, condition, ("boolean",), "WHEN")
            value = self.node(branch.args["true"])
            kinds.append(value.kind)
            args += [condition, value]
        if node.args.get("default"):
            default = self.node(node.args["default"])
            kinds.append(default.kind)
            args.append(default)
        return Node(node, common_kind(kinds), tuple(args), any(a.is_aggregate for a in args))

    def _if_(self, node: exp.If) -> Node:
        condition = self.node(node.this)
        # A number as a condition is true where it is not 0 in some engines and an error in
        # others: only a boolean means the same everywhere.
        self.need(node.this, condition, ("boolean",), "IF")
        value = self.node(node.args["true"])
        args = [condition, value]
        if node.args.get("false"):
            args.append(self.node(node.args["false"]))
        return Node(node, value.kind, tuple(args), condition.is_aggregate or value.is_aggregate)

    # ---- scalar functions ---------------------------------------------------------------

    def _coalesce(self, node: exp.Coalesce) -> Node:
        args = self.all(node)
        return Node(node, common_kind([a.kind for a in args]), args, any(a.is_aggregate for a in args))

    def _nullif(self, node: exp.Nullif) -> Node:
        value, other = self.node(node.this), self.node(node.expression)
        return Node(node, value.kind, (value, other), value.is_aggregate or other.is_aggregate)

    def _horizontal(self, node: exp.Func) -> Node:
        args = self.all(node)
        for arg, typed in zip(node.iter_expressions(), args, strict=True):
            self.need(arg, typed, ("number",), node.sql_name())
        return Node(node, "number", args, any(a.is_aggregate for a in args))

    def _abs_(self, node: exp.Abs) -> Node:
        inner = self.node(node.this)
        self.need(node.this, inner, ("number",), "ABS")
        return Node(node, "number", (inner,), inner.is_aggregate)

    def _round_(self, node: exp.Round) -> Node:
        inner = self.node(node.this)
        self.need(node.this, inner, ("number",), "ROUND")
        digits = node.args.get("decimals")
        if digits is not None and not (
            isinstance(digits, exp.Literal) and digits.this.isdigit() and int(digits.this) <= MAX_ROUND_PLACES
        ):
            raise self.error(
                digits,
                f"ROUND takes a whole number of decimal places from 0 to {MAX_ROUND_PLACES}, "
                "e.g. round(x, 2)",
                "a double holds about 15 significant digits; more places change nothing",
            )
        return Node(node, "number", (inner,), inner.is_aggregate)

    def _cast(self, node: exp.Cast) -> Node:
        inner = self.node(node.this)
        target = cast_target(node)
        if target not in CASTS:
            raise self.error(node, f"cannot cast to {target}", "cast to FLOAT, INT, TEXT or BOOLEAN")
        return Node(node, CASTS[target], (inner,), inner.is_aggregate)

    def _anonymous(self, node: exp.Anonymous) -> Node:
        name = node.name.lower()
        if name in TIME_CONSTRUCTS:
            return self.time_construct(node, name)
        if name == PERIOD_DAYS:
            if self.scope != "derived":
                raise self.error(node, "period_days() is only available in derived metrics")
            return PeriodDays(node, "number")
        spec = self.functions.get(name)
        if spec is None:
            known = [
                *self.functions.names(),
                *SQL_FUNCTIONS,
                *(_AGGREGATE_FUNCTIONS if self.scope == "aggregate" else []),
                *([*TIME_CONSTRUCTS, "period_days"] if self.scope == "derived" else []),
            ]
            raise self.error(node, f"unknown function {name!r}", did_you_mean(name, known))
        args = self.all(node)
        if len(args) != len(spec.args):
            raise self.error(node, f"{name}() takes {len(spec.args)} argument(s), got {len(args)}")
        for arg, typed, kind in zip(node.expressions, args, spec.args, strict=True):
            self.need(arg, typed, (kind,), f"argument of {name}()")
        return Call(node, spec.returns, args, any(a.is_aggregate for a in args), name=name)

    def time_construct(self, node: exp.Anonymous, name: str) -> Node:
        """``prior``, ``year_ago``, ``rolling``, ``to_date`` or ``share`` of a metric."""
        example = TIME_CONSTRUCTS[name]
        measure = self.lookback and name in ("prior", "year_ago")
        if self.scope != "derived" and not measure:
            raise self.error(node, f"{name}() is only available in derived metrics", f"e.g. {example}")
        args = node.expressions
        if not args or not isinstance(args[0], exp.Column) or args[0].table:
            raise self.error(node, f"{name}() takes a metric name first, e.g. {example}")
        target = args[0].name
        known = self.columns if measure else self.names
        if target not in known:
            what = "measure" if measure else "metric"
            raise self.error(args[0], f"unknown {what} {target!r}", did_you_mean(target, known))
        extra = args[1:]
        typed: Prior | Windowed
        if name == "prior":
            typed = Prior(node, "number", name=target, periods=self.count(node, extra, example, default=1))
        elif name == "year_ago":
            self.arguments(node, extra, 0, example)
            typed = Prior(node, "number", name=target, periods=0, year_ago=True)
        elif name == "rolling":
            periods = self.count(node, extra, example, default=None)
            typed = Windowed(node, "number", name=target, construct="rolling", periods=periods)
        elif name == "to_date":
            self.arguments(node, extra, 1, example)
            unit = extra[0]
            if not (isinstance(unit, exp.Literal) and unit.is_string and unit.this in TO_DATE_UNITS):
                raise self.error(
                    unit,
                    f"to_date() takes a unit: {', '.join(repr(u) for u in TO_DATE_UNITS)}",
                    f"e.g. {example}",
                )
            typed = Windowed(node, "number", name=target, construct="to_date", unit=unit.this)
        else:
            self.arguments(node, extra, 0, example)
            typed = Windowed(node, "number", name=target, construct="share")
        self.references.add(target)
        if isinstance(typed, Prior):
            self.priors.add(target)
        self.windows.append(typed)
        return typed

    def arguments(self, node: exp.Expr, extra: list[exp.Expr], count: int, example: str) -> None:
        """An error unless the construct got ``count`` arguments after the metric."""
        if len(extra) != count:
            name = node.name.lower() if isinstance(node, exp.Anonymous) else "it"
            raise self.error(
                node, f"{name}() takes {count + 1} argument(s), got {len(extra) + 1}", f"e.g. {example}"
            )

    def count(self, node: exp.Expr, extra: list[exp.Expr], example: str, *, default: int | None) -> int:
        """A construct's whole number of periods (>= 1), or ``default`` when it may be left out."""
        if not extra and default is not None:
            return default
        self.arguments(node, extra, 1, example)
        value = extra[0]
        if not (isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()):
            raise self.error(value, "the number of periods must be a whole number, e.g. 3", f"e.g. {example}")
        if int(value.this) < 1:
            raise self.error(value, "the number of periods must be at least 1", f"e.g. {example}")
        return int(value.this)

    # ---- aggregates ---------------------------------------------------------------------

    def aggregate_input(self, node: exp.Expr, name: str) -> Node:
        """The operand of aggregate ``name``: rows may be read here, and no other aggregate."""
        if self.scope != "aggregate":
            raise self.error(
                node,
                f"{name}() aggregates rows, which this formula cannot do",
                "aggregates belong in 'aggregate' metrics and measures",
            )
        if self.in_aggregate:
            raise self.error(node, "an aggregate cannot contain another aggregate")
        self.in_aggregate = True
        try:
            return self.node(node)
        finally:
            self.in_aggregate = False

    def _count(self, node: exp.Count) -> Node:
        """``count(*)`` has no arguments; ``count(x)`` has ``x``; ``count(distinct x, y)`` has both."""
        target = node.this
        if isinstance(target, exp.Star) or target is None:
            if self.scope != "aggregate":
                raise self.error(node, "count(*) aggregates rows, which this formula cannot do")
            if self.in_aggregate:
                raise self.error(node, "an aggregate cannot contain another aggregate")
            return Node(node, "number", (), True)
        inner = list(target.expressions) if isinstance(target, exp.Distinct) else [target]
        return Node(node, "number", tuple(self.aggregate_input(e, "count") for e in inner), True)

    def _aggregate(self, node: exp.AggFunc) -> Node:
        name = AGGREGATES[type(node)]
        inner = self.aggregate_input(node.this, name)
        kinds: tuple[Kind, ...] = ("number",) if name in ("sum", "avg", "median") else ("number", "datetime")
        self.need(node.this, inner, kinds, f"{name}()")
        return Node(node, inner.kind, (inner,), True)

    def _filter(self, node: exp.Filter) -> Node:
        """Arguments: the aggregate, then the condition that picks its rows."""
        condition_node = node.expression.this
        if self.scope != "aggregate":
            raise self.error(node, "FILTER (WHERE ...) applies to aggregates only")
        self.in_aggregate = True
        try:
            condition = self.node(condition_node)
        finally:
            self.in_aggregate = False
        self.need(condition_node, condition, ("boolean",), "FILTER (WHERE ...)")
        inner = self.node(node.this)
        return Node(node, inner.kind, (inner, condition), True)


def common_kind(kinds: list[Kind]) -> Kind:
    """The one kind all known ``kinds`` share, or ``any``."""
    known = {k for k in kinds if k != "any"}
    return known.pop() if len(known) == 1 else "any"


def check_formula(
    formula: Formula,
    scope: Scope,
    subject: str,
    functions: FunctionTable,
    *,
    columns: Mapping[str, Kind] | None = None,
    names: Mapping[str, Kind] | None = None,
    params: Mapping[str, float] | None = None,
    lookback: bool = False,
) -> Checked:
    """The typed tree of ``formula`` in ``scope``; raises :class:`DefinitionError` on any problem.

    Args:
        formula: the formula and where it is written.
        scope: ``row``, ``aggregate``, ``derived`` or ``entity``.
        subject: the metric it belongs to.
        functions: the functions it may call.
        columns: the columns it may read (row and aggregate scopes).
        names: the metrics or measures it may read (derived and entity scopes).
        params: the metric's parameters and their values.
        lookback: whether ``prior(column, n)`` and ``year_ago(column)`` may read a column in
            an earlier period (a cohort's measures).
    """
    checker = Checker(formula, scope, subject, functions, columns or {}, names or {}, params or {})
    checker.lookback = lookback
    return checker.check()


# Each handler takes its own node class: the table's key guarantees it.
_HANDLERS: dict[type, Callable[[Checker, Any], Node]] = {
    exp.Column: Checker._column,
    exp.Literal: Checker._literal,
    exp.Boolean: Checker._boolean,
    exp.Null: Checker._null,
    exp.Paren: Checker._paren,
    **dict.fromkeys(ARITHMETIC, Checker._arithmetic),
    exp.Neg: Checker._neg,
    **dict.fromkeys(COMPARISONS, Checker._compare),
    exp.And: Checker._logic,
    exp.Or: Checker._logic,
    exp.Not: Checker._not_,
    exp.Is: Checker._is_,
    exp.In: Checker._in_,
    exp.Between: Checker._between,
    exp.Case: Checker._case,
    exp.If: Checker._if_,
    exp.Coalesce: Checker._coalesce,
    exp.Nullif: Checker._nullif,
    exp.Least: Checker._horizontal,
    exp.Greatest: Checker._horizontal,
    exp.Abs: Checker._abs_,
    exp.Round: Checker._round_,
    exp.Cast: Checker._cast,
    exp.Anonymous: Checker._anonymous,
    exp.Count: Checker._count,
    **dict.fromkeys(AGGREGATES, Checker._aggregate),
    exp.Filter: Checker._filter,
}


__all__ = [
    "CASTS",
    "PERIOD_DAYS",
    "PRIOR",
    "SQL_FUNCTIONS",
    "TIME_CONSTRUCTS",
    "Checker",
    "cast_target",
    "check_formula",
    "common_kind",
]
