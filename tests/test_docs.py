"""The documentation stays true to the code.

The generated pages must match what ``scripts/generate_docs.py`` would write now, cover every
built-in metric and every schema key, and the YAML examples of the hand-written guide must
load: a complete file (``metrics:``) through the engine, a catalog excerpt (``- name:``) by
being identical to the built-in definition it shows.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import crmetrics

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCHEMA_DIR = ROOT / "engine" / "crmetrics" / "schema"
DEFINITIONS_DIR = ROOT / "definitions"
GUIDE = DOCS / "definitions.md"

YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def yaml_blocks(starting_with: str) -> list[str]:
    return [
        block
        for block in YAML_BLOCK.findall(GUIDE.read_text(encoding="utf-8"))
        if block.startswith(starting_with)
    ]


def safe_load(text: str) -> Any:
    return yaml.safe_load(text)


def builtin_metrics() -> dict[str, dict[str, Any]]:
    """The raw YAML of every built-in metric, by name."""
    metrics = {}
    for path in sorted(DEFINITIONS_DIR.glob("*.yaml")):
        for raw in safe_load(path.read_text(encoding="utf-8"))["metrics"]:
            metrics[raw["name"]] = raw
    return metrics


def block_id(block: str) -> str:
    names = re.findall(r"^\s*-? ?name: (\S+)", block, re.MULTILINE)
    return names[0] if names else block.splitlines()[0]


def test_generated_docs_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_docs.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_catalog_page_lists_every_builtin_metric() -> None:
    catalog = crmetrics.Engine(load_installed_plugins=True).catalog
    builtin = {
        name
        for name, metric in catalog.metrics.items()
        if Path(metric.origin.file).resolve().parent == DEFINITIONS_DIR.resolve()
    }
    assert builtin, "the built-in catalog was not loaded"
    page = (DOCS / "catalog.md").read_text(encoding="utf-8")
    missing = sorted(name for name in builtin | set(builtin_metrics()) if f"### `{name}`" not in page)
    assert not missing, f"docs/catalog.md lacks {missing}"


def test_reference_page_names_every_metric_key() -> None:
    schema = json.loads((SCHEMA_DIR / "definitions.schema.json").read_text(encoding="utf-8"))
    page = (DOCS / "reference" / "definitions.md").read_text(encoding="utf-8")
    keys = [*schema["definitions"]["metric"]["properties"], *schema["definitions"]["measure"]["properties"]]
    missing = [key for key in keys if f"`{key}`" not in page]
    assert not missing, f"docs/reference/definitions.md lacks {missing}"
    project = json.loads((SCHEMA_DIR / "project.schema.json").read_text(encoding="utf-8"))
    assert all(f"`{key}`" in page for key in project["properties"])


@pytest.mark.parametrize("name", ["definitions.schema.json", "project.schema.json"])
def test_shipped_schemas_are_valid_draft7(name: str) -> None:
    for path in (SCHEMA_DIR / name, DOCS / "schema" / name):
        jsonschema.Draft7Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("block", yaml_blocks("metrics:"), ids=block_id)
def test_guide_definition_files_load(block: str, tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(block, encoding="utf-8")
    catalog = crmetrics.Engine(definitions=[path]).catalog
    for raw in safe_load(block)["metrics"]:
        assert catalog.metrics[raw["name"]].origin.provider == "user"


@pytest.mark.parametrize("block", yaml_blocks("- name:"), ids=block_id)
def test_guide_catalog_excerpts_match_the_catalog(block: str) -> None:
    builtin = builtin_metrics()
    for raw in safe_load(block):
        assert raw["name"] in builtin, f"{raw['name']} is not a built-in metric"
        assert raw == builtin[raw["name"]], f"the guide's {raw['name']} differs from definitions/"


def test_guide_has_examples() -> None:
    assert yaml_blocks("metrics:") and yaml_blocks("- name:")
