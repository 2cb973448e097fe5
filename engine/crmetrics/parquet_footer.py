"""Column statistics from a Parquet footer, read without a Parquet library.

The footer is a Thrift structure in the compact protocol; the few fields the checks use
(each column's path, physical type, null count and minimum) are picked out of it here, in
a few microseconds and without importing pyarrow, which costs a tenth of a second of CPU
per process. A footer this module cannot read yields no statistics, and the columns are
then counted by reading them, as for a writer that records none.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from crmetrics.checks_cache import parquet_footer

# Thrift compact protocol type codes.
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)
# Parquet physical types whose minimum this module decodes, with their struct format.
_NUMBERS = {1: "<i", 2: "<q", 4: "<f", 5: "<d"}  # INT32, INT64, FLOAT, DOUBLE

Struct = dict[int, object]


class _Reader:
    """A cursor over compact-protocol bytes that decodes any value into plain data."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        value = self.data[self.at]
        self.at += 1
        return value

    def varint(self) -> int:
        shift = result = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)

    def binary(self) -> bytes:
        length = self.varint()
        value = self.data[self.at : self.at + length]
        if len(value) != length:
            raise ValueError("footer ends inside a value")
        self.at += length
        return value

    def value(self, kind: int) -> object:
        if kind in (_TRUE, _FALSE):
            return kind == _TRUE
        if kind == _BYTE:
            return self.byte()
        if kind in (_I16, _I32, _I64):
            return self.zigzag()
        if kind == _DOUBLE:
            self.at += 8
            return struct.unpack("<d", self.data[self.at - 8 : self.at])[0]
        if kind == _BINARY:
            return self.binary()
        if kind in (_LIST, _SET):
            header = self.byte()
            size, element = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            # A boolean inside a list is a whole byte: 1 for true.
            if element in (_TRUE, _FALSE):
                return [self.byte() == 1 for _ in range(size)]
            return [self.value(element) for _ in range(size)]
        if kind == _MAP:
            size = self.varint()
            if not size:
                return {}
            types = self.byte()
            return dict((self.value(types >> 4), self.value(types & 0x0F)) for _ in range(size))
        if kind == _STRUCT:
            return self.struct()
        raise ValueError(f"unknown Thrift type {kind}")

    def struct(self) -> Struct:
        fields: Struct = {}
        field = 0
        while True:
            header = self.byte()
            kind = header & 0x0F
            if kind == 0:
                return fields
            delta = header >> 4
            field = field + delta if delta else self.zigzag()
            fields[field] = self.value(kind)


@dataclass(frozen=True)
class ColumnStatistics:
    """What every row group of a file records about one top-level column.

    Attributes:
        null_count: the nulls in the whole file; None unless every row group records it.
        minimum: the smallest value of a numeric column; None unless every row group
            records one (NaN never counts: writers leave it out of their statistics).
    """

    null_count: int | None
    minimum: float | None


def column_statistics(path: Path) -> dict[str, ColumnStatistics]:
    """The statistics of the top-level columns of the Parquet file at ``path``.

    Returns an empty mapping when the file has no readable footer.
    """
    footer = parquet_footer(path)
    if footer is None:
        return {}
    try:
        metadata = _Reader(footer).struct()
    except (ValueError, IndexError, struct.error):
        return {}
    nulls: dict[str, int | None] = {}
    minima: dict[str, float | None] = {}
    row_groups = metadata.get(4)
    for group in row_groups if isinstance(row_groups, list) else []:
        columns = group.get(1) if isinstance(group, dict) else None
        for chunk in columns if isinstance(columns, list) else []:
            meta = chunk.get(3) if isinstance(chunk, dict) else None
            if not isinstance(meta, dict):
                return {}
            path_in_schema = meta.get(3)
            if not isinstance(path_in_schema, list) or len(path_in_schema) != 1:
                continue  # a nested column: its nulls are not the column's nulls
            name = bytes(path_in_schema[0]).decode()
            stats = meta.get(12)
            stats = stats if isinstance(stats, dict) else {}
            count, total = stats.get(3), nulls.get(name, 0)
            nulls[name] = total + count if isinstance(count, int) and total is not None else None
            low = _number(meta.get(1), stats.get(6))
            seen = minima.get(name, low)
            minima[name] = None if low is None or seen is None else min(low, seen)
    return {name: ColumnStatistics(nulls[name], minima.get(name)) for name in nulls}


def _number(physical: object, raw: object) -> float | None:
    fmt = _NUMBERS.get(physical) if isinstance(physical, int) else None
    if fmt is None or not isinstance(raw, bytes) or len(raw) != struct.calcsize(fmt):
        return None
    value = float(struct.unpack(fmt, raw)[0])
    return None if value != value else value  # NaN proves nothing


__all__ = ["ColumnStatistics", "column_statistics"]
