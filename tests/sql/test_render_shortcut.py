"""Writing our statements without Snowflake's SELECT rewrites gives the same text.

:mod:`crmetrics.sql.render` skips sqlglot's SELECT rewrites when none can apply; the text
must be byte for byte what sqlglot's own generator writes, in every dialect.
"""

from __future__ import annotations

import pytest
from sqlglot import exp

import crmetrics
from crmetrics.plan import Request
from crmetrics.sql import DIALECTS, Tables
from crmetrics.sql.generator import generate_sql
from crmetrics.sql.render import is_rewritten_for_snowflake, render

_SPEND = {"sales_marketing_spend", "retention_spend", "customer_acquisition_cost"}
_SPEND.add("acquisition_retention_cost_ratio")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_whole_catalog_renders_as_sqlglot_writes_it(dialect: str) -> None:
    engine = crmetrics.Engine()
    catalog = engine.validate()
    # Grouped by segment: grids, distinct groups and null-safe joins are in the statement.
    names = sorted(n for n, m in catalog.metrics.items() if not m.requires_by and n not in _SPEND)
    query = engine.query(Request.build(names, start="2024-01-01", end="2026-01-01", by=["segment"]))
    tables = Tables.warehouse(engine.project.warehouse)

    def tree() -> exp.Expr:
        return generate_sql(query, tables, dialect, catalog.functions)

    assert render(tree(), dialect) == tree().sql(dialect=dialect, pretty=True)


def test_a_select_the_rewrites_change_still_goes_through_them() -> None:
    exploded = exp.select(exp.Explode(this=exp.column("xs"))).from_("t")
    assert is_rewritten_for_snowflake(exploded.selects[0])
    expected = exploded.sql(dialect="snowflake")
    assert render(exploded.copy(), "snowflake", pretty=False) == expected
    assert "FLATTEN" in expected  # EXPLODE became a lateral FLATTEN: the rewrite ran


@pytest.mark.parametrize(
    "node",
    [
        exp.Join(this=exp.to_table("t"), kind="SEMI"),
        exp.select("a").from_("t").distinct("a"),
        exp.Unnest(expressions=[exp.column("xs")]),
    ],
    ids=["semi-join", "distinct-on", "unnest"],
)
def test_constructs_the_rewrites_change_are_recognised(node: exp.Expr) -> None:
    assert is_rewritten_for_snowflake(node)


def test_plain_nodes_are_not_rewritten() -> None:
    assert not is_rewritten_for_snowflake(exp.select("a").from_("t").distinct())
    assert not is_rewritten_for_snowflake(exp.Join(this=exp.to_table("t"), side="LEFT"))
