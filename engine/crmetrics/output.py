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

from crmetrics.output_table import Layout, format_value, render_table


@dataclass(frozen=True)
class MetricDisplay:
    """How a metric is shown to people."""

    label: str
    unit: str = "number"
    category: str = ""


@dataclass(frozen=True)
class RenderInfo:
    """What a writer knows besides the rows.

    Attributes:
        by: the grouping columns.
        metrics: each metric's label, unit and category.
        order: the metrics in the order they were asked for.
        grain: the period length.
        caption: one line saying source, grain, range, grouping and filter.
        width: the width of the terminal (80 when the output is not a terminal).
        currency: the project's reporting currency code, or "".
    """

    by: Sequence[str] = ()
    metrics: Mapping[str, MetricDisplay] = field(default_factory=dict)
    order: Sequence[str] = ()
    grain: str = "month"
    caption: str = ""
    width: int = 80
    currency: str = ""


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


def _through_python(write: Callable[[io.BytesIO], None], stream: BinaryIO) -> None:
    # Polars writes to a stream from Rust, where a reader that went away (`| head -1`)
    # surfaces as an opaque OSError or ComputeError; writing the (small, aggregated) result
    # to memory first lets Python's own write raise BrokenPipeError, which the CLI expects.
    buffer = io.BytesIO()
    write(buffer)
    stream.write(buffer.getvalue())


def _csv(result: pl.DataFrame, stream: BinaryIO, info: RenderInfo) -> None:
    _through_python(result.write_csv, stream)


def _json(result: pl.DataFrame, stream: BinaryIO, info: RenderInfo) -> None:
    rows = []
    for row in result.iter_rows(named=True):
        row = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
        rows.append({k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()})
    stream.write(json.dumps(rows, indent=2).encode() + b"\n")


def _parquet(result: pl.DataFrame, stream: BinaryIO, info: RenderInfo) -> None:
    _through_python(result.write_parquet, stream)


def _table(result: pl.DataFrame, stream: BinaryIO, info: RenderInfo) -> None:
    layout = Layout(
        order=info.order or list(dict.fromkeys(result["metric"].to_list())),
        labels={n: info.metrics[n].label if n in info.metrics else n for n in result["metric"].unique()},
        units={n: d.unit for n, d in info.metrics.items()},
        categories={n: d.category for n, d in info.metrics.items()},
        by=info.by,
        grain=info.grain,
        width=info.width,
        currency=info.currency,
    )
    stream.write(render_table(result, layout, info.caption).encode())


BUILTIN_FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("table", _table, "a table for people, fitted to the terminal's width"),
        OutputFormat("csv", _csv, "long format: one row per (metric, period, group)"),
        OutputFormat("json", _json, "long format, a JSON array of objects"),
        OutputFormat("parquet", _parquet, "long format, Parquet"),
    )
}


__all__ = ["BUILTIN_FORMATS", "MetricDisplay", "OutputFormat", "RenderInfo", "format_value"]
