"""Metric definitions as typed objects, read from schema-checked YAML documents."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from crmetrics.errors import DefinitionError, Issue, Location
from crmetrics.limits import Limits, raise_hint
from crmetrics.schema_check import check_document, load_schema
from crmetrics.yamlio import Document, load_file

MetricType = Literal["aggregate", "snapshot", "derived", "entity", "cohort"]


@dataclass(frozen=True)
class Formula:
    """A SQL expression as written, and where: errors point inside it."""

    text: str
    location: Location
    #: True when the formula's text stands verbatim on the line of ``location``, so that
    #: an offset inside it is a column too; a folded, escaped or block scalar is located
    #: at its start instead.
    plain: bool = True

    def at(self, offset: int) -> Location:
        """The location of character ``offset`` (0-based) of the formula."""
        if not self.plain or "\n" in self.text[:offset]:
            return self.location
        return Location(self.location.file, self.location.line, self.location.column + offset)


@dataclass(frozen=True)
class Measure:
    """A per-entity aggregate of an ``entity`` metric."""

    name: str
    table: str
    time: str
    expr: Formula
    filter: Formula | None = None


@dataclass(frozen=True)
class Origin:
    """Where a definition came from: a file, and the plugin or user that supplied it."""

    file: str
    provider: str  # "user", "project" or a plugin's name

    def __str__(self) -> str:
        return f"{self.file} ({self.provider})"


@dataclass(frozen=True)
class DimensionDefinition:
    """A derived grouping column: the period of ``grain`` holding ``table.period_of``.

    ``grain`` is empty to follow the run's grain. Its values are the ISO dates of the
    periods' first local days.
    """

    name: str
    period_of: str
    location: Location
    table: str = "customers"
    grain: str = ""


@dataclass(frozen=True)
class MetricDefinition:
    """One metric, as declared."""

    name: str
    type: MetricType
    origin: Origin
    location: Location
    label: str = ""
    description: str = ""
    category: str = ""
    unit: str = "number"
    #: Which direction of change is good news: ``up``, ``down``, ``neutral`` or ``""`` (not said).
    good: str = ""
    table: str = ""
    time: str = ""
    expr: Formula | None = None
    filter: Formula | None = None
    active_at: str = ""
    from_column: str = "acquired_at"
    until_column: str = "churned_at"
    entity: str = ""
    population: str = "active_at_end"
    measures: Mapping[str, Measure] = field(default_factory=dict)
    rollup: str = "avg"
    base: Formula | None = None
    requires_by: tuple[str, ...] = ()
    params: Mapping[str, float] = field(default_factory=dict)
    override: bool = False
    #: The count metric giving each value's sample size, and the least one to show.
    n: str = ""
    min_n: int | None = None
    document: Document | None = field(default=None, repr=False, compare=False)
    index: int = 0

    @property
    def title(self) -> str:
        """The label, or the name made readable."""
        return self.label or self.name.replace("_", " ").capitalize()

    def key_location(self, *path: str | int, key: bool = False) -> Location:
        """The location of a key of this definition (for messages)."""
        if self.document is None:
            return self.location
        return self.document.location(["metrics", self.index, *path], key=key)


def parse_document(document: Document, provider: str) -> tuple[list[MetricDefinition], list[Issue]]:
    """The metrics of one YAML document, or the schema issues that prevent reading them."""
    if document.is_empty:
        return [], [
            Issue(
                "empty-file",
                "the file is empty",
                Location(document.file),
                hint="a definitions file holds a list under 'metrics:'",
            )
        ]
    issues = check_document(document, load_schema("definitions"))
    for index, raw in enumerate(document.data.get("metrics", []) if not issues else []):
        issues.extend(non_finite_params(document, ["metrics", index, "params"], raw.get("params", {})))
    if issues:
        return [], issues
    origin = Origin(document.file, provider)
    metrics = [
        _metric(document, origin, index, raw) for index, raw in enumerate(document.data.get("metrics", []))
    ]
    return metrics, []


def non_finite_params(document: Document, path: list[str | int], params: Mapping[str, Any]) -> list[Issue]:
    """An issue for each parameter that is not a finite number (YAML's ``.inf``, ``.nan``)."""
    return [
        Issue(
            "bad-param",
            f"parameter {name!r} must be a finite number, not {value!r}",
            document.location([*path, name]),
            hint="write an ordinary number, e.g. 0.5",
        )
        for name, value in params.items()
        if isinstance(value, float) and not math.isfinite(value)
    ]


def parse_dimensions(document: Document) -> list[DimensionDefinition]:
    """The derived dimensions of a schema-checked document."""
    return [
        DimensionDefinition(
            raw["name"],
            raw["period_of"],
            document.location(["dimensions", index, "name"]),
            raw.get("table", "customers"),
            raw.get("grain", ""),
        )
        for index, raw in enumerate((document.data or {}).get("dimensions", []))
    ]


def load_definitions_file(
    path: Path, provider: str, limits: Limits | None = None
) -> tuple[list[MetricDefinition], list[DimensionDefinition], list[Issue]]:
    """The metrics and dimensions of one file, or the issues that prevent reading them (never raises)."""
    try:
        document = load_file(path, limits)
        issues = _too_many(document, limits or Limits.from_env())
        metrics, issues = ([], issues) if issues else parse_document(document, provider)
    except DefinitionError as error:
        return [], [], error.issues
    return metrics, [] if issues else parse_dimensions(document), issues


def _too_many(document: Document, limits: Limits) -> list[Issue]:
    # Checking costs a fraction of a millisecond a metric: the count, not the bytes, bounds it.
    listed = document.data.get("metrics") if isinstance(document.data, dict) else None
    if not isinstance(listed, list) or len(listed) <= limits.max_metrics:
        return []
    return [
        Issue(
            "too-many-metrics",
            f"the file defines {len(listed):,} metrics, more than the limit of {limits.max_metrics:,}",
            document.location(["metrics"]),
            hint="split the catalog over several files; " + raise_hint("max_metrics"),
        )
    ]


def _formula(document: Document, path: list[str | int], text: str) -> Formula:
    location, style = document.value_location(path)
    if style in ("'", '"'):
        # A quoted scalar's position is its opening quote; the text starts one further.
        location = Location(location.file, location.line, location.column + 1)
    # Columns inside the formula are exact only where its text stands verbatim on one line
    # (not folded over several lines, no escapes, not a block scalar).
    lines = document.lines
    source = lines[location.line - 1] if 0 < location.line <= len(lines) else ""
    verbatim = source[location.column - 1 : location.column - 1 + len(text)] == text
    return Formula(text, location, plain=style in (None, "'", '"') and verbatim)


def _metric(document: Document, origin: Origin, index: int, raw: dict[str, Any]) -> MetricDefinition:
    base: list[str | int] = ["metrics", index]

    def formula(key: str) -> Formula | None:
        if key not in raw:
            return None
        return _formula(document, [*base, key], raw[key])

    measures = {
        name: Measure(
            name,
            spec["table"],
            spec["time"],
            _formula(document, [*base, "measures", name, "expr"], spec["expr"]),
            _formula(document, [*base, "measures", name, "filter"], spec["filter"])
            if "filter" in spec
            else None,
        )
        for name, spec in raw.get("measures", {}).items()
    }
    return MetricDefinition(
        name=raw["name"],
        type=raw["type"],
        origin=origin,
        location=document.location([*base, "name"]),
        label=raw.get("label", ""),
        description=raw.get("description", "").strip(),
        category=raw.get("category", ""),
        unit=raw.get("unit", "number"),
        good=raw.get("good", ""),
        table=raw.get("table", "customers" if raw["type"] == "snapshot" else ""),
        time=raw.get("time", ""),
        expr=formula("expr"),
        filter=formula("filter"),
        active_at=raw.get("active_at", ""),
        from_column=raw.get("from", "acquired_at"),
        until_column=raw.get("until", "churned_at") or "",
        entity=raw.get("entity", ""),
        population=raw.get("population", "active_at_end"),
        measures=measures,
        rollup=raw.get("rollup", "avg"),
        base=formula("base"),
        requires_by=tuple(raw.get("requires_by", ())),
        params={k: float(v) for k, v in raw.get("params", {}).items()},
        override=bool(raw.get("override", False)),
        n=raw.get("n", ""),
        min_n=raw.get("min_n"),
        document=document,
        index=index,
    )
