"""Settings every test shares."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_checks_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test remembers data checks in a folder of its own, never in the user's cache."""
    folder = tmp_path_factory.mktemp("crmetrics-cache")
    monkeypatch.setenv("CRMETRICS_CACHE_DIR", str(folder))
    monkeypatch.delenv("CRMETRICS_NO_CACHE", raising=False)
    return folder
