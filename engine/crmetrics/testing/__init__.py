"""Metric test cases in YAML: reading them, running them, reporting what differs."""

from crmetrics.testing.cases import DEFAULT_TOLERANCE, ExpectedRow, TestCase, collect, load_cases
from crmetrics.testing.runner import CaseResult, CellDiff, run_case

__all__ = [
    "DEFAULT_TOLERANCE",
    "CaseResult",
    "CellDiff",
    "ExpectedRow",
    "TestCase",
    "collect",
    "load_cases",
    "run_case",
]
