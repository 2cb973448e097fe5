"""Running a conformance case through the public API and comparing what comes back.

Engines are built once per distinct set of definitions and reused by every case and backend
of the process, isolated from installed third-party plugins: only the built-in catalog and
the plugins a case names are registered.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from casefile import Case

import crmetrics
import crmetrics.definitions as catalog

#: The canonical model's column types (docs/data.md). Timestamps are given as ISO text and
#: converted by the engine, as it converts a file's.
_TEXT, _FLOAT, _BOOL = pl.String(), pl.Float64(), pl.Boolean()
CANONICAL: dict[str, dict[str, pl.DataType]] = {
    "customers": {
        "customer_id": _TEXT,
        "name": _TEXT,
        "acquired_at": _TEXT,
        "churned_at": _TEXT,
        "segment": _TEXT,
        "region": _TEXT,
        "industry": _TEXT,
        "acquisition_channel": _TEXT,
    },
    "deals": {
        "deal_id": _TEXT,
        "customer_id": _TEXT,
        "amount": _FLOAT,
        "stage": _TEXT,
        "is_closed": _BOOL,
        "is_won": _BOOL,
        "deal_type": _TEXT,
        "created_at": _TEXT,
        "closed_at": _TEXT,
    },
    "leads": {
        "lead_id": _TEXT,
        "created_at": _TEXT,
        "source": _TEXT,
        "is_converted": _BOOL,
        "converted_at": _TEXT,
        "customer_id": _TEXT,
    },
    "tickets": {
        "ticket_id": _TEXT,
        "customer_id": _TEXT,
        "created_at": _TEXT,
        "first_response_at": _TEXT,
        "resolved_at": _TEXT,
        "handle_time_seconds": _FLOAT,
        "channel": _TEXT,
        "priority": _TEXT,
    },
    "survey_responses": {
        "response_id": _TEXT,
        "customer_id": _TEXT,
        "survey_type": _TEXT,
        "score": _FLOAT,
        "submitted_at": _TEXT,
    },
    "spend": {"spend_id": _TEXT, "spent_at": _TEXT, "category": _TEXT, "channel": _TEXT, "amount": _FLOAT},
    "revenue": {
        "revenue_id": _TEXT,
        "customer_id": _TEXT,
        "recognized_at": _TEXT,
        "amount": _FLOAT,
        "cost": _FLOAT,
    },
    "activity": {"activity_id": _TEXT, "customer_id": _TEXT, "occurred_at": _TEXT, "activity_type": _TEXT},
}
EXTRA_TYPES: dict[str, pl.DataType] = {
    "str": _TEXT,
    "float": _FLOAT,
    "int": pl.Int64(),
    "bool": _BOOL,
    "datetime": _TEXT,
}
#: Tolerance for values: floating-point sums and divisions may differ in the last bits
#: between backends; nothing a person would call a different number. The absolute part only
#: lets 0 match a rounding residue, so that microsecond durations still count.
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-12

_PLUGINS = {"cx": "crmetrics_cx"}


class Engines:
    """One :class:`crmetrics.Engine` per distinct (definitions, plugins), for the whole run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._engines: dict[tuple[str | None, tuple[str, ...]], crmetrics.Engine] = {}

    def get(self, case: Case) -> crmetrics.Engine:
        key = (case.definitions, case.plugins)
        if key not in self._engines:
            self._engines[key] = self._build(case)
        return self._engines[key]

    def _build(self, case: Case) -> crmetrics.Engine:
        plugins: list[object] = [catalog, *(importlib.import_module(_PLUGINS[p]) for p in case.plugins)]
        definitions: list[Path] = []
        if case.definitions is not None:
            # One folder per definitions text, so that locations read definitions.yaml:L:C.
            folder = self.folder / str(len(self._engines))
            folder.mkdir(parents=True)
            (folder / "definitions.yaml").write_text(case.definitions, encoding="utf-8")
            definitions.append(folder / "definitions.yaml")
        return crmetrics.Engine(definitions=definitions, plugins=plugins, load_installed_plugins=False)


def source(case: Case) -> dict[str, pl.DataFrame]:
    """The case's tables as Polars frames with the canonical column types."""
    frames = {}
    for table, rows in case.tables.items():
        # A table without rows still has every canonical column, as an empty file would.
        columns = list(dict.fromkeys(column for row in rows for column in row)) or list(CANONICAL[table])
        extra = case.types.get(table, {})
        schema = {
            column: EXTRA_TYPES[extra[column]] if column in extra else CANONICAL[table].get(column)
            for column in columns
        }
        frames[table] = pl.DataFrame(
            [[row.get(column) for column in columns] for row in rows],
            schema=[(column, dtype) for column, dtype in schema.items()],
            orient="row",
            infer_schema_length=None,
        )
    return frames


def evaluate(engines: Engines, case: Case, backend: str) -> pl.DataFrame:
    return engines.get(case).evaluate(build_request(case), source(case), engine=backend)


def build_request(case: Case) -> crmetrics.Request:
    """The case's request, on its calendar."""
    request = case.request
    return crmetrics.Request.build(
        request["metrics"],
        grain=request.get("grain", "month"),
        start=request["start"],
        end=request["end"],
        by=request.get("by", ()),
        where=request.get("where"),
        params=request.get("params"),
        calendar=crmetrics.Calendar.parse(**request.get("calendar", {})),
    )


def _key(row: Mapping[str, Any], by: Sequence[str]) -> tuple[Any, ...]:
    return (row["metric"], str(row["period_start"]), *(row.get(column) for column in by))


def _labels(case: Case) -> list[str]:
    """The columns naming a period besides ``period_start``: ``fiscal_period`` at a fiscal grain."""
    return ["fiscal_period"] if str(case.request.get("grain", "")).startswith("fiscal_") else []


def _same(actual: float | None, expected: float | None) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    if math.isnan(actual):
        return False  # the spec never allows NaN: a ratio of nothing is null
    return math.isclose(actual, expected, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)


def differences(result: pl.DataFrame, case: Case) -> list[str]:
    """What differs between ``result`` and the case's expected rows; empty when they agree."""
    assert case.rows is not None
    labels = _labels(case)
    by = [*labels, *case.request.get("by", ())]
    columns = ["metric", "period_start", *by, "value"]
    if result.columns != columns:
        return [f"columns {result.columns}, expected {columns}"]
    problems = []
    if result.schema["period_start"] != pl.Date or result.schema["value"] != pl.Float64:
        problems.append(f"types {dict(result.schema)}: period_start must be Date and value Float64")
    actual: dict[tuple[Any, ...], Any] = {}
    for row in result.iter_rows(named=True):
        key = _key(row, by)
        if key in actual:
            problems.append(f"row {key} appears more than once")
        actual[key] = row["value"]
    expected = {_key(row, by): row["value"] for row in case.rows}
    for key, value in expected.items():
        if key not in actual:
            problems.append(f"missing row {key}: expected value {value}")
        elif not _same(actual[key], value):
            problems.append(f"row {key}: value {actual[key]!r}, expected {value!r}")
    problems.extend(f"unexpected row {key}: value {actual[key]!r}" for key in actual if key not in expected)
    return problems


def issue_differences(error: crmetrics.CrmetricsError, case: Case, folder: Path) -> list[str]:
    """What differs between the issues of ``error`` and those the case expects."""
    problems = []
    if type(error).__name__ != case.error_type:
        problems.append(f"raised {type(error).__name__}, expected {case.error_type}")
    raised = [issue for issue in error.issues if issue.severity == "error"]
    unmatched = list(raised)
    for expected in case.issues:
        match = next((issue for issue in unmatched if _matches(issue, expected, folder)), None)
        if match is None:
            problems.append(f"no issue matches {expected}")
        else:
            unmatched.remove(match)
    problems.extend(f"unexpected issue: {_relative(issue.render(), folder)}" for issue in unmatched)
    return problems


def _matches(issue: crmetrics.Issue, expected: Any, folder: Path) -> bool:
    if issue.code != expected.code:
        return False
    if expected.subject is not None and issue.subject != expected.subject:
        return False
    if expected.check_location:
        where = None if issue.location is None else _relative(str(issue.location), folder)
        if where != expected.location:
            return False
    said = f"{issue.message}\n{issue.hint}"
    return all(word in said for word in expected.mentions)


def _relative(text: str, folder: Path) -> str:
    # Definitions are written to FOLDER/N/definitions.yaml; cases name them definitions.yaml.
    return re.sub(rf"(?:{re.escape(str(folder.resolve()))}|{re.escape(str(folder))})/\d+/", "", text)
