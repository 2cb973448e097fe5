"""Running one request on every engine and comparing the results row by row."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

import crmetrics
from crmetrics.errors import DataError, UsageError
from crmetrics.plan import Request

RELATIVE = 1e-9


def engine() -> crmetrics.Engine:
    return crmetrics.Engine()


def groupable(facade: crmetrics.Engine, source: Any, by: Sequence[str], start: str, end: str) -> list[str]:
    """The metrics that ``source`` has the tables for and that can be grouped by ``by``."""
    names = sorted(facade.catalog.metrics)
    connector = facade.open_source(source)  # one connector: each table is read once
    kept = []
    for name in names:
        try:
            facade.compile(Request.build([name], start=start, end=end, by=by), connector)
        except (UsageError, DataError):
            continue
        kept.append(name)
    return kept


def rows(result: pl.DataFrame, by: Sequence[str]) -> dict[tuple, float | None]:
    keys = ["metric", "period_start", *by]
    return {tuple(r[k] for k in keys): r["value"] for r in result.iter_rows(named=True)}


def differences(expected: pl.DataFrame, actual: pl.DataFrame, by: Sequence[str]) -> list[str]:
    """What differs between two long results, one line per row (empty when they agree)."""
    problems = []
    if expected.schema != actual.schema:
        problems.append(f"schema {dict(actual.schema)} != {dict(expected.schema)}")
    if (
        expected.select("metric", "period_start", *by).rows()
        != actual.select("metric", "period_start", *by).rows()
    ):
        problems.append("rows are not in the same order")
    want, got = rows(expected, by), rows(actual, by)
    for key in sorted(set(want) | set(got), key=str):
        if key not in got or key not in want:
            problems.append(f"{key}: only in {'expected' if key in want else 'actual'}")
            continue
        a, b = want[key], got[key]
        if a is None or b is None:
            if a is not b:
                problems.append(f"{key}: {b} != {a}")
        elif not math.isclose(a, b, rel_tol=RELATIVE, abs_tol=1e-12):
            problems.append(f"{key}: {b!r} != {a!r}")
    return problems


def compare(results: Mapping[str, pl.DataFrame], by: Sequence[str]) -> None:
    reference = results["polars"]
    assert reference.height > 0
    for name, result in results.items():
        problems = differences(reference, result, by)
        assert not problems, f"{name} differs from polars:\n" + "\n".join(problems[:20])
