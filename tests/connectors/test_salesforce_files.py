"""The Salesforce connector on export files: every quirk of crm-sources.md section 4 that applies.

``fixtures/salesforce`` mixes REST query pages (with a record changed between two pages),
queryAll rows (deleted, merged), a Data Loader CSV (BOM, CRLF, semicolons, upper-case
headers, a NUL byte, quoted newlines) and Bulk API CSV chunks. Expected values are worked
out by hand from the fixture text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmetrics.errors import DataError, UsageError
from crmetrics.plugins.crm_common.files import read_csv_text
from crmetrics.plugins.salesforce.connector import SalesforceConnector
from crmetrics.plugins.salesforce.source import FileSource, long_id

FOLDER = Path(__file__).parent / "fixtures" / "salesforce"
ACME = "001D000000IqhSLIAZ"
GLOBEX = "001000000000002AAA"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def connector(**options: Any) -> SalesforceConnector:
    return SalesforceConnector(str(FOLDER), {"currency": {"rates": {"EUR": 1.5}}, **options})


def rows(conn: SalesforceConnector, table: str) -> dict[str, dict[str, Any]]:
    frame = conn.scan(table).collect()
    key = frame.columns[0]
    return {row[key]: row for row in frame.iter_rows(named=True)}


def report(conn: SalesforceConnector, table: str) -> Any:
    conn.scan(table)
    return next(r for r in conn.reports() if r.table == table)


def test_fifteen_character_ids_widen_to_eighteen() -> None:
    # The documented example pair: 001D000000IqhSL is 001D000000IqhSLIAZ.
    assert long_id("001D000000IqhSL") == ACME
    leads = rows(connector(), "leads")
    assert leads["00Q000000000001AAA"]["customer_id"] == ACME
    tasks = rows(connector(), "activity")
    assert tasks["00T000000000001AAA"]["customer_id"] == ACME


def test_deleted_and_merged_accounts_are_dropped_and_counted() -> None:
    conn = connector()
    customers = rows(conn, "customers")
    assert set(customers) == {ACME, GLOBEX}
    assert dict(report(conn, "customers").rejected) == {
        "deleted": 1,
        "merged": 1,
        "not a customer (no won opportunity)": 1,
    }


def test_include_deleted_keeps_them() -> None:
    conn = connector(include_deleted=True, customers={"include_prospects": True})
    frame = conn.data.rows("Account")
    assert frame.height == 5


def test_customer_derivations() -> None:
    acme, globex = rows(connector(), "customers")[ACME], rows(connector(), "customers")[GLOBEX]
    # First won opportunity: the latest copy of 006...001 closed won on 2024-03-01.
    assert acme["acquired_at"] == utc(2024, 3, 1)
    # An open-ended activated contract: still a customer.
    assert acme["churned_at"] is None
    # Last activated contract ended 2024-06-30; the later Draft one does not count.
    assert globex["churned_at"] == utc(2024, 6, 30)
    assert acme["segment"] == "Mid-Market" and globex["segment"] is None
    # Namibia's ISO code must stay text, not become a null.
    assert acme["region"] == "NA"
    # No AccountSource: the lead source of the first won opportunity stands in.
    assert acme["acquisition_channel"] == "partner_referral"
    assert globex["acquisition_channel"] == "trade_show"


def test_churn_from_a_field_and_acquisition_from_a_field() -> None:
    conn = connector(
        customers={"acquired_at": "field", "acquired_at_field": "SystemModstamp", "churned_at": "none"}
    )
    acme = rows(conn, "customers")[ACME]
    assert acme["acquired_at"] == utc(2024, 3, 2)
    assert acme["churned_at"] is None


def test_duplicates_across_pages_keep_the_most_recent_copy() -> None:
    conn = connector()
    deals = rows(conn, "deals")
    # 006...001: page 1 has the older copy, page 2 the newer one.
    assert deals["006000000000001AAA"]["amount"] == 1000.0
    assert deals["006000000000001AAA"]["stage"] == "Closed Won"
    # 006...002: page 1 has the newer copy; the stale one fetched later must not win.
    assert deals["006000000000002AAA"]["stage"] == "Closed Won"
    assert report(conn, "deals").duplicates_dropped == 2


def test_currency_conversion_and_missing_rate() -> None:
    conn = connector()
    deals = rows(conn, "deals")
    assert deals["006000000000002AAA"]["amount"] == 3000.0  # 2000 EUR x 1.5
    assert "006000000000003AAA" not in deals  # GBP, no rate
    rep = report(conn, "deals")
    assert rep.rejected["amount in GBP with no rate to USD"] == 1
    assert any(i.code == "missing-exchange-rate" for i in rep.issues)


def test_timestamps_become_utc() -> None:
    deals = rows(connector(), "deals")
    # -0200 at 23:30 on Feb 29 is 01:30 UTC on March 1, the same day as the CloseDate.
    assert deals["006000000000001AAA"]["created_at"] == utc(2024, 3, 1, 1, 30)
    assert deals["006000000000001AAA"]["closed_at"] == utc(2024, 3, 1)
    leads = rows(connector(), "leads")
    assert leads["00Q000000000001AAA"]["created_at"] == utc(2024, 4, 1, 8)  # +0200
    assert leads["00Q000000000002AAA"]["created_at"] == utc(2024, 4, 2, 0, 30)  # -0100
    assert leads["00Q000000000003AAA"]["created_at"] == utc(2024, 4, 5, 10)  # Z, no millis
    assert leads["00Q000000000001AAA"]["converted_at"] == utc(2024, 4, 2)  # bare date


def test_nulls_from_json_and_csv() -> None:
    deals = rows(connector(), "deals")
    open_deal = deals["006000000000006AAA"]  # "Account": null, Amount: null
    assert open_deal["customer_id"] is None and open_deal["amount"] is None
    assert open_deal["closed_at"] is None and open_deal["is_closed"] is False
    leads = rows(connector(), "leads")
    assert leads["00Q000000000002AAA"]["customer_id"] is None  # empty CSV cell


def test_unknown_picklist_value_is_null_with_a_counted_warning() -> None:
    conn = connector()
    assert rows(conn, "deals")["006000000000004AAA"]["deal_type"] is None
    warning = next(i for i in report(conn, "deals").issues if i.code == "unknown-picklist-value")
    assert "'Partnership' (1)" in warning.message and warning.severity == "warning"
    assert warning.subject == "deals.deal_type"


def test_deal_type_map_override_merges_over_defaults() -> None:
    deals = rows(connector(deals={"deal_type_map": {"Partnership": "cross_sell"}}), "deals")
    assert deals["006000000000004AAA"]["deal_type"] == "cross_sell"
    assert deals["006000000000002AAA"]["deal_type"] == "upsell"


def test_lead_conversion_from_lead_status_and_bad_flags() -> None:
    conn = connector()
    leads = rows(conn, "leads")
    # IsConverted is a checkbox: its empty cell is false (exports write false that way),
    # whatever the status says; the status stands in only when there is no IsConverted.
    assert leads["00Q000000000002AAA"]["is_converted"] is False
    assert leads["00Q000000000003AAA"]["is_converted"] is False
    assert "00Q000000000004AAA" not in leads  # IsConverted "maybe"
    assert report(conn, "leads").rejected == {"is_converted: not a boolean (true/false, 1/0, yes/no)": 1}


def test_data_loader_csv_hygiene() -> None:
    frame = read_csv_text(FOLDER / "Lead.csv")
    assert frame.columns[0] == "ID"  # the byte-order mark is gone
    company = dict(zip(frame["ID"], frame["COMPANY"], strict=True))
    assert company["00Q000000000001AAA"] == "Acme; Inc"
    assert company["00Q000000000002AAA"] == 'Big "Quoted" Co\r\nsecond line'
    assert company["00Q000000000003AAA"] == "Plain Co"  # NUL byte dropped


def test_bulk_csv_numbers() -> None:
    conn = connector(revenue={"source": "orders"})
    revenue = rows(conn, "revenue")
    assert revenue["801000000000001AAA"]["amount"] == 1500.0  # "1.5E+3"
    assert revenue["801000000000004AAA"]["amount"] == 150.0  # 100 EUR x 1.5
    assert "801000000000003AAA" not in revenue  # a Draft order is not revenue
    assert report(conn, "revenue").rejected == {"amount: not a number": 1}  # "2,000"
    tickets = rows(connector(), "tickets")
    assert tickets["500000000000002AAA"]["handle_time_seconds"] == 95.0  # 95 + "0.0"


def test_relationship_fields_nested_in_json_and_dotted_in_csv(tmp_path: Path) -> None:
    (tmp_path / "Contact.csv").write_text("Id,Account.Name\n003000000000001AAA,Acme\n")
    from_csv = FileSource(tmp_path).read("Contact", [])
    from_json = FileSource(FOLDER).read("Opportunity", [])
    assert from_csv["account.name"].to_list() == ["Acme"]
    names = dict(zip(from_json["id"], from_json["account.name"], strict=True))
    assert names["006000000000001AAA"] == "x"  # {"Account": {"attributes": ..., "Name": "x"}}
    assert names["006000000000006AAA"] is None  # "Account": null
    assert not any(c.startswith("attributes") for c in from_json.columns)


def test_first_response_sources_in_order() -> None:
    tickets = rows(connector(), "tickets")
    # Milestone named through the MilestoneType object: 10:00+0200 = 08:00 UTC, though an
    # outgoing email (07:10) and another milestone type (07:05) came earlier.
    assert tickets["500000000000001AAA"]["first_response_at"] == utc(2024, 5, 1, 8)
    # No completed milestone: the first outgoing email; the incoming one does not count.
    assert tickets["500000000000002AAA"]["first_response_at"] == utc(2024, 5, 2, 9)
    custom = rows(
        connector(
            tickets={"first_response": ["field", "milestone"], "first_response_field": "First_Reply__c"}
        ),
        "tickets",
    )
    assert custom["500000000000001AAA"]["first_response_at"] == utc(2024, 5, 1, 7, 30)


def test_handle_time_and_channel() -> None:
    conn = connector()
    tickets = rows(conn, "tickets")
    assert tickets["500000000000001AAA"]["handle_time_seconds"] == 420.0  # AgentWork 300 + 120
    assert tickets["500000000000001AAA"]["channel"] == "phone"
    assert tickets["500000000000003AAA"]["channel"] is None  # "Social"
    assert tickets["500000000000001AAA"]["priority"] == "high"
    assert any("'Social' (1)" in i.message for i in report(conn, "tickets").issues)


def test_activity_from_bulk_chunks() -> None:
    conn = connector()
    activity = rows(conn, "activity")
    assert set(activity) == {"00T000000000001AAA", "00T000000000002AAA", "00T000000000004AAA"}
    assert activity["00T000000000004AAA"]["activity_type"] == "send_letter"
    assert report(conn, "activity").rejected == {"deleted": 1, "customer_id: missing value": 1}


def test_available_tables() -> None:
    assert connector().available_tables() == [
        "customers",
        "deals",
        "leads",
        "tickets",
        "revenue",
        "activity",
    ]


def test_not_a_folder() -> None:
    with pytest.raises(DataError, match="is not a folder"):
        SalesforceConnector(str(FOLDER / "nope")).available_tables()


def test_bad_options_are_refused_with_their_path() -> None:
    with pytest.raises(UsageError) as caught:
        SalesforceConnector(str(FOLDER), {"currency": {"rates": {"EUR": -1}}, "bogus": 1})
    text = str(caught.value)
    assert "currency.rates.EUR" in text and "bogus" in text


def test_an_export_without_ids_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Opportunity.csv").write_text("Name,Amount\nBig,10\n")
    with pytest.raises(DataError, match="Opportunity has no Id column"):
        SalesforceConnector(str(tmp_path)).scan("deals")


def test_a_zero_byte_export_is_a_table_without_rows(tmp_path: Path) -> None:
    # A Data Loader export of no lead may be written without even its header line.
    (tmp_path / "Lead.csv").write_bytes(b"")
    leads = SalesforceConnector(str(tmp_path)).scan("leads").collect()
    assert leads.height == 0
    assert leads.columns == ["lead_id", "created_at", "source", "is_converted", "converted_at", "customer_id"]
