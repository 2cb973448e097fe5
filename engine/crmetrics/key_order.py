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
from dataclasses import dataclass
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


def footers_allow_rise(files: Sequence[Path], key: str) -> bool:
    """False when the footers alone show that ``key`` cannot rise through ``files``.

    Reads no row: a file without statistics, or whose row groups' key ranges follow each
    other, leaves the question to :func:`rows_rise`.
    """
    return bool(files) and all(_row_groups_rise(path, key) for path in files)


def rows_rise(files: Sequence[Path], key: str) -> bool:
    """Whether ``key`` has no null and rises strictly from each row to the next in ``files``.

    Reads the key column alone; true proves the key unique.
    """
    # The same count the Polars path checks a key with, so both engines prove a key alike.
    falls = keys_out_of_order(key).alias("falls")
    try:
        counts = pl.scan_parquet(list(files)).select(falls, pl.col(key).null_count().alias("nulls")).collect()
    except (pl.exceptions.PolarsError, OSError):
        return False
    fallen, nulls = counts.row(0)
    return bool(fallen == 0 and nulls == 0)


@dataclass(frozen=True)
class KeyOrderProof:
    """A proof to attempt that a table's key is unique: it rises through the table's files.

    A SQL engine asks :meth:`possible` (footers only) before writing its checks, and
    :meth:`holds` (the key column read) while it runs them.
    """

    files: tuple[Path, ...]
    key: str

    def possible(self) -> bool:
        """Whether the footers leave the proof open."""
        return footers_allow_rise(self.files, self.key)

    def holds(self) -> bool:
        """Whether the rows prove the key unique; ask only when :meth:`possible`."""
        return rows_rise(self.files, self.key)


__all__ = ["KeyOrderProof", "footers_allow_rise", "rows_rise"]
