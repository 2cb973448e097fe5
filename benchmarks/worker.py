"""One benchmark run in a fresh process: ``python -m benchmarks.worker VARIANT DATA MODE OUT``.

Imports happen before the clock starts; the clock covers exactly the call that computes
the whole catalog from the Parquet files (for crmetrics: building the engine, loading and
checking the catalog, planning and evaluating). The result goes to ``OUT`` (Parquet) for
the agreement check, and the time to stdout as JSON. The parent process reads this
process' peak resident memory from the kernel when it exits.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from benchmarks.common import BY, END, MODES, START, mode_metrics


def _crmetrics(**options: bool | str) -> Callable[[Path, str], pl.DataFrame]:
    def run(folder: Path, mode: str) -> pl.DataFrame:
        import crmetrics

        return crmetrics.evaluate(
            list(mode_metrics(mode)),
            f"parquet:{folder}",
            start=START,
            end=END,
            by=[BY] if MODES[mode][0] else [],
            **options,
        )

    return run


def _hand(module: str) -> Callable[[Path, str], pl.DataFrame]:
    def run(folder: Path, mode: str) -> pl.DataFrame:
        import importlib

        compute = importlib.import_module(module).compute
        grouped, extended = MODES[mode]
        # Only the Polars script has the sales and time metrics; the runner keeps the
        # others out of the "full" mode.
        result: pl.DataFrame = (
            compute(folder, grouped, extended=True) if extended else compute(folder, grouped)
        )
        return result

    return run


VARIANTS: dict[str, Callable[[Path, str], pl.DataFrame]] = {
    "api": _crmetrics(),
    # The same call; the runner points it at a cache the check run has filled.
    "api-second": _crmetrics(),
    "api-duckdb": _crmetrics(engine="duckdb"),
    # The same call again; the runner points it at a cache the check run has filled.
    "api-duckdb-second": _crmetrics(engine="duckdb"),
    "api-spark": _crmetrics(engine="spark"),
    "api-trust": _crmetrics(trust=True),
    "api-streaming": _crmetrics(streaming=True),
    "polars": _hand("benchmarks.hand_polars"),
    "pandas": _hand("benchmarks.hand_pandas"),
    "duckdb": _hand("benchmarks.hand_duckdb"),
}

_PRELOAD = {
    "polars": "benchmarks.hand_polars",
    "pandas": "benchmarks.hand_pandas",
    "duckdb": "benchmarks.hand_duckdb",
}


_ENGINE_PRELOAD = {
    "api-duckdb": ("duckdb", "crmetrics.sql.duckdb_engine"),
    "api-duckdb-second": ("duckdb", "crmetrics.sql.duckdb_engine"),
    "api-spark": ("pyspark.sql",),
}


def main() -> None:
    variant, folder, mode, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    if variant in _PRELOAD:
        __import__(_PRELOAD[variant])
    else:
        import crmetrics.engine  # noqa: F401

        # The libraries an engine runs on are imported before the clock, as the
        # hand-written scripts import theirs.
        for module in _ENGINE_PRELOAD.get(variant, ()):
            __import__(module)
    began = time.perf_counter()
    result = VARIANTS[variant](folder, mode)
    seconds = time.perf_counter() - began
    result.write_parquet(out)
    print(json.dumps({"seconds": seconds, "rows": result.height}))


if __name__ == "__main__":
    main()
