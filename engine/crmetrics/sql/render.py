"""Writing a statement's tree as SQL text, without rewrites that cannot apply to it.

sqlglot's Snowflake generator passes every SELECT through seven rewrites before writing
it (WINDOW clauses, DISTINCT ON, EXPLODE, SEMI and ANTI joins, GENERATE_DATE_ARRAY and two
for UNNEST). Each looks for its construct in the whole subtree of the SELECT, several by
building its scope, so a statement of a few hundred nested SELECTs spends most of its
rendering there. Each rewrite changes only a SELECT holding its construct: when one walk
of the tree finds none of them, the SELECTs of the tree are written directly and the
text is the same (``tests/sql/test_render.py`` compares both for the whole catalog).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.generators.snowflake import SnowflakeGenerator

#: The node classes that Snowflake's SELECT rewrites act on (subclasses included).
_REWRITTEN: tuple[type[exp.Expr], ...] = (exp.Unnest, exp.Explode, exp.GenerateDateArray)


def is_rewritten_for_snowflake(node: exp.Expr) -> bool:
    """Whether ``node`` alone is something one of Snowflake's SELECT rewrites changes."""
    if isinstance(node, _REWRITTEN):
        return True
    if isinstance(node, exp.Join):
        return node.kind in ("SEMI", "ANTI")
    if isinstance(node, exp.Select):
        distinct = node.args.get("distinct")
        return bool(node.args.get("windows")) or bool(distinct and distinct.args.get("on"))
    return False


def _own_selects(tree: exp.Expr) -> frozenset[int] | None:
    """The ids of ``tree``'s SELECTs, or None if a Snowflake SELECT rewrite applies to it."""
    selects = []
    for node in tree.walk():
        if is_rewritten_for_snowflake(node):
            return None
        if isinstance(node, exp.Select):
            selects.append(id(node))
    return frozenset(selects)


_SNOWFLAKE_SELECT: Callable[..., str] = SnowflakeGenerator.TRANSFORMS[exp.Select]


def _select_sql(generator: _OwnSelects, expression: exp.Select) -> str:
    # A SELECT the generator builds on the way (from a function's rewrite) is not in the
    # walked tree: it still goes through every rewrite.
    if id(expression) in generator.plain:
        return generator.select_sql(expression)
    return _SNOWFLAKE_SELECT(generator, expression)


class _OwnSelects(SnowflakeGenerator):
    """Snowflake's generator, writing the SELECTs in ``plain`` without the rewrites."""

    TRANSFORMS: ClassVar[dict[type[exp.Expr], Callable[..., str]]] = {
        **SnowflakeGenerator.TRANSFORMS,
        exp.Select: _select_sql,
    }

    def __init__(self, plain: frozenset[int], **options: Any) -> None:
        super().__init__(**options)
        self.plain = plain


def render(tree: exp.Expr, dialect: str, *, pretty: bool = True) -> str:
    """``tree``, built for this call alone (it may be changed), as SQL text of ``dialect``."""
    if dialect == "snowflake":
        plain = _own_selects(tree)
        if plain is not None:
            generator = _OwnSelects(plain, dialect=Dialect.get_or_raise(dialect), pretty=pretty)
            return generator.generate(tree, copy=False)
    return tree.sql(dialect=dialect, pretty=pretty, copy=False)


__all__ = ["is_rewritten_for_snowflake", "render"]
