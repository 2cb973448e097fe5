"""What running a request needs of an engine, so that its callers do not import the engine."""

from __future__ import annotations

from typing import Any, Protocol

import polars as pl

from crmetrics.plan import Request


class Evaluator(Protocol):
    """The member of :class:`crmetrics.Engine` that evaluates a request: :meth:`evaluate`."""

    def evaluate(
        self,
        request: Request,
        source: Any,
        *,
        streaming: bool = False,
        engine: str = "polars",
        trust: bool = False,
    ) -> pl.DataFrame:
        """The long-format result of ``request`` on ``source``."""
        ...


__all__ = ["Evaluator"]
