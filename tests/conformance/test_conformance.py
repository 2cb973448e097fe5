"""The conformance suite: every case of tests/conformance/*.yaml on every backend.

Each case runs through the public API (``crmetrics.Engine`` with a ``{table: DataFrame}``
source) on Polars and DuckDB, and on Spark with ``-m spark``; its result must equal the rows
worked out by hand in the case file, or raise the issues it names. README.md in this folder
describes the format. A malformed case file is one failing test that names file:line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from casefile import BACKENDS, Case, CaseFileError, load_case_file
from runner import Engines, differences, evaluate, issue_differences

import crmetrics

FOLDER = Path(__file__).parent


def _marks(case: Case, backend: str) -> list[pytest.MarkDecorator]:
    marks = [pytest.mark.spark] if backend == "spark" else []
    if backend in case.xfail:
        marks.append(pytest.mark.xfail(reason=case.xfail[backend], strict=True))
    return marks


def _params() -> Iterator[Any]:
    for path in sorted(FOLDER.glob("*.yaml")):
        try:
            cases: list[Case | CaseFileError] = list(load_case_file(path))
        except CaseFileError as error:
            yield pytest.param(error, "polars", id=f"{path.name}::<malformed>")
            continue
        for case in cases:
            assert isinstance(case, Case)
            for backend in BACKENDS:
                yield pytest.param(case, backend, id=f"{case.id}-{backend}", marks=_marks(case, backend))


@pytest.mark.parametrize(("case", "backend"), list(_params()))
def test_case(
    case: Case | CaseFileError, backend: str, engines: Engines, request: pytest.FixtureRequest
) -> None:
    if isinstance(case, CaseFileError):
        pytest.fail(f"malformed case file:\n{case}", pytrace=False)
    if backend == "spark":
        request.getfixturevalue("spark_session")
    try:
        result = evaluate(engines, case, backend)
    except crmetrics.CrmetricsError as error:
        if case.rows is not None:
            pytest.fail(f"{case.where}: expected rows, got an error:\n{error.render()}", pytrace=False)
        problems = issue_differences(error, case, engines.folder)
    else:
        if case.rows is None:
            pytest.fail(f"{case.where}: expected {case.error_type}, got rows:\n{result}", pytrace=False)
        problems = differences(result, case)
    if problems:
        pytest.fail(f"{case.where}: {case.rule}\n  " + "\n  ".join(problems), pytrace=False)
