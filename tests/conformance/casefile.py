"""Reading conformance case files: YAML with line marks, checked against case.schema.json.

A malformed file raises :class:`CaseFileError` listing every problem as ``file:line:column``,
so that a typo in a case points at itself instead of failing somewhere in the runner.
Dates and timestamps stay text (``2025-01-01`` is not turned into a ``date``): the runner
hands them to the engine as a user would write them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).with_name("case.schema.json")
BACKENDS: tuple[str, ...] = ("polars", "duckdb", "spark")
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"

#: Where a value sits in a file's data: mapping keys and list indexes, as in JSON Schema errors.
Path_ = tuple[str | int, ...]


class _TextDatesLoader(yaml.SafeLoader):
    """PyYAML's safe loader without the implicit timestamp type."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class CaseFileError(Exception):
    """A case file that cannot be used, with every problem located as ``file:line:column``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class ExpectedIssue:
    """An issue a case expects; ``check_location`` tells a written ``location: null`` from none."""

    code: str
    subject: str | None = None
    location: str | None = None
    check_location: bool = False
    mentions: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [f"code {self.code!r}"]
        if self.subject is not None:
            parts.append(f"subject {self.subject!r}")
        if self.check_location:
            parts.append(f"location {self.location!r}")
        if self.mentions:
            parts.append(f"mentioning {list(self.mentions)}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Case:
    """One conformance case, as written in its file."""

    file: str
    name: str
    line: int
    rule: str
    request: Mapping[str, Any]
    definitions: str | None = None
    plugins: tuple[str, ...] = ()
    tables: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    types: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    rows: list[dict[str, Any]] | None = None
    error_type: str | None = None
    issues: tuple[ExpectedIssue, ...] = ()
    xfail: Mapping[str, str] = field(default_factory=dict)  # backend -> why it fails today

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class _Marks:
    """Where every value and every mapping key of a file starts, by JSON path."""

    values: dict[Path_, yaml.Mark] = field(default_factory=dict)
    keys: dict[Path_, yaml.Mark] = field(default_factory=dict)

    def collect(self, node: yaml.Node, path: Path_, problems: list[str]) -> None:
        """Record ``node`` and its children; report duplicate keys (YAML keeps the last)."""
        self.values[path] = node.start_mark
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = str(key.value)
                if (*path, name) in self.keys:
                    problems.append(f"{_place(key.start_mark)}: duplicate key {name!r}")
                self.keys[(*path, name)] = key.start_mark
                self.collect(value, (*path, name), problems)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.collect(item, (*path, index), problems)

    def of_value(self, path: Path_) -> yaml.Mark:
        while path not in self.values:
            path = path[:-1]
        return self.values[path]

    def of_error(self, error: jsonschema.ValidationError) -> yaml.Mark:
        """The key an error is about (an unknown or misspelt key), else the value."""
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            extra = [key for key in error.instance if key not in known]
            if extra and (*path, extra[0]) in self.keys:
                return self.keys[(*path, extra[0])]
        if "propertyNames" in error.absolute_schema_path and (*path, error.instance) in self.keys:
            return self.keys[(*path, error.instance)]
        return self.of_value(path)


def _place(mark: yaml.Mark) -> str:
    return f"{mark.name}:{mark.line + 1}:{mark.column + 1}"


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _read(path: Path) -> tuple[Any, _Marks]:
    loader = _TextDatesLoader(path.read_text(encoding="utf-8"))
    loader.name = path.name
    problems: list[str] = []
    try:
        node = loader.get_single_node()
        if node is None:
            raise CaseFileError([f"{path.name}:1:1: the file is empty; write a 'cases:' list"])
        marks = _Marks()
        marks.collect(node, (), problems)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = _place(mark) if mark else f"{path.name}:1:1"
        raise CaseFileError([f"{where}: YAML syntax: {error.problem or error}"]) from None
    finally:
        loader.dispose()
    if problems:
        raise CaseFileError(problems)
    return data, marks


def _schema_problems(data: Any, marks: _Marks) -> Iterator[str]:
    validator = jsonschema.Draft202012Validator(_schema())
    for error in validator.iter_errors(data):
        # oneOf failures say only "is not valid under any of the given schemas": the
        # closest sub-error names the key that is wrong.
        best = jsonschema.exceptions.best_match([error])
        yield f"{_place(marks.of_error(best))}: {best.message}"


def _semantic_problems(data: dict[str, Any]) -> Iterator[tuple[Path_, str]]:
    seen: dict[str, int] = {}
    for index, case in enumerate(data["cases"]):
        name = case["name"]
        if name in seen:
            yield (("cases", index, "name"), f"case name {name!r} is already used by case {seen[name] + 1}")
        seen.setdefault(name, index)
        by = case["request"].get("by", [])
        # At a fiscal grain every row also names its period in fiscal_period.
        fiscal = str(case["request"].get("grain", "")).startswith("fiscal_")
        by = [*by, "fiscal_period"] if fiscal else by
        for row_index, row in enumerate(case["expect"].get("rows", [])):
            groups = sorted(set(row) - {"metric", "period_start", "value"})
            if groups != sorted(by):
                yield (
                    ("cases", index, "expect", "rows", row_index),
                    f"row has grouping columns {groups} but the request groups by {sorted(by)}",
                )


def _case(file: str, data: dict[str, Any], line: int) -> Case:
    expect = data["expect"]
    error = expect.get("error") or {}
    xfail = data.get("xfail") or {}
    if isinstance(xfail, str):
        xfail = dict.fromkeys(BACKENDS, xfail)
    return Case(
        file=file,
        name=data["name"],
        line=line,
        rule=data["rule"],
        request=data["request"],
        definitions=data.get("definitions"),
        plugins=tuple(data.get("plugins", ())),
        tables=data.get("tables", {}),
        types=data.get("types", {}),
        rows=expect.get("rows"),
        error_type=error.get("type"),
        issues=tuple(
            ExpectedIssue(
                code=issue["code"],
                subject=issue.get("subject"),
                location=issue.get("location"),
                check_location="location" in issue,
                mentions=tuple(issue.get("mentions", ())),
            )
            for issue in error.get("issues", ())
        ),
        xfail=xfail,
    )


def load_case_file(path: Path) -> list[Case]:
    """Every case of ``path``; raises :class:`CaseFileError` with all problems found."""
    data, marks = _read(path)
    problems = list(_schema_problems(data, marks))
    if not problems:
        problems = [
            f"{_place(marks.of_value(where))}: {message}" for where, message in _semantic_problems(data)
        ]
    if problems:
        raise CaseFileError(sorted(problems, key=_line_order))
    return [
        _case(path.name, case, marks.values[("cases", i)].line + 1) for i, case in enumerate(data["cases"])
    ]


def _line_order(problem: str) -> tuple[int, int]:
    _, line, column, _ = problem.split(":", 3)
    return int(line), int(column)
