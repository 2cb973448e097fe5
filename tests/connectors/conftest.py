"""Fixtures for the CRM connector tests: a local fake of both CRM APIs, and a sleep recorder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crm_fake_api import FakeApi, start


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    server, thread = start(api)
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


@pytest.fixture
def sleeps() -> list[float]:
    """Seconds the connector asked to wait; nothing actually sleeps."""
    return []
