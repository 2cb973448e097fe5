"""Connector options: defaults taken from the JSON Schema, user values merged over them.

The schema is the single place where an option's default is written, so the documented
default and the applied one cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

from crmetrics.errors import Issue, UsageError


def schema_defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The ``default`` of every property of ``schema``, nested objects included."""
    out: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if "default" in prop:
            out[name] = _copy(prop["default"])
        elif prop.get("type") == "object" and "properties" in prop:
            out[name] = schema_defaults(prop)
    return out


def merge_options(
    schema: Mapping[str, Any], base: Mapping[str, Any], override: Mapping[str, Any]
) -> dict[str, Any]:
    """``override`` over ``base``, led by ``schema``.

    Objects with declared properties merge key by key. A free-form map replaces its default
    unless its schema says ``"x-merge": true``: value maps (picklist -> canonical value)
    extend the defaults, while lists of bands or sources must replace them whole.
    """
    out = {key: _copy(value) for key, value in base.items()}
    properties = schema.get("properties", {})
    for key, value in override.items():
        prop = properties.get(key, {})
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            if "properties" in prop:
                out[key] = merge_options(prop, current, value)
                continue
            if prop.get("x-merge"):
                out[key] = {**current, **_copy(value)}
                continue
        out[key] = _copy(value)
    return out


def resolve_options(
    schema: Mapping[str, Any], options: Mapping[str, Any] | None, *, scheme: str
) -> dict[str, Any]:
    """Check ``options`` against ``schema`` and merge them over the schema's defaults.

    Raises:
        UsageError: listing every option that breaks the schema, sorted by path.
    """
    options = dict(options or {})
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(options), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise UsageError(
            [
                Issue(
                    "bad-option",
                    f"{scheme} option {_path(error.absolute_path)}: {error.message}",
                    subject=f"{scheme}.options",
                    hint="see docs/connectors/" + scheme + ".md for the options and their defaults",
                )
                for error in errors
            ]
        )
    return merge_options(schema, schema_defaults(schema), options)


def _path(parts: Any) -> str:
    text = ".".join(str(p) for p in parts)
    return text or "(top level)"


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def currency_schema() -> dict[str, Any]:
    """The ``currency`` option, the same for every CRM connector."""
    return {
        "type": "object",
        "description": "Reporting currency and conversion rates. A row in another currency "
        "without a rate is rejected, never summed as if it were in the reporting currency.",
        "additionalProperties": False,
        "properties": {
            "reporting": {
                "type": "string",
                "pattern": "^[A-Z]{3}$",
                "default": "USD",
                "description": "ISO code that every amount is converted into.",
            },
            "rates": {
                "type": "object",
                "default": {},
                "description": "Units of the reporting currency per one unit of each currency, "
                "e.g. {EUR: 1.08}.",
                "propertyNames": {"pattern": "^[A-Z]{3}$"},
                "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
            },
        },
    }


def http_schema() -> dict[str, Any]:
    """The ``http`` option of live (API) mode."""
    return {
        "type": "object",
        "description": "Live mode only: timeouts and the bounded retry of throttled requests.",
        "additionalProperties": False,
        "properties": {
            "max_retries": {"type": "integer", "minimum": 0, "maximum": 10, "default": 4},
            "backoff_seconds": {
                "type": "number",
                "minimum": 0,
                "default": 1.0,
                "description": "First wait when the API sends no Retry-After; doubles each retry.",
            },
            "max_wait_seconds": {
                "type": "number",
                "minimum": 0,
                "default": 60.0,
                "description": "Cap on any single wait, Retry-After included.",
            },
            "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "default": 30.0},
            "page_size": {"type": "integer", "minimum": 1, "maximum": 2000, "default": 100},
        },
    }


def segment_schema() -> dict[str, Any]:
    """How ``customers.segment`` is derived: a field as is, or bands of employee counts."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "field": {
                "type": ["string", "null"],
                "default": None,
                "description": "Take the segment from this field as is; null = employee bands.",
            },
            "employee_bands": {
                "type": "object",
                "description": "Segment name -> smallest employee count in it.",
                "default": {"SMB": 0, "Mid-Market": 100, "Enterprise": 1000},
                "additionalProperties": {"type": "number", "minimum": 0},
            },
        },
    }


def mappings_schema() -> dict[str, Any]:
    """The ``mappings`` option: the project file's ``mappings`` of the source (same schema)."""
    from crmetrics.schema_check import load_schema

    project = load_schema("project")
    source = project["properties"]["sources"]["additionalProperties"]["oneOf"][1]
    return {**source["properties"]["mappings"], "default": {}}


def mapping_definitions() -> dict[str, Any]:
    """The schema definitions ``mappings`` refers to; they belong at the options schema's root."""
    from crmetrics.schema_check import load_schema

    return dict(load_schema("project")["definitions"])


def date_format_schema() -> dict[str, Any]:
    """The ``date_format`` option: how to read the dates Excel writes into a CSV."""
    return {
        "enum": [None, "day_first", "month_first"],
        "default": None,
        "description": "Files mode: the day/month order of dates saved by Excel (02/03/24, "
        "2/3/2024 14:05): day_first or month_first. Without it such a column is refused.",
    }
