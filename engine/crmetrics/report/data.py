"""What a report shows, computed once: per metric, the last period's value, its changes, its series.

One evaluation covers the requested range and, before it, the periods the cards compare
with (the previous period, and the same period a year earlier), so the numbers on the cards
are the numbers of the long-format result, not a second computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from crmetrics.errors import Issue
from crmetrics.metric import MetricDefinition
from crmetrics.output import format_value
from crmetrics.plan import Request

if TYPE_CHECKING:
    from crmetrics.report.engine_view import ReportEngine

Tone = Literal["good", "bad", "neutral", "none"]

#: Periods of each grain in one year: the year-ago comparison exists at these grains only.
PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}

#: The order of the catalog's categories on a report.
CATEGORY_ORDER = ("operational", "financial", "cx")

#: Units whose changes are read in percentage points rather than as a relative change.
POINT_UNITS = {"ratio": 100.0, "percent": 1.0}


@dataclass(frozen=True)
class Change:
    """A value's change against an earlier one, as a card shows it.

    Attributes:
        text: ``+12.5 %`` (relative change), ``+1.2 pp`` (ratios and percents: points),
            ``+3`` (against zero: the difference), or ``n/a`` when either value is missing.
        arrow: ``▲``, ``▼``, ``=`` or ``""`` when there is no change to show.
        tone: ``good`` or ``bad`` from the metric's declared ``good`` direction,
            ``neutral`` when it declares none (or no change), ``none`` when n/a.
    """

    text: str
    arrow: str
    tone: Tone
    base: float | None = None


@dataclass(frozen=True)
class CardRow:
    """One line of a card: a group (``""`` when ungrouped) and its last value with changes."""

    group: str
    value: float | None
    text: str
    previous: Change
    year_ago: Change


@dataclass(frozen=True)
class MetricCard:
    """Everything the report shows for one metric."""

    metric: MetricDefinition
    rows: tuple[CardRow, ...]
    #: ``period_start``, the grouping columns and ``value`` over the requested range.
    series: pl.DataFrame


@dataclass(frozen=True)
class ReportData:
    """A report's content: the request, the last period, and a card per metric."""

    request: Request
    source: str
    last_period: date
    previous_period: date
    year_ago_period: date | None
    cards: tuple[MetricCard, ...]
    #: Why metrics of ``all`` are not shown (a table the source lacks, a column out of reach).
    skipped: tuple[Issue, ...] = ()
    #: The warnings ``crmetrics run`` would print for the same numbers: the source's
    #: data-quality findings, a ``--where`` or a range that leaves no data, an empty table.
    notes: tuple[Issue, ...] = ()

    @property
    def categories(self) -> list[tuple[str, list[MetricCard]]]:
        """The cards by category: operational, financial, cx, then any other, in card order."""
        sections: dict[str, list[MetricCard]] = {}
        for card in self.cards:
            sections.setdefault(card.metric.category or "other", []).append(card)
        order = {name: index for index, name in enumerate(CATEGORY_ORDER)}
        return sorted(sections.items(), key=lambda item: order.get(item[0], len(order)))


def change(current: float | None, base: float | None, unit: str, good: str) -> Change:
    """How ``current`` moved from ``base``, in the metric's terms (see :class:`Change`)."""
    if current is None or base is None:
        return Change("n/a", "", "none", base)
    difference = current - base
    if unit in POINT_UNITS:
        text = f"{difference * POINT_UNITS[unit]:+,.1f} pp"
    elif base == 0:
        sign = "+" if difference >= 0 else "-"
        text = sign + format_value(abs(difference), unit)
    else:
        text = f"{difference / abs(base) * 100:+,.1f} %"
    if difference == 0:
        return Change(text, "=", "neutral", base)
    went_up = difference > 0
    arrow = "▲" if went_up else "▼"
    if good not in ("up", "down"):
        return Change(text, arrow, "neutral", base)
    return Change(text, arrow, "good" if went_up == (good == "up") else "bad", base)


def group_label(row: dict[str, object], by: Sequence[str]) -> str:
    """``SMB`` or ``SMB · EMEA`` for a row's groups; ``(none)`` stands for a null group."""
    return " · ".join("(none)" if row[c] is None else str(row[c]) for c in by)


def _day(moment: datetime) -> date:
    return moment.date()


def report_data(engine: ReportEngine, request: Request, source: Any, *, source_name: str = "") -> ReportData:
    """Evaluate ``request`` (and the periods its cards compare with) and build every card."""
    skipped: list[Issue] = []
    if request.metrics == ("all",):
        # "all" means the metrics this source can compute, as for `crmetrics run`.
        request, skipped = engine.applicable(request, source)
    grain = request.grain
    last = grain.shift(request.end, -1)
    previous = grain.shift(last, -1)
    per_year = PERIODS_PER_YEAR.get(grain.name)
    year_ago = grain.shift(last, -per_year) if per_year else None
    first = min(d for d in (request.start, previous, year_ago) if d is not None)
    outcome = engine.run(replace(request, start=first), source)
    result = outcome.frame
    names = list(engine.plan(request).request.metrics)
    by = list(request.by)
    start = _day(request.start)
    cards = []
    for name in names:
        metric = engine.catalog.metrics[name]
        rows = result.filter(pl.col("metric") == name).drop("metric")
        cards.append(
            MetricCard(
                metric,
                tuple(_card_rows(rows, metric, by, _day(last), _day(previous), year_ago and _day(year_ago))),
                rows.filter(pl.col("period_start") >= start),
            )
        )
    return ReportData(
        request=request,
        source=source_name,
        last_period=_day(last),
        previous_period=_day(previous),
        year_ago_period=year_ago and _day(year_ago),
        cards=tuple(cards),
        skipped=tuple(skipped),
        notes=tuple(outcome.notes),
    )


def _card_rows(
    rows: pl.DataFrame,
    metric: MetricDefinition,
    by: list[str],
    last: date,
    previous: date,
    year_ago: date | None,
) -> list[CardRow]:
    # One row per group: the values at the three periods side by side.
    wanted = [last, previous, *([year_ago] if year_ago else [])]
    picked = rows.filter(pl.col("period_start").is_in(wanted))
    values: dict[tuple[object, ...], dict[date, float | None]] = {}
    for record in picked.iter_rows(named=True):
        key = tuple(record[c] for c in by)
        values.setdefault(key, {})[record["period_start"]] = record["value"]
    cards = []
    for key in sorted(values, key=lambda k: tuple((v is None, str(v)) for v in k)):
        at = values[key]
        current = at.get(last)
        cards.append(
            CardRow(
                group=group_label(dict(zip(by, key, strict=True)), by),
                value=current,
                text=format_value(current, metric.unit),
                previous=change(current, at.get(previous), metric.unit, metric.good),
                year_ago=change(current, at.get(year_ago), metric.unit, metric.good)
                if year_ago
                else Change("n/a", "", "none"),
            )
        )
    return cards
