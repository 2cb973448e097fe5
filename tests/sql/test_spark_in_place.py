"""Spark reads the data itself: Parquet folders and catalog tables, converted and checked as Spark SQL.

The whole catalog runs in a separate local Spark whose driver has less memory than the
data takes in Polars, and gives the Polars numbers; a catalog table with a duplicate key
and a bad value gets the report the Polars engine gives for the same rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sql_helpers import differences

import crmetrics
from crmetrics.engine import Engine
from crmetrics.errors import DataError
from crmetrics.plan import Request
from crmetrics.project import Project

pytestmark = pytest.mark.spark
ROOT = Path(__file__).resolve().parents[2]
DRIVER_MEMORY_MIB = 512  # Spark refuses a driver with less than 450 MiB

_SPARK_RUN = textwrap.dedent(
    """
    import json, sys
    import polars as pl
    import crmetrics
    from crmetrics.sql.source_scan import CanonicalViews

    views = CanonicalViews.tables

    def in_place_only(self, frames={}):
        assert not frames, f"{sorted(frames)} went through the driver"
        return views(self, frames)

    CanonicalViews.tables = in_place_only
    folder, out, metrics, start, end, memory = sys.argv[1:7]
    result = crmetrics.evaluate(
        json.loads(metrics), f"parquet:{folder}", start=start, end=end, engine="spark", memory_limit=memory
    )
    result.write_parquet(out)
    """
)


def test_the_catalog_on_spark_with_less_driver_memory_than_the_data(tmp_path: Path) -> None:
    from benchmarks.common import END, METRICS, START
    from benchmarks.generate import generate

    folder = generate(2_000_000, tmp_path / "data")
    in_memory = sum(pl.read_parquet(p).estimated_size() for p in folder.glob("*.parquet"))
    # About 620 MiB of Polars frames, against a 512 MiB driver heap of which Spark keeps
    # (512 - 300) * 0.6, about 127 MiB, for its own work.
    assert in_memory > DRIVER_MEMORY_MIB * 2**20
    out = tmp_path / "spark.parquet"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("SPARK_REMOTE", None)
    env["SPARK_MASTER"] = "local[2]"
    metrics = json.dumps(list(METRICS))
    arguments = [str(folder), str(out), metrics, str(START), str(END), f"{DRIVER_MEMORY_MIB}m"]
    done = subprocess.run(
        [sys.executable, "-c", _SPARK_RUN, *arguments], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    polars = crmetrics.evaluate(list(METRICS), f"parquet:{folder}", start=START, end=END)
    assert differences(polars, pl.read_parquet(out), ()) == []


def _deals() -> pl.DataFrame:
    at = pl.Series(["2025-01-05", "2025-01-06", "2025-01-07"]).str.to_datetime().dt.replace_time_zone("UTC")
    return pl.DataFrame(
        {
            "deal_id": ["D1", "D2", "D1"],
            "customer_id": ["C1", "C2", "C1"],
            "amount": [100.0, 200.0, 150.0],
            "stage": ["Closed Won", "Negotiation", "Closed Won"],
            "is_closed": [True, False, True],
            # D2 is won but not closed: the bad value; D1 appears twice.
            "is_won": [True, True, True],
            "deal_type": ["upsell", "upsell", "upsell"],
            "created_at": at,
            "closed_at": at,
        }
    )


def _spark_frame(spark: Any, frame: pl.DataFrame) -> Any:
    return spark.createDataFrame(frame.to_arrow(compat_level=pl.CompatLevel.oldest()).to_pandas())


def test_a_catalog_table_with_a_duplicate_key_and_a_bad_value_gets_the_polars_report(spark: Any) -> None:
    _spark_frame(spark, _deals()).coalesce(1).createOrReplaceTempView("crm_deals")
    project = Project(warehouse={"deals": "crm_deals"})
    request = Request.build(["expansion_deals"], start="2025-01-01", end="2025-02-01")
    with pytest.raises(DataError) as on_spark:
        Engine(project=project).evaluate(request, "spark:", engine="spark")
    with pytest.raises(DataError) as on_polars:
        Engine().evaluate(request, {"deals": _deals()})
    assert [i.message for i in on_spark.value.issues] == [i.message for i in on_polars.value.issues]
    assert "deals.is_won: is_won without is_closed: row 2" in on_spark.value.issues[0].message


def test_a_catalog_table_with_only_a_duplicate_key_keeps_the_last_copy(spark: Any) -> None:
    deals = _deals().with_columns(pl.Series("is_won", [True, False, True]))
    _spark_frame(spark, deals).coalesce(1).createOrReplaceTempView("crm_deals_dup")
    project = Project(warehouse={"deals": "crm_deals_dup"})
    request = Request.build(["expansion_deals"], start="2025-01-01", end="2025-02-01")
    result = Engine(project=project).evaluate(request, "spark:", engine="spark")
    # D1 twice, one upsell won deal kept; D2 not won: 1 expansion deal in January.
    assert result["value"].to_list() == [1.0]


def test_a_hive_partitioned_folder_is_read_by_spark(spark: Any, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    deals = _deals().with_columns(pl.Series("is_won", [True, False, True]), pl.lit(2025).alias("year"))
    deals.write_parquet(folder / "deals", partition_by="year")
    request = Request.build(["expansion_deals"], start="2025-01-01", end="2025-02-01")
    polars = Engine().evaluate(request, f"parquet:{folder}")
    on_spark = Engine().evaluate(request, f"parquet:{folder}", engine="spark")
    assert polars["value"].to_list() == on_spark["value"].to_list() == [1.0]
