"""The HubSpot connector on export files: every quirk of crm-sources.md section 4 that applies.

``fixtures/hubspot`` holds CRM v3 list pages (a company changed between two pages, an
archived company, a merge), a custom pipeline with numeric stage ids, feedback submissions
off their scales, a legacy v1 engagements export in epoch milliseconds and a UI invoice
export; ``fixtures/hubspot_export`` is a UI deal export with label headers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmetrics.plugins.crm_common.files import read_csv_text
from crmetrics.plugins.hubspot.connector import HubSpotConnector
from crmetrics.plugins.hubspot.labels import rename_labels

FIXTURES = Path(__file__).parent / "fixtures"
FOLDER = FIXTURES / "hubspot"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def connector(folder: Path = FOLDER, **options: Any) -> HubSpotConnector:
    return HubSpotConnector(str(folder), {"currency": {"rates": {"EUR": 1.5}}, **options})


def rows(conn: HubSpotConnector, table: str) -> dict[str, dict[str, Any]]:
    frame = conn.scan(table).collect()
    return {row[frame.columns[0]]: row for row in frame.iter_rows(named=True)}


def report(conn: HubSpotConnector, table: str) -> Any:
    conn.scan(table)
    return next(r for r in conn.reports() if r.table == table)


def test_archived_and_merged_companies_are_dropped_and_counted() -> None:
    conn = connector()
    assert set(rows(conn, "customers")) == {"1001", "1002", "1004"}
    rep = report(conn, "customers")
    assert dict(rep.rejected) == {"archived": 1, "merged": 1}
    assert rep.duplicates_dropped == 1


def test_merged_contact_is_dropped() -> None:
    conn = connector()
    assert set(rows(conn, "leads")) == {"3001", "3003"}
    assert dict(report(conn, "leads").rejected) == {"merged": 1}


def test_include_archived_keeps_them() -> None:
    conn = connector(include_archived=True, customers={"include_prospects": True})
    assert set(rows(conn, "customers")) == {"1001", "1002", "1003", "1004", "1005"}


def test_duplicate_across_pages_keeps_the_latest_updated_at() -> None:
    # Page 1 holds the copy updated on April 1, page 2 a stale one from February.
    assert rows(connector(), "customers")["1002"]["name"] == "Globex Corp"


def test_customer_dates() -> None:
    customers = rows(connector(), "customers")
    # hs_lifecyclestage_customer_date "2024-05-01T10:00:00.000+0200"
    assert customers["1001"]["acquired_at"] == utc(2024, 5, 1, 8)
    # No lifecycle date: the first won deal's closedate, epoch ms 1709287200000.
    assert customers["1002"]["acquired_at"] == utc(2024, 3, 1, 10)
    assert customers["1001"]["segment"] is None  # numberofemployees ""
    assert customers["1002"]["segment"] == "Mid-Market"
    assert customers["1002"]["acquisition_channel"] == "paid_social"


def test_churn_from_the_other_lifecycle_stage(tmp_path: Path) -> None:
    (tmp_path / "companies.json").write_text(
        '{"results": [{"id": "1", "properties": {"hs_lifecyclestage_customer_date": "2024-01-01",'
        ' "hs_lifecyclestage_other_date": "1719792000000"}}]}'
    )
    customers = rows(connector(tmp_path, customers={"churned_at": "lifecycle_other"}), "customers")
    assert customers["1"]["churned_at"] == utc(2024, 7, 1)


def test_deal_values_from_string_properties() -> None:
    deals = rows(connector(), "deals")
    won = deals["2001"]
    assert won["amount"] == 1500.5 and won["is_won"] is True and won["is_closed"] is True
    assert won["closed_at"] == utc(2024, 3, 1, 10)
    assert won["stage"] == "Closed Won"


def test_custom_pipeline_with_numeric_stage_ids() -> None:
    deals = rows(connector(), "deals")
    assert deals["2002"]["stage"] == "Signed" and deals["2002"]["is_won"] is True
    assert deals["2005"]["stage"] == "Negotiating" and deals["2005"]["is_closed"] is False
    ids = rows(connector(deals={"stage_name": "id"}), "deals")
    assert ids["2002"]["stage"] == "12345678"


def test_stage_overrides_from_options() -> None:
    conn = connector(deals={"stages": {"mystery": {"label": "Mystery", "closed": True, "won": False}}})
    assert rows(conn, "deals")["2004"]["stage"] == "Mystery"


def test_unknown_stage_is_left_out_and_reported() -> None:
    conn = connector()
    assert "2004" not in rows(conn, "deals")
    rep = report(conn, "deals")
    assert rep.rejected["unknown deal stage"] == 1
    assert any("'mystery'" in i.message for i in rep.issues)


def test_currencies() -> None:
    conn = connector()
    deals = rows(conn, "deals")
    assert deals["2002"]["amount"] == 216.0  # amount_in_home_currency, portal in USD
    assert deals["2007"]["amount"] == 150.0  # 100 EUR x 1.5
    assert "2003" not in deals  # GBP, no rate
    assert report(conn, "deals").rejected["amount in GBP with no rate to USD"] == 1


def test_home_currency_differs_from_reporting() -> None:
    conn = connector(home_currency="EUR")
    # 200 EUR: the home amount is not in the reporting currency, so the rate applies.
    assert rows(conn, "deals")["2002"]["amount"] == 300.0


def test_null_missing_and_empty_properties() -> None:
    deals = rows(connector(), "deals")
    assert deals["2005"]["amount"] is None  # null
    assert deals["2005"]["closed_at"] is None  # ""
    assert deals["2005"]["customer_id"] is None  # no association
    assert deals["2005"]["deal_type"] is None  # "PARTNER": unknown


def test_unknown_deal_type_warns_with_counts() -> None:
    warning = next(i for i in report(connector(), "deals").issues if i.code == "unknown-picklist-value")
    assert "'PARTNER' (1)" in warning.message


def test_leads_from_contacts() -> None:
    leads = rows(connector(), "leads")
    assert leads["3001"]["is_converted"] is True
    assert leads["3001"]["converted_at"] == utc(2024, 3, 1)  # a bare date
    assert leads["3001"]["customer_id"] == "1002"
    assert leads["3003"]["is_converted"] is False and leads["3003"]["customer_id"] is None


def test_tickets() -> None:
    conn = connector()
    tickets = rows(conn, "tickets")
    # time_to_first_agent_reply "3600000" ms after 08:00.
    assert tickets["4001"]["first_response_at"] == utc(2024, 5, 1, 9)
    # first_agent_reply_date wins over the duration.
    assert tickets["4002"]["first_response_at"] == utc(2024, 5, 2, 8, 30)
    assert tickets["4001"]["handle_time_seconds"] == 90.5  # a call of "90500" ms
    assert tickets["4001"]["channel"] == "chat" and tickets["4001"]["priority"] == "urgent"
    assert tickets["4002"]["channel"] is None  # WHATSAPP
    # The labelled (primary) company association wins over the unlabeled one.
    assert tickets["4002"]["customer_id"] == "1002"


def test_survey_scales_and_unknown_surveys() -> None:
    conn = connector()
    surveys = rows(conn, "survey_responses")
    assert set(surveys) == {"7003", "7005"}  # NPS 11 and CES 0 are off their scales
    assert surveys["7005"]["customer_id"] == "1002"  # through contact 3001
    assert surveys["7005"]["submitted_at"] == utc(2024, 6, 3, 10)  # epoch ms
    rep = report(conn, "survey_responses")
    assert rep.rejected["score: score off the survey's scale (nps 0-10, csat 1-5, ces 1-7)"] == 2
    assert rep.rejected["survey type not nps, csat or ces"] == 1


def test_survey_options() -> None:
    conn = connector(surveys={"scales": {"csat": [0, 2]}, "survey_types": {"Onboarding pulse": "csat"}})
    surveys = rows(conn, "survey_responses")
    assert surveys["7003"]["score"] == 5.0  # 2 on 0-2 is 5 on 1-5
    # Now a CSAT response, but 3 on 0-2 maps to 7: off the 1-5 scale, so rejected.
    assert "7004" not in surveys
    rep = report(conn, "survey_responses")
    assert rep.rejected == {"score: score off the survey's scale (nps 0-10, csat 1-5, ces 1-7)": 3}


def test_invoices_from_a_ui_export() -> None:
    conn = connector()
    revenue = rows(conn, "revenue")
    assert set(revenue) == {"8002", "8004"}  # draft and voided are not revenue
    assert revenue["8002"]["recognized_at"] == utc(2024, 4, 2, 9, 15)  # "2024-04-02 09:15"
    assert revenue["8004"]["amount"] == 150.0
    assert report(conn, "revenue").rejected == {"amount: not a number": 1}  # "1,000.00"


def test_engagements_in_epoch_milliseconds() -> None:
    activity = rows(connector(), "activity")
    assert activity["6001"]["occurred_at"] == utc(2024, 3, 1, 10)
    assert activity["6001"]["activity_type"] == "meeting"
    assert activity["5001"]["activity_type"] == "call"


def test_ui_export_with_label_headers() -> None:
    conn = connector(FIXTURES / "hubspot_export")
    assert conn.available_tables() == ["deals"]
    deals = rows(conn, "deals")
    assert deals["9001"]["stage"] == "Closed Won" and deals["9001"]["is_won"] is True
    assert deals["9001"]["closed_at"] == utc(2024, 3, 1, 10)  # "2024-03-01 10:00"
    assert deals["9001"]["customer_id"] == "1002"  # "1002;1004": the first
    assert deals["9001"]["deal_type"] == "new_business"  # "New Business"
    assert deals["9002"]["deal_type"] == "upsell"
    assert deals["9003"]["is_closed"] is False


def test_label_headers_and_overrides() -> None:
    frame = read_csv_text(FIXTURES / "hubspot_export" / "hubspot-crm-exports-all-deals-2024-08-27.csv")
    renamed = rename_labels(frame, "deals", {"Deal owner": "hubspot_owner_id"})
    assert renamed.columns == [
        "id",
        "dealname",
        "dealstage",
        "closedate",
        "createdate",
        "amount",
        "pipeline",
        "dealtype",
        "assoc.companies",
        "hubspot_owner_id",
    ]


@pytest.mark.parametrize(
    "table", ["customers", "deals", "leads", "tickets", "survey_responses", "revenue", "activity"]
)
def test_every_table_is_available(table: str) -> None:
    assert table in connector().available_tables()


def test_a_zero_byte_export_is_a_table_without_rows(tmp_path: Path) -> None:
    # An invoice export of no invoice may be written without even its header line.
    (tmp_path / "invoices.csv").write_bytes(b"")
    revenue = connector(tmp_path).scan("revenue").collect()
    assert revenue.height == 0
    assert revenue.columns == ["revenue_id", "customer_id", "recognized_at", "amount", "cost"]
