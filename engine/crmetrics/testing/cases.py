"""Metric test cases written in YAML: what they hold and how they are read.

A case gives small input tables, a request and the expected long-format rows (or the code
of the error the request must raise). Cases live under ``tests:`` in a definitions file or
in files of their own; both are checked against the definitions JSON Schema, so a mistake
in a case is reported at its ``file:line:column`` like a mistake in a metric.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from crmetrics.errors import DefinitionError, Issue, Location
from crmetrics.model import TABLES
from crmetrics.periods import FISCAL_PERIOD, Calendar
from crmetrics.project import read_calendar
from crmetrics.schema_check import check_document, load_schema
from crmetrics.yamlio import Document, load_file

#: Absolute difference allowed between an expected and a computed value by default: enough
#: for floating-point rounding, far below any difference a person would write on purpose.
DEFAULT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ExpectedRow:
    """One expected long-format row: its key columns, its value and where it was written."""

    metric: str
    period_start: str
    groups: Mapping[str, str | None]
    value: float | None
    location: Location
    #: The fiscal period's label (``FY2026-Q1``) the row must carry, when the case writes one.
    fiscal_period: str | None = None


@dataclass(frozen=True)
class TestCase:
    """One test case, as written.

    Attributes:
        name: the case's name, unique within its file.
        location: where the case starts (its ``name:`` line), reported with every failure.
        tables: canonical table name -> rows (a list of mappings) or the path of a CSV file.
        request: ``metrics``, ``grain``, ``start``, ``end``, ``by``, ``where``, ``params`` and
            ``calendar``, as written.
        calendar: the calendar the request's periods are cut on (the request's ``calendar:``).
        rows: the expected rows, when the case expects a result.
        error: the expected error code, when the case expects the request to fail.
        tolerance: the absolute difference allowed between expected and computed values.
        provider: ``user``, or the plugin folder the case ships with (``--builtin``).
    """

    name: str
    location: Location
    tables: Mapping[str, list[Mapping[str, Any]] | Path]
    request: Mapping[str, Any]
    rows: tuple[ExpectedRow, ...] | None = None
    error: str | None = None
    tolerance: float = DEFAULT_TOLERANCE
    provider: str = "user"
    calendar: Calendar = field(default_factory=Calendar)
    description: str = field(default="", compare=False)

    #: Not a pytest test class, despite its name.
    __test__ = False

    @property
    def file(self) -> str:
        """The file the case is written in."""
        return self.location.file


def tests_file_schema() -> dict[str, Any]:
    """The schema of a file of test cases: the definitions schema, with ``tests`` required."""
    schema = load_schema("definitions")
    return {**{k: v for k, v in schema.items() if k != "anyOf"}, "required": ["tests"]}


def read_cases(document: Document, provider: str = "user") -> list[TestCase]:
    """The test cases under ``tests:`` in ``document`` (already schema-checked)."""
    data = document.data or {}
    base = Path(document.file).parent
    cases = []
    names: dict[str, Location] = {}
    issues = []
    for index, raw in enumerate(data.get("tests", [])):
        location = document.location(["tests", index, "name"])
        first = names.get(raw["name"])
        if first is not None:
            issues.append(
                Issue(
                    "duplicate-test",
                    f"test case {raw['name']!r} is written twice in this file (first at {first})",
                    location,
                    hint="give each case of a file its own name",
                )
            )
        names.setdefault(raw["name"], location)
        issues += misspelt_columns(document, index, raw)
        try:
            cases.append(_case(document, base, index, raw, provider))
        except DefinitionError as error:
            issues += error.issues
    if issues:
        raise DefinitionError(issues)
    return cases


def load_cases(path: Path, provider: str = "user", *, tests_only: bool = True) -> list[TestCase]:
    """The cases of one YAML file; a schema mistake raises :class:`DefinitionError`.

    ``tests_only`` checks the file as a file of cases (``tests:`` required); otherwise as a
    definitions file whose ``tests:`` are optional.
    """
    document = load_file(path)
    if document.is_empty:
        return []
    schema = tests_file_schema() if tests_only else load_schema("definitions")
    issues = check_document(document, schema)
    if issues:
        raise DefinitionError(issues)
    return read_cases(document, provider)


def case_files(folder: Path) -> list[Path]:
    """Every ``*.yaml``/``*.yml`` file under ``folder``, in a stable order."""
    return sorted(p for pattern in ("*.yaml", "*.yml") for p in folder.rglob(pattern) if p.is_file())


def collect(
    *,
    definition_files: Iterable[Path] = (),
    test_paths: Iterable[Path] = (),
    provider: str = "user",
) -> list[TestCase]:
    """The cases of definitions files (their optional ``tests:``) and of test files or folders.

    Every file is read even when an earlier one is wrong, so all mistakes are reported at once.
    """
    cases: list[TestCase] = []
    issues: list[Issue] = []
    sources = [(p, False) for p in definition_files]
    for path in test_paths:
        if path.is_dir():
            sources += [(p, True) for p in case_files(path)]
        elif path.is_file():
            sources.append((path, True))
        else:
            issues.append(
                Issue(
                    "missing-tests",
                    f"{path} does not exist",
                    Location(str(path)),
                    hint="name a file or folder of test cases (see docs/tests.md)",
                )
            )
    for path, tests_only in sources:
        try:
            cases += load_cases(path, provider, tests_only=tests_only)
        except DefinitionError as error:
            issues += error.issues
    if issues:
        raise DefinitionError(issues)
    return cases


def _case(document: Document, base: Path, index: int, raw: Mapping[str, Any], provider: str) -> TestCase:
    expect = raw["expect"]
    rows = None
    if "rows" in expect:
        rows = tuple(
            _expected(document, ["tests", index, "expect", "rows", i], row)
            for i, row in enumerate(expect["rows"])
        )
    tables = {
        name: base / value if isinstance(value, str) else list(value) for name, value in raw["given"].items()
    }
    request = raw["request"]
    calendar = read_calendar(document, request.get("calendar", {}), ["tests", index, "request", "calendar"])
    return TestCase(
        name=raw["name"],
        location=document.location(["tests", index, "name"]),
        tables=tables,
        request=dict(raw["request"]),
        rows=rows,
        error=expect.get("error"),
        tolerance=float(expect.get("tolerance", DEFAULT_TOLERANCE)),
        provider=provider,
        calendar=calendar,
        description=raw.get("description", ""),
    )


def _expected(document: Document, path: list[str | int], row: Mapping[str, Any]) -> ExpectedRow:
    groups = {
        k: None if v is None else str(v)
        for k, v in row.items()
        if k not in ("metric", "period_start", "value", FISCAL_PERIOD)
    }
    label = row.get(FISCAL_PERIOD)
    return ExpectedRow(
        metric=row["metric"],
        period_start=str(row["period_start"]),
        groups=groups,
        value=number(row["value"]),
        location=document.location(path),
        fiscal_period=None if label is None else str(label),
    )


#: How close an unknown column's name must be to a canonical one to be taken for a misspelling.
_TYPO_CUTOFF = 0.8


def misspelt_columns(document: Document, index: int, raw: Mapping[str, Any]) -> list[Issue]:
    """Columns of the case's inline rows that look like a misspelt canonical column.

    A source may carry extra columns (they group and filter like canonical ones), so an
    unknown column is kept unless its name is close to a column the table has and nothing
    in the case or its file uses it: then the value would silently go unread (``segmnt:``
    leaves ``segment`` null), so it is reported at the key instead.
    """
    used = _words_used(document, raw)
    issues = []
    for table, rows in raw["given"].items():
        if isinstance(rows, str):
            continue
        known = TABLES[table].column_names
        reported: set[str] = set()
        for row_index, row in enumerate(rows):
            for column in row:
                name = str(column)
                if name in known or name in used or name in reported:
                    continue
                close = difflib.get_close_matches(name, known, n=1, cutoff=_TYPO_CUTOFF)
                if not close:
                    continue
                reported.add(name)
                issues.append(
                    Issue(
                        "unknown-column",
                        f"the table {table!r} has no column {name!r}; its values would be read by nothing",
                        document.location(["tests", index, "given", table, row_index, column], key=True),
                        hint=f"did you mean {close[0]!r}? (an extra column must be used by the request's"
                        " 'by' or 'where', or by a definition of this file)",
                    )
                )
    return issues


def _words_used(document: Document, raw: Mapping[str, Any]) -> set[str]:
    """Every identifier-like word of the request's ``by``/``where`` and of the file's definitions."""
    data = document.data or {}
    request = raw["request"]
    texts = [*map(str, request.get("by", ())), str(request.get("where", ""))]
    texts += _strings([data.get(key, []) for key in ("metrics", "dimensions")])
    return {word for text in texts for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def number(value: Any) -> float | None:
    """An expected value: a number, ``null``, or a fraction written ``"1/3"`` (exact, no rounding)."""
    if value is None:
        return None
    if isinstance(value, str):
        return float(Fraction(value.replace(" ", "")))
    return float(value)
