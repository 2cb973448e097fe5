"""``explain``: the definition, the dependency tree and the relational plan as our own text.

The plan text is compared with snapshots in ``tests/snapshots``. When the IR changes on
purpose, rewrite them with ``CRMETRICS_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_explain.py``
and review the difference like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crmetrics.engine import Engine
from crmetrics.plan import Request

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("CRMETRICS_UPDATE_SNAPSHOTS") == "1"

CASES = {
    "churn_rate_by_segment": (["churn_rate"], ("segment",), None),
    "customer_health_score": (["customer_health_score"], (), None),
    "revenue_growth_rate_where": (["revenue_growth_rate"], (), "segment = 'SMB'"),
}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
def test_plan_text_matches_its_snapshot(engine: Engine, case: str) -> None:
    metrics, by, where = CASES[case]
    request = Request.build(metrics, start="2025-01-01", end="2025-04-01", by=by, where=where)
    # The definition part names files by absolute path: only the plan is snapshotted.
    text = "plan (" + engine.explain(metrics[0], request, plan=True).split("\nplan (", 1)[1] + "\n"
    path = SNAPSHOTS / f"{case}.txt"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path.name}: run with CRMETRICS_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")


def test_without_plan_explain_shows_the_definition_and_tree_only(engine: Engine) -> None:
    text = engine.explain("churn_rate")
    assert text.splitlines()[0] == "churn_rate: Churn rate"
    assert "dependencies:" in text and "plan (" not in text


def test_the_plan_names_each_shared_relation_once(engine: Engine) -> None:
    request = Request.build(["churn_rate"], start="2025-01-01", end="2025-04-01")
    lines = engine.explain("churn_rate", request, plan=True).split("plan (month):\n", 1)[1].splitlines()
    # customers is read by both inputs of churn_rate, and scanned once.
    assert [line for line in lines if "scan customers" in line] == ["  %1 = scan customers"]
    # The look-back of nothing: the window starts with the requested range (2025-01-01);
    # the point-in-time count starts from the period before it, 2024-12-01.
    assert "  %2 = periods month [2025-01-01, 2025-04-01)" in lines
    assert any("earlier changes from 2024-12-01" in line for line in lines)
    assert lines[-1] == "  %9 = result from 2025-01-01: churn_rate = %8.churn_rate"
