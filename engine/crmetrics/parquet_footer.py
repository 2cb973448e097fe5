"""Column statistics from a Parquet footer, read without a Parquet library.

The footer is a Thrift structure in the compact protocol; the few fields the checks use
(each column's path, physical type, null count and minimum) are picked out of it here, in
a few microseconds and without importing pyarrow, which costs a tenth of a second of CPU
per process. A footer this module cannot read yields no statistics, and the columns are
then counted by reading them, as for a writer that records none.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


def _metadata(path: Path) -> Struct | None:
    """The decoded footer of the Parquet file at ``path``, or None if it has no readable one."""
    footer = parquet_footer(path)
    return None if footer is None else _decoded(footer)


@functools.lru_cache(maxsize=64)
def _decoded(footer: bytes) -> Struct | None:
    # Keyed by the footer's bytes themselves, so a changed file is decoded afresh; a run
    # asks each file's footer for its null counts, its minima and each time column's
    # ranges, and decoding is the costly part (the file's last bytes are read each time).
    # The decoded structure is shared: callers only read it.
    try:
        return _Reader(footer).struct()
    except (ValueError, IndexError, struct.error):
        return None


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
    metadata = _metadata(path)
    if metadata is None:
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


#: Microseconds per unit of a UTC timestamp column: MILLIS and MICROS of the logical
#: type (union fields 1 and 2), or the legacy converted types TIMESTAMP_MILLIS (9) and
#: TIMESTAMP_MICROS (10).
_LOGICAL_UNITS = {1: 1000, 2: 1}
_CONVERTED_UNITS = {9: 1000, 10: 1}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TimeRange:
    """The values of a timestamp column in one row group: how many, the least, the greatest."""

    values: int
    minimum: datetime | None
    maximum: datetime | None


def timestamp_ranges(path: Path, column: str) -> list[TimeRange] | None:
    """Each row group's range of the UTC timestamp ``column`` (milli- or microseconds).

    None when the file has no readable footer, the column is not such a timestamp, or a
    row group with values records no null count, minimum or maximum.
    """
    metadata = _metadata(path)
    if metadata is None:
        return None
    unit = _timestamp_unit(metadata.get(2), column)
    row_groups = metadata.get(4)
    if unit is None or not isinstance(row_groups, list):
        return None
    ranges = []
    for group in row_groups:
        rows = group.get(3) if isinstance(group, dict) else None
        index = _chunk_index(group, column)
        meta = _chunks(group)[index] if index is not None else None
        stats = meta.get(12) if isinstance(meta, dict) else None
        if not isinstance(rows, int) or not isinstance(stats, dict) or not isinstance(stats.get(3), int):
            return None
        values = rows - stats[3]
        if values == 0:
            ranges.append(TimeRange(0, None, None))
            continue
        low, high = _instant(stats.get(6), unit), _instant(stats.get(5), unit)
        if low is None or high is None:
            return None
        ranges.append(TimeRange(values, low, high))
    return ranges


def _schema_element(schema: object, column: str) -> Struct | None:
    """The schema element of the top-level leaf ``column`` (no children), or None."""
    elements = [e for e in schema if isinstance(e, dict)] if isinstance(schema, list) else []
    return next((e for e in elements[1:] if e.get(4) == column.encode() and not e.get(5)), None)


def _chunks(group: object) -> list[object]:
    """The metadata of each column chunk of a row group, in the file's column order."""
    columns = group.get(1) if isinstance(group, dict) else None
    return [c.get(3) if isinstance(c, dict) else None for c in columns] if isinstance(columns, list) else []


def _chunk_index(group: object, column: str) -> int | None:
    """The position of top-level ``column``'s chunk in a row group, or None if it has none."""
    path = [column.encode()]
    return next((i for i, m in enumerate(_chunks(group)) if isinstance(m, dict) and m.get(3) == path), None)


def _timestamp_unit(schema: object, column: str) -> int | None:
    """Microseconds per unit of the top-level INT64 UTC timestamp ``column``, or None."""
    element = _schema_element(schema, column)
    if element is None or element.get(1) != 2:  # INT64
        return None
    logical = element.get(10)
    if isinstance(logical, dict):
        timestamp = logical.get(8)
        if not isinstance(timestamp, dict) or timestamp.get(1) is not True:
            return None
        kinds = timestamp.get(2)
        return (
            next((_LOGICAL_UNITS[k] for k in kinds if k in _LOGICAL_UNITS), None)
            if isinstance(kinds, dict)
            else None
        )
    converted = element.get(6)
    return _CONVERTED_UNITS.get(converted) if isinstance(converted, int) else None


def _instant(raw: object, unit: int) -> datetime | None:
    if not isinstance(raw, bytes) or len(raw) != 8:
        return None
    return _EPOCH + timedelta(microseconds=struct.unpack("<q", raw)[0] * unit)


#: Parquet physical types a key can have: INT32 and INT64 (little-endian, signed unless
#: the schema says otherwise) and BYTE_ARRAY (text, ordered byte by byte as unsigned).
_KEY_INTEGERS = {1: "<i", 2: "<q"}
_BYTE_ARRAY = 6
#: Converted types of an unsigned integer (UINT_8 to UINT_64), which signed decoding misorders.
_UNSIGNED = frozenset({11, 12, 13, 14})
_UTF8 = 0

Key = int | bytes


@dataclass(frozen=True)
class KeyRange:
    """The least and the greatest value of a key column in one row group."""

    minimum: Key
    maximum: Key


def key_ranges(path: Path, column: str) -> list[KeyRange | None] | None:
    """Each row group's range of the top-level key ``column``, in the file's order.

    Integers compare by value and text byte by byte, as the rows themselves do. An entry
    is None when that row group's range is not known for certain: no statistics, a column
    missing or of another type, or an order other than Parquet's own for the type.

    Returns:
        None when the file has no readable footer.
    """
    metadata = _metadata(path)
    if metadata is None:
        return None
    row_groups = metadata.get(4)
    if not isinstance(row_groups, list):
        return None
    decode = _key_decoder(metadata.get(2), column)
    orders = metadata.get(7)
    ranges: list[KeyRange | None] = []
    for group in row_groups:
        index = _chunk_index(group, column)
        if decode is None or index is None:
            ranges.append(None)
            continue
        meta = _chunks(group)[index]
        stats = meta.get(12) if isinstance(meta, dict) else None
        ranges.append(_key_range(decode, stats, _type_defined_order(orders, index)))
    return ranges


def _key_decoder(schema: object, column: str) -> tuple[int, str | None] | None:
    """The physical type of the key ``column`` and its integer format, or None if not a key type."""
    element = _schema_element(schema, column)
    if element is None:
        return None
    physical, converted, logical = element.get(1), element.get(6), element.get(10)
    if physical in _KEY_INTEGERS:
        integer = logical.get(10) if isinstance(logical, dict) else None
        if converted in _UNSIGNED or (isinstance(integer, dict) and integer.get(2) is False):
            return None
        return physical, _KEY_INTEGERS[physical]
    if physical == _BYTE_ARRAY:
        string = logical is None or (isinstance(logical, dict) and 1 in logical)  # STRING
        text = converted in (None, _UTF8) and string
        return (physical, None) if text else None
    return None


def _type_defined_order(orders: object, index: int) -> bool:
    """Whether the file says column ``index`` is ordered as its type defines (unsigned bytes for text)."""
    if not isinstance(orders, list) or index >= len(orders):
        return False
    order = orders[index]
    return isinstance(order, dict) and 1 in order


def _key_range(decode: tuple[int, str | None], stats: object, type_order: bool) -> KeyRange | None:
    if not isinstance(stats, dict):
        return None
    physical, fmt = decode
    low, high = stats.get(6), stats.get(5)  # min_value, max_value: in the type's own order
    if fmt is not None and (low is None or high is None):
        low, high = stats.get(2), stats.get(1)  # the older min, max: signed, right for integers
    if not isinstance(low, bytes) or not isinstance(high, bytes):
        return None
    if fmt is None:
        # Text bounds may be truncated: a lower minimum or a higher maximum only ever makes
        # row groups look overlapping, which proves nothing rather than something false.
        return KeyRange(low, high) if physical == _BYTE_ARRAY and type_order else None
    if len(low) != struct.calcsize(fmt) or len(high) != struct.calcsize(fmt):
        return None
    return KeyRange(struct.unpack(fmt, low)[0], struct.unpack(fmt, high)[0])


def _number(physical: object, raw: object) -> float | None:
    fmt = _NUMBERS.get(physical) if isinstance(physical, int) else None
    if fmt is None or not isinstance(raw, bytes) or len(raw) != struct.calcsize(fmt):
        return None
    value = float(struct.unpack(fmt, raw)[0])
    return None if value != value else value  # NaN proves nothing


__all__ = ["ColumnStatistics", "KeyRange", "TimeRange", "column_statistics", "key_ranges", "timestamp_ranges"]
