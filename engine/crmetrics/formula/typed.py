"""The typed tree of a checked formula: what every backend generates its code from.

The checker (:mod:`crmetrics.formula.check`) turns sqlglot's parse tree into these nodes.
Each node keeps the sqlglot node it stands for (its operator and its position for error
messages), the kind of value it gives and whether it aggregates rows. Names are resolved:
a column, a metric, a measure and a parameter are distinct node classes, and so are the
constructs that read other periods (``prior``) or the period itself (``period_days``).
A generator walks this tree with a dispatch table keyed by node class, and by the sqlglot
class for the operators; it never needs to check anything again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlglot import exp

Kind = Literal["number", "text", "boolean", "datetime", "any"]
KINDS: tuple[str, ...] = ("number", "text", "boolean", "datetime", "any")

#: Where a formula stands, which decides what a bare name means (see :mod:`crmetrics.formula.check`).
Scope = Literal["row", "aggregate", "derived", "entity"]


@dataclass(frozen=True, eq=False)
class Node:
    """An operator or literal: ``source``'s class says which, ``args`` are its operands.

    Attributes:
        source: the sqlglot node, for its class and its position in the formula text.
        kind: the kind of value the node gives.
        args: the typed operands, in the order the generators expect for ``source``'s class.
        is_aggregate: whether the node (or an operand) aggregates rows.
    """

    source: exp.Expr
    kind: Kind
    args: tuple[Node, ...] = ()
    is_aggregate: bool = False


@dataclass(frozen=True, eq=False)
class Column(Node):
    """A column of the table a row or aggregate formula reads."""

    name: str = ""


@dataclass(frozen=True, eq=False)
class Reference(Node):
    """Another metric (derived scope) or a measure (entity scope), by name."""

    name: str = ""


@dataclass(frozen=True, eq=False)
class Parameter(Node):
    """A parameter of the metric, with the value in effect for this run."""

    name: str = ""
    value: float = 0.0


@dataclass(frozen=True, eq=False)
class Prior(Node):
    """The value of metric ``name`` ``periods`` periods earlier, in the same group.

    ``year_ago`` (``year_ago(m)``): the period one calendar year earlier; how many periods
    that is depends on the grain, so ``periods`` is decided when the plan is built.
    """

    name: str = ""
    periods: int = 1
    year_ago: bool = False

    @property
    def column(self) -> str:
        """The column holding the value read earlier."""
        if self.year_ago:
            return f"__year_ago__{self.name}"
        return f"__prior__{self.name}" if self.periods == 1 else f"__prior{self.periods}__{self.name}"


#: The time constructs that recompute an aggregate metric over other rows than the period's.
WindowKind = Literal["rolling", "to_date", "share"]
#: The units ``to_date`` accepts.
TO_DATE_UNITS: tuple[str, ...] = ("month", "quarter", "year", "fiscal_quarter", "fiscal_year")


@dataclass(frozen=True, eq=False)
class Windowed(Node):
    """Aggregate metric ``name`` recomputed over other rows than its period's own.

    - ``rolling``: the rows of this period and the ``periods - 1`` before it, as one window;
    - ``to_date``: the rows from the start of the ``unit`` holding the period's start to its end;
    - ``share``: the metric in this group over the metric in all groups of the period.
    """

    name: str = ""
    construct: WindowKind = "rolling"
    periods: int = 1
    unit: str = ""

    @property
    def column(self) -> str:
        """The column holding the recomputed value."""
        if self.construct == "rolling":
            return f"__rolling{self.periods}__{self.name}"
        if self.construct == "to_date":
            return f"__to_date_{self.unit}__{self.name}"
        return f"__share__{self.name}"


@dataclass(frozen=True, eq=False)
class PeriodDays(Node):
    """The length of the current period in days."""


@dataclass(frozen=True, eq=False)
class Call(Node):
    """A call of a function from the function table (built in or from a plugin)."""

    name: str = ""


@dataclass(frozen=True, eq=False)
class Timestamp(Node):
    """A text literal read as a UTC timestamp because it is compared with one."""

    text: str = ""


@dataclass(frozen=True, eq=False)
class Checked:
    """A formula that passed every check, and what it refers to.

    Attributes:
        tree: the typed tree.
        references: the metrics or measures it reads.
        priors: the metrics it reads in earlier periods (``prior``, ``year_ago``).
        scope: the scope it was checked in.
        windows: the time constructs it uses (:class:`Prior` and :class:`Windowed` nodes).
    """

    tree: Node
    references: frozenset[str] = field(default_factory=frozenset)
    priors: frozenset[str] = field(default_factory=frozenset)
    scope: Scope = "row"
    windows: tuple[Node, ...] = ()

    @property
    def kind(self) -> Kind:
        """The kind of the formula's value."""
        return self.tree.kind

    @property
    def text(self) -> str:
        """The formula as SQL text, for plans and messages."""
        return self.tree.source.sql()


__all__ = [
    "KINDS",
    "TO_DATE_UNITS",
    "Call",
    "Checked",
    "Column",
    "Kind",
    "Node",
    "Parameter",
    "PeriodDays",
    "Prior",
    "Reference",
    "Scope",
    "Timestamp",
    "WindowKind",
    "Windowed",
]
