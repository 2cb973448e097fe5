"""Writing results: long-format CSV, JSON and Parquet for programs, a table for people."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

import polars as pl


@dataclass(frozen=True)
class MetricDisplay:
    """How a metric is shown to people."""

    label: str
    unit: str = "number"


@dataclass(frozen=True)
class RenderInfo:
    """What a writer knows besides the rows."""

    by: Sequence[str] = ()
    metrics: Mapping[str, MetricDisplay] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputFormat:
    """An output format for ``crmetrics run --format NAME``.

    Attributes:
        name: the name given to ``--format``.
        write: writes the long-format result (columns ``metric``, ``period_start``, the
            grouping columns, ``value``) to a binary stream.
        description: one line for ``crmetrics plugins``.
    """

    name: str
    write: Callable[[pl.DataFrame, BinaryIO, RenderInfo], None]
    description: str = ""


def _csv(result: pl.DataFrame, stream: BinaryIO, info: RenderInfo) -> None:
    result.write_csv(stream)


def _json(result: pl.DataFrame, stream: BinaryIO, info: RenderInfo) -> None:
    rows = []
    for row in result.iter_rows(named=True):
        value = row["value"]
        row["value"] = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
        rows.append({k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()})
    stream.write(json.dumps(rows, indent=2).encode() + b"\n")


def _parquet(result: pl.DataFrame, stream: BinaryIO, info: RenderInfo) -> None:
    result.write_parquet(stream)


def format_value(value: float | None, unit: str) -> str:
    """A value as people read it: ``0.05`` with unit ``ratio`` is ``5.0 %``."""
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value * 100:,.1f} %"
    if unit == "percent":
        return f"{value:,.1f} %"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    if unit == "currency":
        return f"{value:,.2f}"
    if unit in ("hours", "minutes", "days"):
        return f"{value:,.2f} {unit[0] if unit != 'minutes' else 'min'}"
    return f"{value:,.2f}"


def _table(result: pl.DataFrame, stream: BinaryIO, info: RenderInfo) -> None:
    from rich.console import Console
    from rich.table import Table

    keys = ["period_start", *info.by]
    names = list(dict.fromkeys(result["metric"].to_list()))
    wide = result.pivot(on="metric", index=keys, values="value", maintain_order=True) if names else result
    table = Table(show_edge=False, header_style="bold")
    for key in keys:
        table.add_column(key)
    for name in names:
        display = info.metrics.get(name, MetricDisplay(name))
        table.add_column(display.label, justify="right")
    for row in wide.iter_rows(named=True):
        cells = ["(null)" if row[k] is None else str(row[k]) for k in keys]
        cells += [format_value(row.get(n), info.metrics.get(n, MetricDisplay(n)).unit) for n in names]
        table.add_row(*cells)
    text = io.StringIO()
    Console(file=text, width=max(100, 16 * (len(keys) + len(names))), no_color=True).print(table)
    stream.write(text.getvalue().encode())


BUILTIN_FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("table", _table, "a table for people: a period per row, a metric per column"),
        OutputFormat("csv", _csv, "long format: one row per (metric, period, group)"),
        OutputFormat("json", _json, "long format, a JSON array of objects"),
        OutputFormat("parquet", _parquet, "long format, Parquet"),
    )
}
