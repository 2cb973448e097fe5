"""Translating a formula's sqlglot tree into the SQL a backend runs.

Every formula is first compiled by the Polars compiler: its scopes, kinds and errors are
the only checks, so a formula is valid on a SQL backend exactly when it is valid on Polars.
This module then rewrites the checked tree node by node into new nodes, with the meaning
the Polars compiler gives each node where SQL means something else: division by zero is
null, ``sum`` of nothing is 0, ``least``/``greatest`` skip nulls, ``round`` rounds half to
even, and a text literal compared with a timestamp is a UTC timestamp. Nothing of the
user's text reaches the output except through sqlglot literal and identifier nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlglot import exp

from crmetrics.errors import DefinitionError, Issue
from crmetrics.formula.compiler import PERIOD_DAYS, PERIOD_DAYS_COLUMN, PRIOR, Context, compile_formula
from crmetrics.formula.compiler import prior_column as prior_name
from crmetrics.formula.functions import Kind
from crmetrics.formula.parse import node_offset, parse_formula, pointer
from crmetrics.sql.dialects import double, half_even, number, timestamp

Reference = Callable[[str], exp.Expression]

_ATOMS = (exp.Column, exp.Literal, exp.Func, exp.Paren, exp.Cast, exp.Null, exp.Boolean)


def wrap(node: exp.Expression) -> exp.Expression:
    """``node`` in parentheses unless it is an atom: built trees carry no precedence."""
    return node if isinstance(node, _ATOMS) else exp.paren(node, copy=False)


def quoted(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True))


@dataclass
class SqlFormula:
    """The translation of one checked formula."""

    context: Context
    dialect: str
    reference: Reference = quoted
    row_filter: exp.Expression | None = None

    def compile(self) -> exp.Expression:
        compile_formula(self.context)  # the checks; raises DefinitionError
        tree = parse_formula(self.context.formula, self.context.subject)
        return self.node(tree)[0]

    def node(self, node: exp.Expression) -> tuple[exp.Expression, Kind]:
        handler = _HANDLERS.get(type(node))
        if handler is None:  # the Polars compiler accepted it, so this module lags behind it
            raise self._error(node, f"{type(node).__name__} has no SQL translation")
        return handler(self, node)

    def _error(self, node: exp.Expression, message: str) -> DefinitionError:
        offset = node_offset(node)
        return DefinitionError(
            Issue(
                "no-sql",
                message,
                self.context.formula.at(offset),
                subject=self.context.subject,
                hint="run this metric with the Polars engine (the default)",
                context=pointer(self.context.formula.text, offset),
            )
        )

    def _all(self, node: exp.Expression) -> list[exp.Expression]:
        return [self.node(arg)[0] for arg in node.iter_expressions()]

    # ---- names and literals ---------------------------------------------------------------

    def column(self, node: exp.Column) -> tuple[exp.Expression, Kind]:
        name = node.name
        if name in self.context.params:
            return number(float(self.context.params[name])), "number"
        kinds = self.context.columns if self.context.scope in ("row", "aggregate") else self.context.names
        return self.reference(name), kinds.get(name, "any")

    def literal(self, node: exp.Literal) -> tuple[exp.Expression, Kind]:
        if node.is_string:
            return exp.Literal.string(node.this), "text"
        text = node.this
        value = float(text) if any(c in text for c in ".eE") else int(text)
        return number(value), "number"

    def constant(self, node: exp.Expression) -> tuple[exp.Expression, Kind]:
        kind: Kind = "boolean" if isinstance(node, exp.Boolean) else "any"
        return node.copy(), kind

    def paren(self, node: exp.Paren) -> tuple[exp.Expression, Kind]:
        inner, kind = self.node(node.this)
        return exp.paren(inner, copy=False), kind

    # ---- operators --------------------------------------------------------------------------

    def arithmetic(self, node: exp.Binary) -> tuple[exp.Expression, Kind]:
        left, right = wrap(self.node(node.left)[0]), wrap(self.node(node.right)[0])
        divisor = exp.Nullif(this=right, expression=exp.Literal.number(0))
        if isinstance(node, exp.Div):
            return exp.Div(this=double(left), expression=divisor), "number"
        if isinstance(node, exp.Mod):
            return exp.Mod(this=left, expression=divisor), "number"
        return type(node)(this=left, expression=right), "number"

    def neg(self, node: exp.Neg) -> tuple[exp.Expression, Kind]:
        return exp.Neg(this=wrap(self.node(node.this)[0])), "number"

    def _comparable(self, node: exp.Expression, other: Kind) -> exp.Expression:
        value, _ = self.node(node)
        if other == "datetime" and isinstance(node, exp.Literal) and node.is_string:
            moment = datetime.fromisoformat(node.this.replace("Z", "+00:00"))
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
            return timestamp(moment, self.dialect)
        return wrap(value)

    def compare(self, node: exp.Binary) -> tuple[exp.Expression, Kind]:
        left_kind, right_kind = self.node(node.left)[1], self.node(node.right)[1]
        left = self._comparable(node.left, right_kind)
        right = self._comparable(node.right, left_kind)
        return type(node)(this=left, expression=right), "boolean"

    def logic(self, node: exp.Connector) -> tuple[exp.Expression, Kind]:
        left, right = wrap(self.node(node.left)[0]), wrap(self.node(node.right)[0])
        return type(node)(this=left, expression=right), "boolean"

    def not_(self, node: exp.Not) -> tuple[exp.Expression, Kind]:
        return exp.Not(this=wrap(self.node(node.this)[0])), "boolean"

    def is_(self, node: exp.Is) -> tuple[exp.Expression, Kind]:
        return exp.Is(this=wrap(self.node(node.this)[0]), expression=exp.Null()), "boolean"

    def in_(self, node: exp.In) -> tuple[exp.Expression, Kind]:
        values = [self.node(item)[0] for item in node.expressions]
        return exp.In(this=wrap(self.node(node.this)[0]), expressions=values), "boolean"

    def between(self, node: exp.Between) -> tuple[exp.Expression, Kind]:
        inner, kind = self.node(node.this)
        low = self._comparable(node.args["low"], kind)
        high = self._comparable(node.args["high"], kind)
        return exp.Between(this=wrap(inner), low=low, high=high), "boolean"

    def case(self, node: exp.Case) -> tuple[exp.Expression, Kind]:
        subject = self.node(node.this)[0] if node.this else None
        ifs, kinds = [], []
        for branch in node.args["ifs"]:
            condition = self.node(branch.this)[0]
            if subject is not None:
                condition = exp.EQ(this=wrap(subject.copy()), expression=wrap(condition))
            value, kind = self.node(branch.args["true"])
            ifs.append(exp.If(this=condition, true=value))
            kinds.append(kind)
        default = self.node(node.args["default"])[0] if node.args.get("default") else None
        known = {k for k in kinds if k != "any"}
        return exp.Case(ifs=ifs, default=default), known.pop() if len(known) == 1 else "any"

    def if_(self, node: exp.If) -> tuple[exp.Expression, Kind]:
        condition = self.node(node.this)[0]
        value, kind = self.node(node.args["true"])
        other = self.node(node.args["false"])[0] if node.args.get("false") else None
        return exp.Case(ifs=[exp.If(this=condition, true=value)], default=other), kind

    # ---- scalar functions -------------------------------------------------------------------

    def coalesce(self, node: exp.Coalesce) -> tuple[exp.Expression, Kind]:
        first, *rest = self._all(node)
        return exp.Coalesce(this=first, expressions=rest), "any"

    def nullif(self, node: exp.Nullif) -> tuple[exp.Expression, Kind]:
        value, kind = self.node(node.this)
        return exp.Nullif(this=value, expression=self.node(node.expression)[0]), kind

    def horizontal(self, node: exp.Expression) -> tuple[exp.Expression, Kind]:
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
        return type(node)(this=first, expressions=rest), "number"

    def abs_(self, node: exp.Abs) -> tuple[exp.Expression, Kind]:
        return exp.Abs(this=self.node(node.this)[0]), "number"

    def round_(self, node: exp.Round) -> tuple[exp.Expression, Kind]:
        digits = node.args.get("decimals")
        places = int(digits.this) if digits is not None else 0
        return half_even(self.node(node.this)[0], places), "number"

    def cast(self, node: exp.Cast) -> tuple[exp.Expression, Kind]:
        target = node.to.this.name if hasattr(node.to.this, "name") else str(node.to.this)
        value, value_kind = self.node(node.this)
        if target in ("INT", "BIGINT") and value_kind == "number":
            # Polars and Spark truncate toward zero, DuckDB and others round: truncate first.
            value = exp.Case(
                ifs=[
                    exp.If(
                        this=exp.LT(this=value.copy(), expression=exp.Literal.number(0)),
                        true=exp.Ceil(this=value.copy()),
                    )
                ],
                default=exp.Floor(this=value.copy()),
            )
        kinds: dict[str, tuple[str, Kind]] = {
            "FLOAT": ("DOUBLE", "number"),
            "DOUBLE": ("DOUBLE", "number"),
            "DECIMAL": ("DOUBLE", "number"),
            "INT": ("BIGINT", "number"),
            "BIGINT": ("BIGINT", "number"),
            "TEXT": ("VARCHAR", "text"),
            "VARCHAR": ("VARCHAR", "text"),
            "BOOLEAN": ("BOOLEAN", "boolean"),
        }
        kind, result = kinds[target]
        return exp.cast(value, exp.DataType.build(kind)), result

    def anonymous(self, node: exp.Anonymous) -> tuple[exp.Expression, Kind]:
        name = node.name.lower()
        if name == PRIOR:
            return self.reference(prior_name(node.expressions[0].name)), "number"
        if name == PERIOD_DAYS:
            return self.reference(PERIOD_DAYS_COLUMN), "number"
        spec = self.context.functions.get(name)
        assert spec is not None  # the Polars compiler checked it
        provider = self.context.functions.providers.get(name, "a plugin")
        if spec.sql is None:
            raise self._error(
                node,
                f"function {name!r} (from {provider}) has no SQL implementation, so metric "
                f"{self.context.subject!r} cannot run on a SQL backend",
            )
        args = [self.node(arg)[0] for arg in node.expressions]
        try:
            result = spec.sql(*args)
        except Exception as error:  # a plugin's builder failed: name it
            raise self._error(
                node, f"function {name!r} ({provider}) failed to build its SQL: {error}"
            ) from None
        if not isinstance(result, exp.Expression):
            raise self._error(
                node,
                f"function {name!r} ({provider}) returned {type(result).__name__}, not a sqlglot expression",
            )
        return wrap(result), spec.returns

    # ---- aggregates ---------------------------------------------------------------------------

    def _only(self, value: exp.Expression) -> exp.Expression:
        """``value`` on the rows the row filter keeps, null elsewhere (aggregates skip nulls)."""
        if self.row_filter is None:
            return value
        return exp.Case(ifs=[exp.If(this=self.row_filter.copy(), true=value)])

    def count(self, node: exp.Count) -> tuple[exp.Expression, Kind]:
        target = node.this
        if isinstance(target, exp.Star) or target is None:
            if self.row_filter is None:
                return exp.Count(this=exp.Star()), "number"
            return exp.Count(this=self._only(exp.Literal.number(1))), "number"
        if isinstance(target, exp.Distinct):
            values = [self.node(e)[0] for e in target.expressions]
            if len(values) == 1:
                return exp.Count(this=exp.Distinct(expressions=[self._only(values[0])])), "number"
            return exp.Count(this=exp.Distinct(expressions=[self._only(combination(values))])), "number"
        return exp.Count(this=self._only(self.node(target)[0])), "number"

    def aggregate(self, node: exp.AggFunc) -> tuple[exp.Expression, Kind]:
        value, kind = self.node(node.this)
        result = type(node)(this=self._only(value))
        if isinstance(node, exp.Sum):  # Polars sums nothing (or only nulls) to 0
            return exp.Coalesce(this=result, expressions=[exp.Literal.number(0)]), kind
        return result, kind

    def filter(self, node: exp.Filter) -> tuple[exp.Expression, Kind]:
        condition = wrap(self.node(node.expression.this)[0])
        outer = self.row_filter
        self.row_filter = condition if outer is None else exp.And(this=wrap(outer), expression=condition)
        try:
            return self.node(node.this)
        finally:
            self.row_filter = outer


_HANDLERS: dict[type, Callable[[SqlFormula, exp.Expression], tuple[exp.Expression, Kind]]] = {
    exp.Column: SqlFormula.column,
    exp.Literal: SqlFormula.literal,
    exp.Boolean: SqlFormula.constant,
    exp.Null: SqlFormula.constant,
    exp.Paren: SqlFormula.paren,
    **dict.fromkeys((exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod), SqlFormula.arithmetic),
    exp.Neg: SqlFormula.neg,
    **dict.fromkeys((exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE), SqlFormula.compare),
    exp.And: SqlFormula.logic,
    exp.Or: SqlFormula.logic,
    exp.Not: SqlFormula.not_,
    exp.Is: SqlFormula.is_,
    exp.In: SqlFormula.in_,
    exp.Between: SqlFormula.between,
    exp.Case: SqlFormula.case,
    exp.If: SqlFormula.if_,
    exp.Coalesce: SqlFormula.coalesce,
    exp.Nullif: SqlFormula.nullif,
    exp.Least: SqlFormula.horizontal,
    exp.Greatest: SqlFormula.horizontal,
    exp.Abs: SqlFormula.abs_,
    exp.Round: SqlFormula.round_,
    exp.Cast: SqlFormula.cast,
    exp.Anonymous: SqlFormula.anonymous,
    exp.Count: SqlFormula.count,
    **dict.fromkeys((exp.Sum, exp.Avg, exp.Median, exp.Min, exp.Max), SqlFormula.aggregate),
    exp.Filter: SqlFormula.filter,
}  # type: ignore[dict-item]


__all__ = ["SqlFormula", "combination", "quoted", "wrap"]


def combination(values: list[exp.Expression]) -> exp.Expression:
    """Several values as one text, null when any is null, equal only when all are equal.

    COUNT(DISTINCT a, b) is not portable (DuckDB has no such form); each value is written
    as its length, a colon and its text, so no two different combinations meet.
    """
    parts: list[exp.Expression] = []
    present: exp.Expression | None = None
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
