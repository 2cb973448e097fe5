"""Warnings against silent emptiness: a filter or a range that leaves no data to measure.

A run whose ``--where`` matches no row, whose range holds no row of a table it reads, whose
``--compare`` reaches back before the data, or whose table the source gives without a row,
prints zeros and nulls that look like real numbers.
These checks say so on stderr, with what the data holds instead. A ``--where`` comparing
a column with a bare word (``segment = SMB``) reads the word as a column; that is refused
before anything runs, with the column's values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import sqlglot
from sqlglot import exp

from crmetrics.applicable import tables_read
from crmetrics.catalog import Catalog
from crmetrics.comparison import distance
from crmetrics.connector import Connector
from crmetrics.discovery import source_schemas, value_summary, values
from crmetrics.errors import Issue, UsageError
from crmetrics.formula.typed import Kind
from crmetrics.ir.build import Builder
from crmetrics.ir.nodes import CUSTOMERS
from crmetrics.ir.reach import where_columns
from crmetrics.model import kind_of_dtype
from crmetrics.plan import LogicalPlan, Request


def _reachable_columns(connector: Connector) -> set[str]:
    schema_of = source_schemas(connector)
    return {c for table in connector.available_tables() for c in schema_of(table)}


def check_bare_words(where: str | None, connector: Connector) -> None:
    """Refuse ``column = word`` where ``word`` is no column: it was meant as text."""
    if not where:
        return
    known = _reachable_columns(connector)
    if all(c in known for c in where_columns(where)):
        return
    tree = sqlglot.parse_one(where)
    for node in tree.find_all(exp.EQ, exp.NEQ, exp.In, exp.GT, exp.GTE, exp.LT, exp.LTE):
        sides = [node.this, *(node.expressions if isinstance(node, exp.In) else [node.expression])]
        columns = [s for s in sides if isinstance(s, exp.Column)]
        named = [c for c in columns if c.name in known]
        words = [c for c in columns if c.name not in known]
        if not named or not words:
            continue
        column, word = named[0].name, words[0].name
        words[0].replace(exp.Literal.string(word))  # a fresh tree of this call: safe to edit
        fixed = tree.sql()
        counts = values(column, connector)
        raise UsageError(
            Issue(
                "bare-word",
                f"--where compares column {column!r} with {word!r}, which is not a column; "
                f"to compare with the text {word}, quote it: {fixed}",
                hint=f"{column} holds: {value_summary(counts)}",
            )
        )


def _where_matches(plan: LogicalPlan, catalog: Catalog, connector: Connector) -> dict[str, int]:
    """Rows of each table the requested metrics read that pass ``--where``."""
    from crmetrics.polars_backend.generator import PolarsGenerator

    def kinds(table: str) -> dict[str, Kind]:
        return {n: kind_of_dtype(d) for n, d in connector.scan(table).collect_schema().items()}

    builder = Builder(plan, catalog, kinds)
    generator = PolarsGenerator(connector.scan, catalog.functions)
    counts: dict[str, pl.LazyFrame] = {}
    for name in plan.order:
        for table in tables_read(catalog.metrics[name]):
            if table not in counts:
                counts[table] = generator.frame(builder.filtered(name, table)).select(pl.len())
    collected = pl.collect_all(list(counts.values()))
    return {t: int(f.item()) for t, f in zip(counts, collected, strict=True)}


def _time_columns(catalog: Catalog, names: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for name in names:
        metric = catalog.metrics[name]
        if metric.type == "aggregate":
            pairs.append((metric.table, metric.time))
        pairs.extend((m.table, m.time) for m in metric.measures.values())
    return list(dict.fromkeys(pairs))


def _present_time_columns(
    catalog: Catalog, names: Sequence[str], connector: Connector
) -> list[tuple[str, str]]:
    present = connector.available_tables()
    return [(t, c) for t, c in _time_columns(catalog, names) if t in present]


@dataclass(frozen=True)
class _Span:
    """The time span of one time column the metrics read, and its rows in the range."""

    table: str
    column: str
    first: datetime
    last: datetime
    #: Rows in the range; 1 when the source's metadata proves there are some, uncounted.
    in_range: int

    def __str__(self) -> str:
        return f"{self.table}.{self.column} spans {self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}"


def _spans(request: Request, catalog: Catalog, names: Sequence[str], connector: Connector) -> list[_Span]:
    """The span of each time column the metrics read, in one query (empty ones left out)."""
    pairs = _present_time_columns(catalog, names, connector)
    # Parquet statistics answer for most time columns of typed files, without a read.
    known = {(t, c): connector.column_span(t, c, request.start, request.end) for t, c in pairs}
    found = [
        _Span(t, c, span.first, span.last, int(span.in_range))
        for (t, c), span in known.items()
        if span is not None and span.first is not None and span.last is not None
    ]
    unknown = [pair for pair, span in known.items() if span is None]
    frames = pl.collect_all(
        [
            connector.scan(t).select(
                pl.col(c).min().alias("first"),
                pl.col(c).max().alias("last"),
                pl.col(c).is_between(request.start, request.end, closed="left").sum().alias("in_range"),
            )
            for t, c in unknown
        ]
    )
    found += [_Span(t, c, *f.row(0)) for (t, c), f in zip(unknown, frames, strict=True)]
    order = {pair: index for index, pair in enumerate(pairs)}
    found.sort(key=lambda span: order[(span.table, span.column)])
    return [span for span in found if span.first is not None]


def _by_table(spans: Sequence[_Span]) -> dict[str, list[_Span]]:
    tables: dict[str, list[_Span]] = {}
    for span in spans:
        tables.setdefault(span.table, []).append(span)
    return tables


def _its(tables: Sequence[str]) -> str:
    return f"{tables[0]}: its" if len(tables) == 1 else f"{', '.join(tables)}: their"


def _outside_range(request: Request, spans: Sequence[_Span]) -> Issue | None:
    """A warning naming each table with no row in the range by any time column read.

    Each table on its own, not the run as a whole: a ticket metric over a range before
    the first ticket shows zeros even when the customers beside it have rows in the range.
    """
    outside = {t: held for t, held in _by_table(spans).items() if not any(s.in_range for s in held)}
    if not outside:
        return None
    held = "; ".join(str(span) for spans_of in outside.values() for span in spans_of)
    return Issue(
        "range-outside-data",
        f"the range {request.start:%Y-%m-%d} to {request.end:%Y-%m-%d} holds no row of "
        f"{_its(sorted(outside))} metrics are computed over no data",
        severity="warning",
        hint=f"{held}; choose --start and --end inside the data",
    )


def _compared_before_data(request: Request, compare: str, spans: Sequence[_Span]) -> Issue | None:
    """A warning naming each table whose first record comes after a comparison period.

    The values of those periods are sums of nothing (0) or nulls, so a change against
    them is the value itself, not a change; the numbers stay as the spec defines them.
    A table the range itself holds no row of is left to the range's warning.
    """
    grain, back = request.grain, distance(compare, request.grain.name)
    first_compared, end_compared = grain.shift(request.start, -back), grain.shift(request.end, -back)
    late: dict[str, _Span] = {}
    for table, held in _by_table(spans).items():
        first = min(held, key=lambda span: span.first)
        # The first period holding any of its data is a fair comparison, even if partial.
        if any(span.in_range for span in held) and first_compared < grain.truncate(first.first):
            late[table] = first
    if not late:
        return None
    covered = max(grain.truncate(span.first) for span in late.values())
    firsts = "; ".join(f"{s.table}.{s.column} starts {s.first:%Y-%m-%d}" for s in late.values())
    return Issue(
        "compare-before-data",
        f"--compare {compare}: the comparison periods from {first_compared:%Y-%m-%d} to "
        f"{min(covered, end_compared):%Y-%m-%d} lie before the data's first record of "
        f"{', '.join(late)}: the values of those periods are computed over no data, and the "
        "changes against them are not changes",
        severity="warning",
        hint=f"{firsts}; a --start from {grain.shift(covered, back):%Y-%m-%d} on compares with "
        "periods the data covers" + (", or use --compare previous" if compare == "year_ago" else ""),
    )


def _empty_tables(catalog: Catalog, names: Sequence[str], connector: Connector) -> list[str]:
    """The tables the metrics read that the source gives without a single row."""
    present = set(connector.available_tables())
    tables = [
        t for t in dict.fromkeys(t for n in names for t in tables_read(catalog.metrics[n])) if t in present
    ]
    counts = pl.collect_all([connector.scan(t).select(pl.len()) for t in tables]) if tables else []
    return [t for t, count in zip(tables, counts, strict=True) if count.item() == 0]


def emptiness(
    plan: LogicalPlan, catalog: Catalog, connector: Connector, *, compare: str | None = None
) -> list[Issue]:
    """Warnings for an empty table, a ``--where`` matching no row, a table without a row in
    the range and, with ``compare``, comparison periods before the data's first record."""
    request = plan.request
    issues = []
    empty = _empty_tables(catalog, plan.order, connector)
    if empty:
        tables = f"table {empty[0]} has" if len(empty) == 1 else f"tables {', '.join(empty)} have"
        issues.append(
            Issue(
                "empty-table",
                f"{tables} no rows: their metrics are computed over no data",
                severity="warning",
                hint="check what the source holds with crmetrics inspect",
            )
        )
    if request.where:
        matches = _where_matches(plan, catalog, connector)
        empty = [t for t, n in matches.items() if n == 0]
        if empty:
            columns = where_columns(request.where)
            held = []
            for column in columns:
                table = CUSTOMERS if column in source_schemas(connector)(CUSTOMERS) else None
                counts = values(column, connector, table)
                held.append(f"{column} holds {value_summary(counts)}")
            issues.append(
                Issue(
                    "where-matches-nothing",
                    f"--where {request.where} matches no row of {', '.join(empty)}: "
                    "their metrics are computed over no data",
                    severity="warning",
                    hint="; ".join(held),
                )
            )
    spans = _spans(request, catalog, plan.order, connector)
    outside = _outside_range(request, spans)
    before = _compared_before_data(request, compare, spans) if compare else None
    issues.extend(issue for issue in (outside, before) if issue is not None)
    return issues


__all__ = ["check_bare_words", "emptiness"]
