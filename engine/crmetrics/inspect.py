"""``crmetrics inspect``: what a source holds and what happened to its rows on the way in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from crmetrics.canonical import TableReport
from crmetrics.connector import Connector
from crmetrics.errors import DataError, Issue
from crmetrics.model import TABLES


@dataclass
class TableInspection:
    """Data-quality figures of one canonical table of a source."""

    table: str
    report: TableReport | None = None
    null_rates: dict[str, float] = field(default_factory=dict)
    span: tuple[datetime | None, datetime | None] = (None, None)
    errors: list[Issue] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """The figures as plain data (for ``inspect --format json``)."""
        report = self.report
        first, last = self.span
        return {
            "table": self.table,
            "origin": report.origin if report else None,
            "rows_read": report.rows_read if report else None,
            "rows_kept": report.rows_kept if report else None,
            "rejected": dict(report.rejected) if report else {},
            "duplicates_dropped": report.duplicates_dropped if report else None,
            "warnings": [i.message for i in report.issues] if report else [],
            "first": first.isoformat() if first else None,
            "last": last.isoformat() if last else None,
            "null_rates": self.null_rates,
            "errors": [i.render() for i in self.errors],
        }


def _time_column(table: str) -> str:
    return next(c.name for c in TABLES[table].columns if c.kind == "datetime")


def inspect_source(connector: Connector) -> list[TableInspection]:
    """Read every table the source has; a table refused for bad data is reported, not raised."""
    results = []
    for table in connector.available_tables():
        inspection = TableInspection(table)
        try:
            frame = connector.scan(table)
        except DataError as error:
            inspection.errors = error.issues
            results.append(inspection)
            continue
        inspection.report = next((r for r in connector.reports() if r.table == table), None)
        inspection.null_rates, inspection.span = _figures(connector, table, frame)
        results.append(inspection)
    return results


def _figures(
    connector: Connector, table: str, frame: pl.LazyFrame
) -> tuple[dict[str, float], tuple[datetime | None, datetime | None]]:
    """Null rates and time span of a table, remembered with its checks for an unchanged file."""
    cache, key = connector.checks_cache, connector.fingerprint(table)
    entry = cache.get(f"{key}-inspect") if cache is not None and key is not None else None
    if entry is None:
        columns = TABLES[table].column_names
        time = _time_column(table)
        row = (
            frame.select(
                *(pl.col(c).null_count().truediv(pl.len()).alias(c) for c in columns),
                pl.col(time).min().alias("__first"),
                pl.col(time).max().alias("__last"),
            )
            .collect()
            .row(0, named=True)
        )
        entry = {
            "null_rates": {c: row[c] or 0.0 for c in columns},
            "span": [None if row[k] is None else row[k].isoformat() for k in ("__first", "__last")],
        }
        if cache is not None and key is not None:
            cache.put(f"{key}-inspect", entry)
    first, last = (None if v is None else datetime.fromisoformat(v) for v in entry["span"])
    return dict(entry["null_rates"]), (first, last)


def render_inspection(results: list[TableInspection]) -> str:
    """The inspection of a source's tables as text for the terminal."""
    lines = []
    for item in results:
        lines.append(f"{item.table}")
        if item.errors:
            lines.append("  refused: the table has data errors")
            lines.extend("  " + issue.render().replace("\n", "\n  ") for issue in item.errors)
            lines.append("")
            continue
        report = item.report
        if report is not None:
            lines.append(f"  origin:      {report.origin}")
            lines.append(f"  rows read:   {report.rows_read}")
            lines.append(f"  rows kept:   {report.rows_kept}")
            rejected = sum(report.rejected.values())
            lines.append(f"  rejected:    {rejected}")
            for reason, count in sorted(report.rejected.items()):
                lines.append(f"    {count:>8}  {reason}")
            lines.append(f"  duplicates:  {report.duplicates_dropped} dropped (kept the most recent copy)")
            for issue in report.issues:
                lines.append(f"  warning:     {issue.message}")
        first, last = item.span
        if first is not None:
            lines.append(
                f"  time span:   {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC "
                f"({_time_column(item.table)})"
            )
        nulls = ", ".join(f"{c} {rate:.0%}" for c, rate in item.null_rates.items() if rate > 0)
        lines.append(f"  null rate:   {nulls or 'no nulls'}")
        lines.append("")
    return "\n".join(lines)
