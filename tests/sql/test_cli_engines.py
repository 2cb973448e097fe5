"""``crmetrics sql`` and ``crmetrics run --engine``, and the optional dependencies' messages."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlglot
from click.testing import CliRunner
from sql_helpers import compare

import crmetrics
from crmetrics.cli import main
from crmetrics.errors import UsageError
from crmetrics.plan import Request
from crmetrics.sql import optional

RANGE = ["--start", "2025-01-01", "--end", "2025-07-01"]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_same_csv(actual: bytes, expected: bytes, by: tuple[str, ...]) -> None:
    parse = {"period_start": pl.Date}
    compare(
        {
            "polars": pl.read_csv(expected, schema_overrides=parse),
            "sql": pl.read_csv(actual, schema_overrides=parse),
        },
        by,
    )


def test_sql_prints_one_statement_in_the_dialect(tmp_path: Path) -> None:
    project = tmp_path / "crmetrics.yaml"
    project.write_text("warehouse:\n  tables:\n    customers: analytics.dim_customers\n", encoding="utf-8")
    result = invoke(
        "sql", "-m", "churn_rate", *RANGE, "--by", "segment", "--dialect", "bigquery", "-p", str(project)
    )
    assert result.exit_code == 0, result.output
    statements = sqlglot.parse(result.stdout, read="bigquery")
    assert len([s for s in statements if s is not None]) == 1
    assert "`analytics`.`dim_customers`" in result.stdout


def test_sql_rejects_an_unknown_dialect() -> None:
    result = invoke("sql", "-m", "revenue", *RANGE, "--dialect", "orcale")
    assert result.exit_code == 2
    assert "unknown SQL dialect 'orcale'" in result.stderr


def test_project_warehouse_errors_point_at_the_line(tmp_path: Path) -> None:
    project = tmp_path / "crmetrics.yaml"
    project.write_text("warehouse:\n  tables:\n    customer: analytics.dim_customers\n", encoding="utf-8")
    result = invoke("sql", "-m", "revenue", *RANGE, "--dialect", "duckdb", "-p", str(project))
    assert result.exit_code == 2
    assert f"{project}:2:" in result.stderr and "did you mean 'customers'" in result.stderr


def test_run_on_duckdb_prints_what_polars_prints() -> None:
    common = [
        "run",
        "-s",
        "sample",
        "-m",
        "churn_rate,revenue,customer_health_score",
        *RANGE,
        "--by",
        "segment",
    ]
    polars_csv = invoke(*common, "--format", "csv")
    duckdb_csv = invoke(*common, "--format", "csv", "--engine", "duckdb")
    assert duckdb_csv.exit_code == 0, duckdb_csv.output
    assert_same_csv(duckdb_csv.stdout_bytes, polars_csv.stdout_bytes, ("segment",))


def test_run_on_a_duckdb_database_file(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    engine = crmetrics.Engine()
    connector = engine.open_source("sample")
    database = tmp_path / "crm.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("CREATE SCHEMA analytics")
        for table in ("customers", "revenue"):
            frame = connector.scan(table).collect()
            if table == "customers":
                frame = frame.rename({"acquired_at": "created_date"})
            connection.register("frame", frame.to_arrow())
            connection.execute(f'CREATE TABLE analytics."crm {table}" AS SELECT * FROM frame')
            connection.unregister("frame")
    project = tmp_path / "crmetrics.yaml"
    project.write_text(
        textwrap.dedent(
            """
            source: warehouse
            sources:
              warehouse: duckdb:crm.duckdb
            warehouse:
              tables:
                customers: {table: analytics.crm customers, columns: {acquired_at: created_date}}
                revenue: analytics.crm revenue
            """
        ),
        encoding="utf-8",
    )
    metrics = "new_customers,churn_rate,revenue_per_customer"
    result = invoke(
        "run", "-m", metrics, *RANGE, "--by", "segment", "-f", "csv", "--engine", "duckdb", "-p", str(project)
    )
    assert result.exit_code == 0, result.output
    expected = invoke("run", "-s", "sample", "-m", metrics, *RANGE, "--by", "segment", "-f", "csv")
    assert_same_csv(result.stdout_bytes, expected.stdout_bytes, ("segment",))
    wrong = invoke("run", "-m", metrics, *RANGE, "-f", "csv", "-p", str(project))
    assert wrong.exit_code == 2 and "--engine duckdb" in wrong.stderr


@pytest.mark.parametrize(
    ("module", "extra", "engine"), [("duckdb", "duckdb", "duckdb"), ("pyspark.sql", "spark", "spark")]
)
def test_missing_dependency_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, extra: str, engine: str
) -> None:
    real = importlib.import_module

    def failing(name: str, *args: Any) -> Any:
        if name.split(".")[0] == module.split(".")[0]:
            raise ImportError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(optional.importlib, "import_module", failing)
    request = Request.build(["revenue"], start="2025-01-01", end="2025-02-01")
    with pytest.raises(UsageError) as caught:
        crmetrics.Engine().evaluate(request, "sample", engine=engine)
    assert f"pip install crmetrics[{extra}]" in caught.value.render()
    result = invoke("run", "-s", "sample", "-m", "revenue", *RANGE, "--engine", engine)
    assert result.exit_code == 2
    assert f"pip install crmetrics[{extra}]" in result.stderr
