"""Generating SQL from a checked formula, as sqlglot nodes.

The checker (:mod:`crmetrics.formula.check`) has resolved every name and kind; this module
writes each node of the typed tree as new sqlglot nodes, with the meaning the formula
language gives it where SQL means something else: division by zero is null, ``sum`` of
nothing is 0, ``least``/``greatest`` skip nulls, ``round`` rounds half to even, and a text
literal compared with a timestamp is a UTC timestamp. Nothing of the user's text reaches
the output except through sqlglot literal and identifier nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlglot import exp

from crmetrics.errors import DefinitionError, Issue
from crmetrics.formula.check import cast_target
from crmetrics.formula.functions import FunctionTable
from crmetrics.formula.parse import node_offset, pointer
from crmetrics.formula.typed import (
    Call,
    Checked,
    Column,
    Node,
    Parameter,
    PeriodDays,
    Prior,
    Reference,
    Timestamp,
    Windowed,
)
from crmetrics.ir.nodes import PERIOD_DAYS_COLUMN
from crmetrics.metric import Formula
from crmetrics.sql.dialects import data_type, double, half_even, localize, number, timestamp

Reference_ = Callable[[str], exp.Expr]

_ATOMS = (exp.Column, exp.Literal, exp.Func, exp.Paren, exp.Cast, exp.Null, exp.Boolean)


def wrap(node: exp.Expr) -> exp.Expr:
    """``node`` in parentheses unless it is an atom: built trees carry no precedence."""
    return node if isinstance(node, _ATOMS) else exp.paren(node, copy=False)


def quoted(name: str) -> exp.Column:
    """A column reference by a quoted name."""
    return exp.Column(this=exp.Identifier(this=name, quoted=True))


_CASTS: dict[str, str] = {
    "FLOAT": "DOUBLE",
    "DOUBLE": "DOUBLE",
    "DECIMAL": "DOUBLE",
    "INT": "BIGINT",
    "BIGINT": "BIGINT",
    "TEXT": "VARCHAR",
    "VARCHAR": "VARCHAR",
    "BOOLEAN": "BOOLEAN",
}


@dataclass
class SqlFormula:
    """The SQL of one checked formula.

    Attributes:
        checked: the formula's typed tree.
        formula: its text and location, for errors of plugin functions.
        subject: the metric it belongs to.
        functions: the function table, whose SQL implementations calls use.
        dialect: the SQL dialect written.
        row_filter: the rows aggregates read (a metric's ``filter``), if not all.
        reference: how a column or metric name is written.
    """

    checked: Checked
    formula: Formula
    subject: str
    functions: FunctionTable
    dialect: str
    row_filter: exp.Expr | None = None
    reference: Reference_ = quoted

    def compile(self) -> exp.Expr:
        """The whole formula as one expression, in the exact form of the dialect."""
        # Localized here, where generic nodes (a plugin's epoch, a median) are made: a
        # walk of the whole statement for them would cost more than the formulas' own.
        return localize(self.node(self.checked.tree), self.dialect)

    def node(self, node: Node) -> exp.Expr:
        """The SQL of ``node``, by its class or its operator's."""
        handler = _NAMED.get(type(node)) or _HANDLERS.get(type(node.source))
        if handler is None:  # the checker accepted it, so this module lags behind it
            raise self._error(node, f"{type(node.source).__name__} has no SQL translation")
        return handler(self, node)

    def _error(self, node: Node, message: str) -> DefinitionError:
        offset = node_offset(node.source)
        return DefinitionError(
            Issue(
                "no-sql",
                message,
                self.formula.at(offset),
                subject=self.subject,
                hint="run this metric with the Polars engine (the default)",
                context=pointer(self.formula.text, offset),
            )
        )

    def _all(self, node: Node) -> list[exp.Expr]:
        return [self.node(arg) for arg in node.args]

    # ---- names and literals ---------------------------------------------------------------

    def _column(self, node: Node) -> exp.Expr:
        assert isinstance(node, (Column, Reference))
        return self.reference(node.name)

    def _parameter(self, node: Node) -> exp.Expr:
        assert isinstance(node, Parameter)
        return number(float(node.value))

    def _prior(self, node: Node) -> exp.Expr:
        assert isinstance(node, (Prior, Windowed))
        return self.reference(node.column)

    def _period_days(self, node: Node) -> exp.Expr:
        return self.reference(PERIOD_DAYS_COLUMN)

    def _timestamp(self, node: Node) -> exp.Expr:
        assert isinstance(node, Timestamp)
        moment = datetime.fromisoformat(node.text.replace("Z", "+00:00"))
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return timestamp(moment, self.dialect)

    def _literal(self, node: Node) -> exp.Expr:
        source = node.source
        assert isinstance(source, exp.Literal)
        if source.is_string:
            return exp.Literal.string(source.this)
        text = source.this
        return number(float(text) if any(c in text for c in ".eE") else int(text))

    def _constant(self, node: Node) -> exp.Expr:
        return node.source.copy()

    # ---- operators --------------------------------------------------------------------------

    def _arithmetic(self, node: Node) -> exp.Expr:
        left, right = (wrap(e) for e in self._all(node))
        divisor = exp.Nullif(this=right, expression=exp.Literal.number(0))
        if isinstance(node.source, exp.Div):
            return exp.Div(this=double(left), expression=divisor)
        if isinstance(node.source, exp.Mod):
            if self.dialect == "postgres":  # no % for doubles; MOD of numerics keeps the dividend's sign
                numeric = data_type("DECIMAL")
                remainder = exp.Anonymous(
                    this="MOD",
                    expressions=[exp.Cast(this=left, to=numeric), exp.Cast(this=divisor, to=numeric.copy())],
                )
                return double(remainder)
            return exp.Mod(this=left, expression=divisor)
        return type(node.source)(this=left, expression=right)

    def _neg(self, node: Node) -> exp.Expr:
        return exp.Neg(this=wrap(self.node(node.args[0])))

    def _compare(self, node: Node) -> exp.Expr:
        left, right = (wrap(e) for e in self._all(node))
        return type(node.source)(this=left, expression=right)

    def _logic(self, node: Node) -> exp.Expr:
        left, right = (wrap(e) for e in self._all(node))
        return type(node.source)(this=left, expression=right)

    def _not_(self, node: Node) -> exp.Expr:
        return exp.Not(this=wrap(self.node(node.args[0])))

    def _is_(self, node: Node) -> exp.Expr:
        return exp.Is(this=wrap(self.node(node.args[0])), expression=exp.Null())

    def _in_(self, node: Node) -> exp.Expr:
        subject, *values = self._all(node)
        return exp.In(this=wrap(subject), expressions=values)

    def _between(self, node: Node) -> exp.Expr:
        inner, low, high = self._all(node)
        return exp.Between(this=wrap(inner), low=wrap(low), high=wrap(high))

    def _case(self, node: Node) -> exp.Expr:
        args = self._all(node)
        default = args.pop() if len(args) % 2 else None
        ifs = [exp.If(this=c, true=v) for c, v in zip(args[::2], args[1::2], strict=True)]
        return exp.Case(ifs=ifs, default=default)

    # ---- scalar functions -------------------------------------------------------------------

    def _coalesce(self, node: Node) -> exp.Expr:
        first, *rest = self._all(node)
        return exp.Coalesce(this=first, expressions=rest)

    def _nullif(self, node: Node) -> exp.Expr:
        value, other = self._all(node)
        return exp.Nullif(this=value, expression=other)

    def _horizontal(self, node: Node) -> exp.Expr:
        # Polars' min/max_horizontal skip nulls; LEAST/GREATEST do so only in some
        # databases. Coalescing each argument with all the others skips them everywhere.
        args = self._all(node)
        skipping = [
            exp.Coalesce(this=a.copy(), expressions=[b.copy() for j, b in enumerate(args) if j != i])
            if len(args) > 1
            else a
            for i, a in enumerate(args)
        ]
        first, *rest = skipping
        return type(node.source)(this=first, expressions=rest)

    def _abs_(self, node: Node) -> exp.Expr:
        return exp.Abs(this=self.node(node.args[0]))

    def _round_(self, node: Node) -> exp.Expr:
        digits = node.source.args.get("decimals")
        places = int(digits.this) if digits is not None else 0
        return half_even(self.node(node.args[0]), places)

    def _cast(self, node: Node) -> exp.Expr:
        assert isinstance(node.source, exp.Cast)
        target = _CASTS[cast_target(node.source)]
        value = self.node(node.args[0])
        if cast_target(node.source) in ("INT", "BIGINT") and node.args[0].kind == "number":
            # Polars and Spark truncate toward zero, DuckDB and others round: truncate first.
            negative = exp.LT(this=value.copy(), expression=exp.Literal.number(0))
            value = exp.Case(
                ifs=[exp.If(this=negative, true=exp.Ceil(this=value.copy()))],
                default=exp.Floor(this=value.copy()),
            )
        if self.dialect == "postgres" and node.args[0].kind == "boolean" and target != "BOOLEAN":
            value = exp.Cast(this=value, to=data_type("INT"))  # PostgreSQL casts booleans to INT only
        return exp.Cast(this=value, to=data_type(target))

    def _call(self, node: Node) -> exp.Expr:
        assert isinstance(node, Call)
        provider = self.functions.providers.get(node.name, "a plugin")
        implementation = self.functions.implementation(node.name, "sql")
        if implementation is None:
            raise self._error(
                node,
                f"function {node.name!r} (from {provider}) has no SQL implementation, so metric "
                f"{self.subject!r} cannot run on a SQL backend",
            )
        args = self._all(node)
        try:
            result = implementation(*args)
        except Exception as error:  # a plugin's builder failed: name it
            raise self._error(
                node, f"function {node.name!r} ({provider}) failed to build its SQL: {error}"
            ) from None
        if not isinstance(result, exp.Expr):
            raise self._error(
                node,
                f"function {node.name!r} ({provider}) returned {type(result).__name__}, "
                "not a sqlglot expression",
            )
        return wrap(result)

    # ---- aggregates ---------------------------------------------------------------------------

    def _only(self, value: exp.Expr) -> exp.Expr:
        """``value`` on the rows the row filter keeps, null elsewhere (aggregates skip nulls)."""
        if self.row_filter is None:
            return value
        return exp.Case(ifs=[exp.If(this=self.row_filter.copy(), true=value)])

    def _count(self, node: Node) -> exp.Expr:
        source = node.source
        assert isinstance(source, exp.Count)
        if not node.args:
            if self.row_filter is None:
                return exp.Count(this=exp.Star())
            return exp.Count(this=self._only(exp.Literal.number(1)))
        if isinstance(source.this, exp.Distinct):
            values = self._all(node)
            value = values[0] if len(values) == 1 else combination(values)
            return exp.Count(this=exp.Distinct(expressions=[self._only(value)]))
        return exp.Count(this=self._only(self.node(node.args[0])))

    def _aggregate(self, node: Node) -> exp.Expr:
        result = type(node.source)(this=self._only(self.node(node.args[0])))
        if isinstance(node.source, exp.Sum):  # a sum of nothing (or only nulls) is 0
            return exp.Coalesce(this=result, expressions=[exp.Literal.number(0)])
        return result

    def _filter(self, node: Node) -> exp.Expr:
        aggregate, condition_node = node.args
        condition = wrap(self.node(condition_node))
        outer = self.row_filter
        self.row_filter = condition if outer is None else exp.And(this=wrap(outer), expression=condition)
        try:
            return self.node(aggregate)
        finally:
            self.row_filter = outer


_NAMED: dict[type, Callable[[SqlFormula, Node], exp.Expr]] = {
    Column: SqlFormula._column,
    Reference: SqlFormula._column,
    Parameter: SqlFormula._parameter,
    Windowed: SqlFormula._prior,
    Prior: SqlFormula._prior,
    PeriodDays: SqlFormula._period_days,
    Timestamp: SqlFormula._timestamp,
    Call: SqlFormula._call,
}
_HANDLERS: dict[type, Callable[[SqlFormula, Node], exp.Expr]] = {
    exp.Literal: SqlFormula._literal,
    exp.Boolean: SqlFormula._constant,
    exp.Null: SqlFormula._constant,
    **dict.fromkeys((exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod), SqlFormula._arithmetic),
    exp.Neg: SqlFormula._neg,
    **dict.fromkeys((exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE), SqlFormula._compare),
    exp.And: SqlFormula._logic,
    exp.Or: SqlFormula._logic,
    exp.Not: SqlFormula._not_,
    exp.Is: SqlFormula._is_,
    exp.In: SqlFormula._in_,
    exp.Between: SqlFormula._between,
    exp.Case: SqlFormula._case,
    exp.If: SqlFormula._case,
    exp.Coalesce: SqlFormula._coalesce,
    exp.Nullif: SqlFormula._nullif,
    exp.Least: SqlFormula._horizontal,
    exp.Greatest: SqlFormula._horizontal,
    exp.Abs: SqlFormula._abs_,
    exp.Round: SqlFormula._round_,
    exp.Cast: SqlFormula._cast,
    exp.Count: SqlFormula._count,
    **dict.fromkeys((exp.Sum, exp.Avg, exp.Median, exp.Min, exp.Max), SqlFormula._aggregate),
    exp.Filter: SqlFormula._filter,
}


__all__ = ["SqlFormula", "combination", "quoted", "wrap"]


def combination(values: list[exp.Expr]) -> exp.Expr:
    """Several values as one text, null when any is null, equal only when all are equal.

    COUNT(DISTINCT a, b) is not portable (DuckDB has no such form); each value is written
    as its length, a colon and its text, so no two different combinations meet.
    """
    parts: list[exp.Expr] = []
    present: exp.Expr | None = None
    for value in values:
        text = exp.cast(value.copy(), exp.DataType.build("VARCHAR"))
        length = exp.cast(exp.Length(this=text.copy()), exp.DataType.build("VARCHAR"))
        parts += [length, exp.Literal.string(":"), text]
        known = exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null()))
        present = known if present is None else exp.And(this=present, expression=known)
    joined = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=joined, expression=part)
    return exp.Case(ifs=[exp.If(this=present, true=joined)])
