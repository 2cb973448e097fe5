"""Fixtures of the conformance suite: the shared engines and, for ``-m spark``, one Spark session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runner import Engines


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Engines:
    """Engines built once per distinct set of definitions, shared by every case."""
    return Engines(tmp_path_factory.mktemp("conformance-definitions"))


def _java_home() -> str | None:
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    return str(Path(java).resolve().parents[1]) if java else None


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """A local Spark session in UTC for the whole run; skips without pyspark or Java."""
    pyspark_sql = pytest.importorskip("pyspark.sql", reason="pyspark is not installed")
    home = _java_home()
    if home is None:
        pytest.skip("no Java runtime: Spark needs java on PATH or JAVA_HOME")
    os.environ.setdefault("JAVA_HOME", home)
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("crmetrics-conformance")
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
