"""Building blocks of the rendered statement: named CTEs, keys, grids and completion.

Every intermediate relation is a CTE holding ``period_start``, the grouping columns and
some value columns. The helpers here join such relations on those keys, null-safely for
groups (a null group is a group), and fill a (period, group) without rows with a metric's
empty value, as :mod:`crmetrics.semantics` defines it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from crmetrics.periods import PERIOD_START
from crmetrics.sql.dialects import number
from crmetrics.sql.tables import identifier

ROWS = "__rows"


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(identifier(name), table=identifier(table) if table else None)


def alias(value: exp.Expression, name: str) -> exp.Alias:
    return exp.alias_(value, identifier(name))


def literal(value: Any) -> exp.Expression:
    """A Python value (an empty value: a number, a boolean or None) as a SQL literal."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    return number(value)


def all_of(conditions: Sequence[exp.Expression]) -> exp.Expression | None:
    result: exp.Expression | None = None
    for condition in conditions:
        result = condition if result is None else exp.And(this=result, expression=condition)
    return result


@dataclass
class Statement:
    """The CTEs of one statement, named in order of creation."""

    by: tuple[str, ...]
    ctes: list[tuple[str, exp.Query]] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [PERIOD_START, *self.by]

    def add(self, hint: str, query: exp.Query) -> str:
        name = f"__{len(self.ctes) + 1}_{hint}"
        self.ctes.append((name, query))
        return name

    def key_match(self, left: str, right: str, columns: Sequence[str] | None = None) -> exp.Expression:
        """``left`` and ``right`` agree on the keys; equal groups include both null."""
        conditions: list[exp.Expression] = []
        for name in self.keys if columns is None else columns:
            a, b = col(name, left), col(name, right)
            conditions.append(
                exp.EQ(this=a, expression=b) if name == PERIOD_START else exp.NullSafeEQ(this=a, expression=b)
            )
        condition = all_of(conditions)
        assert condition is not None
        return condition

    def grid(self, periods: str, groups: str | None) -> str:
        """Every period of ``periods`` for every group of ``groups``."""
        if groups is None:
            return periods
        query = (
            exp.select(col(PERIOD_START, "p"), *(col(c, "g") for c in self.by))
            .from_(table_ref(periods, "p"))
            .join(table_ref(groups, "g"), join_type="CROSS")
        )
        return self.add("grid", query)

    def complete(self, grid: str, values: str, empty: Mapping[str, Any]) -> str:
        """``values`` on the full grid; a (period, group) without rows gets each empty value."""
        missing = exp.Is(this=col(ROWS, "v"), expression=exp.Null())
        columns = [
            alias(
                exp.Case(ifs=[exp.If(this=missing.copy(), true=literal(value))], default=col(name, "v")), name
            )
            for name, value in empty.items()
        ]
        query = (
            exp.select(*(col(k, "g") for k in self.keys), *columns)
            .from_(table_ref(grid, "g"))
            .join(table_ref(values, "v"), on=self.key_match("g", "v"), join_type="LEFT")
        )
        return self.add("complete", query)

    def build(self, final: exp.Query) -> exp.Query:
        """``final`` with every CTE, in order of creation, in one ``WITH``.

        The WITH node is built once: sqlglot's ``with_`` copies the whole statement for
        each CTE it adds, which made a chain of 200 derived metrics take most of a minute.
        """
        if not self.ctes:
            return final
        ctes = [exp.CTE(this=query, alias=exp.TableAlias(this=identifier(name))) for name, query in self.ctes]
        # sqlglot 30 names the argument ``with_``; earlier majors name it ``with``.
        final.set("with_" if "with_" in final.arg_types else "with", exp.With(expressions=ctes))
        return final


def grouped(select: exp.Select, expressions: Sequence[exp.Expression]) -> exp.Select:
    """``select`` grouped by ``expressions`` (repeated, not by alias or position: portable)."""
    return select.group_by(*(e.copy() for e in expressions)) if expressions else select


def table_ref(name: str, as_: str) -> exp.Table:
    """The CTE ``name`` under the alias ``as_``."""
    return exp.Table(this=identifier(name), alias=exp.TableAlias(this=identifier(as_)))


__all__ = ["ROWS", "Statement", "alias", "all_of", "col", "grouped", "literal", "table_ref"]
