"""The value a checked formula takes where nothing happened, worked out without a backend.

A (period, group) without rows still gets a value: an aggregate over no rows (a count or a
sum is 0, a mean, median, minimum or maximum is null), a derived metric over inputs that
all take their own empty values. The plan decides these values once, with this evaluator,
and every backend writes them as literals. It follows the formula language's rules: null
in, null out for operators; division or remainder by zero is null; ``coalesce``,
``least`` and ``greatest`` skip nulls; ``round`` rounds half to even; boolean logic is
three-valued.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlglot import exp

from crmetrics.formula.check import cast_target
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

#: The period length ``period_days()`` takes in an empty cell: only its nullness matters
#: to the empty values of the catalog's formulas, and any month has about 30 days.
EMPTY_PERIOD_DAYS = 30.0


def empty_value(formula: Checked, inputs: Mapping[str, Any] | None = None) -> Any:
    """``formula``'s value over no rows, reading each metric or measure's value in ``inputs``."""
    return _Folder(dict(inputs or {})).fold(formula.tree)


def _divide(a: Any, b: Any) -> Any:
    return None if b == 0 else float(a) / b


def _remainder(a: Any, b: Any) -> Any:
    return None if b == 0 else a % b


_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    exp.Add: operator.add,
    exp.Sub: operator.sub,
    exp.Mul: operator.mul,
    exp.Div: _divide,
    exp.Mod: _remainder,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
}
_CASTS: dict[str, Callable[[Any], Any]] = {
    "FLOAT": float,
    "DOUBLE": float,
    "DECIMAL": float,
    "INT": int,
    "BIGINT": int,
    "TEXT": str,
    "VARCHAR": str,
    "BOOLEAN": bool,
}
#: Aggregates over no rows: counting and summing nothing gives 0, the others nothing.
_NO_ROWS: dict[type, Any] = {
    exp.Count: 0,
    exp.Sum: 0,
    exp.Avg: None,
    exp.Median: None,
    exp.Min: None,
    exp.Max: None,
}


class _Folder:
    def __init__(self, inputs: dict[str, Any]) -> None:
        self.inputs = inputs

    def fold(self, node: Node) -> Any:
        if isinstance(node, Parameter):
            return node.value
        if isinstance(node, Windowed) and node.construct == "share":
            return None  # a share of nothing in a period of nothing: 0 / 0
        if isinstance(node, (Reference, Prior, Windowed)):
            return self.inputs.get(node.name)
        if isinstance(node, PeriodDays):
            return EMPTY_PERIOD_DAYS
        if isinstance(node, Timestamp):
            moment = datetime.fromisoformat(node.text.replace("Z", "+00:00"))
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        if isinstance(node, (Column, Call)):
            # A column is only read inside an aggregate; a function is null on null input,
            # and in an empty cell its input is a column or an empty value.
            return None
        source = node.source
        kind = type(source)
        if kind in _NO_ROWS:
            return _NO_ROWS[kind]
        if kind is exp.Filter:
            return self.fold(node.args[0])
        handler = _HANDLERS.get(kind)
        assert handler is not None, f"no empty value for {kind.__name__}"
        return handler(self, node)

    def values(self, node: Node) -> list[Any]:
        return [self.fold(arg) for arg in node.args]

    def _literal(self, node: Node) -> Any:
        source = node.source
        assert isinstance(source, exp.Literal)
        if source.is_string:
            return source.this
        return float(source.this) if any(c in source.this for c in ".eE") else int(source.this)

    def _constant(self, node: Node) -> Any:
        return node.source.this if isinstance(node.source, exp.Boolean) else None

    def _arithmetic(self, node: Node) -> Any:
        a, b = self.values(node)
        return None if a is None or b is None else _ARITHMETIC[type(node.source)](a, b)

    def _neg(self, node: Node) -> Any:
        (a,) = self.values(node)
        return None if a is None else -a

    def _compare(self, node: Node) -> Any:
        a, b = self.values(node)
        return None if a is None or b is None else _COMPARE[type(node.source)](a, b)

    def _logic(self, node: Node) -> Any:
        a, b = self.values(node)
        if isinstance(node.source, exp.And):
            return False if a is False or b is False else (None if a is None or b is None else True)
        return True if a is True or b is True else (None if a is None or b is None else False)

    def _not_(self, node: Node) -> Any:
        (a,) = self.values(node)
        return None if a is None else not a

    def _is_null(self, node: Node) -> Any:
        (a,) = self.values(node)
        return a is None

    def _in_(self, node: Node) -> Any:
        a, *options = self.values(node)
        return None if a is None else a in options

    def _between(self, node: Node) -> Any:
        a, low, high = self.values(node)
        return None if None in (a, low, high) else low <= a <= high

    def _case(self, node: Node) -> Any:
        args = list(node.args)
        default = args.pop() if len(args) % 2 else None
        for condition, value in zip(args[::2], args[1::2], strict=True):
            if self.fold(condition) is True:
                return self.fold(value)
        return self.fold(default) if default is not None else None

    def _coalesce(self, node: Node) -> Any:
        return next((v for v in self.values(node) if v is not None), None)

    def _nullif(self, node: Node) -> Any:
        a, b = self.values(node)
        return None if a is not None and a == b else a

    def _least(self, node: Node) -> Any:
        present = [v for v in self.values(node) if v is not None]
        if not present:
            return None
        return min(present) if isinstance(node.source, exp.Least) else max(present)

    def _abs_(self, node: Node) -> Any:
        (a,) = self.values(node)
        return None if a is None else abs(a)

    def _round_(self, node: Node) -> Any:
        (a,) = self.values(node)
        digits = node.source.args.get("decimals")
        places = int(digits.this) if digits is not None else 0
        return None if a is None else round(float(a), places)

    def _cast(self, node: Node) -> Any:
        (a,) = self.values(node)
        assert isinstance(node.source, exp.Cast)
        return None if a is None else _CASTS[cast_target(node.source)](a)


_HANDLERS: dict[type, Callable[[_Folder, Node], Any]] = {
    exp.Literal: _Folder._literal,
    exp.Boolean: _Folder._constant,
    exp.Null: _Folder._constant,
    **dict.fromkeys(_ARITHMETIC, _Folder._arithmetic),
    exp.Neg: _Folder._neg,
    **dict.fromkeys(_COMPARE, _Folder._compare),
    exp.And: _Folder._logic,
    exp.Or: _Folder._logic,
    exp.Not: _Folder._not_,
    exp.Is: _Folder._is_null,
    exp.In: _Folder._in_,
    exp.Between: _Folder._between,
    exp.Case: _Folder._case,
    exp.If: _Folder._case,
    exp.Coalesce: _Folder._coalesce,
    exp.Nullif: _Folder._nullif,
    exp.Least: _Folder._least,
    exp.Greatest: _Folder._least,
    exp.Abs: _Folder._abs_,
    exp.Round: _Folder._round_,
    exp.Cast: _Folder._cast,
}


__all__ = ["EMPTY_PERIOD_DAYS", "empty_value"]
