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
    #: Column -> share of null values; None when the table has no rows.
    null_rates: dict[str, float | None] = field(default_factory=dict)
    #: Where the table came from when a run combines sources: ``name (scheme:location)``.
    provider: str = ""
    #: Of the rows with a customer_id, how many match no customer (sources combined only).
    unmatched: tuple[int, int] | None = None
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
            "source": self.provider or None,
            "rows_rejected": report.rejected_rows if report else None,
            "rejected": dict(report.rejected) if report else {},
            "duplicates_dropped": report.duplicates_dropped if report else None,
            "warnings": [i.message for i in report.issues] if report else [],
            "first": first.isoformat() if first else None,
            "last": last.isoformat() if last else None,
            "null_rates": self.null_rates,
            "unmatched_customer_ids": self.unmatched[0] if self.unmatched else None,
            "errors": [i.render() for i in self.errors],
        }


def _time_column(table: str) -> str:
    return next(c.name for c in TABLES[table].columns if c.kind == "datetime")


def inspect_source(connector: Connector) -> list[TableInspection]:
    """Read every table the source has; a table refused for bad data is reported, not raised.

    The figures of a table whose checks' verdict is cached (an unchanged file that passed
    them) are cached beside it, under the same fingerprint: inspecting it again reads none
    of its rows.
    """
    results = []
    for table in connector.available_tables():
        inspection = TableInspection(table, provider=connector.provider(table))
        try:
            frame = connector.scan(table)
        except DataError as error:
            inspection.errors = error.issues
            results.append(inspection)
            continue
        inspection.report = next((r for r in connector.reports() if r.table == table), None)
        figures = _remembered_figures(connector, table, frame)
        rows = figures.rows
        inspection.null_rates = {c: n / rows if rows else None for c, n in figures.null_counts.items()}
        inspection.span = figures.span
        inspection.unmatched = _unmatched(connector, table, frame)
        results.append(inspection)
    return results


@dataclass(frozen=True)
class _Figures:
    """What ``inspect`` counts over a table's rows."""

    rows: int
    null_counts: dict[str, int]
    span: tuple[datetime | None, datetime | None]

    def to_json(self) -> dict[str, object]:
        first, last = self.span
        return {
            "rows": self.rows,
            "null_counts": self.null_counts,
            "first": first.isoformat() if first else None,
            "last": last.isoformat() if last else None,
        }

    @classmethod
    def from_json(cls, data: object, columns: list[str]) -> _Figures | None:
        """The figures stored by :meth:`to_json`; None for anything else."""
        if not isinstance(data, dict):
            return None
        rows, nulls = data.get("rows"), data.get("null_counts")
        if not isinstance(rows, int) or not isinstance(nulls, dict) or list(nulls) != columns:
            return None
        if not all(isinstance(n, int) for n in nulls.values()):
            return None
        try:
            span = (_instant(data.get("first")), _instant(data.get("last")))
        except (TypeError, ValueError):
            return None
        return cls(rows, nulls, span)


_FIGURES = "inspection"


def _instant(text: object) -> datetime | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError(text)
    return datetime.fromisoformat(text)


def _figures(table: str, frame: pl.LazyFrame) -> _Figures:
    columns = TABLES[table].column_names
    time = _time_column(table)
    row = (
        frame.select(
            *(pl.col(c).null_count().alias(c) for c in columns),
            pl.len().alias("__rows"),
            pl.col(time).min().alias("__first"),
            pl.col(time).max().alias("__last"),
        )
        .collect()
        .row(0, named=True)
    )
    return _Figures(row["__rows"], {c: row[c] for c in columns}, (row["__first"], row["__last"]))


def _remembered_figures(connector: Connector, table: str, frame: pl.LazyFrame) -> _Figures:
    """The table's figures: those cached beside its verdict, or counted now and cached there.

    Never cached without a verdict: a table that broke a rule is counted on every run.
    """
    key = connector.verified_fingerprint(table)
    cache = connector.checks_cache
    entry = cache.get(key) if key is not None and cache is not None else None
    cached = _Figures.from_json(entry.get(_FIGURES), TABLES[table].column_names) if entry else None
    if cached is not None:
        return cached
    figures = _figures(table, frame)
    if key is not None and cache is not None and entry is not None:
        cache.put(key, {**entry, _FIGURES: figures.to_json()})
    return figures


def _unmatched(connector: Connector, table: str, frame: pl.LazyFrame) -> tuple[int, int] | None:
    """(customer_ids matching no customer, customer_ids) when the customers come from another
    source: ids written differently in two systems do not join, and nothing else says so."""
    customers = "customers"
    if (
        table == customers
        or "customer_id" not in TABLES[table].column_names
        or customers not in connector.available_tables()
        or connector.provider(table) == connector.provider(customers)
    ):
        return None
    try:
        known = connector.scan(customers).select("customer_id")
    except DataError:
        return None
    ids = frame.select("customer_id").drop_nulls()
    counts = pl.concat(
        [
            ids.select(pl.len().alias("n")),
            ids.join(known, on="customer_id", how="anti").select(pl.len().alias("n")),
        ]
    ).collect()["n"]
    return int(counts[1]), int(counts[0])


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
        if item.provider:
            lines.append(f"  source:      {item.provider}")
        if report is not None:
            lines.append(f"  origin:      {report.origin}")
            lines.append(f"  rows read:   {report.rows_read}")
            lines.append(f"  rows kept:   {report.rows_kept}")
            lines.append(f"  rejected:    {report.rejected_rows}")
            for reason, count in sorted(report.rejected.items()):
                lines.append(f"    {count:>8}  {reason}")
            lines.append(f"  duplicates:  {report.duplicates_dropped} dropped (kept the most recent copy)")
            for issue in report.issues:
                lines.append(f"  warning:     {issue.message}")
        if item.unmatched and item.unmatched[0]:
            bad, total = item.unmatched
            lines.append(
                f"  warning:     {bad} of {total} customer_id values match no customer of the "
                "customers source; write that source's ids (see docs/connectors/your-own-org.md)"
            )
        first, last = item.span
        if first is not None:
            lines.append(
                f"  time span:   {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC "
                f"({_time_column(item.table)})"
            )
        if any(rate is None for rate in item.null_rates.values()):
            lines.append("  null rate:   n/a (no rows)")
        else:
            nulls = ", ".join(f"{c} {rate:.0%}" for c, rate in item.null_rates.items() if rate)
            lines.append(f"  null rate:   {nulls or 'no nulls'}")
        lines.append("")
    return "\n".join(lines)
