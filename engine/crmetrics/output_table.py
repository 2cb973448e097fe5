"""The table for people: the long result laid out to fit a terminal.

Every row of the table is a row of the long format, and nothing else: a metric shows only
the groups it has. Metrics keep the order they were asked for, grouped by category in a
stable order. Two layouts:

- few periods (at most :data:`FEW_PERIODS`) or a single metric: a period (and group) per
  row, a metric per column; metrics that do not fit the width go to another table.
- otherwise: a metric (and group) per row and a period per column, as finance reports
  read; periods that do not fit go to the next block, which repeats the row labels, so a
  label is never cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

#: Up to this many periods, periods are rows.
FEW_PERIODS = 3
_GAP = "  "


@dataclass(frozen=True)
class Cell:
    """A formatted value and how to align it."""

    text: str
    right: bool = True


def format_value(value: float | None, unit: str, currency: str = "") -> str:
    """A value as people read it: ``0.05`` with unit ``ratio`` is ``5.0 %``.

    ``currency`` is the reporting currency's code, written after currency values.
    """
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value * 100:,.1f} %"
    if unit == "percent":
        return f"{value:,.1f} %"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    if unit == "currency":
        return f"{value:,.2f}" + (f" {currency}" if currency else "")
    if unit in ("hours", "minutes", "days"):
        return f"{value:,.2f} {unit[0] if unit != 'minutes' else 'min'}"
    return f"{value:,.2f}"


def format_change(relative: float | None) -> str:
    """``↑ 12.5 %``, ``↓ 3.0 %`` or ``→ 0.0 %``: a relative change with its direction."""
    if relative is None:
        return ""
    arrow = "↑" if relative > 0 else "↓" if relative < 0 else "→"
    return f" {arrow} {abs(relative) * 100:,.1f} %"


def period_label(start: date, grain: str) -> str:
    """``2025-01`` for a month, ``2025-Q1`` for a quarter, ``2025`` for a year, else the date."""
    if grain == "month":
        return f"{start:%Y-%m}"
    if grain == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if grain == "year":
        return str(start.year)
    return start.isoformat()


@dataclass(frozen=True)
class Layout:
    """What the table needs besides the rows.

    Attributes:
        order: metric names in the order to show them.
        labels: each metric's label.
        units: each metric's unit.
        categories: each metric's category.
        by: the grouping columns.
        grain: the period length, for period labels.
        width: the width to fit, in characters.
        currency: the reporting currency's code, or "".
    """

    order: Sequence[str]
    labels: Mapping[str, str]
    units: Mapping[str, str]
    categories: Mapping[str, str]
    by: Sequence[str]
    grain: str = "month"
    width: int = 80
    currency: str = ""


def _groups(row: Mapping[str, object], by: Sequence[str]) -> tuple[str, ...]:
    return tuple("(null)" if row[c] is None else str(row[c]) for c in by)


def _cells(result: pl.DataFrame, layout: Layout) -> dict[str, list[tuple[date, tuple[str, ...], str]]]:
    """Per metric, its rows in order: (period, group labels, formatted value)."""
    compare = "relative_change" in result.columns
    rows: dict[str, list[tuple[date, tuple[str, ...], str]]] = {}
    ordered = result.sort(["metric", "period_start", *layout.by], nulls_last=True, maintain_order=True)
    for row in ordered.iter_rows(named=True):
        name = row["metric"]
        text = format_value(row["value"], layout.units.get(name, "number"), layout.currency)
        if compare and row["value"] is not None:
            text += format_change(row["relative_change"])
        rows.setdefault(name, []).append((row["period_start"], _groups(row, layout.by), text))
    return rows


def _sections(names: Sequence[str], layout: Layout) -> list[tuple[str, list[str]]]:
    """Metrics by category, categories in order of their first metric."""
    sections: dict[str, list[str]] = {}
    for name in names:
        sections.setdefault(layout.categories.get(name, ""), []).append(name)
    return list(sections.items())


def _render(header: Sequence[Cell], body: Sequence[Sequence[Cell]]) -> list[str]:
    widths = [max(len(c.text) for c in column) for column in zip(header, *body, strict=True)]

    def line(cells: Sequence[Cell]) -> str:
        parts = [c.text.rjust(w) if c.right else c.text.ljust(w) for c, w in zip(cells, widths, strict=True)]
        return _GAP.join(parts).rstrip()

    return [line(header), _GAP.join("-" * w for w in widths), *(line(r) for r in body)]


def _width(column: Sequence[str]) -> int:
    return max((len(t) for t in column), default=0)


def _periods_as_rows(
    names: Sequence[str], cells: Mapping[str, list[tuple[date, tuple[str, ...], str]]], layout: Layout
) -> list[list[str]]:
    """A period (and group) per row, a metric per column; columns beyond the width wrap."""
    keys = ["period", *layout.by]
    index: dict[tuple[date, tuple[str, ...]], dict[str, str]] = {}
    for name in names:
        for period, groups, text in cells.get(name, []):
            index.setdefault((period, groups), {})[name] = text
    ordered = sorted(index, key=lambda k: (k[0], k[1]))
    key_cells = [[period_label(p, layout.grain), *g] for p, g in ordered]
    key_width = sum(max(len(keys[i]), _width([r[i] for r in key_cells])) for i in range(len(keys)))
    key_width += len(_GAP) * (len(keys) - 1)
    chunks: list[list[str]] = [[]]
    used = key_width
    for name in names:
        column = [layout.labels[name], *(index[k].get(name, "") for k in ordered)]
        need = len(_GAP) + _width(column)
        if chunks[-1] and used + need > layout.width:
            chunks.append([])
            used = key_width
        chunks[-1].append(name)
        used += need
    tables = []
    for chunk in chunks:
        header = [Cell(k, right=False) for k in keys] + [Cell(layout.labels[n]) for n in chunk]
        body = [
            [Cell(t, right=False) for t in key_cells[i]] + [Cell(index[k].get(n, "")) for n in chunk]
            for i, k in enumerate(ordered)
            if any(n in index[k] for n in chunk)
        ]
        tables.append(_render(header, body))
    return tables


def _metrics_as_rows(
    names: Sequence[str], cells: Mapping[str, list[tuple[date, tuple[str, ...], str]]], layout: Layout
) -> list[list[str]]:
    """A metric (and group) per row, a period per column; periods beyond the width wrap."""
    periods = sorted({p for name in names for p, _, _ in cells.get(name, [])})
    rows = [
        (name, groups) for name in names for groups in dict.fromkeys(g for _, g, _ in cells.get(name, []))
    ]
    values = {(name, p, g): text for name in names for p, g, text in cells.get(name, [])}
    labels = [[layout.labels[n], *g] for n, g in rows]
    heads = ["metric", *layout.by]
    label_widths = [max(len(heads[i]), _width([r[i] for r in labels])) for i in range(len(heads))]
    label_width = sum(label_widths) + len(_GAP) * (len(heads) - 1)
    columns = {
        p: max(len(period_label(p, layout.grain)), _width([values.get((n, p, g), "") for n, g in rows]))
        for p in periods
    }
    blocks: list[list[date]] = [[]]
    used = label_width
    for period in periods:
        need = len(_GAP) + columns[period]
        if blocks[-1] and used + need > layout.width:
            blocks.append([])
            used = label_width
        blocks[-1].append(period)
        used += need
    tables = []
    for block in blocks:
        header = [Cell(h, right=False) for h in heads] + [Cell(period_label(p, layout.grain)) for p in block]
        body = [
            [Cell(t, right=False) for t in labels[i]] + [Cell(values.get((n, p, g), "")) for p in block]
            for i, (n, g) in enumerate(rows)
        ]
        tables.append(_render(header, body))
    return tables


def render_table(result: pl.DataFrame, layout: Layout, caption: str = "") -> str:
    """The long ``result`` as text tables fitting ``layout.width``, under ``caption``."""
    present = list(dict.fromkeys(result["metric"].to_list())) if result.height else []
    names = [n for n in layout.order if n in present] + [n for n in present if n not in layout.order]
    cells = _cells(result, layout)
    periods = result["period_start"].n_unique() if result.height else 0
    sections = _sections(names, layout)
    lines = _wrap(caption, layout.width) if caption else []
    if not names:
        return "\n".join([*lines, "(no rows)"]) + "\n"
    for category, members in sections:
        if len(sections) > 1:
            lines += ["", category.upper() if category else "OTHER"]
        if periods <= FEW_PERIODS or len(names) == 1:
            tables = _periods_as_rows(members, cells, layout)
        else:
            tables = _metrics_as_rows(members, cells, layout)
        for table in tables:
            lines += ["", *table]
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int) -> list[str]:
    """A caption of ``a | b | c`` parts, broken between parts to fit ``width``."""
    lines: list[str] = []
    for part in text.split(" | "):
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " | " + part
        else:
            lines.append(part)
    return lines


__all__ = ["FEW_PERIODS", "Layout", "format_change", "format_value", "period_label", "render_table"]
