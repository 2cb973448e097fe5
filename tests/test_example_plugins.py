"""The example plugin in examples/jsonl-connector, installed the way its README says.

The session fixture runs ``pip install -e examples/jsonl-connector`` into the running
environment (once: an environment that already has it is left alone), so that these tests
go through the real path: distribution metadata, the ``crmetrics`` entry-point group,
:class:`crmetrics.Engine` loading installed plugins, and ``crmetrics plugins``.

Expected numbers, from examples/jsonl-connector/tests/data (worked out in that folder's
tests/test_jsonl.py): new customers by month of acquired_at in UTC are January 1 (c1),
February 2 (c2 at 2025-01-31T23:30-02:00 is 2025-02-01 UTC; c3), March 1 (c4, epoch ms);
revenue is January 100, February 250.25, March 100.5 + 49.5 = 150.
"""

from __future__ import annotations

import importlib
import importlib.util
import site
import subprocess
import sys
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


def _is_installed() -> bool:
    names = {ep.name for ep in metadata.entry_points(group="crmetrics")}
    return "jsonl" in names and importlib.util.find_spec("crmetrics_jsonl") is not None


def _can_build_without_isolation() -> bool:
    """Whether the setuptools here can build an editable wheel without fetching anything."""
    try:
        major, minor = (int(part) for part in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    # setuptools 70.1 ships bdist_wheel; older ones (64 or later) need the wheel package.
    return (major, minor) >= (70, 1) or (major >= 64 and importlib.util.find_spec("wheel") is not None)


@pytest.fixture(scope="session")
def jsonl_installed() -> None:
    """Install the example (editable, no dependencies) unless it already is."""
    if _is_installed():
        return
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--disable-pip-version-check"]
    if _can_build_without_isolation():
        command.append("--no-build-isolation")
    done = subprocess.run([*command, "-e", str(EXAMPLE)], capture_output=True, text=True, check=False)
    if done.returncode:
        pytest.fail(f"pip could not install {EXAMPLE}:\n{done.stdout}\n{done.stderr}")
    # A running interpreter only reads .pth files at start-up: read the new one now, as a
    # fresh interpreter would.
    site.addsitedir(str(metadata.distribution("crmetrics-jsonl").locate_file("")))
    importlib.invalidate_caches()
    assert _is_installed()


def test_entry_point_is_installed(jsonl_installed: None) -> None:
    found = {ep.name: ep for ep in metadata.entry_points(group="crmetrics")}
    assert found["jsonl"].value == "crmetrics_jsonl"
    assert found["jsonl"].dist is not None
    assert found["jsonl"].dist.metadata["Name"] == "crmetrics-jsonl"


def test_engine_evaluates_a_jsonl_source(jsonl_installed: None) -> None:
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


def test_plugins_command_lists_jsonl(jsonl_installed: None) -> None:
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "jsonl 0.1.0 [ok]" in result.output
    assert "provides: connector jsonl:" in result.output


def test_run_command_reads_a_jsonl_source(jsonl_installed: None) -> None:
    args = ["run", "-s", f"jsonl:{DATA}", "-m", "revenue", "--start", "2025-01-01", "--end", "2025-04-01"]
    result = CliRunner().invoke(main, [*args, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "metric,period_start,value",
        "revenue,2025-01-01,100.0",
        "revenue,2025-02-01,250.25",
        "revenue,2025-03-01,150.0",
    ]


def test_example_own_tests_pass(jsonl_installed: None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "path",
    ["pyproject.toml", "crmetrics_jsonl/__init__.py", "tests/data/customers.jsonl"],
    ids=["pyproject", "module", "data"],
)
def test_docs_show_the_example_as_it_is(path: str) -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert (EXAMPLE / path).read_text(encoding="utf-8") in docs, f"docs/plugins.md shows an old {path}"
