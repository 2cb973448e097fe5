"""A cheap proof that a Parquet table's key holds no duplicate: it rises from row to row.

Exports and event logs are usually written in the order their ids were given out, so their
key column is strictly increasing in file order. Checking that takes one comparison per
row with its predecessor, a fraction of what counting the distinct keys costs (a hash of
every key); a key that does not rise everywhere proves nothing, and the caller counts
distinct keys as usual. Keys that rise strictly are all different, in whatever order the
files are put one after the other, so a folder of files is proven the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from crmetrics.canonical import keys_out_of_order
from crmetrics.parquet_footer import Key, KeyRange, key_ranges


def _row_groups_rise(path: Path, key: str) -> bool:
    """False when the footer's statistics already show the key falling between row groups."""
    ranges = key_ranges(path, key)
    if ranges is None:
        return False
    previous: KeyRange | None = None
    for current in ranges:
        if current is None:
            return True  # nothing known: the rows will tell
        if previous is not None and not _below(previous.maximum, current.minimum):
            return False
        previous = current
    return True


def _below(low: Key, high: Key) -> bool:
    """Whether ``low < high``; both come from one column, so both are ints or both bytes."""
    if isinstance(low, int) and isinstance(high, int):
        return low < high
    if isinstance(low, bytes) and isinstance(high, bytes):
        return low < high
    return False


def keys_rise(files: Sequence[Path], key: str) -> bool:
    """Whether ``key`` has no null and rises strictly from each row to the next in ``files``.

    True proves the key unique. Files whose footers show the key falling between row groups
    are not read; the others are read for the key column alone.
    """
    if not files or not all(_row_groups_rise(path, key) for path in files):
        return False
    # The same count the Polars path checks a key with, so both engines prove a key alike.
    falls = keys_out_of_order(key).alias("falls")
    try:
        counts = pl.scan_parquet(list(files)).select(falls, pl.col(key).null_count().alias("nulls")).collect()
    except (pl.exceptions.PolarsError, OSError):
        return False
    fallen, nulls = counts.row(0)
    return fallen == 0 and nulls == 0


__all__ = ["keys_rise"]
