"""``crmetrics run --streaming`` on a dataset larger than the memory it is given.

    sudo python -m benchmarks.streaming_demo --rows 10m --limit-mib 1024

Runs the whole catalog through the CLI inside a memory cgroup (v1 or v2, which needs the
right to create one, e.g. root) with a hard limit and no swap: once with Polars' default
in-memory engine and once with ``--streaming``. Each attempt either finishes, with the
cgroup's peak memory, or is killed by the kernel's out-of-memory killer. The streamed
result is then compared with the same run done without any limit, value by value.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from benchmarks.common import END, START, differences, metrics_for
from benchmarks.generate import ensure, parse_size

V1 = Path("/sys/fs/cgroup/memory")
V2 = Path("/sys/fs/cgroup")


def _cgroup(limit: int) -> tuple[Path, str, str]:
    """A fresh cgroup limited to ``limit`` bytes: (folder, procs file, peak file)."""
    name = f"crmetrics-demo-{os.getpid()}"
    if (V1 / "memory.limit_in_bytes").exists():
        folder = V1 / name
        folder.mkdir()
        (folder / "memory.limit_in_bytes").write_text(str(limit))
        if (folder / "memory.memsw.limit_in_bytes").exists():
            (folder / "memory.memsw.limit_in_bytes").write_text(str(limit))
        return folder, "cgroup.procs", "memory.max_usage_in_bytes"
    folder = V2 / name
    folder.mkdir()
    (folder / "memory.max").write_text(str(limit))
    (folder / "memory.swap.max").write_text("0")
    return folder, "cgroup.procs", "memory.peak"


def _command(folder: Path, out: Path, streaming: bool) -> list[str]:
    return [
        str(Path(sys.executable).with_name("crmetrics")),
        "run",
        "-s",
        f"parquet:{folder}",
        "-m",
        ",".join(metrics_for(False)),
        "--start",
        str(START),
        "--end",
        str(END),
        "-f",
        "parquet",
        "-o",
        str(out),
        *(["--streaming"] if streaming else []),
    ]


def limited(command: list[str], limit: int) -> tuple[bool, float, float]:
    """Run ``command`` in a cgroup of ``limit`` bytes: (finished, seconds, peak MiB)."""
    group, procs, peak = _cgroup(limit)
    try:
        began = time.perf_counter()
        script = f'echo $$ > {group / procs} && exec "$@"'
        done = subprocess.run(["sh", "-c", script, "sh", *command], capture_output=True, check=False)
        seconds = time.perf_counter() - began
        used = int((group / peak).read_text()) / 2**20 if (group / peak).exists() else float("nan")
        if done.returncode:
            print(done.stderr.decode()[-500:], file=sys.stderr)
        return done.returncode == 0, seconds, used
    finally:
        group.rmdir()


def dataset_size(folder: Path) -> tuple[float, float]:
    """(MiB on disk, MiB of the same columns in memory, uncompressed) of the Parquet files."""
    import pyarrow.parquet as pq

    disk = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    memory = 0
    for path in folder.glob("*.parquet"):
        metadata = pq.read_metadata(path)
        memory += sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    return disk / 2**20, memory / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10m")
    parser.add_argument("--limit-mib", type=int, default=1024)
    args = parser.parse_args()
    folder = ensure(parse_size(args.rows), verbose=True)
    disk, memory = dataset_size(folder)
    print(f"dataset: {disk:,.0f} MiB of Parquet, {memory:,.0f} MiB uncompressed; limit {args.limit_mib} MiB")
    limit = args.limit_mib * 2**20
    with tempfile.TemporaryDirectory() as scratch:
        outputs = {}
        for streaming in (False, True):
            out = Path(scratch) / f"{'streaming' if streaming else 'in-memory'}.parquet"
            finished, seconds, peak = limited(_command(folder, out, streaming), limit)
            label = "--streaming" if streaming else "in-memory  "
            state = "finished" if finished else "killed (out of memory)"
            print(f"{label} {state} in {seconds:.1f}s, cgroup peak {peak:,.0f} MiB")
            if finished:
                outputs[streaming] = out
        if True not in outputs:
            raise SystemExit("the streaming run did not finish under the limit")
        reference = Path(scratch) / "unlimited.parquet"
        subprocess.run(_command(folder, reference, False), check=True, capture_output=True)
        problems = differences(pl.read_parquet(reference), pl.read_parquet(outputs[True]), False)
        print(problems or "streamed numbers equal the unlimited in-memory run")


if __name__ == "__main__":
    main()
