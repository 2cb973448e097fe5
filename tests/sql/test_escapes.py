"""Nothing a user writes can make a SQL engine read a file, reach another table or run more.

Table names come from the project file, formulas from definitions, ``--where`` from the
command line and column names from data: each is quoted or escaped in every rendering, and
the engines themselves refuse file access.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crmetrics.errors import DataError
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
