"""Fixtures for the SQL backend tests: import paths, one Spark session, and skips.

DuckDB is part of the test extra and always runs. The Spark tests need pyspark and a Java
runtime; when ``JAVA_HOME`` is unset it is taken from the ``java`` on PATH, which is how a
CI machine with Java installed from packages is usually set up.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
for folder in (TESTS, *(p.parent for p in sorted((ROOT / "plugins").glob("*/pyproject.toml")))):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def _java_home() -> str | None:
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    return str(Path(java).resolve().parents[1]) if java else None


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local Spark session for the whole run: UTC, two shuffle partitions, no UI."""
    pyspark_sql = pytest.importorskip(
        "pyspark.sql", reason="pyspark is not installed (pip install crmetrics[spark])"
    )
    home = _java_home()
    if home is None:
        pytest.skip("no Java runtime: Spark needs java on PATH or JAVA_HOME")
    os.environ.setdefault("JAVA_HOME", home)
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("crmetrics-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
