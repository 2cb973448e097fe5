"""The example plugin in examples/jsonl-connector, found the way an installed plugin is.

The session fixture does not run pip: it writes the distribution metadata pip would write
(``crmetrics_jsonl-0.1.0.dist-info`` with the ``crmetrics`` entry point of the example's
pyproject.toml) into a temporary folder and puts that folder and the example's source on
``sys.path`` for this test run only. Importlib finds the entry point exactly as it finds an
installed one, so these tests still go through the real path (distribution metadata, the
``crmetrics`` entry-point group, :class:`crmetrics.Engine` loading installed plugins,
``crmetrics plugins``) without changing the environment the tests run in.

Expected numbers, from examples/jsonl-connector/tests/data (worked out in that folder's
tests/test_jsonl.py): new customers by month of acquired_at in UTC are January 1 (c1),
February 2 (c2 at 2025-01-31T23:30-02:00 is 2025-02-01 UTC; c3), March 1 (c4, epoch ms);
revenue is January 100, February 250.25, March 100.5 + 49.5 = 150.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import date
from importlib import metadata
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

import crmetrics
from crmetrics.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "jsonl-connector"
DATA = EXAMPLE / "tests" / "data"


def write_dist_info(target: Path) -> None:
    """The metadata pip writes for the example, from its own pyproject.toml."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    folder = target / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        encoding="utf-8",
    )
    points = project["entry-points"]["crmetrics"]
    lines = ["[crmetrics]", *(f"{name} = {value}" for name, value in points.items())]
    (folder / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def jsonl_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example on ``sys.path`` with its distribution metadata; yields that folder."""
    site = tmp_path_factory.mktemp("site")
    write_dist_info(site)
    added = [str(site), str(EXAMPLE)]
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield site
    finally:
        for entry in added:
            sys.path.remove(entry)
        sys.modules.pop("crmetrics_jsonl", None)
        importlib.invalidate_caches()


def test_entry_point_is_installed(jsonl_installed: Path) -> None:
    found = {ep.name: ep for ep in metadata.entry_points(group="crmetrics")}
    assert found["jsonl"].value == "crmetrics_jsonl"
    assert found["jsonl"].dist is not None
    assert found["jsonl"].dist.metadata["Name"] == "crmetrics-jsonl"


def test_engine_evaluates_a_jsonl_source(jsonl_installed: Path) -> None:
    engine = crmetrics.Engine()
    assert engine.registry.plugins["jsonl"].errors == []
    assert engine.registry.plugins["jsonl"].provides == ["connector jsonl:"]
    request = crmetrics.Request.build(
        ["new_customers", "revenue"], grain="month", start="2025-01-01", end="2025-04-01"
    )
    months = [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
    expected = pl.DataFrame(
        {
            "metric": ["new_customers"] * 3 + ["revenue"] * 3,
            "period_start": months * 2,
            "value": [1.0, 2.0, 1.0, 100.0, 250.25, 150.0],
        }
    )
    assert_frame_equal(engine.evaluate(request, f"jsonl:{DATA}"), expected)


def test_plugins_command_lists_jsonl(jsonl_installed: Path) -> None:
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "jsonl 0.1.0 [ok]" in result.output
    assert "provides: connector jsonl:" in result.output


def test_run_command_reads_a_jsonl_source(jsonl_installed: Path) -> None:
    args = ["run", "-s", f"jsonl:{DATA}", "-m", "revenue", "--start", "2025-01-01", "--end", "2025-04-01"]
    result = CliRunner().invoke(main, [*args, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "metric,period_start,value",
        "revenue,2025-01-01,100.0",
        "revenue,2025-02-01,250.25",
        "revenue,2025-03-01,150.0",
    ]


def test_example_own_tests_pass(jsonl_installed: Path) -> None:
    path = os.pathsep.join([str(jsonl_installed), str(EXAMPLE), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_environment_is_left_as_it_was(jsonl_installed: Path) -> None:
    """The example is found only through this run's sys.path, never installed."""
    outside = subprocess.run(
        [sys.executable, "-c", "import importlib.util; print(importlib.util.find_spec('crmetrics_jsonl'))"],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        cwd=jsonl_installed,
    )
    assert outside.stdout.strip() == "None"


@pytest.mark.parametrize(
    "path",
    ["pyproject.toml", "crmetrics_jsonl/__init__.py", "tests/data/customers.jsonl"],
    ids=["pyproject", "module", "data"],
)
def test_docs_show_the_example_as_it_is(path: str) -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert (EXAMPLE / path).read_text(encoding="utf-8") in docs, f"docs/plugins.md shows an old {path}"
