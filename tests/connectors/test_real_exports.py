"""What real orgs and portals export, written from the public documentation, not our renderer.

Empty results (a REST result with ``totalSize: 0``, a Bulk CSV with only its header, a
HubSpot page with ``results: []``), Data Loader checkboxes (false as an empty cell, true as
``1``), dates as Excel saves them, HubSpot's current and older UI export labels, quoted
headers, honest rejected counts with the record's own line, and the data checks on times
that cannot be. Each expected value is worked out by hand from the fixture text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from crm_fake_api import FakeApi

from crmetrics.canonical import conform
from crmetrics.cli import main
from crmetrics.engine import evaluate
from crmetrics.errors import DataError
from crmetrics.inspect import inspect_source, render_inspection
from crmetrics.model import TABLES
from crmetrics.plugins.hubspot.connector import HubSpotConnector
from crmetrics.plugins.salesforce.connector import SalesforceConnector

REAL = Path(__file__).parent / "fixtures" / "real"
SF = "/services/data/v60.0"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def by_id(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    key = frame.columns[0]
    return {row[key]: row for row in frame.iter_rows(named=True)}


def report(conn: Any, table: str) -> Any:
    conn.scan(table)
    return next(r for r in conn.reports() if r.table == table)


# -- 1. empty is not an error ------------------------------------------------------------------


def test_empty_salesforce_results_give_empty_typed_tables() -> None:
    conn = SalesforceConnector(str(REAL / "empty_salesforce"))
    # Account and Opportunity: totalSize 0; Lead: a Bulk CSV header; Case: a Data Loader header.
    assert conn.available_tables() == ["customers", "deals", "leads", "tickets"]
    for table in conn.available_tables():
        frame = conn.scan(table).collect()
        assert frame.height == 0
        assert frame.schema == pl.Schema(TABLES[table].schema), table


def test_empty_hubspot_pages_and_header_only_export() -> None:
    conn = HubSpotConnector(str(REAL / "empty_hubspot"))
    assert conn.available_tables() == ["customers", "deals", "leads", "tickets", "survey_responses"]
    for table in conn.available_tables():
        frame = conn.scan(table).collect()
        assert (frame.height, frame.schema) == (0, pl.Schema(TABLES[table].schema)), table


def test_run_and_inspect_on_empty_sources() -> None:
    result = evaluate(
        ["new_customers", "lead_conversion_rate", "net_promoter_score"],
        HubSpotConnector(str(REAL / "empty_hubspot")),
        start="2024-03-01",
        end="2024-04-01",
    )
    values = {row["metric"]: row["value"] for row in result.iter_rows(named=True)}
    # A count over no rows is 0; a rate over no rows (0 / 0) is undefined, so null.
    assert values == {"new_customers": 0.0, "lead_conversion_rate": None, "net_promoter_score": None}
    text = render_inspection(inspect_source(SalesforceConnector(str(REAL / "empty_salesforce"))))
    assert text.count("rows read:   0") == 4
    assert text.count("null rate:   n/a (no rows)") == 4
    assert "__" not in text  # no internal column name


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMETRICS_SALESFORCE_TOKEN", "t0ken")
    monkeypatch.setenv("CRMETRICS_HUBSPOT_TOKEN", "t0ken")


def test_live_empty_answers(fake_api: FakeApi, token: None) -> None:
    fake_api.empty_salesforce(
        SF,
        {
            "Opportunity": [{"name": n} for n in ("Id", "AccountId", "Amount", "IsClosed", "IsWon")],
            "Lead": [{"name": "Id"}, {"name": "IsConverted", "type": "boolean"}],
        },
    )
    live = SalesforceConnector(fake_api.url)
    assert live.available_tables() == ["deals", "leads"]
    assert live.scan("deals").collect().schema == pl.Schema(TABLES["deals"].schema)
    assert live.scan("leads").collect().height == 0
    fake_api.empty_hubspot("deals", "tickets")
    fake_api.on("/crm/v3/pipelines/deals", {"results": []})
    portal = HubSpotConnector(fake_api.url)
    assert portal.scan("deals").collect().height == 0
    assert portal.scan("tickets").collect().schema == pl.Schema(TABLES["tickets"].schema)


# -- 2. real export conventions ----------------------------------------------------------------


def test_checkboxes_and_excel_dates_day_first() -> None:
    conn = SalesforceConnector(str(REAL / "excel_day_first"), {"date_format": "day_first"})
    deals = by_id(conn.scan("deals").collect())
    won, open_, lost = (deals[f"00600000000000{i}AAA"] for i in (1, 2, 3))
    # IsClosed/IsWon "1" is true; an empty checkbox cell is false, never missing.
    assert (won["is_closed"], won["is_won"]) == (True, True)
    assert (open_["is_closed"], open_["is_won"]) == (False, False)
    assert (lost["is_closed"], lost["is_won"]) == (True, False)
    # 02/03/24 day first: 2 March 2024; "01/03/24 09:15": 1 March 09:15; "2/3/2024 14:05".
    assert won["closed_at"] == utc(2024, 3, 2)
    assert won["created_at"] == utc(2024, 3, 1, 9, 15)
    assert open_["created_at"] == utc(2024, 3, 2, 14, 5)
    assert open_["closed_at"] is None  # open: its CloseDate 15/04/24 is a forecast
    assert lost["closed_at"] == utc(2024, 3, 20)


def test_excel_dates_month_first_with_am_pm() -> None:
    conn = SalesforceConnector(str(REAL / "excel_month_first"), {"date_format": "month_first"})
    deals = by_id(conn.scan("deals").collect())
    # 03/02/24 month first: 2 March; "03/01/24 9:15 AM": 1 March 09:15; "3/2/2024 2:05 PM": 14:05.
    assert deals["006000000000001AAA"]["closed_at"] == utc(2024, 3, 2)
    assert deals["006000000000001AAA"]["created_at"] == utc(2024, 3, 1, 9, 15)
    assert deals["006000000000002AAA"]["created_at"] == utc(2024, 3, 2, 14, 5)


def test_excel_dates_without_date_format_are_refused_naming_the_option() -> None:
    conn = SalesforceConnector(str(REAL / "excel_day_first"))
    with pytest.raises(DataError) as caught:
        conn.scan("deals")
    [issue] = caught.value.issues
    assert issue.code == "ambiguous-date"
    assert "'02/03/24'" in issue.message and "CloseDate" in issue.message
    assert "date_format" in issue.hint


@pytest.mark.parametrize("folder", ["hubspot_current", "hubspot_old"], ids=["current", "old"])
def test_hubspot_export_labels_current_and_old(folder: str) -> None:
    conn = HubSpotConnector(str(REAL / folder))
    leads = by_id(conn.scan("leads").collect())
    # 501 entered Opportunity on 2024-02-01 10:00; 503 is a Customer, converted 2024-02-03.
    assert leads["501"]["is_converted"] is True
    assert leads["501"]["converted_at"] == utc(2024, 2, 1, 10)
    assert leads["501"]["customer_id"] == "9001"
    assert leads["501"]["source"] == "organic_search"  # Original (Traffic) Source
    assert leads["502"]["is_converted"] is False and leads["502"]["converted_at"] is None
    assert leads["503"]["converted_at"] == utc(2024, 2, 3, 10)


def test_quoted_header_is_read_unescaped() -> None:
    from crmetrics.plugins.crm_common.files import read_csv_text

    path = REAL / "hubspot_current" / "hubspot-crm-exports-all-contacts-2024-08-27.csv"
    assert 'Date entered "Opportunity (Lifecycle Stage Pipeline)"' in read_csv_text(path).columns


# -- 3. honest counts and places ---------------------------------------------------------------


def test_a_row_with_three_bad_cells_is_one_rejected_row_at_its_own_line() -> None:
    conn = SalesforceConnector(str(REAL / "counts"))
    rep = report(conn, "leads")
    # Lead 2 has a bad CreatedDate, IsConverted and ConvertedDate: one row, three reasons.
    assert (rep.rows_read, rep.rows_kept, rep.rejected_rows) == (3, 2, 1)
    assert dict(rep.rejected) == {
        "created_at: not a timestamp or date": 1,
        "is_converted: not a boolean (true/false, 1/0, yes/no)": 1,
        "converted_at: not a timestamp or date": 1,
    }
    # Lead 2 is sorted first (oldest LastModifiedDate) but starts on line 3 of the file.
    created = next(i for i in rep.issues if "created_at" in i.message)
    assert "row 3: 'yesterday'" in created.message
    assert (Path(created.location.file).name, created.location.line) == ("Lead.csv", 3)
    text = render_inspection(inspect_source(conn))
    assert "rejected:    1\n" in text


def test_api_pages_are_placed_by_page_and_record() -> None:
    rep = report(SalesforceConnector(str(REAL / "counts")), "deals")
    # Opportunity 3 (page-2, record 1) has Amount "lots" and no StageName: one row.
    assert (rep.rows_read, rep.rows_kept, rep.rejected_rows) == (3, 2, 1)
    assert {i.message.split(":")[0] for i in rep.issues} == {"deals.amount", "deals.stage"}
    assert all("page-2.json record 1" in i.message for i in rep.issues)


def test_null_stage_reads_no_stage(tmp_path: Path) -> None:
    (tmp_path / "deals.json").write_text(
        '{"results": [{"id": "1", "properties": {"dealstage": null, "createdate": "2024-01-01"}}]}'
    )
    rep = report(HubSpotConnector(str(tmp_path)), "deals")
    [warning] = [i for i in rep.issues if i.code == "unknown-deal-stage"]
    assert "no stage" in warning.message and "None" not in warning.message


# -- 4. data checks that catch nonsense ----------------------------------------------------------


CASE_COLUMNS = {"handle_time_seconds": "Handle_Seconds__c", "first_response_at": "First_Reply__c"}
CASE_FIELDS = {"mappings": {"tickets": {"columns": CASE_COLUMNS}}}


def test_tickets_answered_or_resolved_before_creation_and_negative_handle_time() -> None:
    conn = SalesforceConnector(str(REAL / "checks"), CASE_FIELDS)
    tickets = conn.scan("tickets").collect()
    # Case 2 was resolved the instant it was created: allowed. 1 resolved a day early, 3 took
    # -30 s, 4 was answered a minute before it was opened: each rejected once.
    assert tickets["ticket_id"].to_list() == ["500000000000002AAA"]
    rep = report(conn, "tickets")
    assert rep.rejected_rows == 3
    assert dict(rep.rejected) == {
        "resolved_at: resolved_at before created_at": 1,
        "handle_time_seconds: negative handle_time_seconds": 1,
        "first_response_at: first_response_at before created_at": 1,
    }
    text = "\n".join(i.message for i in rep.issues)
    assert "Case.json record 1" in text and "Case.json record 3" in text and "Case.json record 4" in text


def test_deals_closed_and_leads_converted_before_creation() -> None:
    conn = SalesforceConnector(str(REAL / "checks"))
    deals = conn.scan("deals").collect()
    # Created 2024-04-01 10:00 UTC: a CloseDate (a date in the org's zone) may be 03-31 at the
    # earliest; 03-30 is rejected, 03-31 and 04-01 are kept.
    assert sorted(deals["deal_id"]) == ["006000000000010AAA", "006000000000011AAA"]
    assert dict(report(conn, "deals").rejected) == {"closed_at: closed_at before created_at": 1}
    leads = conn.scan("leads").collect()
    # Created 04-10 10:00: converted 04-08 is rejected, 04-09 kept.
    assert leads["lead_id"].to_list() == ["00Q000000000002AAA"]


def test_canonical_csv_fails_the_run_on_these_rules() -> None:
    raw = pl.DataFrame(
        {
            "ticket_id": ["t1"],
            "created_at": ["2024-03-10T10:00:00Z"],
            "resolved_at": ["2024-03-09T10:00:00Z"],
        }
    )
    with pytest.raises(DataError) as caught:
        conform(TABLES["tickets"], raw, origin="tickets.csv", first_row=2)
    [issue] = caught.value.issues
    assert "tickets.resolved_at: resolved_at before created_at: row 2" in issue.message
    assert (issue.location.file, issue.location.line) == ("tickets.csv", 2)


def test_inspect_cli_counts_the_checks(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["inspect", "-s", f"salesforce:{REAL / 'checks'}"])
    assert result.exit_code == 0, result.output
    deals = result.output.split("deals\n")[1].split("\n\n")[0]
    assert "rows read:   3" in deals and "rows kept:   2" in deals and "rejected:    1" in deals
    assert "closed_at: closed_at before created_at" in deals
