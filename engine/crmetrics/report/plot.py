"""``crmetrics plot``: one image of one or more metrics, for slides and chat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmetrics.errors import Issue, UsageError
from crmetrics.plan import Request
from crmetrics.report.charts import plot_spec, to_png, to_svg

if TYPE_CHECKING:
    from crmetrics.report.engine_view import ReportEngine

IMAGE_FORMATS = ("svg", "png")


def check_image_format(name: str) -> str:
    """``svg`` or ``png``; anything else is a usage error."""
    chosen = name.strip().lower().lstrip(".")
    if chosen not in IMAGE_FORMATS:
        raise UsageError(
            Issue(
                "unknown-image-format",
                f"cannot write a chart as {name!r}: the formats are png and svg",
                hint="name the output after its format, e.g. -o chart.png or -o chart.svg",
            )
        )
    return chosen


@dataclass(frozen=True)
class Chart:
    """A chart as :meth:`crmetrics.Engine.chart` draws it, with the run's warnings.

    Attributes:
        image: the ``svg`` or ``png`` bytes.
        notes: the warnings ``crmetrics run`` prints for the same numbers: a ``--where`` or
            a range that leaves no data, an empty table, the source's data-quality findings.
    """

    image: bytes
    notes: tuple[Issue, ...] = ()


def chart(engine: ReportEngine, request: Request, source: Any, image_format: str) -> Chart:
    """The chart of ``request`` on ``source``: a stacked panel per metric, a line per group.

    ``image_format`` is ``svg`` or ``png`` (a file extension such as ``.png`` too); it is
    checked before anything is computed. The numbers are those of ``crmetrics run``, and
    so are the warnings that come with them.
    """
    chosen = check_image_format(image_format)
    outcome = engine.run(request, source)
    names = list(engine.plan(outcome.request).request.metrics)
    metrics = [engine.catalog.metrics[name] for name in names]
    spec = plot_spec(metrics, outcome.frame, request.by, request.grain.name)
    image = to_png(spec) if chosen == "png" else to_svg(spec).encode()
    return Chart(image, tuple(outcome.notes))


def plot_image(engine: ReportEngine, request: Request, source: Any, image_format: str) -> bytes:
    """The image of :func:`chart`, without its warnings."""
    return chart(engine, request, source, image_format).image
