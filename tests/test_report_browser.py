"""The sample report, opened in headless Chromium: every card and chart renders, numbers match.

Runs with ``pytest -m browser``; needs Playwright (the ``test`` extra) and the system's
Chromium at ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it).
Playwright never downloads a browser here: it drives that binary. The report, and
screenshots at a desktop and a phone width, are kept in ``test-artifacts/`` (or the folder
named by ``CRMETRICS_TEST_ARTIFACTS``) for people to look at.

Under CI (``CI`` set) a missing browser fails the test instead of skipping it, so that a
report that does not render can never pass unnoticed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from crmetrics.engine import Engine
from crmetrics.output import format_value
from crmetrics.plan import Request

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("CRMETRICS_TEST_ARTIFACTS", ROOT / "test-artifacts"))
# Offline and quiet: no first-run pages, no background fetches, no GPU in containers.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
RANGE = {"start": "2025-01-01", "end": "2025-07-01"}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the browser test cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield context
        context.close()


def _open(browser: Any, page_file: Path, width: int, height: int) -> tuple[Any, list[str]]:
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": height})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    # Anything the page tries to fetch is a failure: the report must be self-contained.
    page.on(
        "request",
        lambda request: problems.append(f"fetch {request.url}") if request.url != page_url else None,
    )
    page_url = page_file.resolve().as_uri()
    page.goto(page_url)
    return page, problems


@pytest.fixture(scope="module")
def sample_report() -> tuple[Path, Request]:
    engine = Engine()
    request = Request.build(["all"], **RANGE)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "sample-report.html"
    path.write_text(engine.report(request, "sample", title="Sample report"), encoding="utf-8")
    return path, request


@pytest.mark.parametrize("width", list(WIDTHS), ids=list(WIDTHS))
def test_the_sample_report_renders(browser: Any, sample_report: tuple[Path, Request], width: str) -> None:
    path, _ = sample_report
    page, problems = _open(browser, path, *WIDTHS[width])
    engine = Engine()
    cards = page.locator("article.card")
    # Every metric but those only defined with a grouping (cohort_retention_rate).
    assert cards.count() == len([m for m in engine.catalog.metrics.values() if not m.requires_by])
    for index in range(cards.count()):
        card = cards.nth(index)
        assert card.is_visible()
        for figure in ("sparkline", "trend"):
            box = card.locator(f"figure.{figure} svg").bounding_box()
            assert box is not None and box["width"] > 50 and box["height"] > 20, (index, figure, box)
    page.screenshot(path=str(ARTIFACTS / f"sample-report-{width}.png"), full_page=False)
    page.close()
    assert problems == []


def test_chart_marks_and_card_values_match_the_long_format(
    browser: Any, sample_report: tuple[Path, Request]
) -> None:
    path, request = sample_report
    page, problems = _open(browser, path, *WIDTHS["desktop"])
    engine = Engine()
    chosen, _ = engine.applicable(request, "sample")  # skips what needs a grouping
    result = engine.evaluate(chosen, "sample")
    last = result["period_start"].max()
    for name in chosen.metrics:
        metric = engine.catalog.metrics[name]
        rows = result.filter(pl.col("metric") == name)
        card = page.locator(f'article.card[data-metric="{name}"]')
        # the card: the last period's value, as stored and as shown
        expected = rows.filter(pl.col("period_start") == last)["value"].item()
        shown = card.locator(".kpi-row")
        stored = shown.get_attribute("data-value")
        # The report reads a wider range (for the year-ago card), so a sum may add the same
        # rows in another order: equal up to the last bits, and equal as shown.
        assert (float(stored) if stored else None) == (
            None if expected is None else pytest.approx(expected)
        ), name
        assert shown.locator(".value").inner_text() == format_value(expected, metric.unit), name
        # the trend chart: one line (none without any value), a point per period with a value
        trend = card.locator("figure.trend svg")
        points = rows["value"].is_not_null().sum()
        lines = 1 if points else 0
        assert trend.locator('[aria-roledescription="line mark"]').count() == lines, name
        assert trend.locator('[aria-roledescription="point"]').count() == points, name
        assert card.locator('figure.sparkline svg [aria-roledescription="line mark"]').count() == lines, name
    page.close()
    assert problems == []


def test_a_grouped_report_draws_a_line_per_group(browser: Any, tmp_path: Path) -> None:
    engine = Engine()
    request = Request.build(["churn_rate", "revenue"], by=["segment"], **RANGE)
    path = ARTIFACTS / "sample-report-by-segment.html"
    path.write_text(engine.report(request, "sample"), encoding="utf-8")
    page, problems = _open(browser, path, *WIDTHS["desktop"])
    result = engine.evaluate(request, "sample")
    segments = result["segment"].n_unique()
    last = result.filter(pl.col("period_start") == result["period_start"].max())
    for name in ("churn_rate", "revenue"):
        card = page.locator(f'article.card[data-metric="{name}"]')
        assert card.locator("tr.kpi-row").count() == segments
        assert card.locator('figure.trend svg [aria-roledescription="line mark"]').count() == segments
        for row in last.filter(pl.col("metric") == name).iter_rows(named=True):
            shown = card.locator(f'tr.kpi-row[data-group="{row["segment"]}"]')
            expected = format_value(row["value"], engine.catalog.metrics[name].unit)
            assert shown.locator(".value").inner_text() == expected, (name, row["segment"])
    page.screenshot(path=str(ARTIFACTS / "sample-report-by-segment-desktop.png"))
    page.close()
    assert problems == []
