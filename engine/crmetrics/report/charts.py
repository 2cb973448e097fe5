"""Charts as Vega-Lite specifications (built with altair), rendered offline by vl-convert.

Rendering to SVG here means the page needs no script to show a chart: it works with
scripts blocked and without a network. A null value breaks its line, so an empty period
shows as a gap, never as a zero.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import polars as pl

from crmetrics.errors import Issue, UsageError
from crmetrics.metric import MetricDefinition

#: The d3 number format of each unit on a chart's value axis. ``~`` drops trailing zeros,
#: so that close ticks (a churn rate between 0.3 % and 0.6 %) keep distinct labels.
AXIS_FORMATS = {
    "ratio": ".2~%",
    "percent": ",.2~f",
    "count": ",.0f",
    "currency": ",.2~f",
}

#: Units counted in whole numbers: their axes never tick between two integers.
WHOLE_UNITS = frozenset({"count"})

#: The d3 time format of a period on the time axis.
PERIOD_FORMATS = {"day": "%d %b", "week": "%d %b", "month": "%b %y", "quarter": "%b %y", "year": "%Y"}

#: One tick per period: the Vega time interval and step of each grain.
PERIOD_TICKS = {
    "day": {"interval": "day", "step": 1},
    "week": {"interval": "week", "step": 1},
    "month": {"interval": "month", "step": 1},
    "quarter": {"interval": "month", "step": 3},
    "year": {"interval": "year", "step": 1},
}

#: The name of the dataset a chart template plots.
SERIES = "series"

#: Each report chart's SVG ids get a distinct prefix, so that charts inlined in one page
#: never point at each other's clip paths.
_ids = itertools.count(1)


def require_report_packages() -> tuple[Any, Any]:
    """``altair`` and ``vl_convert``; a usage error naming the extra when they are missing."""
    try:
        import altair
        import vl_convert
    except ImportError as error:
        raise UsageError(
            Issue(
                "missing-dependency",
                f"charts and reports need the Python packages 'altair' and 'vl-convert-python' ({error})",
                hint="pip install 'crmetrics[report]'",
            )
        ) from None
    return altair, vl_convert


def chart_values(series: pl.DataFrame, by: Sequence[str]) -> list[dict[str, Any]]:
    """The rows a chart plots: ISO period, value (null stays null) and the group's label."""
    from crmetrics.report.data import group_label

    return [
        {
            "period_start": row["period_start"].isoformat(),
            "value": row["value"],
            "group": group_label(row, by) if by else "",
        }
        for row in series.iter_rows(named=True)
    ]


def _y_axis(altair: Any, unit: str) -> Any:
    return altair.Y(
        "value:Q",
        title=None,
        axis=altair.Axis(
            format=AXIS_FORMATS.get(unit, ",.2~f"),
            tickCount=4,
            # Vega still ticks at 0.5 over a domain of [0, 1]: such a tick keeps its grid
            # line but loses its label, which would read as a second "1" or "0".
            **(
                {"tickMinStep": 1, "labelExpr": "datum.value % 1 ? '' : datum.label"}
                if unit in WHOLE_UNITS
                else {}
            ),
        ),
        scale=altair.Scale(zero=False),
    )


def trend_spec(
    metric: MetricDefinition,
    series: pl.DataFrame,
    by: Sequence[str],
    grain: str,
    *,
    width: int = 320,
    height: int = 160,
) -> dict[str, Any]:
    """A line per group over the periods, a point per value, as a Vega-Lite dict."""
    spec: dict[str, Any] = json.loads(_trend_template(metric.unit, " · ".join(by), grain, width, height))
    spec["datasets"] = {SERIES: chart_values(series, by)}
    return spec


@cache
def _trend_template(unit: str, group_title: str, grain: str, width: int, height: int) -> str:
    # Building and validating a chart with altair costs tens of milliseconds; a report
    # draws dozens of charts of a few shapes, so each shape is built once, data apart.
    altair, _ = require_report_packages()
    chart = trend_chart(altair.Data(name=SERIES), unit, group_title, grain, width=width, height=height)
    return json.dumps(chart.to_dict())


def trend_chart(data: Any, unit: str, group_title: str, grain: str, *, width: int, height: int) -> Any:
    """The altair chart of :func:`trend_spec` over ``data``; ``group_title`` "" when ungrouped."""
    altair, _ = require_report_packages()
    chart = (
        altair.Chart(data, width=width, height=height)
        .mark_line(point=True, strokeWidth=2)
        .encode(
            # Periods are UTC instants: a UTC scale keeps each point on its period's tick
            # whatever the viewer's time zone.
            x=altair.X(
                "period_start:T",
                title=None,
                scale=altair.Scale(type="utc"),
                axis=altair.Axis(
                    format=PERIOD_FORMATS[grain],
                    tickCount=PERIOD_TICKS[grain],
                    labelAngle=0,
                    labelOverlap="greedy",
                ),
            ),
            y=_y_axis(altair, unit),
            tooltip=["period_start:T", "value:Q", *(["group:N"] if group_title else [])],
        )
    )
    if group_title:
        chart = chart.encode(color=altair.Color("group:N", title=group_title))
    return chart


def sparkline_spec(series: pl.DataFrame, by: Sequence[str]) -> dict[str, Any]:
    """A small line per group, no axes: the shape of the trend at a glance."""
    spec: dict[str, Any] = json.loads(_sparkline_template(bool(by)))
    spec["datasets"] = {SERIES: chart_values(series, by)}
    return spec


@cache
def _sparkline_template(grouped: bool) -> str:
    altair, _ = require_report_packages()
    chart = (
        altair.Chart(altair.Data(name=SERIES), width=140, height=36)
        .mark_line(strokeWidth=1.5)
        .encode(
            x=altair.X("period_start:T", axis=None, scale=altair.Scale(type="utc")),
            y=altair.Y("value:Q", axis=None, scale=altair.Scale(zero=False)),
        )
        .configure_view(stroke=None)
    )
    if grouped:
        chart = chart.encode(color=altair.Color("group:N", legend=None))
    return json.dumps(chart.to_dict())


def plot_spec(
    metrics: Sequence[MetricDefinition],
    result: pl.DataFrame,
    by: Sequence[str],
    grain: str,
) -> dict[str, Any]:
    """One chart per metric, stacked, each with a line per group (for ``crmetrics plot``)."""
    altair, _ = require_report_packages()
    charts = []
    for metric in metrics:
        values = chart_values(result.filter(pl.col("metric") == metric.name), by)
        chart = trend_chart(
            altair.Data(values=values), metric.unit, " · ".join(by), grain, width=640, height=240
        )
        charts.append(chart.properties(title=f"{metric.title} ({metric.unit})"))
    spec: dict[str, Any] = (altair.vconcat(*charts) if len(charts) > 1 else charts[0]).to_dict()
    return spec


def to_svg(spec: dict[str, Any]) -> str:
    """The chart as an SVG document whose ids are unique in the page it is inlined into."""
    _, vl_convert = require_report_packages()
    svg: str = vl_convert.vegalite_to_svg(spec)
    prefix = f"c{next(_ids)}-"
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    for name in sorted(ids, key=len, reverse=True):
        svg = svg.replace(f'id="{name}"', f'id="{prefix}{name}"')
        svg = svg.replace(f"url(#{name})", f"url(#{prefix}{name})")
    return svg


def to_png(spec: dict[str, Any], *, scale: float = 2.0) -> bytes:
    """The chart as a PNG image (``scale`` 2 is sharp on slides and high-density screens)."""
    _, vl_convert = require_report_packages()
    png: bytes = vl_convert.vegalite_to_png(spec, scale=scale)
    return png
