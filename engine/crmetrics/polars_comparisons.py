"""The Polars expression of each SQL comparison, for every place a formula compiles to Polars.

Source mappings' filters and metric formulas both parse SQL with sqlglot; one table keeps
their comparisons the same.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
from sqlglot import exp

#: Each sqlglot comparison node and the Polars expression it compiles to.
COMPARISONS: dict[type, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    exp.EQ: lambda a, b: a == b,
    exp.NEQ: lambda a, b: a != b,
    exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b,
    exp.LT: lambda a, b: a < b,
    exp.LTE: lambda a, b: a <= b,
}

__all__ = ["COMPARISONS"]
