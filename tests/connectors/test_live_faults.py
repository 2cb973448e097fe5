"""Live CRM APIs under faults: every case ends in bounded time with one clear message.

A loopback fake of Salesforce and HubSpot (started by the suite, no network) throttles,
fails in bursts, refuses the token in the middle of paging, stalls, trickles bytes, cuts
its JSON short, serves a page twice, pages without end and links to another host. Each case
must end within its deadline and retry budget with one ``DataError``, return no partial
table, and never show the token: every output, log line and exception text is searched.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crm_fake_api import FakeApi, Reply
from fault_api import Fault, port_that_never_connects, start_faulty

from crmetrics.errors import DataError
from crmetrics.plugins.hubspot.connector import HubSpotConnector
from crmetrics.plugins.salesforce.connector import SalesforceConnector

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "sekret-token-7f3a9c"
SF = "/services/data/v60.0"
#: Small deadlines so that each case ends in about a second: 3 retries, waits recorded.
QUICK = {
    "backoff_seconds": 0.5,
    "max_retries": 3,
    "timeout_seconds": 0.3,
    "connect_seconds": 0.3,
    "request_seconds": 1.0,
    "max_pages": 10,
}


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    server, thread = start_faulty(fake)
    try:
        yield fake
    finally:
        server.shutdown()  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]
        thread.join(timeout=2)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CRMETRICS_SALESFORCE_TOKEN", TOKEN)
    monkeypatch.setenv("CRMETRICS_HUBSPOT_TOKEN", TOKEN)
    return TOKEN


@pytest.fixture(autouse=True)
def _the_token_never_shows(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    out, err = capsys.readouterr()
    for text in (caplog.text, out, err):
        assert TOKEN not in text


def load(*parts: str) -> Any:
    return json.loads(FIXTURES.joinpath(*parts).read_text(encoding="utf-8"))


def fails(read: Any, seconds: float) -> DataError:
    """The one DataError ``read()`` raises within ``seconds``, with no token in it."""
    started = time.monotonic()
    with pytest.raises(DataError) as caught:
        read()
    assert time.monotonic() - started < seconds
    error = caught.value
    assert len(error.issues) == 1
    assert TOKEN not in str(error) and TOKEN not in repr(error.issues)
    return error


# ---- Salesforce -----------------------------------------------------------------------------

PAGE1 = load("salesforce", "Opportunity", "page-1.json")
PAGE2 = load("salesforce", "Opportunity", "page-2.json")
NEXT = PAGE1["nextRecordsUrl"]


def salesforce(api: FakeApi, sleeps: list[float], **http: Any) -> SalesforceConnector:
    options = {"currency": {"rates": {"EUR": 1.5}}, "http": {**QUICK, **http}}
    return SalesforceConnector(api.url, options, sleep=sleeps.append)


def serve_salesforce(api: FakeApi, first: Reply | dict[str, Any] = PAGE1) -> None:
    names = sorted({k for page in (PAGE1, PAGE2) for r in page["records"] for k in r if k != "attributes"})
    api.on(f"{SF}/sobjects", {"sobjects": [{"name": "Opportunity", "queryable": True}]})
    api.on(
        f"{SF}/sobjects/Opportunity/describe", {"name": "Opportunity", "fields": [{"name": n} for n in names]}
    )
    api.on(f"{SF}/query#Opportunity", first)
    api.on(NEXT, PAGE2)


def test_429_with_retry_after_is_honoured(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api)
    api.on(f"{SF}/query#Opportunity", Reply(429, [{"errorCode": "X"}], {"Retry-After": "7"}), PAGE1)
    frame = salesforce(api, sleeps).scan("deals").collect()
    assert frame.height > 0 and sleeps == [7.0]


def test_429_without_retry_after_backs_off_then_stops(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api, Reply(429, [{"errorCode": "X"}]))
    error = fails(lambda: salesforce(api, sleeps).scan("deals"), 5)
    assert "still answered HTTP 429 after 3 retries" in str(error)
    assert sleeps == [0.5, 1.0, 2.0]  # 0.5 doubling, three retries
    assert len(api.calls(f"{SF}/query#Opportunity")) == 4


def test_a_retry_after_of_a_day_is_capped(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api)
    api.on(f"{SF}/query#Opportunity", Reply(429, [{"errorCode": "X"}], {"Retry-After": "86400"}), PAGE1)
    salesforce(api, sleeps, max_wait_seconds=60).scan("deals").collect()
    assert sleeps == [60.0]


def test_a_burst_of_5xx_is_retried(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api)
    api.on(NEXT, Reply(500, "boom"), Reply(502, "bad gateway"), Reply(504, "timeout"), PAGE2)
    frame = salesforce(api, sleeps).scan("deals").collect()
    assert frame.height > 0 and sleeps == [0.5, 1.0, 2.0]


def test_5xx_past_the_retries_is_one_error_and_no_table(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api)
    api.on(NEXT, Reply(503, f"down; Bearer {TOKEN}"))
    error = fails(lambda: salesforce(api, sleeps).scan("deals"), 5)
    assert "still answered HTTP 503 after 3 retries" in str(error) and "[redacted]" in str(error)


def test_401_in_the_middle_of_paging(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api)
    api.on(NEXT, Reply(401, [{"errorCode": "INVALID_SESSION_ID", "message": f"bad {TOKEN}"}]))
    error = fails(lambda: salesforce(api, sleeps).scan("deals"), 5)
    assert error.issues[0].code == "api-unauthorized" and sleeps == []


def test_403_daily_limit(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api)
    api.on(
        NEXT,
        Reply(403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED"}], {"Sforce-Limit-Info": "api-usage=5000/5000"}),
    )
    error = fails(lambda: salesforce(api, sleeps).scan("deals"), 5)
    assert error.issues[0].code == "api-limit-exceeded" and sleeps == []


def test_a_server_that_stalls_hits_the_read_deadline(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api, Fault(body=PAGE1, stall=1.5))
    # Four attempts, each cut at the 0.3 s read deadline: about 1.2 s, never 4 x 1.5 s.
    error = fails(lambda: salesforce(api, sleeps).scan("deals"), 4)
    assert error.issues[0].code == "api-unreachable" and "ReadTimeout" in str(error)


def test_a_trickling_server_hits_the_total_deadline(api: FakeApi) -> None:
    sleeps: list[float] = []
    # A byte every 0.05 s never trips the 0.3 s read deadline; the whole page would take
    # over a minute. The 1 s total deadline ends it, without retrying.
    serve_salesforce(api, Fault(body=PAGE1, trickle=0.05))
    error = fails(lambda: salesforce(api, sleeps).scan("deals"), 3)
    assert error.issues[0].code == "api-timeout"
    assert "did not finish an answer within 1 s" in str(error) and sleeps == []


def test_a_port_that_never_connects_hits_the_connect_deadline() -> None:
    waits: list[float] = []
    with port_that_never_connects() as port:
        connector = SalesforceConnector(
            f"http://127.0.0.1:{port}", {"http": {**QUICK, "max_retries": 1}}, sleep=waits.append
        )
        error = fails(lambda: connector.scan("deals"), 4)
    assert error.issues[0].code == "api-unreachable" and "ConnectTimeout" in str(error)
    assert waits == [0.5]


def test_truncated_json_is_retried_then_one_error(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api, Fault(body=PAGE1, cut=40))  # the connection closes mid-body
    error = fails(lambda: salesforce(api, sleeps).scan("deals"), 5)
    assert error.issues[0].code == "api-unreachable" and len(sleeps) == 3


def test_a_body_that_is_not_json(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api, Reply(200, '{"records": [{"Id": "006'))
    error = fails(lambda: salesforce(api, sleeps).scan("deals"), 5)
    assert "not JSON" in str(error)


def test_an_answer_past_the_size_limit(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api)
    error = fails(lambda: salesforce(api, sleeps, max_response_bytes=200).scan("deals"), 5)
    assert "sent more than 200 bytes in one answer" in str(error)


def test_the_same_page_twice(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api)
    api.on(NEXT, {**PAGE2, "done": False, "nextRecordsUrl": NEXT})  # points at itself
    error = fails(lambda: salesforce(api, sleeps).scan("deals"), 5)
    assert error.issues[0].code == "api-pagination"
    assert "served the same next-page cursor twice for Opportunity" in str(error)
    assert len(api.calls(NEXT)) == 1


def test_an_endless_chain_of_pages_stops_at_the_page_budget(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api, {**PAGE1, "nextRecordsUrl": f"{SF}/query/01g-1"})
    for page in range(1, 30):
        api.on(
            f"{SF}/query/01g-{page}", {**PAGE2, "done": False, "nextRecordsUrl": f"{SF}/query/01g-{page + 1}"}
        )
    error = fails(lambda: salesforce(api, sleeps).scan("deals"), 5)
    assert "kept paging Opportunity past 10 pages" in str(error)
    assert len([r for r in api.requests if r.path.startswith(f"{SF}/query/01g-")]) == 9  # pages 2..10


def test_a_next_page_on_another_host_gets_no_token(api: FakeApi) -> None:
    sleeps: list[float] = []
    other = FakeApi()
    server, thread = start_faulty(other)
    try:
        other.on(NEXT, PAGE2)
        serve_salesforce(api, {**PAGE1, "nextRecordsUrl": other.url + NEXT})
        error = fails(lambda: salesforce(api, sleeps).scan("deals"), 5)
    finally:
        server.shutdown()  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]
        thread.join(timeout=2)  # type: ignore[attr-defined]
    assert error.issues[0].code == "api-foreign-host"
    assert other.requests == []  # never asked, so the token never left


def test_a_redirect_is_not_followed(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_salesforce(api, Reply(302, "", {"Location": "http://127.0.0.2:1/steal"}))
    error = fails(lambda: salesforce(api, sleeps).scan("deals"), 5)
    assert "HTTP 302" in str(error)


# ---- HubSpot --------------------------------------------------------------------------------


def hubspot(api: FakeApi, sleeps: list[float], **http: Any) -> HubSpotConnector:
    options = {"currency": {"rates": {"EUR": 1.5}}, "http": {**QUICK, **http}}
    return HubSpotConnector(api.url, options, sleep=sleeps.append)


def serve_hubspot(api: FakeApi) -> tuple[dict[str, Any], dict[str, Any]]:
    first, second = load("hubspot", "deals.json")
    api.on("/crm/v3/pipelines/deals", load("hubspot", "pipelines", "deals.json"))
    api.on("/crm/v3/objects/deals", first)
    api.on("/crm/v3/objects/deals?after=4", second)
    api.on("/crm/v3/objects/companies", load("hubspot", "companies", "page-1.json"))
    api.on("/crm/v3/objects/companies?after=3", load("hubspot", "companies", "page-2.json"))
    return first, second


def test_hubspot_the_same_cursor_again(api: FakeApi) -> None:
    sleeps: list[float] = []
    _, second = serve_hubspot(api)
    api.on("/crm/v3/objects/deals?after=4", {**second, "paging": {"next": {"after": "4"}}})
    error = fails(lambda: hubspot(api, sleeps).scan("deals"), 5)
    assert "HubSpot served the same next-page cursor twice for deals" in str(error)


def test_hubspot_an_endless_chain_of_cursors(api: FakeApi) -> None:
    sleeps: list[float] = []
    first, second = serve_hubspot(api)
    api.on("/crm/v3/objects/deals", {**first, "paging": {"next": {"after": "1"}}})
    for page in range(1, 30):
        api.on(
            f"/crm/v3/objects/deals?after={page}", {**second, "paging": {"next": {"after": str(page + 1)}}}
        )
    error = fails(lambda: hubspot(api, sleeps).scan("deals"), 5)
    assert "kept paging deals past 10 pages" in str(error)


def test_hubspot_401_in_the_middle_of_paging(api: FakeApi) -> None:
    sleeps: list[float] = []
    serve_hubspot(api)
    api.on("/crm/v3/objects/deals?after=4", Reply(401, {"category": "INVALID_AUTHENTICATION"}))
    error = fails(lambda: hubspot(api, sleeps).scan("deals"), 5)
    assert error.issues[0].code == "api-unauthorized"


def test_hubspot_a_trickle_and_a_5xx_burst(api: FakeApi) -> None:
    sleeps: list[float] = []
    first, _ = serve_hubspot(api)
    api.on("/crm/v3/objects/deals", Reply(502, "bad"), Reply(500, "boom"), first)
    assert hubspot(api, sleeps).scan("deals").collect().height > 0
    assert sleeps == [0.5, 1.0]
    api.on("/crm/v3/objects/deals", Fault(body=first, trickle=0.05))
    error = fails(lambda: hubspot(api, []).scan("deals"), 3)
    assert error.issues[0].code == "api-timeout"


def test_the_cli_shows_one_message_and_no_token(api: FakeApi) -> None:
    from click.testing import CliRunner

    from crmetrics.cli import main

    serve_salesforce(api)
    api.on(NEXT, Reply(401, [{"errorCode": "INVALID_SESSION_ID", "message": TOKEN}]))
    result = CliRunner().invoke(
        main,
        [
            "run",
            "-m",
            "expansion_deals",
            "--source",
            f"salesforce:{api.url}",
            "--start",
            "2024-01-01",
            "--end",
            "2024-02-01",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and TOKEN not in result.output
    assert result.stdout == ""  # no partial table
    assert result.stderr.count("error:") == 1 and "refused the access token" in result.stderr
