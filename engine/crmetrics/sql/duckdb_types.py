"""DuckDB column types as the Polars types DuckDB hands them over as.

Asking a relation for its column types only binds it: nothing is read, and no Arrow
library is loaded (``pyarrow`` alone costs about 0.15 s of CPU to import). Each type maps
to the Polars type the same column has once DuckDB exports it through the Arrow stream
interface: ``HUGEINT`` is a 38-digit decimal, ``UUID`` text, ``ENUM`` categorical,
``TIMESTAMP_S`` milliseconds, and a zoned timestamp carries the session's time zone.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from polars.datatypes import DataTypeClass

# By the type's id, for the types without parameters.
_PLAIN: dict[str, pl.DataType] = {
    "boolean": pl.Boolean(),
    "tinyint": pl.Int8(),
    "smallint": pl.Int16(),
    "integer": pl.Int32(),
    "bigint": pl.Int64(),
    "utinyint": pl.UInt8(),
    "usmallint": pl.UInt16(),
    "uinteger": pl.UInt32(),
    "ubigint": pl.UInt64(),
    "hugeint": pl.Decimal(38, 0),
    "uhugeint": pl.Decimal(38, 0),
    "float": pl.Float32(),
    "double": pl.Float64(),
    "varchar": pl.String(),
    "uuid": pl.String(),
    "blob": pl.Binary(),
    "bit": pl.Binary(),
    "date": pl.Date(),
    "time": pl.Time(),
    "time with time zone": pl.Time(),
    "timestamp": pl.Datetime("us"),
    "timestamp_s": pl.Datetime("ms"),
    "timestamp_ms": pl.Datetime("ms"),
    "timestamp_ns": pl.Datetime("ns"),
    "enum": pl.Categorical(),
    "null": pl.Null(),
}


def polars_dtype(duckdb_type: Any, time_zone: str) -> pl.DataType:
    """The Polars type of a column of ``duckdb_type`` (a ``DuckDBPyType``).

    ``time_zone`` is the session's, which zoned timestamps are exported in. A type Polars
    cannot receive (``INTERVAL``, ``UNION``, ``BIGNUM``) is ``pl.Unknown``.
    """
    kind = duckdb_type.id
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind == "timestamp with time zone":
        return pl.Datetime("us", time_zone)
    if kind == "decimal":
        parts = dict(duckdb_type.children)
        return pl.Decimal(parts["precision"], parts["scale"])
    if kind == "list":
        return pl.List(polars_dtype(dict(duckdb_type.children)["child"], time_zone))
    if kind == "array":
        parts = dict(duckdb_type.children)
        return pl.Array(polars_dtype(parts["child"], time_zone), parts["size"])
    if kind == "struct":
        return pl.Struct({name: polars_dtype(member, time_zone) for name, member in duckdb_type.children})
    if kind == "map":
        parts = dict(duckdb_type.children)
        return _map(polars_dtype(parts["key"], time_zone), polars_dtype(parts["value"], time_zone))
    return pl.Unknown()


def _map(key: pl.DataType, value: pl.DataType) -> pl.DataType:
    # Polars 2 has a map type; Polars 1 reads an Arrow map as a list of key-value structs.
    if hasattr(pl, "Map"):
        return pl.Map(key, value)
    return pl.List(pl.Struct({"key": key, "value": value}))


def received(dtype: pl.DataType | DataTypeClass) -> bool:
    """Whether Polars can receive a column of ``dtype`` (nested members included)."""
    # Polars keeps a member without parameters as the class, not an instance: compare.
    if dtype == pl.Unknown:
        return False
    if isinstance(dtype, pl.List | pl.Array):
        return received(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return all(received(field.dtype) for field in dtype.fields)
    if hasattr(pl, "Map") and isinstance(dtype, pl.Map):
        return received(dtype.key) and received(dtype.value)
    return True


__all__ = ["polars_dtype", "received"]
