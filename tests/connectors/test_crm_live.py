"""Live mode of both connectors against a local fake of the Salesforce and HubSpot APIs.

The fake serves the same pages as the file fixtures, so a live read must give exactly the
frames the files give. Throttling (429 with and without Retry-After, 503), the Salesforce
daily limit (403 REQUEST_LIMIT_EXCEEDED) and rejected tokens (401) are scripted per route;
nothing sleeps, the waits the connector asks for are recorded instead.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from crm_fake_api import FakeApi, Reply
from polars.testing import assert_frame_equal

from crmetrics.errors import DataError, UsageError
from crmetrics.plugins.hubspot.connector import HubSpotConnector
from crmetrics.plugins.salesforce.connector import SalesforceConnector

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "sekret-token-7f3a9c"
SF = "/services/data/v60.0"
FAST = {"backoff_seconds": 0.5, "max_retries": 3, "timeout_seconds": 5}


def load(*parts: str) -> Any:
    return json.loads(FIXTURES.joinpath(*parts).read_text(encoding="utf-8"))


def salesforce(api: FakeApi, sleeps: list[float], **options: Any) -> SalesforceConnector:
    options = {"currency": {"rates": {"EUR": 1.5}}, "http": FAST, **options}
    return SalesforceConnector(api.url, options, sleep=sleeps.append)


def hubspot(api: FakeApi, sleeps: list[float], **options: Any) -> HubSpotConnector:
    options = {"currency": {"rates": {"EUR": 1.5}}, "http": FAST, **options}
    return HubSpotConnector(api.url, options, sleep=sleeps.append)


def describe(*pages: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    names = {k for page in pages for r in page["records"] for k in r if k != "attributes"}
    fields = [
        {"name": n, "relationshipName": "Account" if n == "AccountId" else None}
        for n in sorted(names - set(drop))
    ]
    return {"name": "Opportunity", "fields": fields}


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CRMETRICS_SALESFORCE_TOKEN", TOKEN)
    monkeypatch.setenv("CRMETRICS_HUBSPOT_TOKEN", TOKEN)
    return TOKEN


def serve_salesforce_opportunities(api: FakeApi) -> None:
    page1 = load("salesforce", "Opportunity", "page-1.json")
    page2 = load("salesforce", "Opportunity", "page-2.json")
    api.on(f"{SF}/sobjects", {"sobjects": [{"name": "Opportunity", "queryable": True}]})
    api.on(f"{SF}/sobjects/Opportunity/describe", describe(page1, page2, drop=("LeadSource",)))
    api.on(
        f"{SF}/query#Opportunity",
        Reply(429, [{"errorCode": "REQUEST_LIMIT", "message": "slow down"}], {"Retry-After": "2"}),
        page1,
    )
    api.on(page1["nextRecordsUrl"], Reply(503, "Service Unavailable"), page2)


def test_salesforce_live_pages_match_the_files(fake_api: FakeApi, sleeps: list[float], token: str) -> None:
    serve_salesforce_opportunities(fake_api)
    live = salesforce(fake_api, sleeps)
    assert live.available_tables() == ["deals"]
    files = SalesforceConnector(str(FIXTURES / "salesforce"), {"currency": {"rates": {"EUR": 1.5}}})
    assert_frame_equal(live.scan("deals").collect(), files.scan("deals").collect())
    # Retry-After: 2 honoured, then the backoff's first step for the 503 without one.
    assert sleeps == [2.0, 0.5]
    (query, *_) = fake_api.calls(f"{SF}/query#Opportunity")
    soql = query.query["q"][0]
    assert soql.startswith("SELECT Id, ") and "StageName" in soql and "CurrencyIsoCode" in soql
    assert "LeadSource" not in soql  # not in this org's describe: asking would fail the query
    assert query.headers["Authorization"] == f"Bearer {token}"
    report = next(r for r in live.reports() if r.table == "deals")
    assert report.duplicates_dropped == 2


def test_salesforce_daily_limit_is_one_clear_error(
    fake_api: FakeApi, sleeps: list[float], token: str
) -> None:
    serve_salesforce_opportunities(fake_api)
    fake_api.on(
        f"{SF}/query#Opportunity",
        Reply(
            403,
            [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}],
            {"Sforce-Limit-Info": "api-usage=4999/5000"},
        ),
    )
    with pytest.raises(DataError) as caught:
        salesforce(fake_api, sleeps).scan("deals")
    assert caught.value.issues[0].code == "api-limit-exceeded"
    assert "api-usage=4999/5000" in str(caught.value)
    assert len(fake_api.calls(f"{SF}/query#Opportunity")) == 1 and sleeps == []


def test_salesforce_expired_token(
    fake_api: FakeApi, sleeps: list[float], token: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.on(
        f"{SF}/sobjects",
        Reply(
            401,
            [{"errorCode": "INVALID_SESSION_ID", "message": f"Session expired or invalid: {token}"}],
        ),
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DataError) as caught:
        salesforce(fake_api, sleeps).available_tables()
    text = str(caught.value)
    assert "HTTP 401 INVALID_SESSION_ID" in text and "CRMETRICS_SALESFORCE_TOKEN" in text
    assert len(fake_api.requests) == 1 and sleeps == []
    assert token not in text and token not in caplog.text


def test_throttling_that_outlasts_the_retries(fake_api: FakeApi, sleeps: list[float], token: str) -> None:
    fake_api.on(f"{SF}/sobjects", Reply(429, [{"errorCode": "X"}]))
    with pytest.raises(DataError, match="still answered HTTP 429 after 3 retries"):
        salesforce(fake_api, sleeps).available_tables()
    assert sleeps == [0.5, 1.0, 2.0] and len(fake_api.requests) == 4


def test_the_token_never_shows(
    fake_api: FakeApi, sleeps: list[float], token: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.on(f"{SF}/sobjects", Reply(429, "busy"), Reply(500, f"internal error for Bearer {token}"))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DataError) as caught:
        salesforce(fake_api, sleeps).available_tables()
    assert "HTTP 500" in str(caught.value) and "[redacted]" in str(caught.value)
    assert token not in str(caught.value) and token not in caplog.text
    assert "retry 1 of 3" in caplog.text


def test_missing_token(monkeypatch: pytest.MonkeyPatch, fake_api: FakeApi, sleeps: list[float]) -> None:
    monkeypatch.delenv("CRMETRICS_HUBSPOT_TOKEN", raising=False)
    with pytest.raises(UsageError, match="CRMETRICS_HUBSPOT_TOKEN"):
        hubspot(fake_api, sleeps).scan("deals")
    assert fake_api.requests == []


def serve_hubspot(api: FakeApi) -> None:
    first, second = load("hubspot", "deals.json")
    api.on("/crm/v3/pipelines/deals", load("hubspot", "pipelines", "deals.json"))
    api.on(
        "/crm/v3/objects/deals",
        Reply(429, {"status": "error", "category": "RATE_LIMITS"}, {"Retry-After": "1"}),
        first,
    )
    api.on("/crm/v3/objects/deals?after=4", Reply(429, {"category": "RATE_LIMITS"}), second)
    api.on("/crm/v3/objects/companies", load("hubspot", "companies", "page-1.json"))
    api.on("/crm/v3/objects/companies?after=3", load("hubspot", "companies", "page-2.json"))


def test_hubspot_live_pages_match_the_files(fake_api: FakeApi, sleeps: list[float], token: str) -> None:
    serve_hubspot(fake_api)
    live = hubspot(fake_api, sleeps)
    files = HubSpotConnector(str(FIXTURES / "hubspot"), {"currency": {"rates": {"EUR": 1.5}}})
    for table in ("deals", "customers"):
        assert_frame_equal(live.scan(table).collect(), files.scan(table).collect())
    # Retry-After: 1 on the first page; no Retry-After on the second: backoff.
    assert sleeps == [1.0, 0.5]
    first = fake_api.calls("/crm/v3/objects/deals")[0]
    assert first.query["associations"] == ["companies"] and first.query["archived"] == ["false"]
    assert "dealstage" in first.query["properties"][0].split(",")
    assert first.headers["Authorization"] == f"Bearer {token}"
    customers = next(r for r in live.reports() if r.table == "customers")
    assert customers.duplicates_dropped == 1


def test_hubspot_expired_token_mid_pagination(
    fake_api: FakeApi, sleeps: list[float], token: str, caplog: pytest.LogCaptureFixture
) -> None:
    serve_hubspot(fake_api)
    fake_api.on(
        "/crm/v3/objects/deals?after=4",
        Reply(
            401,
            {
                "status": "error",
                "message": "Authentication credentials not found.",
                "category": "INVALID_AUTHENTICATION",
            },
        ),
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DataError) as caught:
        hubspot(fake_api, sleeps).scan("deals")
    text = str(caught.value)
    assert "HubSpot refused the access token (HTTP 401 INVALID_AUTHENTICATION)" in text
    assert "CRMETRICS_HUBSPOT_TOKEN" in text
    assert len(fake_api.calls("/crm/v3/objects/deals?after=4")) == 1
    assert token not in text and token not in caplog.text


def test_unreachable_api_is_bounded(monkeypatch: pytest.MonkeyPatch, sleeps: list[float], token: str) -> None:
    conn = HubSpotConnector(
        "http://127.0.0.1:9",
        {"http": {"max_retries": 1, "backoff_seconds": 0, "timeout_seconds": 1}},
        sleep=sleeps.append,
    )
    with pytest.raises(DataError, match="cannot reach HubSpot"):
        conn.scan("deals")
    assert sleeps == [0.0]
