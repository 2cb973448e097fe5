"""``crmetrics report`` and ``crmetrics plot``: card numbers, changes, gaps, a page with no fetch.

The small source below gives every expected number (monthly, range January to April 2025,
so the cards show April 2025 against March 2025 and April 2024):

    customers   C1 SMB        acquired 2024-04-10
                C2 SMB        acquired 2025-03-05
                C3 Enterprise acquired 2025-03-06
                C4 SMB        acquired 2025-04-02
                C5 Enterprise acquired 2025-04-03
                C6 Enterprise acquired 2025-04-04
                C7 SMB        acquired 2024-01-01, churned 2025-04-15

    new_customers    Jan 0, Feb 0, Mar 2 (C2, C3), Apr 3 (C4, C5, C6); Apr 2024: 1 (C1)
                     Apr by segment: SMB 1 (C4), Enterprise 2 (C5, C6)
    churn_rate       Apr: lost C7 = 1, active at Apr 1: C1, C2, C3, C7 = 4 -> 0.25
                     Mar: lost 0 of C1, C7 -> 0; Apr 2024: lost 0 of C7 -> 0
    NPS answers      Jan: 10 -> 100; Feb: 10 and 0 -> 100 * (1 - 1) / 2 = 0;
                     Mar: none -> null (a gap); Apr: 9 -> 100
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

import polars as pl
import pytest
from click.testing import CliRunner

from crmetrics.cli import main
from crmetrics.engine import Engine
from crmetrics.plan import Request
from crmetrics.report import change, render_html
from crmetrics.report.charts import to_svg, trend_spec

pytest.importorskip("altair")
pytest.importorskip("vl_convert")

SOURCE = {
    "customers": pl.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
            "segment": ["SMB", "SMB", "Enterprise", "SMB", "Enterprise", "Enterprise", "SMB"],
            "acquired_at": [
                "2024-04-10",
                "2025-03-05",
                "2025-03-06",
                "2025-04-02",
                "2025-04-03",
                "2025-04-04",
                "2024-01-01",
            ],
            "churned_at": [None, None, None, None, None, None, "2025-04-15"],
        }
    ),
    "survey_responses": pl.DataFrame(
        {
            "response_id": ["S1", "S2", "S3", "S4"],
            "survey_type": ["nps"] * 4,
            "score": [10.0, 10.0, 0.0, 9.0],
            "submitted_at": ["2025-01-10", "2025-02-10", "2025-02-11", "2025-04-10"],
        }
    ),
}
METRICS = ["new_customers", "churn_rate", "net_promoter_score"]
ENGINE = Engine()


def request(metrics: list[str] = METRICS, by: tuple[str, ...] = ()) -> Request:
    return Request.build(metrics, start="2025-01-01", end="2025-05-01", by=by)


def test_cards_show_the_last_period_against_the_previous_one_and_a_year_ago() -> None:
    data = ENGINE.report_data(request(), SOURCE)
    assert (str(data.last_period), str(data.previous_period), str(data.year_ago_period)) == (
        "2025-04-01",
        "2025-03-01",
        "2024-04-01",
    )
    cards = {card.metric.name: card.rows[0] for card in data.cards}
    new = cards["new_customers"]
    # 3 against 2: +50 %; against 1: +200 %; more customers is good
    assert (new.value, new.text) == (3.0, "3")
    assert (new.previous.text, new.previous.arrow, new.previous.tone) == ("+50.0 %", "▲", "good")
    assert (new.year_ago.text, new.year_ago.tone) == ("+200.0 %", "good")
    churn = cards["churn_rate"]
    # 0.25 against 0: +25 points, and churn going up is bad (good: down)
    assert (churn.value, churn.text) == (0.25, "25.0 %")
    assert (churn.previous.text, churn.previous.arrow, churn.previous.tone) == ("+25.0 pp", "▲", "bad")
    assert (churn.year_ago.text, churn.year_ago.tone) == ("+25.0 pp", "bad")
    nps = cards["net_promoter_score"]
    # March has no answer: no change to show against it; nor against April 2024
    assert (nps.value, nps.previous.text, nps.previous.tone, nps.year_ago.text) == (
        100.0,
        "n/a",
        "none",
        "n/a",
    )


def test_the_series_covers_the_requested_range_only() -> None:
    data = ENGINE.report_data(request(), SOURCE)
    series = next(card.series for card in data.cards if card.metric.name == "new_customers")
    assert [str(d) for d in series["period_start"]] == [
        "2025-01-01",
        "2025-02-01",
        "2025-03-01",
        "2025-04-01",
    ]
    assert series["value"].to_list() == [0.0, 0.0, 2.0, 3.0]


def test_grouped_cards_have_a_row_per_group() -> None:
    data = ENGINE.report_data(request(["new_customers"], by=("segment",)), SOURCE)
    rows = [(row.group, row.value) for row in data.cards[0].rows]
    assert rows == [("Enterprise", 2.0), ("SMB", 1.0)]


@pytest.mark.parametrize(
    ("current", "base", "unit", "good", "expected"),
    [
        # (150 - 100) / 100 = +50 %
        (150.0, 100.0, "currency", "up", ("+50.0 %", "▲", "good")),
        (50.0, 100.0, "currency", "up", ("-50.0 %", "▼", "bad")),
        # 0.03 - 0.05 = -0.02 = -2 points: churn down is good
        (0.03, 0.05, "ratio", "down", ("-2.0 pp", "▼", "good")),
        # percent units are points already: 40 - 42.5 = -2.5
        (40.0, 42.5, "percent", "up", ("-2.5 pp", "▼", "bad")),
        # against zero a relative change is undefined: the difference
        (3.0, 0.0, "count", "up", ("+3", "▲", "good")),
        (7.0, 7.0, "count", "up", ("+0.0 %", "=", "neutral")),
        (120.0, 100.0, "currency", "neutral", ("+20.0 %", "▲", "neutral")),
        (120.0, 100.0, "currency", "", ("+20.0 %", "▲", "neutral")),
        (None, 100.0, "currency", "up", ("n/a", "", "none")),
        (1.0, None, "currency", "up", ("n/a", "", "none")),
    ],
    ids=[
        "up-good",
        "down-bad",
        "ratio-points",
        "percent-points",
        "from-zero",
        "flat",
        "neutral",
        "undeclared",
        "no-current",
        "no-base",
    ],
)
def test_change(
    current: float | None, base: float | None, unit: str, good: str, expected: tuple[str, str, str]
) -> None:
    result = change(current, base, unit, good)
    assert (result.text, result.arrow, result.tone) == expected


def test_the_page_fetches_nothing_and_has_a_card_and_charts_per_metric() -> None:
    page = ENGINE.report(request(), SOURCE)
    assert "<script" not in page
    assert not re.search(r"""(src=|@import|url\(\s*['"]?http|href="http|<link)""", page)
    assert page.count('<article class="card"') == 3
    # a sparkline and a trend chart per card, each an inline SVG
    assert page.count("<svg") == 6
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "element ids repeat across the inlined charts"


def test_an_empty_period_is_a_gap_not_a_zero() -> None:
    page = ENGINE.report(request(["net_promoter_score"]), SOURCE)
    trend = page.split('<figure class="trend"')[1]
    paths = re.findall(r'aria-roledescription="line mark"[^>]*\sd="([^"]+)"', trend)
    # Jan-Feb is one stroke, April another: March (null) breaks the line
    assert len(paths) == 1 and paths[0].count("M") == 2
    # one point per period with a value: Jan, Feb, Apr
    assert trend.count('aria-roledescription="point"') == 3


def _value_labels(metric: str, values: list[float]) -> list[str]:
    """The labels of a monthly trend chart's value axis (drawn right-aligned left of it)."""
    series = pl.DataFrame(
        {"period_start": [datetime(2025, m, 1) for m in range(1, len(values) + 1)], "value": values}
    )
    svg = to_svg(trend_spec(ENGINE.catalog.metrics[metric], series, [], "month"))
    return re.findall(r'text-anchor="end" transform="translate\(-[^"]*"[^>]*>([^<]*)<', svg)


def test_close_ratios_keep_distinct_axis_labels() -> None:
    # a churn rate between 0.3 % and 0.6 %: whole-percent labels would read 0%, 0%, 1%, 1%
    labels = _value_labels("churn_rate", [0.003, 0.004, 0.006, 0.005])
    assert labels == ["0.3%", "0.4%", "0.5%", "0.6%"]


def test_a_count_axis_labels_whole_numbers_once() -> None:
    # lost customers 1, 0, 0, 0: the axis spans [0, 1]; its half-way tick would read "1" again
    labels = [label for label in _value_labels("lost_customers", [1.0, 0.0, 0.0, 0.0]) if label]
    assert labels == ["0", "1"]


def test_grouped_trend_has_a_line_per_group() -> None:
    page = ENGINE.report(request(["new_customers"], by=("segment",)), SOURCE)
    trend = page.split('<figure class="trend"')[1]
    assert trend.count('aria-roledescription="line mark"') == 2


def test_each_chart_links_its_data_as_csv() -> None:
    page = ENGINE.report(request(["new_customers"]), SOURCE)
    href = re.search(r'download="new_customers.csv" href="data:text/csv;charset=utf-8,([^"]+)"', page)
    assert href is not None
    assert unquote(href.group(1)).splitlines() == [
        "metric,period_start,value",
        "new_customers,2025-01-01,0.0",
        "new_customers,2025-02-01,0.0",
        "new_customers,2025-03-01,2.0",
        "new_customers,2025-04-01,3.0",
    ]


def test_the_default_report_is_the_catalog_by_category() -> None:
    data = ENGINE.report_data(Request.build(["all"], start="2025-01-01", end="2025-03-01"), "sample")
    # Every metric but those only defined with a grouping (cohort_retention_rate).
    ungrouped = {name for name, metric in ENGINE.catalog.metrics.items() if not metric.requires_by}
    assert {card.metric.name for card in data.cards} == ungrouped
    categories = [category for category, _ in data.categories]
    assert len(categories) == len(set(categories))
    html = render_html(data)
    assert html.count('<article class="card"') == len(ungrouped)


def test_report_command_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    args = [
        "report",
        "-s",
        "sample",
        "-m",
        "churn_rate,revenue",
        "--start",
        "2025-01-01",
        "--end",
        "2025-04-01",
    ]
    result = CliRunner().invoke(main, [*args, "-o", str(out), "--title", "Board pack"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "<title>Board pack</title>" in page and page.count('<article class="card"') == 2


def test_a_missing_report_extra_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "altair", None)
    args = [
        "report",
        "-s",
        "sample",
        "--start",
        "2025-01-01",
        "--end",
        "2025-04-01",
        "-o",
        str(tmp_path / "r.html"),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "pip install 'crmetrics[report]'" in result.output


def test_report_prints_the_warnings_run_prints(tmp_path: Path) -> None:
    # No customer of the sample has the segment 'smb' (it is 'SMB'): every card would show
    # zeros, so the report says so as run does.
    where = ["--where", "segment = 'smb'", "--start", "2025-01-01", "--end", "2025-03-01"]
    result = CliRunner().invoke(
        main, ["report", "-s", "sample", "-m", "new_customers", *where, "-o", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 0, result.output
    assert "warning: --where segment = 'smb' matches no row of customers" in result.stderr


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".svg", b"<svg")])
def test_plot_writes_an_image(tmp_path: Path, suffix: str, magic: bytes) -> None:
    out = tmp_path / f"chart{suffix}"
    args = ["plot", "churn_rate", "revenue", "-s", "sample", "--start", "2025-01-01", "--end", "2025-04-01"]
    result = CliRunner().invoke(main, [*args, "--by", "segment", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(magic)


def test_plot_svg_has_a_line_per_group_and_metric() -> None:
    svg = ENGINE.plot(request(["new_customers"], by=("segment",)), SOURCE, image_format="svg").decode()
    assert svg.count('aria-roledescription="line mark"') == 2


def test_plot_prints_the_warnings_run_prints(tmp_path: Path) -> None:
    # No customer of the sample has the segment 'smb' (it is 'SMB'): every line would be
    # flat at zero, so plot says so as run does.
    where = ["--where", "segment = 'smb'", "--start", "2025-01-01", "--end", "2025-03-01"]
    result = CliRunner().invoke(
        main, ["plot", "new_customers", "-s", "sample", *where, "-o", str(tmp_path / "c.svg")]
    )
    assert result.exit_code == 0, result.output
    assert "warning: --where segment = 'smb' matches no row of customers" in result.stderr


def test_chart_keeps_the_warnings_beside_the_image() -> None:
    # C1 twice: the last copy is kept and the chart's numbers come with the same warning
    # a run gives.
    customers = SOURCE["customers"]
    doubled = {**SOURCE, "customers": pl.concat([customers, customers.head(1)])}
    drawn = ENGINE.chart(request(["new_customers"]), doubled, image_format="svg")
    assert drawn.image.startswith(b"<svg")
    assert [note.code for note in drawn.notes] == ["duplicate-key"]


def test_plot_refuses_an_unknown_image_format(tmp_path: Path) -> None:
    args = ["plot", "churn_rate", "-s", "sample", "--start", "2025-01-01", "--end", "2025-04-01"]
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "chart.gif")])
    assert result.exit_code == 2
    assert "png and svg" in result.output and "Traceback" not in result.output


def test_week_cards_have_no_year_ago_change() -> None:
    weekly = Request.build(["new_customers"], grain="week", start="2025-03-31", end="2025-04-14")
    data = ENGINE.report_data(weekly, SOURCE)
    assert data.year_ago_period is None
    # weeks start on Monday: Mar 31 - Apr 6 holds C4, C5, C6 (Apr 2, 3, 4) = 3; the week of
    # Apr 7 holds nobody = 0; (0 - 3) / 3 = -100 %, fewer new customers is bad
    row = data.cards[0].rows[0]
    assert (row.value, row.previous.text, row.previous.tone) == (0.0, "-100.0 %", "bad")
    page = render_html(data)
    assert "a year ago" not in page and "vs 2025-03-31" in page


def test_all_leaves_out_what_the_source_cannot_compute() -> None:
    # SOURCE has customers and survey_responses only: revenue, spend, deals, leads,
    # tickets and activity metrics cannot be computed and are listed as skipped
    data = ENGINE.report_data(Request.build(["all"], start="2025-01-01", end="2025-05-01"), SOURCE)
    shown = {card.metric.name for card in data.cards}
    assert {"new_customers", "churn_rate", "net_promoter_score"} <= shown
    assert "revenue" not in shown
    assert any("revenue" in issue.message for issue in data.skipped)
    assert [category for category, _ in data.categories] == ["operational", "cx"]
    page = render_html(data)
    assert f"{len(data.skipped)} metrics not shown" in page
