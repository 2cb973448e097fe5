"""Writing a statement's tree as SQL text, without rewrites that cannot apply to it.

sqlglot's Snowflake generator passes every SELECT through seven rewrites before writing
it (WINDOW clauses, DISTINCT ON, EXPLODE, SEMI and ANTI joins, GENERATE_DATE_ARRAY and two
for UNNEST). Each looks for its construct in the whole subtree of the SELECT, several by
building its scope, so a statement of a few hundred nested SELECTs spends most of its
rendering there. Each rewrite changes only a SELECT holding its construct: when one walk
of the tree finds none of them, the SELECTs of the tree are written directly and the
text is the same (``tests/sql/test_render_shortcut.py`` compares both for the whole
catalog).
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.generator import Generator

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


def render(tree: exp.Expr, dialect: str, *, pretty: bool = True) -> str:
    """``tree``, built for this call alone (it may be changed), as SQL text of ``dialect``."""
    generator = Dialect.get_or_raise(dialect).generator(pretty=pretty)
    plain = _own_selects(tree) if dialect == "snowflake" else None
    if plain is not None:
        # The generator's table of handlers by node class, for this generator alone (a
        # subclass would do, but the compiled build of sqlglot cannot be subclassed).
        rewrite = generator._dispatch[exp.Select]

        def select_sql(generator: Generator, expression: exp.Select) -> str:
            # A SELECT made on the way (by a function's rewrite) is not in the walked
            # tree: it still goes through every rewrite.
            if id(expression) in plain:
                return generator.select_sql(expression)
            return rewrite(generator, expression)

        generator._dispatch = {**generator._dispatch, exp.Select: select_sql}
    return generator.generate(tree, copy=False)


__all__ = ["is_rewritten_for_snowflake", "render"]
