"""The conformance cases on a real PostgreSQL server, through ``crmetrics sql``'s rendering.

Each case's tables are loaded into a schema of their own, with timestamps as TIMESTAMPTZ,
and the statement ``Engine.sql(request, "postgres")`` renders is run in a session whose
time zone is America/New_York: the numbers must still be the hand-worked ones, because the
SQL pins every zone itself. Runs with ``python -m pytest -m postgres``; the server is found
through ``CRMETRICS_POSTGRES`` (a libpq connection string, by default
``host=localhost user=postgres password=postgres dbname=postgres``). Without a reachable
server the tests skip, or fail under ``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from casefile import Case, CaseFileError, load_case_file
from runner import Engines, build_request, differences, source

import crmetrics
from crmetrics.model import TABLES

pytestmark = pytest.mark.postgres

FOLDER = Path(__file__).parent
DSN = os.environ.get("CRMETRICS_POSTGRES", "host=localhost user=postgres password=postgres dbname=postgres")
#: Canonical Polars types -> PostgreSQL column types; instants are TIMESTAMPTZ on purpose.
_TYPES = {pl.String: "TEXT", pl.Float64: "DOUBLE PRECISION", pl.Boolean: "BOOLEAN", pl.Int64: "BIGINT"}


def _cases() -> Iterator[Any]:
    for path in sorted(FOLDER.glob("*.yaml")):
        try:
            cases = load_case_file(path)
        except CaseFileError:
            continue  # reported by test_conformance.py
        for case in cases:
            # Expected rows on the built-in catalog and canonical columns; a plugin's function
            # or a column beyond the model has no warehouse table here.
            if case.rows is not None and not case.plugins and not case.types:
                marks = []
                if "duckdb" in case.xfail:  # the SQL meanings DuckDB misses, PostgreSQL may too
                    marks.append(pytest.mark.xfail(reason=case.xfail["duckdb"], strict=False))
                yield pytest.param(case, id=case.id, marks=marks)


@pytest.fixture(scope="module")
def connection() -> Iterator[Any]:
    """One connection for the module, in a session that is not in UTC."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (the test extra has it)")
    try:
        conn = psycopg.connect(DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no PostgreSQL server at {DSN!r}: {error}")
        pytest.skip(f"no PostgreSQL server at {DSN!r}")
    conn.execute("SET TIME ZONE 'America/New_York'")
    yield conn
    conn.close()


def _canonical(engine: crmetrics.Engine, case: Case) -> dict[str, pl.DataFrame]:
    """The case's tables converted as every engine reads them: canonical types, UTC instants."""
    connector = engine.resolve_source(source(case)).connector
    assert connector is not None
    return {table: connector.scan(table).collect() for table in case.tables}


def _load(conn: Any, schema: str, frames: dict[str, pl.DataFrame]) -> None:
    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.execute(f'CREATE SCHEMA "{schema}"')
    conn.execute(f'SET search_path TO "{schema}"')
    for table, frame in frames.items():
        columns = []
        for name, dtype in frame.schema.items():
            kind = "TIMESTAMPTZ" if isinstance(dtype, pl.Datetime) else _TYPES[type(dtype)]
            columns.append(f'"{name}" {kind}')
        conn.execute(f'CREATE TABLE "{table}" ({", ".join(columns)})')
        if frame.height:
            names = ", ".join(f'"{c}"' for c in frame.columns)
            marks = ", ".join(["%s"] * frame.width)
            with conn.cursor() as cursor:
                cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', frame.rows())


@pytest.mark.parametrize("case", list(_cases()))
def test_case_on_postgres(case: Case, connection: Any, engines: Engines) -> None:
    engine = engines.get(case)
    request = build_request(case)
    frames = _canonical(engine, case)
    # Every canonical table exists in the warehouse; those the case leaves out are empty.
    for table in TABLES:
        frames.setdefault(table, pl.DataFrame(schema=_empty_schema(table)))
    _load(connection, f"case_{abs(hash(case.id))}", frames)
    sql = engine.sql(request, "postgres")
    cursor = connection.execute(sql)
    names = [d.name for d in cursor.description]
    result = pl.DataFrame(cursor.fetchall(), schema=names, orient="row", infer_schema_length=None)
    result = result.with_columns(pl.col("period_start").cast(pl.Date), pl.col("value").cast(pl.Float64)).sort(
        ["metric", "period_start"]
    )
    problems = differences(result, case)
    assert not problems, f"{case.where}: " + "\n  ".join(problems)


def _empty_schema(table: str) -> dict[str, pl.DataType]:
    kinds = {
        "str": pl.String(),
        "float": pl.Float64(),
        "bool": pl.Boolean(),
        "datetime": pl.Datetime("us", "UTC"),
    }
    return {c.name: kinds[c.kind] for c in TABLES[table].columns}
