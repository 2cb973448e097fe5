"""Nothing a user writes can make a SQL engine read a file, reach another table or run more.

Table names come from the project file, formulas from definitions, ``--where`` from the
command line and column names from data: each is quoted or escaped in every rendering, and
the engines themselves refuse file access.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import sqlglot
from catalog_fixtures import main_source
from sqlglot import exp

import crmetrics
from crmetrics.errors import DataError, DefinitionError, UsageError
from crmetrics.plan import Request
from crmetrics.sql import DIALECTS
from crmetrics.sql.duckdb_engine import DuckDBRunner
from crmetrics.sql.tables import TableMapping


def test_a_warehouse_table_named_like_a_file_is_not_read(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    (tmp_path / "deals.csv").write_text("deal_id,amount\nD1,5\n")
    database = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(database)).close()
    runner = DuckDBRunner(str(database))
    # "/x/deals.csv" is split on its dot into the schema "/x/deals" and the table "csv";
    # DuckDB joins them back into a path and, with file access on, reads the file.
    relation = TableMapping(str(tmp_path / "deals.csv")).relation()
    assert runner.schema(relation) is None
    with pytest.raises(DataError, match="DuckDB could not evaluate"):
        runner.execute(f"SELECT count(*) FROM '{tmp_path / 'deals.csv'}'")
    with pytest.raises(DataError):
        runner.execute("SET enable_external_access = true")
    runner.close()


# ---- nothing outside the formula language ------------------------------------------------

FORBIDDEN = {
    "a file reader": "read_csv('/etc/passwd') IS NOT NULL",
    "a server file function": "pg_read_file('/etc/passwd') = 'x'",
    "a subquery": "segment = (SELECT max(segment) FROM deals)",
    "IN over a query": "segment IN (SELECT segment FROM deals)",
    "EXISTS": "EXISTS (SELECT 1 FROM deals)",
    "a second statement": "segment = 'SMB'; DROP TABLE customers",
    "a UNION": "1 = 1 UNION SELECT * FROM deals",
    "another table's column": "deals.amount > 0",
    "an unterminated comment": "segment = 'SMB' /* and the rest",
    "a placeholder": "segment = ?",
    "an unclosed quote": "segment = 'SMB",
    "an unclosed parenthesis": "(segment = 'SMB'",
    "text IN numbers": "segment IN ('SMB', 1)",
    "text BETWEEN numbers": "segment BETWEEN 'a' AND 3",
    "text = number": "segment = 1",
}


@pytest.mark.parametrize("where", FORBIDDEN.values(), ids=FORBIDDEN.keys())
def test_a_where_outside_the_language_is_a_usage_error_with_a_caret(where: str) -> None:
    engine = crmetrics.Engine()
    request = Request.build(
        ["new_customers"], start="2025-01-01", end="2025-04-01", by=["segment"], where=where
    )
    for run in (
        lambda: engine.evaluate(request, main_source()),
        lambda: engine.evaluate(request, main_source(), engine="duckdb"),
        *(lambda d=d: engine.sql(request, d) for d in DIALECTS),  # type: ignore[misc]
    ):
        with pytest.raises(UsageError) as caught:
            run()
        issue = caught.value.issues[0]
        assert issue.context.splitlines()[0].strip() == where.split(";")[0].strip() or "^" in issue.context
        assert issue.context.rstrip().endswith("^")


def test_the_cli_shows_the_caret_under_the_culprit() -> None:
    from click.testing import CliRunner

    from crmetrics.cli import main

    result = CliRunner().invoke(
        main,
        [
            "run",
            "-s",
            "sample",
            "-m",
            "new_customers",
            "--start",
            "2024-01-01",
            "--end",
            "2024-02-01",
            "--by",
            "segment",
            "--where",
            "segment IN ('SMB', 1)",
        ],
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.splitlines()
    # The 1 is at offset 19: "segment IN (" is 12 characters, "'SMB', " 7 more.
    assert lines[1:3] == ["  segment IN ('SMB', 1)", "  " + " " * 19 + "^"]


@pytest.mark.parametrize(
    "formula",
    [
        "count(*) + length(read_csv('/etc/passwd'))",
        "sum(amount) -- the rest",
        "(SELECT 1)",
        "count(*); SELECT 1",
    ],
    ids=["file reader", "comment", "subquery", "second statement"],
)
def test_a_formula_outside_the_language_is_refused_at_validation(tmp_path: Path, formula: str) -> None:
    (tmp_path / "m.yaml").write_text(
        "metrics:\n  - name: x\n    type: aggregate\n    table: deals\n    time: created_at\n"
        f'    expr: "{formula}"\n'
    )
    with pytest.raises(DefinitionError):
        crmetrics.Engine(definitions=[tmp_path], load_installed_plugins=False).validate()


# ---- values and names are escaped everywhere ------------------------------------------------

HOSTILE = {
    "quote": "O'Brien",
    "double quote": 'say "hi"',
    "backslash": "back\\slash\\",
    "backslash quote": "\\'; DROP TABLE customers; --",
    "semicolon": "a; DROP TABLE customers",
    "line comment": "-- the rest",
    "block comment": "/* the rest",
    "unicode": "Ünïcødé ✓ 日本 \u202e",
    "long": "x" * 10_000,
    "dollar quotes": "$$ $tag$",
}


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_value_is_one_literal_in_every_dialect(value: str) -> None:
    engine = crmetrics.Engine()
    request = Request.build(
        ["new_customers"],
        start="2025-01-01",
        end="2025-04-01",
        by=["segment"],
        where=f"segment = {sql_literal(value)}",
    )
    for dialect in DIALECTS:
        statement = engine.sql(request, dialect)
        trees = sqlglot.parse(statement, read=dialect)
        assert len(trees) == 1 and trees[0] is not None, dialect  # one statement
        tree = trees[0]
        assert not any(node.comments for node in tree.walk()), dialect  # nothing commented out
        assert value in {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}, dialect
        assert not any(isinstance(node, (exp.Drop, exp.Command)) for node in tree.walk()), dialect


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_value_filters_the_same_rows_on_polars_and_duckdb(value: str) -> None:
    source = main_source()
    source["customers"] = source["customers"].with_columns(pl.col("segment").replace("Mid-Market", value))
    request = Request.build(
        ["new_customers"],
        start="2025-01-01",
        end="2025-04-01",
        by=["segment"],
        where=f"segment = {sql_literal(value)}",
    )
    engine = crmetrics.Engine()
    for backend in ("polars", "duckdb"):
        result = engine.evaluate(request, source, engine=backend)
        # Only C6 had the segment (now the hostile value): acquired 2025-01-10, so one new
        # customer in January and none in February or March.
        assert result["segment"].to_list() == [value] * 3, backend
        assert result["value"].to_list() == [1.0, 0.0, 0.0], backend


HOSTILE_NAMES = ['a"b', "a`b", "x; DROP TABLE customers", "-- name", "/* name", "Ünï code", "n" * 300]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_a_column_name_from_data_is_one_quoted_identifier(name: str) -> None:
    source = main_source()
    source["customers"] = source["customers"].with_columns(pl.col("segment").alias(name))
    engine = crmetrics.Engine()
    request = Request.build(["new_customers"], start="2025-01-01", end="2025-04-01", by=[name])
    results = {backend: engine.evaluate(request, source, engine=backend) for backend in ("polars", "duckdb")}
    for result in results.values():
        # Segments as in main_source: C6 (Mid-Market) is January's only Mid-Market newcomer.
        row = result.filter((pl.col(name) == "Mid-Market") & (pl.col("period_start").dt.month() == 1))
        assert row["value"].to_list() == [1.0]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("(" * 500 + "segment = 'SMB'" + ")" * 500, "nested too deeply to parse"),
        ("segment = 'SMB'" + " AND segment = 'SMB'" * 250, "nested more than 200 levels deep"),
    ],
    ids=["500 parentheses", "250 ANDs"],
)
def test_deep_nesting_is_a_usage_error_not_a_recursion_error(where: str, message: str) -> None:
    request = Request.build(["new_customers"], start="2025-01-01", end="2025-04-01", where=where)
    with pytest.raises(UsageError, match=message):
        crmetrics.Engine().evaluate(request, main_source())


@pytest.mark.spark
@pytest.mark.parametrize("value", ["O'Brien", "back\\slash\\", "a; DROP TABLE customers", "-- the rest"])
def test_a_hostile_value_filters_the_same_rows_on_spark(spark: object, value: str) -> None:
    source = main_source()
    source["customers"] = source["customers"].with_columns(pl.col("segment").replace("Mid-Market", value))
    request = Request.build(
        ["new_customers"],
        start="2025-01-01",
        end="2025-04-01",
        by=["segment"],
        where=f"segment = {sql_literal(value)}",
    )
    result = crmetrics.Engine().evaluate(request, source, engine="spark")
    # As on Polars and DuckDB: C6 alone, acquired in January.
    assert result["segment"].to_list() == [value] * 3
    assert result["value"].to_list() == [1.0, 0.0, 0.0]


@pytest.mark.spark
def test_spark_does_not_read_a_file_named_as_a_table(spark: object, tmp_path: Path) -> None:
    from crmetrics.sql.spark_engine import SparkRunner

    (tmp_path / "deals.csv").write_text("deal_id,amount\nD1,5\n")
    runner = SparkRunner(spark)
    # parquet.`/path` and csv.`/path` read files when spark.sql.runSQLOnFiles is on.
    relation = exp.Table(
        this=exp.to_identifier(str(tmp_path / "deals.csv"), quoted=True), db=exp.to_identifier("csv")
    )
    assert runner.schema(relation) is None
