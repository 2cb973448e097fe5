"""DuckDB's column types as Polars types, read without running a statement or loading pyarrow.

The expected types are those DuckDB's Arrow export gives each column, written out here
from its documentation of the export: ``HUGEINT`` as a 38-digit decimal, ``UUID`` as text,
``ENUM`` as categorical, ``TIMESTAMP_S`` in milliseconds, zoned timestamps in the session's
zone (UTC, which the runner sets).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from sqlglot import exp

from crmetrics.engine import Engine
from crmetrics.errors import DataError
from crmetrics.sql.duckdb_engine import DuckDBRunner
from crmetrics.sql.duckdb_types import received

# (DuckDB expression, the Polars type of its column)
COLUMNS = [
    ("true", pl.Boolean()),
    ("1::TINYINT", pl.Int8()),
    ("1::SMALLINT", pl.Int16()),
    ("1::INTEGER", pl.Int32()),
    ("1::BIGINT", pl.Int64()),
    ("1::UTINYINT", pl.UInt8()),
    ("1::USMALLINT", pl.UInt16()),
    ("1::UINTEGER", pl.UInt32()),
    ("1::UBIGINT", pl.UInt64()),
    ("1::HUGEINT", pl.Decimal(38, 0)),
    ("1.5::FLOAT", pl.Float32()),
    ("1.5::DOUBLE", pl.Float64()),
    ("1.5::DECIMAL(10, 2)", pl.Decimal(10, 2)),
    ("1.5::DECIMAL(4, 1)", pl.Decimal(4, 1)),
    ("'x'", pl.String()),
    ("'{}'::JSON", pl.String()),
    ("gen_random_uuid()", pl.String()),
    ("'x'::BLOB", pl.Binary()),
    ("DATE '2024-01-01'", pl.Date()),
    ("TIME '10:00'", pl.Time()),
    ("TIMESTAMP '2024-01-01'", pl.Datetime("us")),
    ("'2024-01-01'::TIMESTAMP_S", pl.Datetime("ms")),
    ("'2024-01-01'::TIMESTAMP_MS", pl.Datetime("ms")),
    ("'2024-01-01'::TIMESTAMP_NS", pl.Datetime("ns")),
    ("TIMESTAMPTZ '2024-01-01 00:00:00+00'", pl.Datetime("us", "UTC")),
    ("'a'::ENUM('a', 'b')", pl.Categorical()),
    ("NULL", pl.Null()),
    ("[1, 2]", pl.List(pl.Int32())),
    ("[1, 2]::INTEGER[2]", pl.Array(pl.Int32(), 2)),
    ("{'a': [TIMESTAMPTZ '2024-01-01 00:00:00+00']}", pl.Struct({"a": pl.List(pl.Datetime("us", "UTC"))})),
    # Polars 1 has no map type: it reads an Arrow map as a list of key-value structs.
    (
        "map(['k'], [1.5::DOUBLE])",
        pl.Map(pl.String(), pl.Float64())
        if hasattr(pl, "Map")
        else pl.List(pl.Struct({"key": pl.String(), "value": pl.Float64()})),
    ),
]


@pytest.fixture
def runner() -> DuckDBRunner:
    return DuckDBRunner()


def _select(expressions: list[str]) -> exp.Expr:
    listed = ", ".join(f"{e} AS c{i}" for i, e in enumerate(expressions))
    return exp.maybe_parse(f"(SELECT {listed})", dialect="duckdb")


def test_schema_gives_each_type_as_polars_receives_it(runner: DuckDBRunner) -> None:
    relation = _select([e for e, _ in COLUMNS])
    expected = pl.Schema({f"c{i}": dtype for i, (_, dtype) in enumerate(COLUMNS)})
    assert runner.schema(relation) == expected


def test_schema_agrees_with_the_rows_returned(runner: DuckDBRunner) -> None:
    # gen_random_uuid differs between the two reads, but not its type.
    query = "SELECT " + ", ".join(f"{e} AS c{i}" for i, (e, _) in enumerate(COLUMNS))
    assert runner.execute(query).schema == pl.Schema({f"c{i}": dtype for i, (_, dtype) in enumerate(COLUMNS)})


def test_types_polars_cannot_receive_are_unknown(runner: DuckDBRunner) -> None:
    relation = _select(["INTERVAL 1 DAY", "[INTERVAL 1 DAY]", "union_value(k := 1)", "1"])
    schema = runner.schema(relation)
    assert schema is not None
    assert [received(dtype) for dtype in schema.values()] == [False, False, False, True]
    assert schema["c0"] == pl.Unknown()


def test_schema_of_a_missing_relation_is_none(runner: DuckDBRunner) -> None:
    assert runner.schema(exp.to_table("no_such_table")) is None


def test_a_column_polars_cannot_receive_is_refused_by_name(runner: DuckDBRunner) -> None:
    with pytest.raises(DataError, match="column 'waited' as INTERVAL") as error:
        runner.execute("SELECT 1 AS n, INTERVAL 3 DAY AS waited")
    assert "cast 'waited'" in (error.value.issues[0].hint or "")


def test_an_error_after_the_first_rows_is_a_data_error(runner: DuckDBRunner) -> None:
    # Row 3,000,000 of 4,000,000 fails to convert: DuckDB has already streamed earlier
    # batches to Polars, which re-raises the engine's error.
    statement = (
        "SELECT (CASE WHEN range = 3000000 THEN 'x' ELSE range::VARCHAR END)::INTEGER AS v "
        "FROM range(4000000)"
    )
    with pytest.raises(DataError, match="Could not convert string 'x' to INT32"):
        runner.execute(statement)


def test_parquet_on_duckdb_does_not_load_pyarrow(tmp_path: Path) -> None:
    connector = Engine().open_source("sample")
    for table in connector.available_tables():
        connector.scan(table).collect().write_parquet(tmp_path / f"{table}.parquet")
    script = (
        "import sys, crmetrics\n"
        f"crmetrics.evaluate(['revenue', 'churn_rate'], 'parquet:{tmp_path}',"
        " start='2024-07-01', end='2025-01-01', by=['segment'], engine='duckdb')\n"
        "print('pyarrow' in sys.modules)\n"
    )
    environment = {**os.environ, "CRMETRICS_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=True
    )
    assert done.stdout.strip() == "False"
