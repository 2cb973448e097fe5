"""The definitions schema checked metric by metric for its type gives jsonschema's verdict.

``schema_check`` accepts a definitions file by checking each metric against the rules of
its own type only; what it refuses is walked with the whole schema. The verdict must be
the whole schema's, for every kind of mistake a type's rules catch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from crmetrics.schema_check import _accepts_by_type, _inlined, load_schema
from crmetrics.yamlio import load_file

DEFINITIONS = Path(__file__).resolve().parents[1] / "definitions"
_AGGREGATE = {"name": "won", "type": "aggregate", "table": "deals", "time": "closed_at", "expr": "count(*)"}


def _whole_schema_accepts(data: Any) -> bool:
    return jsonschema.Draft7Validator(load_schema("definitions")).is_valid(data)


@pytest.mark.parametrize("path", sorted(DEFINITIONS.glob("*.yaml")), ids=lambda p: p.name)
def test_catalog_files_are_accepted_both_ways(path: Path) -> None:
    data = load_file(path).data
    assert _whole_schema_accepts(data)
    assert _accepts_by_type(data, data["metrics"])


@pytest.mark.parametrize(
    "metric",
    [
        _AGGREGATE,
        {**_AGGREGATE, "measures": {}},  # a key the aggregate rule forbids
        {k: v for k, v in _AGGREGATE.items() if k != "time"},  # a key the aggregate rule requires
        {**_AGGREGATE, "type": "snapshot", "active_at": "period_end"},  # snapshot: time forbidden
        {"name": "ratio", "type": "derived", "expr": "a / b"},
        {"name": "ratio", "type": "derived", "expr": "a / b", "table": "deals"},
        {**_AGGREGATE, "type": "unknown"},
        {**_AGGREGATE, "type": 3},
        {k: v for k, v in _AGGREGATE.items() if k != "type"},
        {**_AGGREGATE, "name": "Not A Name"},  # a rule shared by every type
        "won",
    ],
    ids=[
        "aggregate",
        "aggregate-with-measures",
        "aggregate-without-time",
        "snapshot-with-time",
        "derived",
        "derived-with-table",
        "unknown-type",
        "numeric-type",
        "no-type",
        "bad-name",
        "not-a-mapping",
    ],
)
def test_verdict_is_the_whole_schemas(metric: Any) -> None:
    data = {"metrics": [metric]}
    assert _accepts_by_type(data, data["metrics"]) == _whole_schema_accepts(data)


def test_a_schema_referring_to_itself_or_elsewhere_is_left_as_it_is() -> None:
    tree = {"items": {"$ref": "#/definitions/tree"}}
    looped = {"definitions": {"tree": tree}, "$ref": "#/definitions/tree"}
    assert _inlined(looped) is looped
    elsewhere = {"definitions": {}, "properties": {"a": {"$ref": "other.json#/definitions/a"}}}
    assert _inlined(elsewhere) is elsewhere
    plain = {"definitions": {"n": {"type": "integer"}}, "properties": {"a": {"$ref": "#/definitions/n"}}}
    assert _inlined(plain)["properties"] == {"a": {"type": "integer"}}
