"""The report as one self-contained HTML page: styles inlined, charts as inline SVG, no script.

Nothing on the page is fetched when it is viewed: no script, font, style sheet or image
comes from elsewhere, so it opens from a mail attachment or a file share, offline, with
scripts blocked. Each chart's data is a ``data:`` link that downloads it as CSV.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

import polars as pl

from crmetrics.report.charts import sparkline_spec, to_svg, trend_spec
from crmetrics.report.data import CardRow, Change, MetricCard, ReportData

CATEGORY_TITLES = {"operational": "Operational", "financial": "Financial", "cx": "Customer experience"}

ADJECTIVES = {"day": "daily", "week": "weekly", "month": "monthly", "quarter": "quarterly", "year": "yearly"}

TONE_WORDS = {
    "good": "an improvement",
    "bad": "a deterioration",
    "neutral": "no direction declared",
    "none": "",
}

STYLE = """
:root { --good: #1a7f37; --bad: #c4212f; --neutral: #59636e; --line: #d0d7de; --ink: #1f2328; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #f6f8fa; }
header.page { padding: 20px 24px 8px; }
header.page h1 { margin: 0 0 4px; font-size: 24px; }
.meta { margin: 0; color: var(--neutral); }
main { padding: 0 24px 32px; }
h2 { font-size: 18px; margin: 24px 0 12px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px;
        min-width: 0; }
.card .head { display: flex; justify-content: space-between; gap: 8px; align-items: flex-start; }
.card .head figure.sparkline { margin: 0; flex: none; }
.card h3 { margin: 0; font-size: 16px; }
.card .unit { color: var(--neutral); font-size: 12px; }
.card .description { color: var(--neutral); font-size: 13px; margin: 4px 0 8px; }
table.kpi { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
table.kpi th, table.kpi td { padding: 2px 6px 2px 0; text-align: right; white-space: nowrap; }
table.kpi th:first-child, table.kpi td:first-child { text-align: left; }
table.kpi thead th { color: var(--neutral); font-weight: normal; font-size: 12px; }
.kpi-row.single .period { color: var(--neutral); font-size: 13px; }
.kpi-row.single .value { font-size: 28px; font-weight: 600; overflow-wrap: anywhere; }
.kpi-row.single .changes { display: flex; flex-wrap: wrap; gap: 4px 16px; }
.change small { color: var(--neutral); }
.change { font-size: 13px; }
.good { color: var(--good); }
.bad { color: var(--bad); }
.neutral, .none { color: var(--neutral); }
figure { margin: 8px 0 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 12px; }
details.skipped { margin: 16px 0 0; color: var(--neutral); font-size: 13px; }
figcaption a { color: #0969da; }
@media (max-width: 600px) {
  header.page, main { padding-left: 12px; padding-right: 12px; }
  .cards { grid-template-columns: 1fr; }
}
"""


def _period(report: ReportData, which: str) -> str:
    grain = report.request.grain.name
    day = getattr(report, which)
    if day is None:
        return ""
    if grain == "month":
        return day.strftime("%b %Y")
    if grain == "quarter":
        return f"Q{(day.month - 1) // 3 + 1} {day.year}"
    if grain == "year":
        return str(day.year)
    return day.isoformat()


def _change(change: Change, against: str, tag: str) -> str:
    """A change with its arrow, coloured by its tone; in a single card it names its base."""
    title = f"against {against}" + (f": {TONE_WORDS[change.tone]}" if TONE_WORDS[change.tone] else "")
    arrow = f'<span aria-hidden="true">{change.arrow}</span> ' if change.arrow else ""
    base = f" <small>vs {escape(against)}</small>" if tag == "span" else ""
    text = f"{arrow}{escape(change.text)}{base}"
    return f'<{tag} class="change {change.tone}" title="{escape(title)}">{text}</{tag}>'


def _kpi_row(row: CardRow, previous: str, year_ago: str | None) -> str:
    value = "" if row.value is None else repr(row.value)
    return (
        f'<tr class="kpi-row" data-group="{escape(row.group)}" data-value="{value}">'
        f'<td>{escape(row.group)}</td><td class="value">{escape(row.text)}</td>'
        f"{_change(row.previous, previous, 'td')}"
        f"{_change(row.year_ago, year_ago, 'td') if year_ago else ''}</tr>"
    )


def _kpi_table(card: MetricCard, report: ReportData) -> str:
    by = report.request.by
    previous = _period(report, "previous_period")
    # Day and week periods have no year-ago twin: that column is left out.
    year_ago = _period(report, "year_ago_period") or None
    if not by:
        return _kpi_single(card.rows[0], report, previous, year_ago) if card.rows else ""
    head = (
        f"<thead><tr><th>{escape(' · '.join(by))}</th><th>{escape(_period(report, 'last_period'))}</th>"
        f"<th>vs {escape(previous)}</th>{f'<th>vs {escape(year_ago)}</th>' if year_ago else ''}</tr></thead>"
    )
    body = "".join(_kpi_row(row, previous, year_ago) for row in card.rows)
    return f'<table class="kpi">{head}<tbody>{body}</tbody></table>'


def _kpi_single(row: CardRow, report: ReportData, previous: str, year_ago: str | None) -> str:
    value = "" if row.value is None else repr(row.value)
    return (
        f'<div class="kpi-row single" data-group="" data-value="{value}">'
        f'<div class="period">{escape(_period(report, "last_period"))}</div>'
        f'<div class="value">{escape(row.text)}</div><div class="changes">'
        f"{_change(row.previous, previous, 'span')} "
        f"{_change(row.year_ago, year_ago, 'span') if year_ago else ''}</div></div>"
    )


def csv_link(card: MetricCard) -> str:
    """A link that downloads the chart's data as long-format CSV, with no script."""
    frame = card.series.select(pl.lit(card.metric.name).alias("metric"), pl.all())
    href = "data:text/csv;charset=utf-8," + quote(frame.write_csv())
    name = f"{card.metric.name}.csv"
    return f'<a class="csv" download="{name}" href="{href}">Download the data (CSV)</a>'


def _card(card: MetricCard, report: ReportData) -> str:
    metric = card.metric
    by = report.request.by
    grain = report.request.grain.name
    sparkline = to_svg(sparkline_spec(card.series, by))
    trend = to_svg(trend_spec(metric, card.series, by, grain))
    return (
        f'<article class="card" id="metric-{metric.name}" data-metric="{metric.name}" '
        f'data-good="{metric.good}" data-unit="{metric.unit}">'
        f'<div class="head"><div><h3>{escape(metric.title)} '
        f'<span class="unit">{escape(metric.unit)}</span></h3>'
        f'<p class="description">{escape(metric.description)}</p></div>'
        f'<figure class="sparkline" aria-label="{escape(metric.title)}: trend">{sparkline}</figure></div>'
        f"{_kpi_table(card, report)}"
        f'<figure class="trend" aria-label="{escape(metric.title)} per {grain}">{trend}'
        f"<figcaption>{csv_link(card)}</figcaption></figure></article>"
    )


def _skipped(report: ReportData) -> str:
    items = "".join(f"<li>{escape(issue.message)}</li>" for issue in report.skipped)
    count = len(report.skipped)
    return (
        f'<details class="skipped"><summary>{count} metric{"s" if count > 1 else ""} not shown: '
        f"the source cannot compute them</summary><ul>{items}</ul></details>"
    )


def render_html(report: ReportData, *, title: str = "Metrics report") -> str:
    """The whole page for ``report``."""
    request = report.request
    grouped = f" · grouped by {escape(', '.join(request.by))}" if request.by else ""
    where = f" · where <code>{escape(request.where)}</code>" if request.where else ""
    compared = f"compared with {escape(_period(report, 'previous_period'))}"
    if report.year_ago_period:
        compared += f" and {escape(_period(report, 'year_ago_period'))}"
    meta = (
        f"Source <code>{escape(report.source)}</code> · {ADJECTIVES[request.grain.name]} periods from "
        f"{request.start:%Y-%m-%d} to {request.end:%Y-%m-%d} (exclusive){grouped}{where}. "
        f"Cards show {escape(_period(report, 'last_period'))}, {compared}."
    )
    sections = [_skipped(report)] if report.skipped else []
    for category, cards in report.categories:
        heading = CATEGORY_TITLES.get(category, category.capitalize())
        body = "".join(_card(card, report) for card in cards)
        sections.append(
            f'<section class="category" id="category-{escape(category)}"><h2>{escape(heading)}</h2>'
            f'<div class="cards">{body}</div></section>'
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<header class="page"><h1>{escape(title)}</h1><p class="meta">{meta}</p></header>'
        f"<main>{''.join(sections)}</main></body></html>\n"
    )
