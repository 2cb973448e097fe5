"""The shipped compiled check of definitions files: current, and jsonschema's verdict.

``crmetrics.schema_accept`` is generated from ``definitions.schema.json`` by
``scripts/generate_schema_check.py``; ``schema_check`` accepts a file when it does, and
otherwise asks jsonschema for the located errors. It must be generated from the schema as
it is, and must never accept what the schema refuses.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import pytest
import yaml

from crmetrics import schema_accept
from crmetrics.schema_check import _generated_check_accepts, _generated_check_is_current, load_schema

ROOT = Path(__file__).resolve().parents[1]
_AGGREGATE = {"name": "won", "type": "aggregate", "table": "deals", "time": "closed_at", "expr": "count(*)"}
_CASE = {
    "name": "one",
    "given": {"deals": [{"deal_id": "d1", "amount": 2.5, "won": True, "lost_at": None}]},
    "request": {"metrics": ["won"], "start": "2025-01-01", "end": "2025-02-01"},
    "expect": {"rows": [{"metric": "won", "period_start": "2025-01-01", "value": "1/3"}]},
}


def _whole_schema_accepts(data: Any) -> bool:
    return jsonschema.Draft7Validator(load_schema("definitions")).is_valid(data)


def test_the_module_is_generated_from_the_shipped_schema() -> None:
    assert _generated_check_is_current()
    if fastjsonschema.VERSION != schema_accept.VERSION:
        # Another fastjsonschema writes other code for the same schema: the hash above and
        # the verdicts below are what must hold; the text is compared with its own version.
        pytest.skip(f"fastjsonschema {fastjsonschema.VERSION} installed, module from {schema_accept.VERSION}")
    script = ROOT / "scripts" / "generate_schema_check.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _yaml_files() -> list[Path]:
    return sorted([*(ROOT / "definitions").rglob("*.yaml"), *(ROOT / "tests").rglob("*.yaml")])


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_of_the_repository_gets_jsonschemas_verdict(path: Path) -> None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        pytest.skip("not YAML: refused before the schema")
    assert _generated_check_accepts(data) == _whole_schema_accepts(data)


@pytest.mark.parametrize(
    "data",
    [
        {"metrics": [_AGGREGATE]},
        {"metrics": [{**_AGGREGATE, "measures": {}}]},  # a key the aggregate rule forbids
        {"metrics": [{k: v for k, v in _AGGREGATE.items() if k != "time"}]},
        {"metrics": [{**_AGGREGATE, "name": "Not A Name"}]},
        {"metrics": [{**_AGGREGATE, "min_n": 0}]},  # below the minimum of 1
        {"metrics": [{**_AGGREGATE, "min_n": True}]},  # true is not an integer
        {"metrics": [{**_AGGREGATE, "params": {"x": "1"}}]},  # a parameter is a number
        {"metrics": [{**_AGGREGATE, 1: "x"}]},  # a key that is not text
        {"metrics": [{"name": "r", "type": "derived", "expr": ""}]},  # an empty formula
        {"metrics": [], "tests": [_CASE]},
        {"tests": [{**_CASE, "expect": {"rows": [], "error": "x"}}]},  # rows and error: one of
        {"tests": [{**_CASE, "expect": {"rows": [{"metric": "w", "period_start": "x", "value": "1/0"}]}}]},
        {"tests": [{**_CASE, "given": {"nope": []}}]},
        {"metrics": [_AGGREGATE], "dimensions": [{"name": "c", "period_of": "acquired_at"}]},
        {"metrics": [_AGGREGATE], "extra": 1},
        {},
        [],
        None,
    ],
    ids=[
        "aggregate",
        "forbidden-key",
        "missing-key",
        "bad-name",
        "below-minimum",
        "boolean-not-integer",
        "text-parameter",
        "number-key",
        "empty-formula",
        "tests",
        "rows-and-error",
        "zero-denominator",
        "unknown-table",
        "dimensions",
        "unknown-top-key",
        "empty",
        "a-list",
        "null",
    ],
)
def test_verdict_is_jsonschemas(data: Any) -> None:
    assert _generated_check_accepts(data) == _whole_schema_accepts(data)


def test_an_accepted_catalog_is_checked_without_importing_jsonschema() -> None:
    """jsonschema (about 30 ms to import) is only needed to locate the errors of a refused file."""
    code = "import sys, crmetrics\ncrmetrics.Engine().validate()\nprint('jsonschema' in sys.modules)\n"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "False"
