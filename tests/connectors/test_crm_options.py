"""Connector options (JSON Schema, defaults, merging), plugin registration, shared helpers."""

from __future__ import annotations

from typing import Any

import jsonschema
import pluggy
import polars as pl
import pytest

from crmetrics import hookspecs
from crmetrics.connector import Connector
from crmetrics.errors import UsageError
from crmetrics.plugins import hubspot, salesforce
from crmetrics.plugins.crm_common.files import _delimiter
from crmetrics.plugins.crm_common.frames import channel, snake
from crmetrics.plugins.crm_common.http import RetryPolicy, parse_retry_after
from crmetrics.plugins.crm_common.options import resolve_options, schema_defaults
from crmetrics.plugins.hubspot.connector import HubSpotConnector
from crmetrics.plugins.salesforce.connector import SalesforceConnector

CONNECTORS = [SalesforceConnector, HubSpotConnector]
IDS = ["salesforce", "hubspot"]

VALID: list[tuple[type[Connector], dict[str, Any]]] = [
    (SalesforceConnector, {}),
    (
        SalesforceConnector,
        {
            "currency": {"reporting": "EUR", "rates": {"USD": 0.92}},
            "customers": {"churned_at": "field", "churned_at_field": "Churn_Date__c"},
            "tickets": {"first_response": ["outgoing_email"]},
            "deals": {"deal_type_map": {"Partner": None}},
        },
    ),
    (
        HubSpotConnector,
        {
            "surveys": {"scales": {"csat": [0, 2]}, "survey_types": {"123": "nps"}},
            "deals": {"stages": {"9": {"closed": True, "won": False}}},
        },
    ),
]
INVALID: list[tuple[type[Connector], dict[str, Any], str]] = [
    (SalesforceConnector, {"currency": {"reporting": "usd"}}, "currency.reporting"),
    (SalesforceConnector, {"tickets": {"first_response": ["telepathy"]}}, "tickets.first_response.0"),
    (SalesforceConnector, {"customers": {"churned_at_field": "Bad Field!"}}, "customers.churned_at_field"),
    (HubSpotConnector, {"deals": {"stages": {"9": {"closed": True}}}}, "deals.stages.9"),
    (HubSpotConnector, {"surveys": {"scales": {"happiness": [0, 1]}}}, "surveys.scales"),
    (HubSpotConnector, {"http": {"max_retries": 100}}, "http.max_retries"),
]


@pytest.mark.parametrize("cls", CONNECTORS, ids=IDS)
def test_options_schema_is_valid_draft_07(cls: type[Connector]) -> None:
    schema = cls.options_schema  # type: ignore[attr-defined]
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    # Every default validates against its own schema.
    jsonschema.Draft7Validator(schema).validate(schema_defaults(schema))


@pytest.mark.parametrize(("cls", "options"), VALID, ids=[f"valid-{i}" for i in range(len(VALID))])
def test_valid_options(cls: type[Connector], options: dict[str, Any]) -> None:
    assert list(jsonschema.Draft7Validator(cls.options_schema).iter_errors(options)) == []  # type: ignore[attr-defined]
    cls("unused", options)


@pytest.mark.parametrize(("cls", "options", "path"), INVALID, ids=[p for _, _, p in INVALID])
def test_invalid_options_name_the_option(cls: type[Connector], options: dict[str, Any], path: str) -> None:
    assert list(jsonschema.Draft7Validator(cls.options_schema).iter_errors(options))  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match=path.replace(".", r"\.")):
        cls("unused", options)


def test_defaults_and_merging() -> None:
    schema = SalesforceConnector.options_schema
    settings = resolve_options(
        schema,
        {
            "deals": {"deal_type_map": {"Partner": "cross_sell"}},
            "customers": {"segment": {"employee_bands": {"Small": 0, "Large": 500}}},
        },
        scheme="salesforce",
    )
    # A value map extends the defaults ...
    assert settings["deals"]["deal_type_map"]["Partner"] == "cross_sell"
    assert settings["deals"]["deal_type_map"]["New Customer"] == "new_business"
    # ... bands replace them whole, and untouched options keep their defaults.
    assert settings["customers"]["segment"]["employee_bands"] == {"Small": 0, "Large": 500}
    assert settings["customers"]["acquired_at"] == "first_won_deal"
    assert settings["currency"] == {"reporting": "USD", "rates": {}}
    assert settings["http"]["max_retries"] == 4


@pytest.mark.parametrize("module", [salesforce, hubspot], ids=IDS)
def test_plugins_register_their_connector(module: Any) -> None:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(module)
    registered: list[type[Connector]] = []
    manager.hook.register_connectors(register=registered.append)
    assert [c.scheme for c in registered] == [module.__name__.rsplit(".", 1)[1]]


def test_retry_after_and_backoff() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None
    policy = RetryPolicy(backoff_seconds=1.0, max_wait_seconds=5.0)
    assert [policy.wait(n, None) for n in range(4)] == [1.0, 2.0, 4.0, 5.0]
    assert policy.wait(0, "120") == 5.0  # even Retry-After is capped


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("a,b,c", ","),
        ("a;b;c", ";"),
        ("a\tb\tc", "\t"),
        ("a|b|c", "|"),
        ("a", ","),
    ],
    ids=["comma", "semicolon", "tab", "pipe", "single"],
)
def test_delimiter_detection(header: str, delimiter: str) -> None:
    assert _delimiter(header) == delimiter


def test_channel_names() -> None:
    frame = pl.DataFrame({"v": ["Partner Referral", "PAID_SEARCH", " web ", None, "Word of mouth"]})
    assert frame.select(snake(pl.col("v")))["v"].to_list() == [
        "partner_referral",
        "paid_search",
        "web",
        None,
        "word_of_mouth",
    ]
    mapped = frame.select(channel(pl.col("v"), {"word of MOUTH": "referral"}))["v"].to_list()
    assert mapped[-1] == "referral" and mapped[0] == "partner_referral"
