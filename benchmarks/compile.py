"""Measure how long crmetrics takes to compile a request, and how SQL rendering scales.

    python -m benchmarks.compile                 # compile times of the whole catalog
    python -m benchmarks.compile --scaling       # SQL render time for 25 to 400 metrics
    python -m benchmarks.compile --runs 15 --json

Compile is everything before any row is read: loading the plugins and the catalog
(YAML, schema, formula checks), planning, building the relational IR, and generating the
Polars lazy query or the SQL text. Each run is a fresh process, so no cache of an earlier
run helps; the importing of Python libraries is left out (it is the same for any work).
Times are the CPU time of the process: on a shared machine the wall time of a few
milliseconds of work mostly measures the other processes.
The whole catalog is requested at month grain over 24 months, grouped by segment for SQL.
For the scaling table, a generated catalog of N metrics (half aggregates over one table,
half derived metrics each looking one period back at one of them) is rendered as SQL in
one statement: linear rendering keeps the time per metric flat as N grows.

With ``PYTHONPATH=DIR`` holding an older crmetrics package, the same script measures it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = (25, 50, 100, 200, 400)


def _catalog_timings() -> dict[str, float]:
    """One fresh-process measurement of each compile step, in milliseconds."""
    import polars as pl  # imported before the clock starts, as are sqlglot and crmetrics
    import sqlglot

    from crmetrics.engine import Engine
    from crmetrics.model import TABLES
    from crmetrics.plan import Request
    from crmetrics.polars_backend import render

    # The dialects' modules are imported on first use: import them before the clock too.
    for dialect in ("duckdb", "snowflake"):
        sqlglot.Dialect.get_or_raise(dialect)
    # Empty canonical tables: compiling reads only their schemas.
    frames = {name: pl.DataFrame(schema=table.schema).lazy() for name, table in TABLES.items()}

    began = time.process_time()
    engine = Engine()
    catalog = engine.validate()
    loaded = time.process_time()
    # Metrics defined only under a grouping (cohort retention by acquisition cohort) are
    # left out: a whole-catalog request without that grouping is refused.
    names = sorted(name for name, metric in catalog.metrics.items() if not metric.requires_by)
    request = Request.build(names, start="2024-01-01", end="2026-01-01")
    plan = engine.plan(request)
    planned = time.process_time()
    render(plan, catalog, frames.__getitem__)
    polars_done = time.process_time()
    spend = {"sales_marketing_spend", "retention_spend", "customer_acquisition_cost"}
    spend.add("acquisition_retention_cost_ratio")
    grouped = Request.build(
        [n for n in names if n not in spend], start="2024-01-01", end="2026-01-01", by=["segment"]
    )
    sql_began = time.process_time()
    engine.sql(request, "duckdb")
    duckdb_done = time.process_time()
    engine.sql(grouped, "snowflake")
    snowflake_done = time.process_time()
    assert plan.order
    return {
        "load_validate": (loaded - began) * 1000,
        "plan": (planned - loaded) * 1000,
        "polars_render": (polars_done - planned) * 1000,
        "duckdb_render": (duckdb_done - sql_began) * 1000,
        "snowflake_render": (snowflake_done - duckdb_done) * 1000,
    }


def _scaling_timing(size: int, folder: str) -> float:
    """Milliseconds to render ``size`` generated metrics as one SQL statement (best of 3)."""
    from crmetrics.engine import Engine
    from crmetrics.plan import Request

    engine = Engine(definitions=[folder])
    engine.validate()
    names = [f"bench_amount_{i}" for i in range(size // 2)] + [f"bench_growth_{i}" for i in range(size // 2)]
    request = Request.build(names, start="2024-01-01", end="2026-01-01", by=["segment"])
    best = float("inf")
    for _ in range(3):
        began = time.process_time()
        engine.sql(request, "duckdb")
        best = min(best, time.process_time() - began)
    return best * 1000


def write_catalog(size: int, folder: Path) -> None:
    """A definitions file of ``size`` metrics: aggregates and derived metrics looking back."""
    lines = ["metrics:"]
    for i in range(size // 2):
        lines += [
            f"  - name: bench_amount_{i}",
            "    type: aggregate",
            "    table: revenue",
            "    time: recognized_at",
            f"    expr: sum(amount) FILTER (WHERE amount > {i})",
        ]
    for i in range(size // 2):
        lines += [
            f"  - name: bench_growth_{i}",
            "    type: derived",
            f"    expr: (bench_amount_{i} - prior(bench_amount_{i})) / prior(bench_amount_{i})",
        ]
    (folder / "bench.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _in_fresh_process(*args: str) -> dict[str, float]:
    # Byte-code caching as in any installation: a process that compiles every module it
    # imports measures the Python compiler, not crmetrics.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.compile", "--worker", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per measurement (median)")
    parser.add_argument("--scaling", action="store_true", help="SQL render time against catalog size")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="catalog sizes for --scaling")
    parser.add_argument("--json", action="store_true", help="print the medians as JSON")
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        if args.worker:
            size, folder = int(args.worker[0]), args.worker[1]
            print(json.dumps({"ms": _scaling_timing(size, folder)}))
        else:
            print(json.dumps(_catalog_timings()))
        return
    if args.scaling:
        rows = {}
        with tempfile.TemporaryDirectory() as scratch:
            for size in (int(n) for n in args.sizes.split(",")):
                folder = Path(scratch) / str(size)
                folder.mkdir()
                write_catalog(size, folder)
                _in_fresh_process(str(size), str(folder))
                times = [_in_fresh_process(str(size), str(folder))["ms"] for _ in range(args.runs)]
                rows[size] = statistics.median(times)
        if args.json:
            print(json.dumps(rows))
            return
        print("| metrics | SQL render (ms) | ms per metric |\n|---:|---:|---:|")
        for size, ms in rows.items():
            print(f"| {size} | {ms:.1f} | {ms / size:.2f} |")
        return
    _in_fresh_process()  # writes the byte-code caches
    runs = [_in_fresh_process() for _ in range(args.runs)]
    medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    if args.json:
        print(json.dumps(medians))
        return
    load = medians["load_validate"] + medians["plan"]
    print(f"median of {args.runs} fresh processes, CPU milliseconds")
    print("| step | ms |\n|---|---:|")
    print(f"| load plugins and catalog, validate | {medians['load_validate']:.1f} |")
    print(f"| plan | {medians['plan']:.1f} |")
    print(f"| IR and Polars lazy query | {medians['polars_render']:.1f} |")
    print(f"| IR and SQL text, DuckDB, ungrouped | {medians['duckdb_render']:.1f} |")
    print(f"| IR and SQL text, Snowflake, grouped by segment | {medians['snowflake_render']:.1f} |")
    polars = load + medians["polars_render"]
    print(f"| **compile for Polars** (load + validate + plan + render) | **{polars:.1f}** |")
    for dialect in ("duckdb", "snowflake"):
        total = load + medians[f"{dialect}_render"]
        print(f"| **compile for SQL, {dialect}** (load + validate + plan + render) | **{total:.1f}** |")


if __name__ == "__main__":
    main()
