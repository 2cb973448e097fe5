"""Several sources in one run: deals, leads and customers from a Salesforce org, spend from a
finance team's canonical CSV folder, survey answers from a HubSpot portal.

``fixtures/three_sources`` holds the three folders and the project file binding them. The
numbers, worked by hand for March 2024:

- new customers: Acme (won 03-05) and Globex (won 03-20) = 2
- lead conversion: of 4 leads created in March, 2 converted (IsConverted 1) = 0.5
- sales & marketing spend: 3000 marketing + 1000 sales (the 500 retention excluded) = 4000
- CAC: 4000 / 2 = 2000
- NPS: answers 10, 3, 9, 7: promoters 2, detractors 1, 100 x (2 - 1) / 4 = 25; by segment,
  SMB (Acme, 50 employees) 10 and 3: 0; Mid-Market (Globex, 500) 9 and 7: 100 x 1 / 2 = 50.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crmetrics.cli import main

HERE = Path(__file__).parent / "fixtures" / "three_sources"
MARCH = ("--start", "2024-03-01", "--end", "2024-04-01")
METRICS = (
    "new_customers,lead_conversion_rate,sales_marketing_spend,customer_acquisition_cost,net_promoter_score"
)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def values(result: Result) -> dict[tuple[str, str | None], float]:
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    return {(r["metric"], r.get("segment")): r["value"] for r in rows}


def copy_project(tmp_path: Path, text: str) -> Path:
    for folder in ("crm", "finance", "portal"):
        shutil.copytree(HERE / folder, tmp_path / folder)
    (tmp_path / "crmetrics.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "crmetrics.yaml"


SOURCES = (
    "sources:\n  crm: salesforce:crm\n  finance: csv:finance\n  portal:\n    uri: hubspot:portal\n"
    "    mappings:\n      survey_responses:\n        columns:\n          customer_id: sf_account_id\n"
)


def test_three_sources_bound_in_the_project_file() -> None:
    result = invoke("run", "--project", str(HERE / "crmetrics.yaml"), "-m", METRICS, *MARCH, "-f", "json")
    assert values(result) == {
        ("new_customers", None): 2.0,
        ("lead_conversion_rate", None): 0.5,
        ("sales_marketing_spend", None): 4000.0,
        ("customer_acquisition_cost", None): 2000.0,
        ("net_promoter_score", None): 25.0,
    }


def test_ids_join_across_sources() -> None:
    args = ("run", "--project", str(HERE / "crmetrics.yaml"), "-m", "net_promoter_score", *MARCH)
    result = invoke(*args, "--by", "segment", "-f", "json")
    assert values(result) == {("net_promoter_score", "Mid-Market"): 50.0, ("net_promoter_score", "SMB"): 0.0}


def test_inspect_says_which_source_provided_each_table() -> None:
    result = invoke("inspect", "--project", str(HERE / "crmetrics.yaml"))
    assert result.exit_code == 0, result.output
    blocks = {b.split("\n", 1)[0]: b for b in result.output.split("\n\n") if b.strip()}
    assert set(blocks) == {"customers", "deals", "leads", "survey_responses", "spend"}
    assert "source:      crm (salesforce:" in blocks["deals"]
    assert "source:      finance (csv:" in blocks["spend"]
    assert "source:      portal (hubspot:" in blocks["survey_responses"]
    assert "match no customer" not in result.output


def test_source_bindings_on_the_command_line(tmp_path: Path) -> None:
    project = copy_project(tmp_path, SOURCES)
    result = invoke(
        "run", "--project", str(project), "-m", METRICS, *MARCH, "-f", "json",
        "--source", "crm", "--source", "spend=finance", "--source", "survey_responses=portal",
    )  # fmt: skip
    assert values(result)[("customer_acquisition_cost", None)] == 2000.0
    assert values(result)[("net_promoter_score", None)] == 25.0


def test_a_table_provided_twice_names_both_sources(tmp_path: Path) -> None:
    project = copy_project(tmp_path, SOURCES)
    (tmp_path / "finance" / "deals.csv").write_text(
        "deal_id,stage,is_closed,is_won,created_at\nD-1,Open,false,false,2024-03-01\n", encoding="utf-8"
    )
    result = invoke(
        "run", "--project", str(project), "-m", "new_customers", *MARCH, "-s", "crm", "-s", "finance"
    )
    assert result.exit_code == 2
    assert "table 'deals' is provided by both crm (salesforce:" in result.output
    assert "and finance (csv:" in result.output
    assert "--source deals=finance" in result.output
    # Saying which one resolves it.
    args = ("-s", "crm", "-s", "finance", "-s", "deals=crm", "-f", "json")
    result = invoke("run", "--project", str(project), "-m", "new_customers", *MARCH, *args)
    assert values(result) == {("new_customers", None): 2.0}


def test_a_table_bound_to_a_source_without_it(tmp_path: Path) -> None:
    project = copy_project(tmp_path, SOURCES + "source: crm\ntables:\n  tickets: finance\n")
    result = invoke("inspect", "--project", str(project))
    assert result.exit_code == 1
    assert "table 'tickets' is bound to finance (csv:" in result.output


def test_ids_that_do_not_join_are_reported(tmp_path: Path) -> None:
    text = SOURCES.replace("customer_id: sf_account_id", "customer_id: hs_value")
    project = copy_project(tmp_path, text + "source: crm\ntables:\n  survey_responses: portal\n")
    result = invoke("inspect", "--project", str(project))
    assert result.exit_code == 0, result.output
    surveys = result.output.split("survey_responses\n")[1].split("\n\n")[0]
    # Scores are no account ids: none of the 4 answers joins a Salesforce account.
    assert "4 of 4 customer_id values match no customer" in surveys


def test_a_binding_must_name_a_table() -> None:
    result = invoke("inspect", "-s", "sample", "-s", "payments=csv:x")
    assert result.exit_code == 2
    assert "'payments' is not a canonical table" in result.output


@pytest.mark.parametrize("value", ["csv:data", "sample"], ids=["uri", "name"])
def test_one_source_still_works(value: str, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "spend.csv").write_text(
        "spend_id,spent_at,category,amount\nS1,2024-03-01,marketing,10\n", encoding="utf-8"
    )
    source = f"csv:{tmp_path / 'data'}" if value == "csv:data" else "sample"
    result = invoke("inspect", "-s", source)
    assert result.exit_code == 0, result.output
    assert "source:" not in result.output
