"""Customer-experience metrics for crmetrics, shipped as a plugin.

Installing the distribution registers, through the ``crmetrics`` entry-point group:

- the metrics in ``definitions/``: ``csat``, ``customer_effort_score``,
  ``first_response_time``, ``first_response_business_hours`` and ``average_handle_time``;
- the formula function ``business_hours(start, end)`` that
  ``first_response_business_hours`` needs.

Without installing it, pass the module to the engine::

    import crmetrics
    import crmetrics_cx

    crmetrics.evaluate(["csat"], "sample", start="2025-01-01", end="2025-04-01",
                       plugins=[crmetrics_cx])
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from crmetrics import FunctionSpec, hookimpl
from crmetrics_cx.business_time import BUSINESS_HOURS, business_hours

__version__ = "0.1.0"

DEFINITIONS = Path(__file__).parent / "definitions"

METRICS: tuple[str, ...] = (
    "csat",
    "customer_effort_score",
    "first_response_time",
    "first_response_business_hours",
    "average_handle_time",
)


@hookimpl
def register_functions(register: Callable[[FunctionSpec], None]) -> None:
    """Register ``business_hours_between``."""
    register(BUSINESS_HOURS)


@hookimpl
def register_definition_dirs(register: Callable[[Path], None]) -> None:
    """Register the plugin's metric definitions."""
    register(DEFINITIONS)


__all__ = [
    "BUSINESS_HOURS",
    "DEFINITIONS",
    "METRICS",
    "__version__",
    "business_hours",
    "register_definition_dirs",
    "register_functions",
]
