"""Running one test case and comparing its result, cell by cell, with what was expected."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl

from crmetrics.errors import CrmetricsError, DataError, Issue, Location
from crmetrics.evaluator import Evaluator
from crmetrics.model import TABLES
from crmetrics.periods import FISCAL_PERIOD, Calendar
from crmetrics.plan import Request
from crmetrics.testing.cases import ExpectedRow, TestCase

Outcome = Literal["passed", "failed", "error"]


#: Shown in a diff where a row is missing on one side.
NO_ROW = "(no row)"


@dataclass(frozen=True)
class CellDiff:
    """One cell that differs: which metric, period and group, what was expected and what came.

    ``location`` is where the expected row was written, or the case's start for a row the
    result holds that the case does not list.
    """

    metric: str
    period_start: str
    groups: Mapping[str, str | None]
    expected: str
    got: str
    location: Location


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case on one engine.

    ``failed``: the result differs from the expectation (see ``diffs`` and ``message``).
    ``error``: the case could not run as written (its input or request is wrong).
    """

    case: TestCase
    engine: str
    outcome: Outcome
    diffs: tuple[CellDiff, ...] = ()
    message: str = ""
    seconds: float = 0.0
    issues: tuple[Issue, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """True when the case passed."""
        return self.outcome == "passed"


def run_case(engine: Evaluator, case: TestCase, *, backend: str = "polars") -> CaseResult:
    """Evaluate ``case`` with ``engine`` on ``backend`` (polars, duckdb or spark) and compare."""
    began = time.perf_counter()
    try:
        frames = input_frames(case)
    except CrmetricsError as error:
        return _result(
            case, backend, "error", began, message="the case's input cannot be read", issues=error.issues
        )
    try:
        request = build_request(case.request, case.calendar)
        result = engine.evaluate(request, frames, engine=backend)
    except CrmetricsError as error:
        return _compare_error(case, backend, began, error)
    if case.error is not None:
        message = f"expected error {case.error!r}, but the request gave {result.height} rows"
        return _result(case, backend, "failed", began, message=message)
    assert case.rows is not None
    diffs = compare(result, case.rows, request.by, case.tolerance, case.location)
    if diffs:
        return _result(case, backend, "failed", began, diffs=diffs, message=f"{len(diffs)} cell(s) differ")
    return _result(case, backend, "passed", began)


def _result(case: TestCase, backend: str, outcome: Outcome, began: float, **details: Any) -> CaseResult:
    details["diffs"] = tuple(details.get("diffs", ()))
    details["issues"] = tuple(details.get("issues", ()))
    return CaseResult(case, backend, outcome, seconds=time.perf_counter() - began, **details)


def _compare_error(case: TestCase, backend: str, began: float, error: CrmetricsError) -> CaseResult:
    codes = [issue.code for issue in error.issues]
    if case.error is not None and case.error in codes:
        return _result(case, backend, "passed", began)
    if case.error is not None:
        message = f"expected error {case.error!r}, got {', '.join(map(repr, codes))}"
    else:
        message = "the request raised an error instead of giving rows"
    return _result(case, backend, "failed", began, message=message, issues=error.issues)


def build_request(raw: Mapping[str, Any], calendar: Calendar | None = None) -> Request:
    """The :class:`Request` a case's ``request:`` describes, on the case's ``calendar``."""
    return Request.build(
        list(raw["metrics"]),
        grain=raw.get("grain", "month"),
        start=raw["start"],
        end=raw["end"],
        by=list(raw.get("by", ())),
        where=raw.get("where"),
        params=dict(raw.get("params", {})),
        calendar=calendar,
    )


def input_frames(case: TestCase) -> dict[str, pl.DataFrame]:
    """Every canonical table: the given ones as text frames (like a CSV file), the others empty.

    Values are passed as text so that they are parsed by the same canonical conversion as a
    CSV source's, and a value it cannot read is refused with the row, not guessed.
    """
    frames = {name: pl.DataFrame(schema=table.schema) for name, table in TABLES.items()}
    for name, given in case.tables.items():
        frames[name] = _csv_frame(given, case.location) if isinstance(given, Path) else _text_frame(given)
    return frames


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text_frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    columns = list(dict.fromkeys(column for row in rows for column in row))
    return pl.DataFrame(
        {column: [_text(row.get(column)) for row in rows] for column in columns},
        schema={column: pl.String for column in columns},
    )


def _csv_frame(path: Path, where: Location) -> pl.DataFrame:
    try:
        return pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise DataError(
            Issue(
                "unreadable-file",
                f"cannot read the CSV file {path}: {error}",
                where,
                hint="the path is relative to the YAML file of the case",
            )
        ) from None


def _period_text(value: Any) -> str:
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date().isoformat()
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _value_text(value: float | None) -> str:
    if value is None:
        return "null"
    return repr(value)


def _equal(expected: float | None, got: float | None, tolerance: float) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    return abs(expected - got) <= tolerance


def compare(
    result: pl.DataFrame,
    rows: Sequence[ExpectedRow],
    by: Sequence[str],
    tolerance: float,
    case_location: Location,
) -> list[CellDiff]:
    """Every cell of ``result`` that differs from ``rows``, in the result's order.

    Rows are matched on metric, period start and the grouping columns; an expected row
    missing from the result, or a result row the case does not list, is a difference too.
    """
    got: dict[tuple[Any, ...], float | None] = {}
    labels: dict[tuple[Any, ...], str | None] = {}
    for record in result.iter_rows(named=True):
        groups = tuple(None if record[c] is None else str(record[c]) for c in by)
        key = (record["metric"], _period_text(record["period_start"]), groups)
        got[key] = record["value"]
        labels[key] = record.get(FISCAL_PERIOD)
    diffs = []
    seen = set()
    for row in rows:
        key = (row.metric, row.period_start, tuple(row.groups.get(c) for c in by))
        seen.add(key)
        extra = sorted(set(row.groups) - set(by))
        if extra:
            # A key the request does not group by can match no row of the result.
            got_text = f"(no column {extra[0]!r}: add it to the request's 'by')"
            diffs.append(
                CellDiff(
                    row.metric, row.period_start, row.groups, _value_text(row.value), got_text, row.location
                )
            )
            continue
        if key not in got:
            diffs.append(
                CellDiff(
                    row.metric, row.period_start, row.groups, _value_text(row.value), NO_ROW, row.location
                )
            )
        elif row.fiscal_period is not None and row.fiscal_period != labels[key]:
            diffs.append(
                CellDiff(
                    row.metric,
                    row.period_start,
                    row.groups,
                    f"{FISCAL_PERIOD} {row.fiscal_period}",
                    f"{FISCAL_PERIOD} {labels[key] or '(none: the grain is not fiscal)'}",
                    row.location,
                )
            )
        elif not _equal(row.value, got[key], tolerance):
            diffs.append(
                CellDiff(
                    row.metric,
                    row.period_start,
                    row.groups,
                    _value_text(row.value),
                    _value_text(got[key]),
                    row.location,
                )
            )
    for key, value in got.items():
        if key not in seen:
            metric, period, groups = key
            diffs.append(
                CellDiff(
                    metric,
                    period,
                    dict(zip(by, groups, strict=True)),
                    NO_ROW,
                    _value_text(value),
                    case_location,
                )
            )
    return diffs
