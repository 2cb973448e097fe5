"""Functions callable by name in formulas: the built-ins and those plugins register.

A function is a name, the kinds of its arguments, the kind it returns, a Polars
implementation and, optionally, a SQL implementation for SQL backends. Implementations
receive one ``pl.Expr`` per argument and return a ``pl.Expr``: they are vectorised by
construction, never called per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

Kind = Literal["number", "text", "boolean", "datetime", "any"]
KINDS: tuple[str, ...] = ("number", "text", "boolean", "datetime", "any")


@dataclass(frozen=True)
class FunctionSpec:
    """A function usable in formulas.

    Attributes:
        name: the lower-case name used in formulas.
        args: the kind of each argument: ``number``, ``text``, ``boolean``, ``datetime`` or ``any``.
        returns: the kind of the result.
        polars: builds the Polars expression from one ``pl.Expr`` per argument.
        sql: builds a sqlglot expression from one sqlglot expression per argument, for SQL
            backends; None when the function has no SQL form.
        description: one sentence for ``crmetrics plugins`` and the docs.
    """

    name: str
    args: tuple[Kind, ...]
    returns: Kind
    polars: Callable[..., pl.Expr]
    sql: Callable[..., Any] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.name, str) or not self.name.isidentifier() or self.name != self.name.lower():
            problems.append(f"name {self.name!r} must be a lower-case identifier")
        bad = [a for a in (*self.args, self.returns) if a not in KINDS]
        if bad:
            problems.append(f"unknown argument kind(s) {bad}; use one of {', '.join(KINDS)}")
        if not callable(self.polars):
            problems.append("polars must be a callable returning a pl.Expr")
        if self.sql is not None and not callable(self.sql):
            problems.append("sql must be a callable or None")
        if problems:
            raise ValueError("; ".join(problems))


def _between(unit_seconds: float) -> Callable[[pl.Expr, pl.Expr], pl.Expr]:
    def build(start: pl.Expr, end: pl.Expr) -> pl.Expr:
        # Microseconds keep durations exact; dividing once at the end avoids rounding drift.
        return (end - start).dt.total_microseconds().cast(pl.Float64) / (unit_seconds * 1_000_000)

    return build


def _sql_between(unit_seconds: float) -> Callable[[Any, Any], Any]:
    def build(start: Any, end: Any) -> Any:
        from sqlglot import exp

        seconds = exp.Sub(this=exp.TimeToUnix(this=end.copy()), expression=exp.TimeToUnix(this=start.copy()))
        return exp.Div(this=exp.paren(seconds), expression=exp.Literal.number(unit_seconds))

    return build


BUILTIN_FUNCTIONS: tuple[FunctionSpec, ...] = tuple(
    FunctionSpec(
        f"{unit}_between",
        ("datetime", "datetime"),
        "number",
        _between(seconds),
        _sql_between(seconds),
        f"Exact {unit} from the first timestamp to the second (fractional, microsecond precision).",
    )
    for unit, seconds in (("seconds", 1), ("minutes", 60), ("hours", 3600), ("days", 86400))
)


@dataclass
class FunctionTable:
    """The functions available to formulas, each with the plugin that provided it."""

    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    providers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def builtins(cls) -> FunctionTable:
        table = cls()
        for spec in BUILTIN_FUNCTIONS:
            table.add(spec, "crmetrics")
        return table

    def add(self, spec: FunctionSpec, provider: str) -> None:
        if spec.name in self.functions:
            raise ValueError(f"function {spec.name!r} is already registered by {self.providers[spec.name]}")
        self.functions[spec.name] = spec
        self.providers[spec.name] = provider

    def get(self, name: str) -> FunctionSpec | None:
        return self.functions.get(name)

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(self.functions.values())

    def names(self) -> Mapping[str, FunctionSpec]:
        return self.functions
