"""Isolation of the whole suite from the environment it runs in.

Only the plugins this repository ships are loaded (crmetrics' own entry points, the
customer-experience plugin under plugins/ and the example under examples/): a plugin the
user installed for their own work must not change what the tests see. Tests that study
plugin selection set ``CRMETRICS_LOAD_PLUGINS`` or ``CRMETRICS_DISABLE_PLUGINS`` themselves.
A project file named by ``CRMETRICS_PROJECT``, or in the directory pytest starts from (the
README's tour creates one there), is ignored for the same reason: each test starts in an
empty folder of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The plugins of this repository, by entry-point name.
OWN_PLUGINS = ("files", "catalog", "salesforce", "hubspot", "cx", "jsonl")


def pytest_configure(config: pytest.Config) -> None:
    os.environ["CRMETRICS_LOAD_PLUGINS"] = ",".join(OWN_PLUGINS)
    os.environ.pop("CRMETRICS_DISABLE_PLUGINS", None)
    os.environ.pop("CRMETRICS_PROJECT", None)
    os.environ.pop("CRMETRICS_TRACE_PLUGINS", None)


@pytest.fixture(autouse=True)
def _empty_working_directory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(autouse=True)
def _private_checks_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test remembers data checks in a folder of its own."""
    folder = tmp_path_factory.mktemp("crmetrics-cache")
    monkeypatch.setenv("CRMETRICS_CACHE_DIR", str(folder))
    monkeypatch.delenv("CRMETRICS_NO_CACHE", raising=False)
    return folder
