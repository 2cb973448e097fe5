"""Reports and charts: KPI cards and trend charts as one static HTML page, or one image."""

from crmetrics.report.data import CardRow, Change, MetricCard, ReportData, change, report_data
from crmetrics.report.html import render_html
from crmetrics.report.plot import IMAGE_FORMATS, Chart, chart, check_image_format, plot_image

__all__ = [
    "IMAGE_FORMATS",
    "CardRow",
    "Change",
    "Chart",
    "MetricCard",
    "ReportData",
    "change",
    "chart",
    "check_image_format",
    "plot_image",
    "render_html",
    "report_data",
]
