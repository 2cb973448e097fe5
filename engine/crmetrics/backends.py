"""The backends that evaluate a plan, in one table: Polars, and SQL run by DuckDB or Spark.

A backend takes a :class:`Job` (the plan, the catalog and the source, resolved once) and
returns the long result. Every backend builds the same relational IR from the plan
(:mod:`crmetrics.ir`) and only generates its own code from it, so adding one means a
generator for each IR node class, a runner, and an entry in :data:`BACKENDS`; the
conformance suite (``tests/conformance``) then says whether it gives the same numbers.
"""

from __future__ import annotations

from typing import Protocol

import polars as pl

from crmetrics.connector import SourceURI
from crmetrics.errors import Issue, UsageError, did_you_mean
from crmetrics.job import Job
from crmetrics.polars_backend import evaluate as evaluate_polars
from crmetrics.sql.run import evaluate_sql


class Backend(Protocol):
    """Computes a plan's long result: ``metric``, ``period_start``, the groups, ``value``."""

    #: The name ``--engine`` and ``engine=`` take.
    name: str
    #: The source scheme naming this backend's own tables (``duckdb:PATH``), if any.
    native_scheme: str | None

    def evaluate(self, job: Job) -> pl.DataFrame:
        """The long result of ``job``, sorted by metric, period and groups."""
        ...


class PolarsBackend:
    """Lazy Polars over any connector's tables, collected in one go."""

    name = "polars"
    native_scheme: str | None = None

    def evaluate(self, job: Job) -> pl.DataFrame:
        """The long result of ``job``, computed by Polars."""
        assert job.source.connector is not None
        return evaluate_polars(
            job.plan, job.catalog, job.source.connector, streaming=job.streaming, trust=job.trust
        )


class SqlBackend:
    """One SQL statement run by an embedded engine: DuckDB or Spark."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.native_scheme: str | None = name

    def evaluate(self, job: Job) -> pl.DataFrame:
        """The long result of ``job``, computed by the SQL engine."""
        return evaluate_sql(job, self.name)


#: Every backend, by the name ``--engine`` takes.
BACKENDS: dict[str, Backend] = {
    backend.name: backend for backend in (PolarsBackend(), SqlBackend("duckdb"), SqlBackend("spark"))
}
ENGINES: tuple[str, ...] = tuple(BACKENDS)


def check_engine(name: str) -> str:
    """``name`` lower-cased if it names a backend; otherwise a usage error."""
    engine = name.strip().lower()
    if engine not in BACKENDS:
        raise UsageError(
            Issue(
                "unknown-engine",
                f"unknown engine {name!r}",
                hint=_engine_hint(engine),
            )
        )
    return engine


def _engine_hint(name: str) -> str:
    """``did you mean 'duckdb'?`` when a name is close, and the engines, listed once."""
    close = did_you_mean(name, ENGINES)
    listed = f"engines: {', '.join(ENGINES)}"
    return f"{close} {listed}" if close.startswith("did you mean") else listed


def backend(name: str) -> Backend:
    """The backend called ``name``; an unknown one is a usage error."""
    return BACKENDS[check_engine(name)]


def native_backend(uri: SourceURI) -> str | None:
    """The backend whose own tables ``uri`` names, if any."""
    return next((b.name for b in BACKENDS.values() if b.native_scheme == uri.scheme), None)


__all__ = [
    "BACKENDS",
    "ENGINES",
    "Backend",
    "PolarsBackend",
    "SqlBackend",
    "backend",
    "check_engine",
    "native_backend",
]
