"""DuckDB reads Parquet files and database files in place, converting and checking in SQL.

No table passes through Python on the way (the connector's ``scan`` is never called), the
checks' counts are the Polars path's, a table that breaks a rule gets the Polars path's
report, and a memory limit below the data's size still gives the same numbers.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from sql_helpers import differences
from sqlglot import exp

import crmetrics
from crmetrics.canonical import conform_lazy
from crmetrics.connector import Connector
from crmetrics.engine import Engine
from crmetrics.errors import DataError
from crmetrics.model import TABLES
from crmetrics.plan import Request
from crmetrics.project import Project
from crmetrics.sql.canonical_sql import canonical_select, check_select
from crmetrics.sql.tables import identifier

RANGE = {"start": "2024-07-01", "end": "2025-07-01"}
CORE = ["churn_rate", "revenue", "net_promoter_score", "customer_health_score", "expansion_deals"]


@pytest.fixture(scope="module")
def sample_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample as typed Parquet, written by the CSV connector itself."""
    folder = tmp_path_factory.mktemp("parquet")
    connector = Engine().open_source("sample")
    for table in connector.available_tables():
        connector.scan(table).collect().write_parquet(folder / f"{table}.parquet")
    return folder


def _copy(folder: Path, target: Path, **changed: pl.DataFrame) -> Path:
    target.mkdir()
    for path in folder.glob("*.parquet"):
        frame = changed.get(path.stem, pl.read_parquet(path))
        frame.write_parquet(target / path.name)
    return target


def _both(
    source: str, by: tuple[str, ...] = (), metrics: list[str] = CORE
) -> tuple[pl.DataFrame, pl.DataFrame]:
    request = Request.build(metrics, **RANGE, by=by)
    polars = Engine().evaluate(request, source)
    return polars, Engine().evaluate(request, source, engine="duckdb")


@pytest.mark.parametrize("by", [(), ("segment",)], ids=["total", "segment"])
def test_parquet_is_read_by_duckdb_not_by_the_connector(
    sample_parquet: Path, by: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    polars = Engine().evaluate(Request.build(CORE, **RANGE, by=by), f"parquet:{sample_parquet}")

    def no_scan(self: Connector, table: str) -> pl.LazyFrame:
        raise AssertionError(f"{table} was read into Python")

    monkeypatch.setattr(Connector, "scan", no_scan)
    duck = Engine().evaluate(
        Request.build(CORE, **RANGE, by=by), f"parquet:{sample_parquet}", engine="duckdb"
    )
    assert differences(polars, duck, by) == []


def test_hive_partitioned_folders_give_the_numbers_of_single_files(
    sample_parquet: Path, tmp_path: Path
) -> None:
    folder = _copy(sample_parquet, tmp_path / "hive")
    revenue = pl.read_parquet(folder / "revenue.parquet").with_columns(
        pl.col("recognized_at").dt.year().alias("year")
    )
    (folder / "revenue.parquet").unlink()
    revenue.write_parquet(folder / "revenue", partition_by="year")
    assert sorted(p.parent.name for p in (folder / "revenue").rglob("*.parquet"))[0].startswith("year=")
    single, _ = _both(f"parquet:{sample_parquet}", metrics=["revenue", "paying_customers"])
    polars, duck = _both(f"parquet:{folder}", metrics=["revenue", "paying_customers"])
    assert differences(single, polars, ()) == []
    assert differences(single, duck, ()) == []


def test_a_bad_value_gets_the_report_of_the_polars_engine(sample_parquet: Path, tmp_path: Path) -> None:
    deals = pl.read_parquet(sample_parquet / "deals.parquet")
    # Row 2 is won but not closed: a broken rule; row 1 is a second copy of row 3's key.
    broken = deals.with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(False).otherwise(pl.col("is_closed")).alias("is_closed"),
        pl.when(pl.int_range(pl.len()) == 1).then(True).otherwise(pl.col("is_won")).alias("is_won"),
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.col("deal_id").get(2))
        .otherwise(pl.col("deal_id"))
        .alias("deal_id"),
    )
    folder = _copy(sample_parquet, tmp_path / "bad", deals=broken)
    reports = []
    for engine in ("polars", "duckdb"):
        with pytest.raises(DataError) as caught:
            crmetrics.evaluate(["expansion_deals"], f"parquet:{folder}", **RANGE, engine=engine)
        reports.append(caught.value.render())
    assert reports[0] == reports[1]
    assert "deals.is_won: is_won without is_closed: row 2" in reports[0]


def test_a_duplicate_key_is_dropped_as_on_polars(sample_parquet: Path, tmp_path: Path) -> None:
    revenue = pl.read_parquet(sample_parquet / "revenue.parquet")
    doubled = pl.concat([revenue, revenue.head(1).with_columns(pl.lit(1e6).alias("amount"))])
    folder = _copy(sample_parquet, tmp_path / "dup", revenue=doubled)
    polars, duck = _both(f"parquet:{folder}", metrics=["revenue"])
    assert differences(polars, duck, ()) == []


def test_a_repeated_key_among_rising_keys_is_still_found(tmp_path: Path) -> None:
    """Keys that rise prove uniqueness; a key repeated in place breaks the rise and is counted."""
    revenue = pl.DataFrame(
        {
            "revenue_id": ["R1", "R2", "R2", "R3"],
            "customer_id": ["C1", "C1", "C2", "C2"],
            "recognized_at": pl.Series(
                ["2025-01-05", "2025-01-06", "2025-01-07", "2025-02-01"]
            ).str.to_datetime("%Y-%m-%d", time_unit="us", time_zone="UTC"),
            "amount": [10.0, 20.0, 5.0, 7.0],
        }
    )
    revenue.write_parquet(tmp_path / "revenue.parquet")
    options = {"start": "2025-01-01", "end": "2025-03-01"}
    duck = crmetrics.evaluate(["revenue"], f"parquet:{tmp_path}", **options, engine="duckdb")
    # R2 twice keeps its last copy (5.0): January 10 + 5 = 15; February 7.
    assert duck["value"].to_list() == [15.0, 7.0]
    revenue.filter(pl.int_range(pl.len()) != 1).write_parquet(tmp_path / "revenue.parquet")
    # R1, R2 (the second copy), R3 rise: no key is counted; January still holds 10 + 5 = 15.
    duck = crmetrics.evaluate(["revenue"], f"parquet:{tmp_path}", **options, engine="duckdb")
    assert duck["value"].to_list() == [15.0, 7.0]


def test_checks_count_what_the_polars_checks_count() -> None:
    """Every rule broken once, and one key twice, counted by DuckDB and by Polars."""
    deals = pl.DataFrame(
        {
            "deal_id": ["D1", "D2", "D2", "D4"],
            "stage": ["won", None, "open", "lost"],
            "is_closed": [False, True, False, True],
            "is_won": [True, False, False, False],
            "deal_type": ["upsell", "renewal", "barter", None],
            "created_at": pl.Series([1, 2, 3, 4]).cast(pl.Datetime("us", "UTC")),
            "closed_at": pl.Series([None, None, None, 4]).cast(pl.Datetime("us", "UTC")),
        }
    )
    table = TABLES["deals"]
    lazy = conform_lazy(table, deals.lazy(), origin="<deals>")
    assert lazy is not None
    expected = lazy.checks.collect().row(0, named=True)
    connection = duckdb.connect()
    connection.register("raw", deals.to_arrow())
    select = canonical_select(table, exp.Table(this=identifier("raw")), deals.schema)
    assert select is not None
    counts = check_select(table, select.subquery(), deals.schema)
    got = connection.sql(counts.sql("duckdb")).pl().row(0, named=True)
    # 4 rows; stage missing once; 'barter' outside deal_type once; D1 won but not closed;
    # D2 closed without closed_at; D2 twice.
    assert got == expected
    assert got == {
        "rows": 4,
        "missing deal_id": 0,
        "missing stage": 1,
        "missing is_closed": 0,
        "missing is_won": 0,
        "missing created_at": 0,
        "outside deal_type": 1,
        "is_won without is_closed": 1,
        "closed deal without closed_at": 1,
        # D4 closed at the instant it was created: not before.
        "closed_at before created_at": 0,
        "duplicate keys": 1,
    }


def test_zoned_timestamps_fall_in_their_utc_month(tmp_path: Path) -> None:
    """DuckDB reads a zoned Parquet column as plain UTC timestamps: periods are UTC months."""
    new_york = pl.Datetime("us", "America/New_York")
    revenue = pl.DataFrame(
        {
            "revenue_id": ["R1", "R2", "R3"],
            "customer_id": ["C1", "C1", "C2"],
            # 2025-01-31 23:30 in New York (UTC-5) is 2025-02-01 04:30 UTC: February.
            # 2025-02-28 20:00 in New York is 2025-03-01 01:00 UTC: March.
            # 2025-03-15 12:00 in New York (UTC-4, summer time) is 16:00 UTC: March.
            "recognized_at": pl.Series(
                ["2025-01-31 23:30", "2025-02-28 20:00", "2025-03-15 12:00"]
            ).str.to_datetime("%Y-%m-%d %H:%M", time_zone="America/New_York"),
            "amount": [10.0, 20.0, 5.0],
        },
        schema_overrides={"recognized_at": new_york},
    )
    revenue.write_parquet(tmp_path / "revenue.parquet")
    options = {"start": "2025-01-01", "end": "2025-04-01"}
    duck = crmetrics.evaluate(["revenue"], f"parquet:{tmp_path}", **options, engine="duckdb")
    # January nothing; February 10; March 20 + 5 = 25.
    assert duck["value"].to_list() == [0.0, 10.0, 25.0]
    assert differences(crmetrics.evaluate(["revenue"], f"parquet:{tmp_path}", **options), duck, ()) == []


@pytest.mark.slow
def test_a_memory_limit_below_the_data_size_gives_the_same_numbers(tmp_path: Path) -> None:
    from benchmarks.common import END, METRICS, START
    from benchmarks.generate import generate

    folder = generate(600_000, tmp_path / "data")
    in_memory = sum(pl.read_parquet(p).estimated_size() for p in folder.glob("*.parquet"))
    limit_mib = 150
    assert limit_mib * 2**20 < in_memory  # about 185 MiB of Polars frames
    options = {"start": START, "end": END}
    polars = crmetrics.evaluate(list(METRICS), f"parquet:{folder}", **options)
    duck = crmetrics.evaluate(
        list(METRICS), f"parquet:{folder}", **options, engine="duckdb", memory_limit=f"{limit_mib}MB"
    )
    assert differences(polars, duck, ()) == []


def test_a_database_file_is_converted_and_checked_in_place(sample_parquet: Path, tmp_path: Path) -> None:
    database = tmp_path / "crm.duckdb"
    connection = duckdb.connect(str(database))
    for path in sample_parquet.glob("*.parquet"):
        connection.execute(f"CREATE TABLE {path.stem} AS SELECT * FROM read_parquet('{path}')")
    # A duplicate deal, the newer copy last: both engines keep it and drop the other.
    connection.execute("INSERT INTO deals SELECT * FROM deals LIMIT 1")
    connection.close()
    engine = Engine(project=Project())
    request = Request.build(["expansion_deals"], **RANGE)
    duck = engine.evaluate(request, f"duckdb:{database}", engine="duckdb")
    polars = engine.evaluate(request, f"parquet:{sample_parquet}")
    assert differences(polars, duck, ()) == []
