"""Connectors registered by reference: imported on first lookup, and a broken one is reported."""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

import crmetrics.plugins.files as builtin_files
from crmetrics import Connector, ConnectorReference, RawTable, UsageError, hookimpl
from crmetrics.registry import build_registry

MODULE = "crmetrics_lazy_connector_example"


class LaterConnector(Connector):
    """A connector that lives in a module imported only when its scheme is looked up."""

    scheme = "later"
    tables = ("customers",)

    def available_tables(self) -> list[str]:
        return []

    def read_table(self, table: str) -> RawTable:
        raise NotImplementedError


def registering(*references: ConnectorReference) -> object:
    class Plugin:
        @hookimpl
        def register_connectors(self, register: Callable[[Any], None]) -> None:
            for reference in references:
                register(reference)

    return Plugin()


def test_the_class_is_imported_when_its_scheme_is_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = registering(ConnectorReference("later", f"{MODULE}:LaterConnector"))
    # The module does not exist while the plugins load: registering must not import it.
    registry = build_registry([builtin_files, plugin], entry_point_group=None)
    assert registry.plugins["Plugin"].errors == []
    assert "later" in registry.connectors
    assert list(registry.connectors) == ["csv", "parquet", "sample", "later"]
    module = types.ModuleType(MODULE)
    module.LaterConnector = LaterConnector  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, MODULE, module)
    assert registry.connectors["later"] is LaterConnector
    assert registry.connectors.get("later") is LaterConnector


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("crmetrics_no_such_module:LaterConnector", "ModuleNotFoundError"),
        ("crmetrics.plugins.files:NoSuchClass", "AttributeError"),
        ("crmetrics.plugins.files:builtin_files", "AttributeError"),
        ("crmetrics.plugins.files:CsvConnector", "has scheme 'csv', not 'later'"),
    ],
    ids=["no-module", "no-class", "not-there", "other-scheme"],
)
def test_a_broken_reference_is_a_usage_error_naming_the_plugin(target: str, error: str) -> None:
    registry = build_registry([registering(ConnectorReference("later", target))], entry_point_group=None)
    assert "later" in registry.connectors  # found at registration, refused only when used
    with pytest.raises(UsageError) as raised:
        registry.connectors["later"]
    [issue] = raised.value.issues
    assert f"plugin 'Plugin': connector later: could not be loaded from {target}" in issue.message
    assert error in issue.message
    assert "CRMETRICS_DISABLE_PLUGINS=Plugin" in issue.hint


def test_a_reference_that_is_not_a_connector_is_refused_when_used() -> None:
    registry = build_registry(
        [registering(ConnectorReference("later", "crmetrics.errors:Issue"))], entry_point_group=None
    )
    with pytest.raises(UsageError) as raised:
        registry.connectors["later"]
    assert "crmetrics.errors:Issue is <class 'crmetrics.errors.Issue'>, not a Connector" in str(raised.value)


def test_a_reference_needs_a_valid_scheme() -> None:
    registry = build_registry([registering(ConnectorReference("no-dash", "x:Y"))], entry_point_group=None)
    assert registry.plugins["Plugin"].errors == ["connector x:Y has no valid 'scheme' attribute"]
    assert "no-dash" not in registry.connectors


def test_validating_the_catalog_imports_no_crm_connector() -> None:
    """The installed CRM plugins register references: a run that reads neither imports neither."""
    code = (
        "import sys, crmetrics\n"
        "engine = crmetrics.Engine()\n"
        "engine.validate()\n"
        "assert {'salesforce', 'hubspot'} <= set(engine.registry.connectors)\n"
        "print(sorted(m for m in sys.modules if m.startswith('crmetrics.plugins.')))\n"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "connector" not in shown and "crm_common" not in shown
    assert "'crmetrics.plugins.salesforce'" in shown  # the plugin itself is loaded


def test_the_built_in_connector_classes_are_still_importable_from_their_packages() -> None:
    from crmetrics.plugins.hubspot import HubSpotConnector
    from crmetrics.plugins.hubspot.connector import HubSpotConnector as moved_hubspot
    from crmetrics.plugins.salesforce import SalesforceConnector
    from crmetrics.plugins.salesforce.connector import SalesforceConnector as moved_salesforce

    assert SalesforceConnector is moved_salesforce
    assert HubSpotConnector is moved_hubspot
