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


def _row_groups_rise(path: Path, key: str) -> bool:
    """False when the footer's statistics already show the key falling between row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_metadata(path)
    except (OSError, pa.ArrowException):
        return False
    if metadata.num_row_groups == 0:
        return True
    first = metadata.row_group(0)
    paths = [first.column(index).path_in_schema for index in range(first.num_columns)]
    if key not in paths:
        return True  # a partition column, or none: the scan will tell
    index = paths.index(key)
    previous = None
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max:
            return True  # nothing known: the rows will tell
        if previous is not None and not previous < stats.min:
            return False
        previous = stats.max
    return True


def keys_rise(files: Sequence[Path], key: str) -> bool:
    """Whether ``key`` has no null and rises strictly from each row to the next in ``files``.

    True proves the key unique. Files whose footers show the key falling between row groups
    are not read; the others are read for the key column alone.
    """
    if not files or not all(_row_groups_rise(path, key) for path in files):
        return False
    column = pl.col(key)
    falls = (column.shift(1) >= column).sum().alias("falls")
    try:
        counts = pl.scan_parquet(list(files)).select(falls, column.null_count().alias("nulls")).collect()
    except (pl.exceptions.PolarsError, OSError):
        return False
    fallen, nulls = counts.row(0)
    return fallen == 0 and nulls == 0


__all__ = ["keys_rise"]
