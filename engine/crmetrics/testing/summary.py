"""Rendering test results as text, in the shape pytest made familiar.

One line per file with a mark per case (``.`` passed, ``F`` failed, ``E`` could not run),
then a section per failure with its ``file:line`` and a table of the cells that differ,
then a one-line count.
"""

from __future__ import annotations

from collections.abc import Sequence

from crmetrics.testing.runner import CaseResult, CellDiff

MARKS = {"passed": ".", "failed": "F", "error": "E"}


def progress_line(file: str, results: Sequence[CaseResult]) -> str:
    """``FILE ..F.`` for the results of one file."""
    return f"{file} {''.join(MARKS[r.outcome] for r in results)}"


def _group_text(diff: CellDiff) -> str:
    return ", ".join(f"{k}={'null' if v is None else v}" for k, v in diff.groups.items()) or "-"


def diff_table(diffs: Sequence[CellDiff]) -> list[str]:
    """The differing cells as aligned columns, each with the place of its expected row."""
    header = ("where", "metric", "period", "group", "expected", "got")
    rows = [(str(d.location), d.metric, d.period_start, _group_text(d), d.expected, d.got) for d in diffs]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def failure_section(result: CaseResult) -> list[str]:
    """The report of one failed case: title, message, the diff or the error's issues."""
    case = result.case
    title = f" {case.name} [{result.engine}] "
    lines = [title.center(78, "_"), f"{case.location}: {result.message}"]
    if result.diffs:
        lines += ["  " + line for line in diff_table(result.diffs)]
    for issue in result.issues:
        lines += ["  " + line for line in issue.render().splitlines()]
    return lines


def summary_line(results: Sequence[CaseResult], seconds: float) -> str:
    """``=== 2 failed, 30 passed in 0.41s ===``."""
    counts = {
        outcome: sum(r.outcome == outcome for r in results) for outcome in ("failed", "error", "passed")
    }
    words = {"failed": "failed", "error": "errors", "passed": "passed"}
    parts = [f"{n} {words[o] if o != 'error' or n != 1 else 'error'}" for o, n in counts.items() if n]
    text = f" {', '.join(parts) or 'no cases'} in {seconds:.2f}s "
    return text.center(78, "=")


def render_failures(results: Sequence[CaseResult]) -> list[str]:
    """The FAILURES section, empty when every case passed."""
    failed = [r for r in results if not r.passed]
    if not failed:
        return []
    lines = [" FAILURES ".center(78, "=")]
    for result in failed:
        lines += failure_section(result)
    lines.append(" short test summary ".center(78, "="))
    lines += [
        f"{'FAILED' if r.outcome == 'failed' else 'ERROR'} {r.case.location} {r.case.name}" for r in failed
    ]
    return lines
