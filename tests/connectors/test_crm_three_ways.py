"""One small dataset written three ways gives the same canonical tables from every connector.

``fixtures/three_ways`` holds the same customers, deals, leads, tickets, surveys, spend,
revenue and activity as canonical CSV, as Salesforce exports (REST JSON pages, Bulk CSV, a
Data Loader CSV) and as HubSpot exports (v3 JSON pages, a UI CSV export). The options below
are the ones a customer would put in crmetrics.yaml for that org and that portal.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import crmetrics.definitions as catalog_plugin
from crmetrics.connector import Connector
from crmetrics.engine import Engine
from crmetrics.model import TABLES
from crmetrics.plan import Request
from crmetrics.plugins.files import CsvConnector
from crmetrics.plugins.hubspot.connector import HubSpotConnector
from crmetrics.plugins.salesforce.connector import SalesforceConnector

ROOT = Path(__file__).parent / "fixtures" / "three_ways"
SALESFORCE_OPTIONS = {
    "currency": {"reporting": "USD", "rates": {"EUR": 1.25}},
    "channel_map": {"Partner Referral": "referral"},
    "customers": {"churned_at": "field", "churned_at_field": "Churn_Date__c"},
    "revenue": {"cost_field": "Cost__c"},
    "spend": {"category_map": {"Referral Program": "sales"}},
}
HUBSPOT_OPTIONS = {
    "currency": {"reporting": "USD", "rates": {"EUR": 1.25}},
    "channel_map": {"REFERRALS": "referral"},
    "customers": {"churned_at": "field", "churned_at_field": "churn_date"},
}


def connectors() -> dict[str, Connector]:
    return {
        "salesforce": SalesforceConnector(str(ROOT / "salesforce"), SALESFORCE_OPTIONS),
        "hubspot": HubSpotConnector(str(ROOT / "hubspot"), HUBSPOT_OPTIONS),
    }


def canonical(connector: Connector, table: str) -> pl.DataFrame:
    spec = TABLES[table]
    return connector.scan(table).collect().select(spec.column_names).sort(spec.key)


CASES = [(name, table) for name, connector in connectors().items() for table in connector.available_tables()]


def test_every_table_a_connector_produces_is_covered() -> None:
    expected = CsvConnector(str(ROOT / "canonical")).available_tables()
    produced = {table for _, table in CASES}
    assert produced == set(expected)
    assert ("salesforce", "spend") in CASES and ("hubspot", "survey_responses") in CASES


@pytest.mark.parametrize(("source", "table"), CASES, ids=[f"{s}-{t}" for s, t in CASES])
def test_the_three_renderings_agree(source: str, table: str) -> None:
    expected = canonical(CsvConnector(str(ROOT / "canonical")), table)
    got = canonical(connectors()[source], table)
    assert got.height > 0
    assert_frame_equal(got, expected)


def test_the_canonical_rendering_is_clean() -> None:
    folder = CsvConnector(str(ROOT / "canonical"))
    for table in folder.available_tables():
        folder.scan(table)
    assert all(not r.rejected and not r.issues for r in folder.reports())


def _metrics_within(engine: Engine, tables: set[str]) -> list[str]:
    """Catalog metrics whose every input table the source provides."""
    catalog = engine.catalog
    chosen = []
    for name in catalog.metrics:
        if catalog.metrics[name].requires_by:
            continue  # only defined grouped by acquisition_cohort
        needed = set()
        for part in catalog.closure([name]):
            metric = catalog.metrics[part]
            needed |= {metric.table} if metric.table else set()
            needed |= {m.table for m in metric.measures.values()}
            if metric.type == "entity":
                needed.add("customers")
        if needed <= tables:
            chosen.append(name)
    return chosen


@pytest.mark.parametrize("source", ["salesforce", "hubspot"])
@pytest.mark.parametrize("by", [(), ("segment",)], ids=["total", "by-segment"])
def test_every_catalog_metric_agrees_across_renderings(source: str, by: tuple[str, ...]) -> None:
    engine = Engine(load_installed_plugins=False, plugins=[catalog_plugin])
    crm = connectors()[source]
    tables = set(crm.available_tables())
    # Spend has no customer_id, so metrics built on it cannot be grouped by segment.
    names = _metrics_within(engine, tables - {"spend"} if by else tables)
    assert len(names) >= 12, names
    reference = CsvConnector(str(ROOT / "canonical"))
    frames = {t: reference.scan(t).collect() for t in tables}
    request = Request.build(names, grain="month", start="2024-01-01", end="2025-01-01", by=by)
    expected = engine.evaluate(request, frames)
    got = engine.evaluate(request, crm)
    assert expected.height > 0
    assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-12)
