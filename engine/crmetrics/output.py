"""Writing results: long-format CSV, JSON and Parquet for programs, a table for people."""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

import polars as pl

from crmetrics.errors import Issue, UsageError


@dataclass(frozen=True)
class MetricDisplay:
    """How a metric is shown to people."""

    label: str
    unit: str = "number"
    category: str = ""


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


#: Metrics per table: beyond this a terminal row no longer fits one screen width.
_COLUMNS_PER_TABLE = 8


def _sections(names: list[str], info: RenderInfo) -> list[tuple[str, list[str]]]:
    """Metrics split by category, then into chunks narrow enough to read."""
    by_category: dict[str, list[str]] = {}
    for name in names:
        category = info.metrics.get(name, MetricDisplay(name)).category
        by_category.setdefault(category, []).append(name)
    sections = []
    for category, members in by_category.items():
        chunks = [members[i : i + _COLUMNS_PER_TABLE] for i in range(0, len(members), _COLUMNS_PER_TABLE)]
        for number, chunk in enumerate(chunks, 1):
            title = category + (f" ({number}/{len(chunks)})" if len(chunks) > 1 else "")
            sections.append((title, chunk))
    return sections


#: Lines of the table format past which it is refused; the variable raises it.
TABLE_ROWS_ENV = "CRMETRICS_MAX_TABLE_ROWS"
DEFAULT_TABLE_ROWS = 10_000


def check_table_size(rows: int) -> None:
    """Refuse a table for people longer than anyone reads; the long formats have no bound.

    Laying out a table measures every cell: 2.4 million lines took past 300 s and 3.9 GB,
    where CSV took 3.7 s.
    """
    limit = _positive_int(os.environ.get(TABLE_ROWS_ENV), DEFAULT_TABLE_ROWS)
    if rows > limit:
        raise UsageError(
            Issue(
                "table-too-long",
                f"the result has {rows:,} lines (periods x groups), "
                f"more than the table format shows ({limit:,})",
                hint=f"use --format csv or parquet, narrow the request (--where, --by, a coarser --grain), "
                f"or raise the limit with {TABLE_ROWS_ENV}=N",
            )
        )


def _positive_int(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() and int(text) > 0 else default


def _table(result: pl.DataFrame, stream: BinaryIO, info: RenderInfo) -> None:
    from rich.console import Console
    from rich.table import Table

    keys = ["period_start", *info.by]
    names = list(dict.fromkeys(result["metric"].to_list()))
    wide = result.pivot(on="metric", index=keys, values="value", maintain_order=True) if names else result
    check_table_size(wide.height)
    text = io.StringIO()
    sections = _sections(names, info)
    for title, members in sections or [("", [])]:
        table = Table(
            show_edge=False,
            header_style="bold",
            title=title if len(sections) > 1 else None,
            title_justify="left",
            title_style="bold",
        )
        for key in keys:
            table.add_column(key)
        for name in members:
            table.add_column(info.metrics.get(name, MetricDisplay(name)).label, justify="right")
        for row in wide.iter_rows(named=True):
            cells = ["(null)" if row[k] is None else str(row[k]) for k in keys]
            units = [info.metrics.get(n, MetricDisplay(n)).unit for n in members]
            cells += [format_value(row.get(n), unit) for n, unit in zip(members, units, strict=True)]
            table.add_row(*cells)
        width = max(100, 16 * (len(keys) + len(members)))
        Console(file=text, width=width, no_color=True).print(table)
        text.write("\n")
    stream.write(text.getvalue().rstrip("\n").encode() + b"\n")


BUILTIN_FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("table", _table, "a table for people: a period per row, a metric per column"),
        OutputFormat("csv", _csv, "long format: one row per (metric, period, group)"),
        OutputFormat("json", _json, "long format, a JSON array of objects"),
        OutputFormat("parquet", _parquet, "long format, Parquet"),
    )
}
