"""Discovery: ``dimensions``, ``values``, and ``--format json`` on the commands that show things.

The source below has two customers tables' worth of facts to count by hand:

    customers  C1 SMB, C2 Enterprise, C3 SMB, C4 (no segment); an extra column "tier"
    revenue    two rows, both of C1
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import crmetrics
from crmetrics.cli import main
from crmetrics.model import TABLES

CUSTOMERS = """\
customer_id,name,acquired_at,churned_at,segment,region,industry,acquisition_channel,tier
C1,Alpha,2024-11-10,,SMB,EMEA,Software,web,gold
C2,Beta,2024-12-03,,Enterprise,EMEA,Media,outbound,gold
C3,Gamma,2025-01-20,,SMB,LATAM,Software,referral,silver
C4,Delta,2025-02-02,,,EMEA,Retail,web,silver
"""
REVENUE = """\
revenue_id,customer_id,recognized_at,amount,cost
V1,C1,2025-01-15,100,10
V2,C1,2025-02-15,100,10
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "revenue.csv").write_text(REVENUE, encoding="utf-8")
    return folder


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 0, result.output
    return result


def test_dimensions_of_a_metric_on_customers() -> None:
    found = crmetrics.Engine().dimensions("new_customers")
    assert [(d.column, d.type, d.table) for d in found] == [
        (c.name, {"str": "text", "datetime": "datetime"}[c.kind], "customers")
        for c in TABLES["customers"].columns
    ]


def test_dimensions_reach_customers_through_customer_id() -> None:
    found = {d.column: d for d in crmetrics.Engine().dimensions("revenue")}
    assert found["amount"].table == "revenue" and found["amount"].type == "number"
    assert found["segment"].table == "customers" and found["segment"].type == "text"
    # customer_id is revenue's own column: it is listed once, from revenue.
    assert found["customer_id"].table == "revenue"


def test_dimensions_of_a_table_without_customer_id_stay_in_it() -> None:
    found = {d.column for d in crmetrics.Engine().dimensions("sales_marketing_spend")}
    assert found == set(TABLES["spend"].column_names)


def test_dimensions_of_a_derived_metric_are_those_every_input_reaches() -> None:
    # revenue_per_customer = revenue / paying_customers: both read revenue.
    found = {d.column for d in crmetrics.Engine().dimensions("revenue_per_customer")}
    assert found == set(TABLES["revenue"].column_names) | set(TABLES["customers"].column_names)
    # customer_acquisition_cost reads spend (no customer_id) and customers: only what both have.
    common = {d.column for d in crmetrics.Engine().dimensions("customer_acquisition_cost")}
    assert common == set(TABLES["spend"].column_names) & set(TABLES["customers"].column_names)


def test_dimensions_of_a_source_include_its_extra_columns(data: Path) -> None:
    rows = json.loads(invoke("dimensions", "revenue", "-s", f"csv:{data}", "--format", "json").stdout)
    assert {"column": "tier", "type": "text", "table": "customers"} in rows


def test_dimensions_table_lists_column_type_and_table() -> None:
    lines = invoke("dimensions", "churn_rate").stdout.splitlines()
    assert lines[0].split() == ["column", "type", "table"]
    assert lines[2].split() == ["customer_id", "text", "customers"]


def test_dimensions_without_a_metric_lists_every_table() -> None:
    rows = json.loads(invoke("dimensions", "--format", "json").stdout)
    assert len(rows) == sum(len(t.columns) for t in TABLES.values())


def test_values_counts_rows_most_frequent_first(data: Path) -> None:
    rows = json.loads(invoke("values", "segment", "-s", f"csv:{data}", "--format", "json").stdout)
    # SMB: C1 and C3; Enterprise: C2; none: C4.
    assert rows == [
        {"value": "SMB", "count": 2},
        {"value": "Enterprise", "count": 1},
        {"value": None, "count": 1},
    ]
    text = invoke("values", "segment", "-s", f"csv:{data}").stdout.splitlines()
    assert text[0] == "customers.segment"
    assert text[1].split() == ["value", "rows"]
    assert text[3].split() == ["SMB", "2"]
    assert text[-1].split() == ["(null)", "1"]


def test_values_of_another_table(data: Path) -> None:
    rows = json.loads(
        invoke("values", "customer_id", "-s", f"csv:{data}", "-t", "revenue", "--format", "json").stdout
    )
    assert rows == [{"value": "C1", "count": 2}]


def test_values_of_an_unknown_column_says_what_exists(data: Path) -> None:
    result = CliRunner().invoke(main, ["values", "segmnt", "-s", f"csv:{data}"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: any table of the source has no column 'segmnt'",
        "  hint: did you mean 'segment'?",
    ]


def test_list_json() -> None:
    rows = json.loads(invoke("list", "--format", "json").stdout)
    nps = next(r for r in rows if r["name"] == "net_promoter_score")
    assert nps["n"] == "nps_responses"


def test_plugins_json() -> None:
    rows = json.loads(invoke("plugins", "--format", "json").stdout)
    files = next(r for r in rows if r["name"] == "files")
    assert "connector csv:" in files["provides"]


def test_inspect_json(data: Path) -> None:
    rows = json.loads(invoke("inspect", "-s", f"csv:{data}", "--format", "json").stdout)
    customers = next(r for r in rows if r["table"] == "customers")
    assert (customers["rows_read"], customers["rows_kept"]) == (4, 4)
    # Only segment has a null: 1 of 4 rows.
    assert customers["null_rates"]["segment"] == 0.25
    assert customers["first"].startswith("2024-11-10")


def test_explain_shows_the_definition_and_tree_by_default() -> None:
    out = invoke("explain", "churn_rate").stdout
    assert "dependencies:" in out
    assert "plan (" not in out
    with_plan = invoke("explain", "churn_rate", "--plan").stdout
    assert "plan (month):" in with_plan
    assert "= scan customers" in with_plan


def test_explain_json() -> None:
    data = json.loads(invoke("explain", "churn_rate", "--format", "json").stdout)
    assert data["expr"] == "lost_customers / customers_at_start"
    assert data["n"] == "customers_at_start"
    assert data["dependencies"] == {
        "name": "churn_rate",
        "type": "derived",
        "depends_on": [
            {"name": "customers_at_start", "type": "snapshot", "depends_on": []},
            {"name": "lost_customers", "type": "aggregate", "depends_on": []},
        ],
    }
    assert "plan" not in data
    planned = json.loads(invoke("explain", "churn_rate", "--plan", "--format", "json").stdout)
    assert planned["plan"][0] == "plan (month):"
    assert all(isinstance(line, str) for line in planned["plan"])
