"""The project file, ``crmetrics.yaml``: sources, definition folders, parameters, warehouse, calendar.

It is found through ``--project``, the ``CRMETRICS_PROJECT`` variable, or as
``crmetrics.yaml`` in the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from crmetrics.errors import DefinitionError, Issue, Location, UsageError
from crmetrics.limits import Limits
from crmetrics.mapping import check_expressions
from crmetrics.metric import non_finite_params
from crmetrics.periods import Calendar
from crmetrics.schema_check import check_document, load_schema
from crmetrics.yamlio import Document, load_file

PROJECT_ENV = "CRMETRICS_PROJECT"
PROJECT_FILE = "crmetrics.yaml"


@dataclass(frozen=True)
class SourceConfig:
    """A named source: its URI, connector options and table mappings.

    The mappings reach the connector as its ``mappings`` option.
    """

    name: str
    uri: str
    options: Mapping[str, Any] = field(default_factory=dict)
    mappings: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Project:
    """A project file's settings; an empty project when there is no file.

    Attributes:
        path: the project file.
        definitions: folders and files of definitions, relative to the project file.
        source: the source used when none is given.
        sources: named sources with connector options.
        params: parameter overrides applied to every run.
        warehouse: canonical table -> warehouse table, for the SQL engines.
        reporting_currency: the currency code tables write after currency values.
        calendar: how periods are cut: week start, fiscal year start, time zone.
        limits: bounds on the work an input may cause (docs/limits.md).
        document: the parsed file, for locating messages.
    """

    path: Path | None = None
    definitions: list[Path] = field(default_factory=list)
    #: Folders or files of test cases (``crmetrics test``).
    tests: list[Path] = field(default_factory=list)
    source: str | None = None
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)
    #: Canonical table -> warehouse table (a name, or ``{table, columns}``), for SQL engines.
    warehouse: dict[str, Any] = field(default_factory=dict)
    #: Bounds on the work an input may cause: the defaults, CRMETRICS_ variables, ``limits:``.
    limits: Limits = field(default_factory=Limits.from_env)
    #: Canonical table -> the source (a name from ``sources`` or a URI) that provides it.
    tables: dict[str, str] = field(default_factory=dict)
    #: The currency code written after currency values in tables (e.g. EUR), or None.
    reporting_currency: str | None = None
    calendar: Calendar = field(default_factory=Calendar)
    document: Document | None = None

    def check_options(self, name: str, schema: Mapping[str, Any] | None) -> None:
        """Validate a named source's options against its connector's JSON Schema."""
        if not schema or self.document is None or name not in self.sources:
            return
        wrapper = {
            "definitions": schema.get("definitions", {}),
            "type": "object",
            "properties": {
                "sources": {
                    "type": "object",
                    "properties": {name: {"properties": {"options": schema}}},
                }
            },
        }
        issues = check_document(self.document, wrapper)
        if issues:
            raise DefinitionError(issues)


def find_project(explicit: str | Path | None = None) -> Project:
    """The project file to use, or an empty project when there is none."""
    candidate = explicit or os.environ.get(PROJECT_ENV)
    if candidate:
        path = Path(candidate)
        if not path.is_file():
            raise DefinitionError(
                Issue(
                    "missing-project",
                    f"project file {path} does not exist",
                    Location(str(path)),
                    hint=f"create it, or unset {PROJECT_ENV}",
                )
            )
        return load_project(path)
    default = Path(PROJECT_FILE)
    return load_project(default) if default.is_file() else Project()


def read_calendar(
    document: Document, data: Mapping[str, Any], path: Sequence[str | int] = ("calendar",)
) -> Calendar:
    """The ``calendar:`` block at ``path`` of ``document``; a value the schema lets through but
    that is wrong (an unknown zone) is an error located at its key."""
    try:
        return Calendar.parse(**data)
    except UsageError as error:
        issue = error.issues[0]
        key = next((k for k in data if str(k) in issue.message), None)
        location = document.location([*path, key] if key else list(path))
        raise DefinitionError(replace(issue, location=location)) from None


def load_project(path: Path) -> Project:
    """Read and check a project file; any problem is a :class:`DefinitionError` at its place."""
    limits = Limits.from_env()
    document = load_file(path, limits)
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        raise DefinitionError(
            Issue(
                "schema",
                f"a project file holds a mapping of settings, not {type(data).__name__}",
                document.location([]),
                hint="see docs/getting-started.md for a project file",
            )
        )
    issues = check_document(document, load_schema("project")) or non_finite_params(
        document, ["params"], data.get("params", {})
    )
    if not issues:
        issues = _mapping_issues(document, data.get("sources", {}))
    if issues:
        raise DefinitionError(issues)
    limits = limits.with_overrides(data.get("limits", {}), document.location(["limits"]))
    base = path.parent
    sources = {}
    for name, value in data.get("sources", {}).items():
        if isinstance(value, str):
            sources[name] = SourceConfig(name, value)
        else:
            mappings = value.get("mappings") or {}
            options = {**value.get("options", {}), **({"mappings": mappings} if mappings else {})}
            sources[name] = SourceConfig(name, value["uri"], options, mappings)
    for config in sources.values():
        object.__setattr__(config, "uri", _relative_to(base, config.uri))
    source = data.get("source")
    return Project(
        path=path,
        definitions=[base / d for d in data.get("definitions", [])],
        tests=[base / t for t in data.get("tests", [])],
        source=source if source is None or source in sources else _relative_to(base, source),
        sources=sources,
        params={k: float(v) for k, v in data.get("params", {}).items()},
        warehouse=dict(data.get("warehouse", {}).get("tables", {})),
        limits=limits,
        tables={
            table: name if name in sources else _relative_to(base, name)
            for table, name in data.get("tables", {}).items()
        },
        reporting_currency=data.get("reporting_currency"),
        calendar=read_calendar(document, data.get("calendar", {})),
        document=document,
    )


def _mapping_issues(document: Document, sources: Mapping[str, Any]) -> list[Issue]:
    """The mapping expressions that do not compile, each at its place in the file."""
    issues: list[Issue] = []
    for name, value in sources.items():
        if isinstance(value, Mapping) and value.get("mappings"):
            prefix: list[str | int] = ["sources", name, "mappings"]

            def place(path: list[str | int], prefix: list[str | int] = prefix) -> Location:
                return document.location([*prefix, *path])

            issues += check_expressions(value["mappings"], place)
    return issues


def _relative_to(base: Path, uri: str) -> str:
    """A folder or file source relative to the project file, made relative to ``base``.

    That is a csv:, parquet:, salesforce: or hubspot: folder (not an API URL) or a duckdb: file.
    """
    scheme, _, location = uri.partition(":")
    folders = ("csv", "parquet", "duckdb", "salesforce", "hubspot")
    is_url = location.startswith(("http://", "https://"))
    if location and scheme in folders and not is_url and not Path(location).is_absolute():
        return f"{scheme}:{base / location}"
    return uri
