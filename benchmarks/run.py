"""Run the benchmark: crmetrics against hand-written Polars, pandas and DuckDB.

    python -m benchmarks.run --rows 1m                 # prints the table
    python -m benchmarks.run --rows 10m --write-docs   # and updates docs/performance.md
    python -m benchmarks.run --rows 1m --variants all  # every variant, Spark included

Every variant computes the whole built-in catalog at month grain over 24 months, ungrouped
and grouped by segment, from the same generated Parquet files. Each run is a fresh process;
the first run of every variant is checked against the hand-written Polars result (every
value equal to 1e-9 relative, nulls in the same places) before anything is timed, and a
disagreement stops the benchmark. Then the variants take turns, run after run, so that
background load hits them alike. Times are medians; memory is the peak resident set of the
process (median over the runs), as the kernel reports it when the process exits.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from benchmarks.common import BY, END, MODES, START, differences, mode_metrics
from benchmarks.generate import ensure, parse_size

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
REFERENCE = "polars"

LABELS = {
    "api": "(a) crmetrics, Python API, first run",
    "api-second": "(a2) crmetrics, Python API, second run",
    "api-trust": "(a') crmetrics, Python API, trust=True",
    "api-streaming": "(a'') crmetrics, Python API, streaming=True",
    "cli": "(b) crmetrics, CLI, first run",
    "cli-second": "(b2) crmetrics, CLI, second run",
    "polars": "(c) hand-written Polars",
    "polars-process": "(c') hand-written Polars, whole process",
    "pandas": "(d) hand-written pandas",
    "duckdb": "(e) hand-written DuckDB SQL",
    "api-duckdb": "(f) crmetrics, --engine duckdb, first run",
    "api-duckdb-second": "(f2) crmetrics, --engine duckdb, second run",
    "api-spark": "(g) crmetrics, --engine spark (local), first run",
    "before": "crmetrics before this work (API)",
    "before-trust": "crmetrics before this work (API, trust=True)",
    "before-duckdb": "crmetrics before this work, --engine duckdb",
}
#: What each "before" variant runs, with the older package first on the path.
BEFORE = {"before": "api", "before-trust": "api-trust", "before-duckdb": "api-duckdb"}
DEFAULT_VARIANTS = (
    "api",
    "api-second",
    "cli",
    "cli-second",
    "polars",
    "polars-process",
    "duckdb",
    "api-duckdb",
    "api-duckdb-second",
)
#: Every variant ``--variants all`` runs (``before`` needs an older package, see below).
ALL_VARIANTS = (*DEFAULT_VARIANTS, "api-trust", "pandas", "api-spark")
#: The hand-written variant each one is compared with; (c) unless named here.
BASELINE = {
    # The CLI is timed as a whole process (interpreter start, imports, writing the output),
    # so it is compared with the hand-written script timed the same way.
    "cli": "polars-process",
    "cli-second": "polars-process",
    "api-duckdb": "duckdb",
    "api-duckdb-second": "duckdb",
    "api-spark": "duckdb",
    "before-duckdb": "duckdb",
}
#: The variants the "full" mode (the whole catalog) runs: the other hand-written ones
#: stop at the first 23 metrics, so the engines compared with them are left out too.
FULL_CATALOG_VARIANTS = (
    *("api", "api-second", "cli", "cli-second", "api-trust", "before", "before-trust", "polars"),
    "polars-process",
)
#: Second-run variants read a checks cache that their check run filled; every other
#: crmetrics run starts from an empty one, so that it checks every file.
WARM = ("api-second", "cli-second", "api-duckdb-second")


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)
    #: CPU seconds (user + system) of the whole process: steadier than wall time on a
    #: machine shared with other work, since waiting for a core does not count.
    cpu: list[float] = field(default_factory=list)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak(self) -> float:
        return statistics.median(self.peak_mib)


def _command(
    variant: str, folder: Path, mode: str, out: Path, cache: Path
) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.pop("CRMETRICS_NO_CACHE", None)
    env["CRMETRICS_CACHE_DIR"] = str(cache)
    if variant in ("cli", "cli-second"):
        executable = Path(sys.executable).with_name("crmetrics")
        command = [
            str(executable),
            "run",
            "--source",
            f"parquet:{folder}",
            "--metrics",
            ",".join(mode_metrics(mode)),
            "--start",
            str(START),
            "--end",
            str(END),
            *(["--by", BY] if MODES[mode][0] else []),
            "--format",
            "parquet",
            "--output",
            str(out),
        ]
        return command, env
    if variant == "polars-process":
        variant = "polars"
    if variant in BEFORE:
        env["PYTHONPATH"] = os.pathsep.join([env["CRMETRICS_BEFORE"], env["PYTHONPATH"]])
        variant = BEFORE[variant]
    return [sys.executable, "-m", "benchmarks.worker", variant, str(folder), mode, str(out)], env


#: Variants timed as a whole process, from start to exit, rather than around one call.
WHOLE_PROCESS = ("cli", "cli-second", "polars-process")

#: The one-minute load average before each run: how busy the machine was.
LOADS: list[float] = []


def run_measured(variant: str, folder: Path, mode: str, out: Path) -> tuple[float, float, float]:
    """(seconds, peak MiB, CPU seconds) of one run in a fresh process, from ``wait4``."""
    LOADS.append(os.getloadavg()[0])
    scratch = out.parent
    if variant in WARM:
        cache = scratch / f"cache-{variant}-{mode}"
    else:
        cache = Path(tempfile.mkdtemp(prefix="cold-cache-", dir=scratch))
    command, env = _command(variant, folder, mode, out, cache)
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        began = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        if process.returncode:
            raise RuntimeError(
                f"{variant} {mode} failed ({process.returncode}):\n{stderr.read().decode()[-3000:]}"
            )
        text = stdout.read().decode().strip()
    seconds = wall if variant in WHOLE_PROCESS else json.loads(text.splitlines()[-1])["seconds"]
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def check(variants: list[str], folder: Path, mode: str, scratch: Path) -> dict[str, Timing]:
    """Run each variant once and compare it with the reference; raise on any difference."""
    timings = {v: Timing() for v in variants}
    results = {}
    for variant in [REFERENCE, *(v for v in variants if v != REFERENCE)]:
        out = scratch / f"{variant}-{mode}.parquet"
        seconds, peak, _ = run_measured(variant, folder, mode, out)
        print(f"  check {mode:9s} {variant:14s} {seconds:8.2f}s {peak:8.0f} MiB", flush=True)
        results[variant] = pl.read_parquet(out)
        if variant != REFERENCE:
            grouped, extended = MODES[mode]
            problems = differences(results[REFERENCE], results[variant], grouped, extended=extended)
            if problems:
                raise SystemExit(
                    f"{variant} disagrees with {REFERENCE} ({mode}):\n  " + "\n  ".join(problems)
                )
    print(f"  {mode}: all {len(variants)} variants agree ({results[REFERENCE].height} values)", flush=True)
    return timings


def benchmark(
    rows: int, variants: list[str], modes: list[str], repeat: int, fewer: dict[str, int]
) -> dict[str, dict[str, Timing]]:
    folder = ensure(rows, verbose=True)
    results: dict[str, dict[str, Timing]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for mode in modes:
            # Only crmetrics and the Polars script compute the whole catalog.
            chosen = [v for v in variants if mode != "full" or v in FULL_CATALOG_VARIANTS]
            timings = check(chosen, folder, mode, Path(scratch))
            for round_ in range(repeat):
                for variant in chosen:
                    if round_ >= fewer.get(variant, repeat):
                        continue
                    out = Path(scratch) / f"{variant}-{mode}-timed.parquet"
                    seconds, peak, cpu = run_measured(variant, folder, mode, out)
                    timings[variant].seconds.append(seconds)
                    timings[variant].peak_mib.append(peak)
                    timings[variant].cpu.append(cpu)
                    print(
                        f"  run {round_ + 1} {mode:9s} {variant:14s} {seconds:8.2f}s {peak:8.0f} MiB "
                        f"{cpu:8.2f}s CPU",
                        flush=True,
                    )
            results[mode] = timings
    return results


def table(rows: int, results: dict[str, dict[str, Timing]]) -> str:
    lines = [
        f"{rows:,} rows per event table ({rows // 10:,} customers)",
        "",
        "| variant | mode | runs | median time (s) | median CPU (s) | peak memory (MiB) "
        "| compared with | time ratio | CPU ratio | memory ratio |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for mode, timings in results.items():
        for variant, timing in timings.items():
            if not timing.seconds:
                continue
            base = BASELINE.get(variant, REFERENCE)
            reference = timings.get(base)
            if reference is None or not reference.seconds:
                base, reference = REFERENCE, timings[REFERENCE]
            lines.append(
                f"| {LABELS[variant]} | {mode} | {len(timing.seconds)} | {timing.median:.2f} | "
                f"{timing.cpu_median:.2f} | {timing.peak:.0f} | {LABELS[base].split(' ')[0]} | "
                f"{timing.median / reference.median:.2f}x | "
                f"{timing.cpu_median / reference.cpu_median:.2f}x | {timing.peak / reference.peak:.2f}x |"
            )
    return "\n".join(lines)


def machine() -> str:
    import duckdb
    import pandas

    cpu = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        cpu = re.search(r"model name\s*:\s*(.+)", text).group(1)  # type: ignore[union-attr]
    except (OSError, AttributeError):
        pass
    try:
        import psutil

        memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        memory = "RAM unknown"
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory}, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, Polars {pl.__version__}, pandas {pandas.__version__}, "
        f"DuckDB {duckdb.__version__}"
    )


def write_docs(label: str, text: str, command: str) -> None:
    """Replace this size's section of docs/performance.md (between its markers)."""
    start, end = f"<!-- bench:{label}:start -->", f"<!-- bench:{label}:end -->"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = f"load average (1 min) {min(LOADS):.1f} to {max(LOADS):.1f} during the runs" if LOADS else ""
    block = f"{start}\nMeasured {stamp} on {machine()}; {load}.\nCommand: `{command}`\n\n{text}\n{end}"
    doc = DOCS.read_text() if DOCS.exists() else "# Performance\n"
    if start in doc and end in doc:
        doc = doc[: doc.index(start)] + block + doc[doc.index(end) + len(end) :]
    else:
        doc = doc.rstrip("\n") + f"\n\n### {label} rows\n\n{block}\n"
    DOCS.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100k", help="rows per event table: 100k, 1m, 10m or a number")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per variant (default 5)")
    parser.add_argument(
        "--variants", default=",".join(DEFAULT_VARIANTS), help=f"comma-separated, of: {', '.join(LABELS)}"
    )
    parser.add_argument(
        "--modes",
        default="ungrouped,grouped",
        help="comma-separated, of: ungrouped, grouped, full (the whole catalog ungrouped, 40 metrics)",
    )
    parser.add_argument(
        "--fewer",
        action="append",
        default=[],
        metavar="VARIANT=N",
        help="time VARIANT only N times (e.g. pandas=1 at 10m, where one run takes minutes)",
    )
    parser.add_argument("--write-docs", action="store_true", help="update docs/performance.md")
    args = parser.parse_args()
    rows = parse_size(args.rows)
    chosen = ",".join(ALL_VARIANTS) if args.variants == "all" else args.variants
    variants = [v.strip() for v in chosen.split(",") if v.strip()]
    unknown = [v for v in variants if v not in LABELS]
    if unknown:
        raise SystemExit(f"unknown variant(s): {', '.join(unknown)}")
    if set(BEFORE) & set(variants) and "CRMETRICS_BEFORE" not in os.environ:
        raise SystemExit(
            f"variants {', '.join(sorted(BEFORE))} need CRMETRICS_BEFORE=DIR, an older crmetrics package"
        )
    if REFERENCE not in variants:
        variants.insert(0, REFERENCE)
    for variant in list(variants):
        base = BASELINE.get(variant)
        if base and base not in variants:
            variants.append(base)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown_modes := [m for m in modes if m not in MODES]:
        raise SystemExit(f"unknown mode(s): {', '.join(unknown_modes)}; choose from {', '.join(MODES)}")
    fewer = {k: int(v) for k, _, v in (item.partition("=") for item in args.fewer)}
    results = benchmark(rows, variants, modes, args.repeat, fewer)
    text = table(rows, results)
    print()
    print(text)
    if LOADS:
        print(f"\nload average (1 min) {min(LOADS):.1f} to {max(LOADS):.1f} during the runs")
    if args.write_docs:
        command = "python -m benchmarks.run " + " ".join(sys.argv[1:]).replace(" --write-docs", "")
        write_docs(args.rows.lower(), text, command.strip())
        print(f"\nupdated {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
