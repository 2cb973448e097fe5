"""What reports and charts need of an engine, so that they do not import the engine itself.

:class:`crmetrics.Engine` has all of it; the report modules only call these members.
"""

from __future__ import annotations

from typing import Any, Protocol

import polars as pl

from crmetrics.catalog import Catalog
from crmetrics.errors import Issue
from crmetrics.evaluator import Evaluator
from crmetrics.plan import LogicalPlan, Request


class RunOutcome(Protocol):
    """What a report reads of :class:`crmetrics.runs.Run`."""

    @property
    def frame(self) -> pl.DataFrame:
        """The long-format result."""
        ...

    @property
    def request(self) -> Request:
        """The request as run (``all`` replaced by the metrics that apply)."""
        ...

    @property
    def notes(self) -> list[Issue]:
        """The run's warnings: data-quality findings, a filter or range that leaves no data."""
        ...


class ReportEngine(Evaluator, Protocol):
    """The members of :class:`crmetrics.Engine` a report uses, :meth:`evaluate` among them."""

    @property
    def catalog(self) -> Catalog:
        """Every metric, checked."""
        ...

    def plan(self, request: Request) -> LogicalPlan:
        """The logical plan of ``request``."""
        ...

    def applicable(self, request: Request, source: Any) -> tuple[Request, list[Issue]]:
        """``request`` with ``all`` replaced by what ``source`` can compute, and the rest."""
        ...

    def run(self, request: Request, source: Any) -> RunOutcome:
        """``request`` evaluated as ``crmetrics run`` does, with its warnings."""
        ...
