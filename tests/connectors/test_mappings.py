"""Custom objects and column overrides, in files and live mode, and their project-file checks.

``fixtures/custom`` holds a Bulk API CSV of a custom ``Spend__c`` object (a duplicate across
two exports, a Recycle Bin row, a draft, a currency without a rate), opportunities whose
stage the org reads from the forecast category, and a HubSpot custom object
``p_survey_response`` as a CRM v3 list page. Expected values are worked out by hand.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from crm_fake_api import FakeApi

from crmetrics.engine import evaluate
from crmetrics.errors import DefinitionError, UsageError
from crmetrics.mapping import MappingExpressionError, compile_expression
from crmetrics.plugins.hubspot.connector import HubSpotConnector
from crmetrics.plugins.salesforce.connector import SalesforceConnector
from crmetrics.project import load_project

CUSTOM = Path(__file__).parent / "fixtures" / "custom"
SF = "/services/data/v60.0"

SPEND: dict[str, Any] = {
    "object": "Spend__c",
    "where": "Status__c = 'Approved'",
    "currency": "CurrencyIsoCode",
    "columns": {
        "spend_id": "Id",
        "spent_at": "Spend_Date__c",
        "category": {"value": "marketing"},
        "channel": {"field": "Channel__c", "values": {"Paid Search": "paid_search", "Events": "events"}},
        "amount": {"expr": "Amount__c + COALESCE(Fees__c, 0)"},
    },
}
SPEND_OPTIONS = {"currency": {"rates": {"EUR": 1.1}}, "mappings": {"spend": SPEND}}

SURVEYS: dict[str, Any] = {
    "object": "p_survey_response",
    "columns": {
        "response_id": "id",
        "customer_id": "account_id",
        "survey_type": {"field": "survey_kind", "values": {"Net Promoter": "nps", "Satisfaction": "csat"}},
        "score": "rating",
        "submitted_at": "submitted",
    },
}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def by_id(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {row[frame.columns[0]]: row for row in frame.iter_rows(named=True)}


def report(conn: Any, table: str) -> Any:
    conn.scan(table)
    return next(r for r in conn.reports() if r.table == table)


def check_spend(conn: SalesforceConnector) -> None:
    spend = by_id(conn.scan("spend").collect())
    # a0X..1 twice: the copy modified 03-05 wins, 1100 + 50 fees. a0X..2: 2000 EUR x 1.1, no
    # fees; its empty IsDeleted checkbox means not deleted.
    assert set(spend) == {"a0X000000000001AAA", "a0X000000000002AAA"}
    assert spend["a0X000000000001AAA"]["amount"] == pytest.approx(1150.0)
    assert spend["a0X000000000002AAA"]["amount"] == pytest.approx(2200.0)
    assert spend["a0X000000000002AAA"]["channel"] == "events"
    assert spend["a0X000000000001AAA"]["category"] == "marketing"
    assert spend["a0X000000000001AAA"]["spent_at"] == utc(2024, 3, 1)
    rep = report(conn, "spend")
    # 6 rows read: the draft (where), the deleted one, the GBP one are left out; 1 duplicate.
    assert (rep.rows_read, rep.rows_kept, rep.rejected_rows, rep.duplicates_dropped) == (6, 2, 3, 1)
    assert dict(rep.rejected) == {
        "left out by where: Status__c = 'Approved'": 1,
        "deleted": 1,
        "amount in GBP with no rate to USD": 1,
    }


def test_salesforce_custom_object_from_files() -> None:
    conn = SalesforceConnector(str(CUSTOM / "salesforce"), SPEND_OPTIONS)
    assert "spend" in conn.available_tables()
    check_spend(conn)
    # 1150 + 2200 = 3350 spent on marketing in March.
    result = evaluate(["sales_marketing_spend"], conn, start="2024-03-01", end="2024-04-01")
    assert result["value"].to_list() == [pytest.approx(3350.0)]


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMETRICS_SALESFORCE_TOKEN", "t0ken")
    monkeypatch.setenv("CRMETRICS_HUBSPOT_TOKEN", "t0ken")


def test_salesforce_custom_object_live(fake_api: FakeApi, token: None) -> None:
    rows = pl.read_csv(CUSTOM / "salesforce" / "Spend__c.csv", infer_schema=False)
    records = [
        {"attributes": {"type": "Spend__c"}, **{k: v or None for k, v in r.items()}} for r in rows.to_dicts()
    ]
    for record in records:  # REST JSON has real booleans and numbers
        record["IsDeleted"] = record["IsDeleted"] == "true"
        record["Amount__c"] = float(record["Amount__c"])
    fields = [*rows.columns, "OwnerId"]
    fake_api.on(f"{SF}/sobjects", {"sobjects": [{"name": "Spend__c", "queryable": True}]})
    fake_api.on(
        f"{SF}/sobjects/Spend__c/describe",
        {
            "name": "Spend__c",
            "fields": [{"name": f, "type": "boolean" if f == "IsDeleted" else "string"} for f in fields],
        },
    )
    fake_api.on(f"{SF}/query#Spend__c", {"totalSize": 6, "done": True, "records": records})
    conn = SalesforceConnector(fake_api.url, SPEND_OPTIONS)
    assert conn.available_tables() == ["spend"]
    check_spend(conn)
    soql = fake_api.calls(f"{SF}/query#Spend__c")[0].query["q"][0]
    for field in ("Amount__c", "Fees__c", "Channel__c", "Status__c", "Spend_Date__c", "CurrencyIsoCode"):
        assert field in soql
    assert "OwnerId" not in soql  # only what the mapping reads


def test_override_one_column_of_a_builtin_mapping() -> None:
    options = {
        "currency": {"rates": {"EUR": 1.2}},
        "mappings": {
            "deals": {"columns": {"stage": "ForecastCategoryName", "amount": {"expr": "Amount * 0.5"}}}
        },
    }
    deals = by_id(SalesforceConnector(str(CUSTOM / "salesforce"), options).scan("deals").collect())
    open_, won = deals["006000000000001AAA"], deals["006000000000002AAA"]
    assert (open_["stage"], won["stage"]) == ("Commit", "Closed")
    # The expression's result is still converted: 1000 EUR x 0.5 x 1.2 = 600; 500 USD x 0.5.
    assert (open_["amount"], won["amount"]) == (pytest.approx(600.0), pytest.approx(250.0))
    # Every other column is the built-in one.
    assert (won["is_closed"], won["is_won"], won["closed_at"]) == (True, True, utc(2024, 3, 20))
    assert (open_["deal_type"], open_["closed_at"]) == ("new_business", None)


def check_surveys(conn: HubSpotConnector) -> None:
    surveys = by_id(conn.scan("survey_responses").collect())
    assert set(surveys) == {"801", "802", "803"}  # 804 archived, 805 an exit interview
    assert (surveys["803"]["survey_type"], surveys["803"]["score"]) == ("csat", 4.0)
    assert surveys["802"]["customer_id"] == "9002"
    rep = report(conn, "survey_responses")
    assert rep.rejected["archived"] == 1
    assert rep.rejected["survey_type: missing value"] == 1
    assert any("'Exit interview' (1)" in i.message for i in rep.issues)


def test_hubspot_custom_object_from_files() -> None:
    conn = HubSpotConnector(str(CUSTOM / "hubspot"), {"mappings": {"survey_responses": SURVEYS}})
    assert conn.available_tables() == ["survey_responses"]
    check_surveys(conn)
    # NPS of March: 801 promoter (10), 802 detractor (6): 100 x (1 - 1) / 2 = 0.
    result = evaluate(["net_promoter_score"], conn, start="2024-03-01", end="2024-04-01")
    assert result["value"].to_list() == [0.0]


def test_hubspot_custom_object_live(fake_api: FakeApi, token: None) -> None:
    page = json.loads((CUSTOM / "hubspot" / "p_survey_response.json").read_text())
    first = {"results": page["results"][:3], "paging": {"next": {"after": "3"}}}
    fake_api.on("/crm/v3/objects/p_survey_response", first)
    fake_api.on("/crm/v3/objects/p_survey_response?after=3", {"results": page["results"][3:]})
    conn = HubSpotConnector(fake_api.url, {"mappings": {"survey_responses": SURVEYS}})
    check_surveys(conn)
    asked = fake_api.calls("/crm/v3/objects/p_survey_response")[0].query["properties"][0].split(",")
    assert {"survey_kind", "rating", "submitted", "account_id"} <= set(asked)


# -- the project file ----------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crmetrics.yaml"
    path.write_text(text, encoding="utf-8")
    return path


PROJECT_SPEND = """\
sources:
  crm:
    uri: salesforce:{folder}
    options:
      currency: {{rates: {{EUR: 1.1}}}}
    mappings:
      spend:
        object: Spend__c
        where: "Status__c = 'Approved'"
        currency: CurrencyIsoCode
        columns:
          spend_id: Id
          spent_at: Spend_Date__c
          category: {{value: marketing}}
          channel: {{field: Channel__c, values: {{Paid Search: paid_search, Events: events}}}}
          amount: {{expr: "Amount__c + COALESCE(Fees__c, 0)"}}
"""


def test_project_mappings_reach_the_connector(tmp_path: Path) -> None:
    from crmetrics.engine import Engine

    project = load_project(write(tmp_path, PROJECT_SPEND.format(folder=CUSTOM / "salesforce")))
    check_spend(Engine(project=project).open_source("crm"))  # type: ignore[arg-type]


def test_a_mapping_key_outside_the_schema_is_placed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sources:\n  crm:\n    uri: salesforce:exports\n    mappings:\n"
        "      spend:\n        objekt: Spend__c\n",
    )
    with pytest.raises(DefinitionError) as caught:
        load_project(path)
    [issue] = caught.value.issues
    assert "objekt" in issue.message
    assert (issue.location.line, issue.location.column) == (6, 9)


def test_a_bad_expression_is_placed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sources:\n  crm:\n    uri: salesforce:exports\n    mappings:\n      spend:\n"
        "        columns:\n          amount: {expr: 'SUM(Amount__c)'}\n",
    )
    with pytest.raises(DefinitionError) as caught:
        load_project(path)
    [issue] = caught.value.issues
    assert issue.code == "bad-mapping"
    assert "SUM(Amount__c)" in issue.message and "not supported" in issue.message
    assert issue.location.line == 7


def test_mappings_on_a_csv_source_are_refused(tmp_path: Path) -> None:
    from crmetrics.engine import Engine

    path = write(
        tmp_path,
        "sources:\n  finance:\n    uri: csv:data\n    mappings:\n"
        "      spend:\n        columns: {amount: Cost}\n",
    )
    with pytest.raises(UsageError) as caught:
        Engine(project=load_project(path)).open_source("finance")
    assert caught.value.issues[0].code == "mappings-unsupported"


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("Amount__c * 2", {"amount__c": "21.5"}, "43.0"),
        ("CASE WHEN IsWon THEN 'won' ELSE 'open' END", {"iswon": "1"}, "won"),
        ("COALESCE(Fees__c, 0) + 1", {"fees__c": None}, "1.0"),
        ("LOWER(TRIM(Priority))", {"priority": " High "}, "high"),
        ("Stage__c IN ('A', 'B')", {"stage__c": "B"}, "true"),
        ("NULLIF(Channel__c, 'none')", {"channel__c": "none"}, None),
        ("Account.Name || ' / ' || Region__c", {"account.name": "Acme", "region__c": "EU"}, "Acme / EU"),
    ],
    ids=["arithmetic", "case-checkbox", "coalesce", "text", "in", "nullif", "concat"],
)
def test_expressions(text: str, row: dict[str, Any], expected: str | None) -> None:
    frame = pl.DataFrame({k: [v] for k, v in row.items()}, schema=dict.fromkeys(row, pl.String))
    from crmetrics.mapping import text_result

    assert frame.select(text_result(compile_expression(text, set(frame.columns))))[0, 0] == expected


def test_unsupported_expression_names_the_construct() -> None:
    with pytest.raises(MappingExpressionError, match="not supported"):
        compile_expression("SELECT 1", set())


def test_custom_lookup_ids_widen_and_cost_converts(tmp_path: Path) -> None:
    (tmp_path / "Invoice_Line__c.csv").write_text(
        "Id,Account__c,Invoice_Date__c,Amount__c,Quantity__c,Unit_Cost__c,CurrencyIsoCode\n"
        "a1B000000000001AAA,001D000000IqhSL,2024-03-31,100,2,15,EUR\n",
        encoding="utf-8",
    )
    mapping = {
        "object": "Invoice_Line__c",
        "currency": "CurrencyIsoCode",
        "columns": {
            "revenue_id": "Id",
            "customer_id": "Account__c",
            "recognized_at": "Invoice_Date__c",
            "amount": "Amount__c",
            "cost": {"expr": "Quantity__c * Unit_Cost__c"},
        },
    }
    options = {"currency": {"rates": {"EUR": 1.1}}, "mappings": {"revenue": mapping}}
    [row] = SalesforceConnector(str(tmp_path), options).scan("revenue").collect().to_dicts()
    # The documented pair: 001D000000IqhSL is 001D000000IqhSLIAZ. 100 EUR x 1.1 = 110;
    # cost 2 x 15 = 30 EUR x 1.1 = 33.
    assert row["customer_id"] == "001D000000IqhSLIAZ"
    assert (row["amount"], row["cost"]) == (pytest.approx(110.0), pytest.approx(33.0))
    assert row["recognized_at"] == utc(2024, 3, 31)


def test_a_whole_mapping_must_give_the_required_columns() -> None:
    partial = {**SPEND, "columns": {k: v for k, v in SPEND["columns"].items() if k != "spent_at"}}
    conn = SalesforceConnector(str(CUSTOM / "salesforce"), {"mappings": {"spend": partial}})
    with pytest.raises(UsageError) as caught:
        conn.scan("spend")
    [issue] = caught.value.issues
    assert issue.code == "incomplete-mapping"
    assert "gives no spent_at" in issue.message and "columns.spent_at" in issue.hint


def test_a_mapped_field_the_object_lacks_is_reported() -> None:
    typo = {**SPEND, "columns": {**SPEND["columns"], "spent_at": "Spend_Dat__c"}}
    options = {**SPEND_OPTIONS, "mappings": {"spend": typo}}
    conn = SalesforceConnector(str(CUSTOM / "salesforce"), options)
    rep = report(conn, "spend")
    [warning] = [i for i in rep.issues if i.code == "unknown-field"]
    assert "Spend__c has no field 'Spend_Dat__c'" in warning.message
    assert "did you mean 'spend_date__c'?" in warning.hint
    # Without a date every remaining row is rejected: 6 read, 0 kept.
    assert (rep.rows_read, rep.rows_kept) == (6, 0)
