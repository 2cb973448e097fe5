"""Functions callable by name in formulas: the built-ins and those plugins register.

A function is declared once: a name, the kinds of its arguments and the kind it returns,
which is all the checker needs. Each backend finds its implementation by the function's
name (:meth:`FunctionTable.implementation`): the Polars one receives one ``pl.Expr`` per
argument and returns a ``pl.Expr`` (vectorised by construction, never called per row);
the optional SQL one receives and returns sqlglot expressions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from crmetrics.formula.typed import KINDS, Kind

#: The backends a function can implement, as named in :meth:`FunctionTable.implementation`.
IMPLEMENTATIONS: tuple[str, ...] = ("polars", "sql")


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
    polars: Callable[..., Any]
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


@dataclass
class FunctionTable:
    """The functions available to formulas, each with the plugin that provided it."""

    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    providers: dict[str, str] = field(default_factory=dict)

    def add(self, spec: FunctionSpec, provider: str) -> None:
        """Add ``spec``, provided by ``provider``; a name already taken is an error."""
        if spec.name in self.functions:
            raise ValueError(f"function {spec.name!r} is already registered by {self.providers[spec.name]}")
        self.functions[spec.name] = spec
        self.providers[spec.name] = provider

    def get(self, name: str) -> FunctionSpec | None:
        """The function called ``name``, if any."""
        return self.functions.get(name)

    def implementation(self, name: str, backend: str) -> Callable[..., Any] | None:
        """The ``polars`` or ``sql`` implementation of function ``name``; None when it has none."""
        spec = self.functions[name]
        return spec.polars if backend == "polars" else spec.sql

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(self.functions.values())

    def names(self) -> Mapping[str, FunctionSpec]:
        """The functions by name."""
        return self.functions


__all__ = ["IMPLEMENTATIONS", "KINDS", "FunctionSpec", "FunctionTable", "Kind"]
