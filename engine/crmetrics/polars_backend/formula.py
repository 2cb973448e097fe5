"""Generating a Polars expression from a checked formula.

One handler per node class, each a few lines returning a ``pl.Expr``; the checker has
already resolved every name and kind, so nothing here decides whether a formula is valid.
Aggregates read only the rows their ``FILTER (WHERE ...)`` and the metric's own filter
keep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
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
from crmetrics.polars_comparisons import COMPARISONS

_CASTS: dict[str, pl.DataType] = {
    "FLOAT": pl.Float64(),
    "DOUBLE": pl.Float64(),
    "DECIMAL": pl.Float64(),
    "INT": pl.Int64(),
    "BIGINT": pl.Int64(),
    "TEXT": pl.String(),
    "VARCHAR": pl.String(),
    "BOOLEAN": pl.Boolean(),
}


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
_AGGREGATES: dict[type, Callable[[pl.Expr], pl.Expr]] = {
    exp.Sum: lambda e: e.sum(),
    exp.Avg: lambda e: e.mean(),
    exp.Median: lambda e: e.median(),
    exp.Min: lambda e: e.min(),
    exp.Max: lambda e: e.max(),
}


@dataclass
class PolarsFormula:
    """The Polars expression of one checked formula.

    Attributes:
        checked: the formula's typed tree.
        formula: its text and location, for errors of plugin functions.
        subject: the metric it belongs to.
        functions: the function table, whose Polars implementations calls use.
        row_filter: the rows aggregates read (a metric's ``filter``), if not all.
    """

    checked: Checked
    formula: Formula
    subject: str
    functions: FunctionTable
    row_filter: pl.Expr | None = None

    def expr(self) -> pl.Expr:
        """The whole formula as one expression."""
        return self.node(self.checked.tree)

    def node(self, node: Node) -> pl.Expr:
        """The expression of ``node``, by its class or its operator's."""
        handler = _NAMED.get(type(node)) or _HANDLERS[type(node.source)]
        return handler(self, node)

    def args(self, node: Node) -> list[pl.Expr]:
        """The expressions of ``node``'s operands."""
        return [self.node(arg) for arg in node.args]

    # ---- names ----------------------------------------------------------------------------

    def _column(self, node: Node) -> pl.Expr:
        assert isinstance(node, (Column, Reference))
        return pl.col(node.name)

    def _parameter(self, node: Node) -> pl.Expr:
        assert isinstance(node, Parameter)
        return pl.lit(node.value, dtype=pl.Float64)

    def _prior(self, node: Node) -> pl.Expr:
        assert isinstance(node, (Prior, Windowed))
        return pl.col(node.column)

    def _period_days(self, node: Node) -> pl.Expr:
        return pl.col(PERIOD_DAYS_COLUMN)

    def _timestamp(self, node: Node) -> pl.Expr:
        assert isinstance(node, Timestamp)
        value = datetime.fromisoformat(node.text.replace("Z", "+00:00"))
        if value.tzinfo is None:
            return pl.lit(value).dt.replace_time_zone("UTC")
        return pl.lit(value.astimezone(UTC)).dt.convert_time_zone("UTC")

    def _call(self, node: Node) -> pl.Expr:
        assert isinstance(node, Call)
        provider = self.functions.providers.get(node.name)
        implementation = self.functions.implementation(node.name, "polars")
        assert implementation is not None  # every function has a Polars implementation
        try:
            result = implementation(*self.args(node))
        except Exception as error:  # a plugin's implementation failed: name it
            raise self._error(
                node, f"function {node.name!r} ({provider}) failed to build its expression: {error}"
            ) from None
        if not isinstance(result, pl.Expr):
            raise self._error(
                node,
                f"function {node.name!r} ({provider}) returned {type(result).__name__}, "
                "not a polars expression",
            )
        return result

    def _error(self, node: Node, message: str) -> DefinitionError:
        offset = node_offset(node.source)
        return DefinitionError(
            Issue(
                "formula",
                message,
                self.formula.at(offset),
                subject=self.subject,
                context=pointer(self.formula.text, offset),
            )
        )

    # ---- literals and operators -----------------------------------------------------------

    def _literal(self, node: Node) -> pl.Expr:
        source = node.source
        assert isinstance(source, exp.Literal)
        if source.is_string:
            return pl.lit(source.this)
        return pl.lit(float(source.this) if any(c in source.this for c in ".eE") else int(source.this))

    def _constant(self, node: Node) -> pl.Expr:
        return pl.lit(node.source.this if isinstance(node.source, exp.Boolean) else None)

    def _arithmetic(self, node: Node) -> pl.Expr:
        left, right = self.args(node)
        return _ARITHMETIC[type(node.source)](left, right)

    def _neg(self, node: Node) -> pl.Expr:
        return -self.node(node.args[0])

    def _compare(self, node: Node) -> pl.Expr:
        left, right = self.args(node)
        return COMPARISONS[type(node.source)](left, right)

    def _logic(self, node: Node) -> pl.Expr:
        left, right = self.args(node)
        return left & right if isinstance(node.source, exp.And) else left | right

    def _not_(self, node: Node) -> pl.Expr:
        return ~self.node(node.args[0])

    def _is_null(self, node: Node) -> pl.Expr:
        return self.node(node.args[0]).is_null()

    def _in_(self, node: Node) -> pl.Expr:
        subject, *options = node.args
        values = []
        for option in options:
            literal = option.source
            assert isinstance(literal, exp.Literal)
            values.append(literal.this if literal.is_string else float(literal.this))
        return self.node(subject).is_in(values)

    def _between(self, node: Node) -> pl.Expr:
        inner, low, high = self.args(node)
        return inner.is_between(low, high)

    def _case(self, node: Node) -> pl.Expr:
        args = list(node.args)
        default = self.node(args.pop()) if len(args) % 2 else None
        chain: Any = None  # pl.when(...).then(...), then chained .when(...).then(...)
        for condition, value in zip(args[::2], args[1::2], strict=True):
            when = self.node(condition)
            chain = (pl.when(when) if chain is None else chain.when(when)).then(self.node(value))
        if chain is None:
            return pl.lit(None)
        return chain.otherwise(default)

    # ---- scalar functions -----------------------------------------------------------------

    def _coalesce(self, node: Node) -> pl.Expr:
        return pl.coalesce(self.args(node))

    def _nullif(self, node: Node) -> pl.Expr:
        value, other = self.args(node)
        return pl.when(value == other).then(None).otherwise(value)

    def _horizontal(self, node: Node) -> pl.Expr:
        build = pl.min_horizontal if isinstance(node.source, exp.Least) else pl.max_horizontal
        return build(self.args(node))

    def _abs_(self, node: Node) -> pl.Expr:
        return self.node(node.args[0]).abs()

    def _round_(self, node: Node) -> pl.Expr:
        digits = node.source.args.get("decimals")
        return self.node(node.args[0]).round(int(digits.this) if digits is not None else 0)

    def _cast(self, node: Node) -> pl.Expr:
        assert isinstance(node.source, exp.Cast)
        return self.node(node.args[0]).cast(_CASTS[cast_target(node.source)])

    # ---- aggregates -----------------------------------------------------------------------

    def _kept(self, value: pl.Expr) -> pl.Expr:
        return value.filter(self.row_filter.fill_null(False)) if self.row_filter is not None else value

    def _count(self, node: Node) -> pl.Expr:
        # Polars counts are unsigned; signed counts keep differences such as
        # promoters - detractors from wrapping around.
        source = node.source
        assert isinstance(source, exp.Count)
        if not node.args:
            counted = pl.len() if self.row_filter is None else self.row_filter.fill_null(False).sum()
        elif isinstance(source.this, exp.Distinct):
            # count(distinct a, b): the distinct combinations in which no value is null.
            values = [self.node(arg).alias(f"_{i}") for i, arg in enumerate(node.args)]
            counted = self.distinct_values(values).n_unique()
        else:
            counted = self._kept(self.node(node.args[0])).count()
        return counted.cast(pl.Int64)

    def counted_values(self) -> pl.Expr | None:
        """What the formula counts, when it is ``count(distinct x)`` (filtered or not):
        ``x`` on the rows its filters keep where it is present. None for any other formula."""
        return self._counted(self.checked.tree)

    def _counted(self, node: Node) -> pl.Expr | None:
        if isinstance(node.source, exp.Filter):
            aggregate, condition = node.args
            with self._filtered(condition):
                return self._counted(aggregate)
        source = node.source
        distinct = isinstance(source, exp.Count) and isinstance(source.this, exp.Distinct)
        if not distinct or len(node.args) != 1:
            return None
        return self.distinct_values([self.node(node.args[0])])

    @contextmanager
    def _filtered(self, condition: Node) -> Iterator[None]:
        """Within the block, aggregates read only the rows ``condition`` keeps as well."""
        outer = self.row_filter
        kept = self.node(condition)
        self.row_filter = kept if outer is None else outer & kept
        try:
            yield
        finally:
            self.row_filter = outer

    def distinct_values(self, values: Sequence[pl.Expr]) -> pl.Expr:
        """The values ``count(distinct ...)`` counts: one per row the filter keeps whose
        ``values`` are all present, a struct of them when there are several."""
        if len(values) == 1 and self.row_filter is None:
            # A plain column drops its nulls itself: cheaper than a filter in a group-by.
            return values[0].drop_nulls()
        kept = pl.all_horizontal(v.is_not_null() for v in values)
        if self.row_filter is not None:
            # One filter: a second one would be of a different length.
            kept = kept & self.row_filter.fill_null(False)
        combined = values[0] if len(values) == 1 else pl.struct(values)
        return combined.filter(kept)

    def _aggregate(self, node: Node) -> pl.Expr:
        return _AGGREGATES[type(node.source)](self._kept(self.node(node.args[0])))

    def _filter(self, node: Node) -> pl.Expr:
        aggregate, condition = node.args
        with self._filtered(condition):
            return self.node(aggregate)


_NAMED: dict[type, Callable[[PolarsFormula, Node], pl.Expr]] = {
    Column: PolarsFormula._column,
    Reference: PolarsFormula._column,
    Parameter: PolarsFormula._parameter,
    Windowed: PolarsFormula._prior,
    Prior: PolarsFormula._prior,
    PeriodDays: PolarsFormula._period_days,
    Timestamp: PolarsFormula._timestamp,
    Call: PolarsFormula._call,
}
_HANDLERS: dict[type, Callable[[PolarsFormula, Node], pl.Expr]] = {
    exp.Literal: PolarsFormula._literal,
    exp.Boolean: PolarsFormula._constant,
    exp.Null: PolarsFormula._constant,
    **dict.fromkeys(_ARITHMETIC, PolarsFormula._arithmetic),
    exp.Neg: PolarsFormula._neg,
    **dict.fromkeys(COMPARISONS, PolarsFormula._compare),
    exp.And: PolarsFormula._logic,
    exp.Or: PolarsFormula._logic,
    exp.Not: PolarsFormula._not_,
    exp.Is: PolarsFormula._is_null,
    exp.In: PolarsFormula._in_,
    exp.Between: PolarsFormula._between,
    exp.Case: PolarsFormula._case,
    exp.If: PolarsFormula._case,
    exp.Coalesce: PolarsFormula._coalesce,
    exp.Nullif: PolarsFormula._nullif,
    exp.Least: PolarsFormula._horizontal,
    exp.Greatest: PolarsFormula._horizontal,
    exp.Abs: PolarsFormula._abs_,
    exp.Round: PolarsFormula._round_,
    exp.Cast: PolarsFormula._cast,
    exp.Count: PolarsFormula._count,
    **dict.fromkeys(_AGGREGATES, PolarsFormula._aggregate),
    exp.Filter: PolarsFormula._filter,
}


__all__ = ["PolarsFormula", "safe_divide"]
