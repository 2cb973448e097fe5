"""The benchmark's implementations agree on a small generated dataset.

The benchmark itself (benchmarks/run.py) is too slow for the test suite; this keeps its
hand-written baselines honest: if one of them drifts from the spec, the numbers it would
be timed against stop meaning anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
pytest.importorskip("numpy", reason="the benchmark generator needs numpy (pip install -e '.[bench]')")

import crmetrics  # noqa: E402
from benchmarks import hand_polars  # noqa: E402
from benchmarks.common import BY, END, SALES_TIME_METRICS, START, differences, metrics_for  # noqa: E402
from benchmarks.generate import generate  # noqa: E402
from crmetrics.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(5_000, tmp_path_factory.mktemp("bench"))


def test_generation_is_deterministic(data: Path, tmp_path: Path) -> None:
    again = generate(5_000, tmp_path)
    for path in data.glob("*.parquet"):
        assert pl.read_parquet(path).equals(pl.read_parquet(again / path.name)), path.name


@pytest.mark.parametrize("grouped", [False, True], ids=["ungrouped", "grouped"])
def test_every_implementation_gives_the_same_numbers(data: Path, tmp_path: Path, grouped: bool) -> None:
    reference = hand_polars.compute(data, grouped)
    metrics = list(metrics_for(grouped))
    assert set(reference["metric"].unique()) == set(metrics)
    assert reference["value"].null_count() < reference.height
    results = {
        "api": crmetrics.evaluate(
            metrics, f"parquet:{data}", start=START, end=END, by=[BY] if grouped else []
        )
    }
    out = tmp_path / "cli.parquet"
    arguments = ["run", "-s", f"parquet:{data}", "-m", ",".join(metrics), "--start", str(START)]
    arguments += ["--end", str(END), "-f", "parquet", "-o", str(out), *(["--by", BY] if grouped else [])]
    invoked = CliRunner().invoke(main, arguments)
    assert invoked.exit_code == 0, invoked.output
    results["cli"] = pl.read_parquet(out)
    for name in ("hand_pandas", "hand_duckdb"):
        try:
            module = __import__(f"benchmarks.{name}", fromlist=["compute"])
        except ImportError:  # pandas or duckdb not installed: the others still count
            continue
        results[name] = module.compute(data, grouped)
    for name, result in results.items():
        assert differences(reference, result, grouped) == [], name


def test_the_polars_script_gives_the_numbers_of_the_whole_catalog(data: Path) -> None:
    # The sales and time metrics look a year back, so they are checked on the 40-metric run
    # that also reads revenue and churn from a year before the workload.
    reference = hand_polars.compute(data, False, extended=True)
    metrics = list(metrics_for(False, extended=True))
    assert set(reference["metric"].unique()) == set(metrics)
    for metric in SALES_TIME_METRICS:
        values = reference.filter(pl.col("metric") == metric)["value"]
        assert values.len() == 24 and values.null_count() < 24, metric
    api = crmetrics.evaluate(metrics, f"parquet:{data}", start=START, end=END)
    assert differences(reference, api, False, extended=True) == []
