"""Progress of live pulls: objects, pages, records and retries reach the listener and the terminal.

The fake API serves Salesforce opportunities in two pages; the first request is throttled
(HTTP 429, Retry-After: 2) and the second page's first answer is HTTP 503, so the pull makes
two retries (see ``serve_salesforce_opportunities``).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from crm_fake_api import FakeApi
from rich.console import Console
from test_crm_live import TOKEN, load, salesforce, serve_salesforce_opportunities

from crmetrics.cli.progress import TerminalProgress
from crmetrics.progress import Progress, reporting


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CRMETRICS_SALESFORCE_TOKEN", TOKEN)
    return TOKEN


class Recorder(Progress):
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def object_started(self, service: str, name: str) -> None:
        self.events.append(("started", service, name))

    def page_read(self, service: str, name: str, records: int) -> None:
        self.events.append(("page", name, records))

    def object_done(self, service: str, name: str) -> None:
        self.events.append(("done", name))

    def retrying(self, service: str, reason: str, attempt: int, attempts: int, seconds: float) -> None:
        self.events.append(("retry", reason, attempt, attempts, seconds))


def page_sizes() -> tuple[int, int]:
    return (
        len(load("salesforce", "Opportunity", "page-1.json")["records"]),
        len(load("salesforce", "Opportunity", "page-2.json")["records"]),
    )


def test_a_live_pull_tells_objects_pages_records_and_retries(
    fake_api: FakeApi, sleeps: list[float], token: str
) -> None:
    serve_salesforce_opportunities(fake_api)
    recorder = Recorder()
    with reporting(recorder):
        salesforce(fake_api, sleeps).scan("deals").collect()
    first, second = page_sizes()
    assert recorder.events == [
        ("started", "Salesforce", "Opportunity"),
        # Retry-After: 2 is honoured; the 503 has none: backoff 0.5 * 2**0
        ("retry", "HTTP 429", 1, 3, 2.0),
        ("page", "Opportunity", first),
        ("retry", "HTTP 503", 1, 3, 0.5),
        ("page", "Opportunity", second),
        ("done", "Opportunity"),
    ]


def test_the_terminal_shows_the_pull(fake_api: FakeApi, sleeps: list[float], token: str) -> None:
    serve_salesforce_opportunities(fake_api)
    stream = io.StringIO()
    display = TerminalProgress(Console(file=stream, force_terminal=True, width=120, color_system=None))
    with reporting(display):
        salesforce(fake_api, sleeps).scan("deals").collect()
    display.finished()
    text = stream.getvalue()
    first, second = page_sizes()
    assert "Salesforce Opportunity" in text
    assert "2 pages" in text and f"{first + second:,} records" in text and "2 retries" in text
    assert "Salesforce: HTTP 429, retry 1 of 3 in 2.0 s" in text


def test_without_a_listener_a_pull_prints_nothing(
    fake_api: FakeApi, sleeps: list[float], token: str, capsys: Any
) -> None:
    serve_salesforce_opportunities(fake_api)
    salesforce(fake_api, sleeps).scan("deals").collect()
    assert capsys.readouterr() == ("", "")
