"""``crmetrics run --streaming`` on a dataset larger than the memory it is given.

    sudo python -m benchmarks.streaming_demo --rows 10m --limit-mib 1536

Runs the whole catalog through the CLI inside a memory cgroup (v1 or v2, which needs the
right to create one, e.g. root) with a hard limit and no swap: once with Polars' in-memory
engine and once with ``--streaming``. The in-memory engine is pinned with
``POLARS_ENGINE_AFFINITY=in-memory``: from Polars 2 the default engine is the streaming one.
Each attempt either finishes, with the cgroup's peak memory and the process's peak resident
set (measured by GNU time, ``/usr/bin/time``, when installed), is killed by the kernel's
out-of-memory killer, or is stopped after ``--timeout`` seconds. The streamed result is then
compared, value by value, with the same run done by the in-memory engine without any limit.

The data's in-memory size is measured by loading each table with Polars, one at a time, and
summing ``DataFrame.estimated_size()``: what the tables take once read, before any work.
Every run checks every file (``--no-cache``), so no run is helped by an earlier one.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from benchmarks.common import BY, END, MODES, START, differences, mode_metrics
from benchmarks.generate import ensure, parse_size

V1 = Path("/sys/fs/cgroup/memory")
V2 = Path("/sys/fs/cgroup")
MIB = 2**20
GNU_TIME = "/usr/bin/time"


@dataclass(frozen=True)
class Attempt:
    """How one run under a memory limit ended."""

    state: str  # "finished", "killed (out of memory)", "stopped after the timeout", "failed"
    seconds: float
    cgroup_peak_mib: float  # the cgroup's peak charge: resident memory and page cache
    rss_peak_mib: float  # the process's peak resident set (GNU time's %M; NaN without it)

    @property
    def finished(self) -> bool:
        return self.state == "finished"


@dataclass(frozen=True)
class DatasetSize:
    """How big the dataset is, on disk and in memory (MiB)."""

    rows: int  # event rows, all event tables together
    disk: float  # the Parquet files
    parquet_uncompressed: float  # Parquet's own uncompressed page sizes
    in_memory: float  # every table loaded by Polars: the sum of ``estimated_size()``


def _cgroup(limit: int) -> tuple[Path, str]:
    """A fresh cgroup limited to ``limit`` bytes, swap included: (folder, peak file)."""
    name = f"crmetrics-demo-{os.getpid()}"
    if (V1 / "memory.limit_in_bytes").exists():
        folder = V1 / name
        folder.mkdir()
        (folder / "memory.limit_in_bytes").write_text(str(limit))
        if (folder / "memory.memsw.limit_in_bytes").exists():
            (folder / "memory.memsw.limit_in_bytes").write_text(str(limit))
        return folder, "memory.max_usage_in_bytes"
    folder = V2 / name
    folder.mkdir()
    (folder / "memory.max").write_text(str(limit))
    (folder / "memory.swap.max").write_text("0")
    return folder, "memory.peak"


def _command(folder: Path, out: Path, mode: str, streaming: bool) -> list[str]:
    grouped, _ = MODES[mode]
    return [
        str(Path(sys.executable).with_name("crmetrics")),
        "run",
        "-s",
        f"parquet:{folder}",
        "-m",
        ",".join(mode_metrics(mode)),
        *(["-b", BY] if grouped else []),
        "--start",
        str(START),
        "--end",
        str(END),
        "-f",
        "parquet",
        "-o",
        str(out),
        "--no-cache",
        *(["--streaming"] if streaming else []),
    ]


def _environment(streaming: bool) -> dict[str, str]:
    return {**os.environ, "POLARS_ENGINE_AFFINITY": "streaming" if streaming else "in-memory"}


def limited(command: list[str], env: dict[str, str], limit: int, timeout: float) -> Attempt:
    """Run ``command`` in a fresh cgroup of ``limit`` bytes, removed afterwards."""
    group, peak = _cgroup(limit)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            errors, resident = Path(scratch) / "stderr", Path(scratch) / "maxrss"
            # The shell joins the cgroup, then becomes GNU time, which runs the command as its
            # child: every byte is charged to the cgroup, and the peak resident set time reads
            # is the command's own (a child of this process would start from this process's).
            script = f'echo $$ > {group / "cgroup.procs"} && exec "$@"'
            timed = [GNU_TIME, "-f", "%M", "-o", str(resident)] if Path(GNU_TIME).exists() else []
            began = time.perf_counter()
            with errors.open("wb") as sink:
                process = subprocess.Popen(["sh", "-c", script, "sh", *timed, *command], stderr=sink, env=env)
                try:
                    process.wait(timeout=timeout)
                    state = "finished" if process.returncode == 0 else "failed"
                except subprocess.TimeoutExpired:
                    _kill_group(group)
                    process.wait()
                    state = "stopped after the timeout"
            seconds = time.perf_counter() - began
            if state == "failed" and _oom_kills(group):
                state = "killed (out of memory)"
            elif state == "failed":
                print(errors.read_text(errors="replace")[-2000:], file=sys.stderr)
            rss = _last_number(resident) / 1024 if resident.exists() else float("nan")  # KiB
        used = int((group / peak).read_text()) / MIB if (group / peak).exists() else float("nan")
        return Attempt(state, seconds, used, rss)
    finally:
        group.rmdir()


def _kill_group(group: Path) -> None:
    """Kill every process of the cgroup ``group``."""
    for pid in (group / "cgroup.procs").read_text().split():
        os.kill(int(pid), signal.SIGKILL)


def _last_number(path: Path) -> float:
    """The number on the last line of GNU time's output (a line before it may name a signal)."""
    lines = path.read_text().split()
    return float(lines[-1]) if lines and lines[-1].isdigit() else float("nan")


def _oom_kills(group: Path) -> int:
    """How many processes of ``group`` the kernel's out-of-memory killer ended."""
    for name in ("memory.oom_control", "memory.events"):  # cgroup v1, v2
        if (group / name).exists():
            for line in (group / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    return 0


def dataset_size(folder: Path) -> DatasetSize:
    """The sizes of the Parquet files in ``folder`` on disk and loaded into memory."""
    import pyarrow.parquet as pq

    files = sorted(folder.glob("*.parquet"))
    disk = sum(path.stat().st_size for path in files)
    uncompressed = 0
    loaded = 0.0
    rows = 0
    for path in files:
        metadata = pq.read_metadata(path)
        uncompressed += sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
        if path.stem != "customers":
            rows += metadata.num_rows
        frame = pl.read_parquet(path)  # one table at a time: the demo's own memory stays small
        loaded += frame.estimated_size()
        del frame
    return DatasetSize(rows, disk / MIB, uncompressed / MIB, loaded / MIB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10m", help="rows per event table (seven event tables)")
    parser.add_argument("--limit-mib", type=int, default=1536, help="the cgroup's hard memory limit")
    parser.add_argument("--mode", choices=sorted(MODES), default="ungrouped", help="the workload")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a limited run is stopped")
    args = parser.parse_args()
    folder = ensure(parse_size(args.rows), verbose=True)
    size = dataset_size(folder)
    print(
        f"dataset: {size.rows:,} event rows; {size.disk:,.0f} MiB of Parquet on disk, "
        f"{size.parquet_uncompressed:,.0f} MiB uncompressed, {size.in_memory:,.0f} MiB loaded in Polars; "
        f"limit {args.limit_mib:,} MiB ({args.limit_mib / size.in_memory:.0%} of the loaded size); "
        f"Polars {pl.__version__}"
    )
    limit = args.limit_mib * MIB
    with tempfile.TemporaryDirectory() as scratch:
        outputs: dict[str, Path] = {}
        for label, streaming in (("in-memory", False), ("--streaming", True)):
            out = Path(scratch) / f"{label.strip('-')}.parquet"
            command = _command(folder, out, args.mode, streaming)
            attempt = limited(command, _environment(streaming), limit, args.timeout)
            print(
                f"{label:<12} {attempt.state} in {attempt.seconds:.1f}s, cgroup peak "
                f"{attempt.cgroup_peak_mib:,.0f} MiB, process peak RSS {attempt.rss_peak_mib:,.0f} MiB",
                flush=True,
            )
            if attempt.finished:
                outputs[label] = out
        if "--streaming" not in outputs:
            raise SystemExit("the streaming run did not finish under the limit")
        reference = Path(scratch) / "unlimited.parquet"
        command = _command(folder, reference, args.mode, False)
        # The same accounting as the limited runs, with all of the machine's memory allowed.
        everything = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        attempt = limited(command, _environment(False), everything, args.timeout)
        print(
            f"{'in-memory, no limit':<12} {attempt.state} in {attempt.seconds:.1f}s, cgroup peak "
            f"{attempt.cgroup_peak_mib:,.0f} MiB, process peak RSS {attempt.rss_peak_mib:,.0f} MiB"
        )
        if not attempt.finished:
            raise SystemExit("the unlimited in-memory run did not finish")
        grouped, _ = MODES[args.mode]
        expected = pl.read_parquet(reference)
        for label, out in outputs.items():
            actual = pl.read_parquet(out)
            problems = differences(expected, actual, grouped)
            if problems:
                print(f"{label}: " + "; ".join(problems))
                raise SystemExit(1)
            print(
                f"{label}: all {actual.height:,} values agree with the unlimited in-memory run "
                f"(relative 1e-9), {_identical(expected, actual, grouped):,} of them bit for bit"
            )


def _identical(expected: pl.DataFrame, actual: pl.DataFrame, grouped: bool) -> int:
    """How many values of ``actual`` are exactly those of ``expected`` (nulls equal nulls)."""
    keys = ["metric", "period_start", *([BY] if grouped else [])]
    joined = expected.join(actual, on=keys, how="inner", nulls_equal=True, suffix="_actual")
    return joined.filter(pl.col("value").eq_missing(pl.col("value_actual"))).height


if __name__ == "__main__":
    main()
