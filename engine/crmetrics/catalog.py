"""The catalog: every metric definition loaded, checked and cross-referenced.

Definitions come from folders registered by plugins (the built-in catalog is one) and from
the user's folders. Semantic checks are small rules that yield issues; a rule that crashes
becomes an issue saying what was being checked, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from crmetrics.errors import DefinitionError, Issue, UsageError, did_you_mean
from crmetrics.formula.check import check_formula
from crmetrics.formula.functions import FunctionTable
from crmetrics.formula.typed import Checked, Kind, Scope
from crmetrics.metric import Formula, MetricDefinition, load_definitions_file
from crmetrics.model import TABLES

KIND_OF_COLUMN: dict[str, Kind] = {
    "str": "text",
    "float": "number",
    "bool": "boolean",
    "datetime": "datetime",
}


def canonical_columns(table: str) -> dict[str, Kind]:
    """The columns of canonical table ``table`` and their formula kinds."""
    return {c.name: KIND_OF_COLUMN[c.kind] for c in TABLES[table].columns}


@dataclass
class Catalog:
    """The loaded metrics, the functions formulas may call, and who references whom."""

    metrics: dict[str, MetricDefinition]
    functions: FunctionTable
    references: dict[str, set[str]] = field(default_factory=dict)
    priors: dict[str, set[str]] = field(default_factory=dict)

    def get(self, name: str) -> MetricDefinition:
        """The metric called ``name``; an unknown name is a usage error with a suggestion."""
        if name not in self.metrics:
            raise UsageError(
                Issue("unknown-metric", f"unknown metric {name!r}", hint=did_you_mean(name, self.metrics))
            )
        return self.metrics[name]

    def closure(self, names: Iterable[str]) -> list[str]:
        """``names`` and everything they depend on, dependencies first."""
        ordered: list[str] = []

        def visit(name: str) -> None:
            if name in ordered:
                return
            for dependency in sorted(self.references.get(name, ())):
                visit(dependency)
            ordered.append(name)

        for name in names:
            self.get(name)
            visit(name)
        return ordered

    def tree(self, name: str, depth: int = 0) -> Iterator[tuple[int, str]]:
        """The dependency tree under ``name``, depth-first."""
        yield depth, name
        for dependency in sorted(self.references.get(name, ())):
            yield from self.tree(dependency, depth + 1)


def load_catalog(
    folders: Iterable[tuple[Path, str]], functions: FunctionTable, files: Iterable[tuple[Path, str]] = ()
) -> Catalog:
    """Load every ``*.yaml`` in ``folders`` (and the given ``files``); raise on any issue."""
    issues: list[Issue] = []
    metrics: dict[str, MetricDefinition] = {}
    paths = [
        (path, provider)
        for folder, provider in folders
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    ]
    paths += list(files)
    for path, provider in paths:
        loaded, found = load_definitions_file(path, provider)
        issues.extend(found)
        for metric in loaded:
            issues.extend(_merge(metrics, metric))
    catalog = Catalog(metrics, functions)
    if not issues:
        issues.extend(check_catalog(catalog))
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise DefinitionError(sorted(errors, key=lambda i: (i.location or ("",), i.message)))
    return catalog


def _merge(metrics: dict[str, MetricDefinition], metric: MetricDefinition) -> Iterator[Issue]:
    existing = metrics.get(metric.name)
    # Only the user may replace a metric on purpose; a plugin cannot silently take over a name.
    user_override = metric.override and metric.origin.provider == "user"
    if existing is None or (user_override and existing.origin.provider != "user"):
        metrics[metric.name] = metric
        return
    yield Issue(
        "duplicate-metric",
        f"metric {metric.name!r} is defined twice: here ({metric.origin.provider}) and at "
        f"{existing.location} ({existing.origin.provider})",
        metric.location,
        subject=metric.name,
        hint="rename one of them, or set 'override: true' on your own definition to replace the other",
    )


# ---- rules ------------------------------------------------------------------------------

Rule = Callable[[Catalog, MetricDefinition], Iterator[Issue]]


def check_catalog(catalog: Catalog) -> list[Issue]:
    """Every issue the semantic rules find in ``catalog``, then the reference cycles."""
    issues: list[Issue] = []
    for metric in catalog.metrics.values():
        for rule in RULES:
            try:
                issues.extend(rule(catalog, metric))
            except DefinitionError as error:
                issues.extend(error.issues)
            except Exception as error:  # a bug in a rule must still say what it was checking
                issues.append(
                    Issue(
                        "internal",
                        f"checking {rule.__name__} failed: {error!r}",
                        metric.location,
                        subject=metric.name,
                    )
                )
    if not issues:
        issues.extend(no_cyclic_metric_references(catalog))
    return issues


def _table_issue(metric: MetricDefinition, table: str, key: tuple[str | int, ...]) -> Iterator[Issue]:
    if table not in TABLES:
        yield Issue(
            "unknown-table",
            f"unknown table {table!r}",
            metric.key_location(*key),
            subject=metric.name,
            hint=did_you_mean(table, TABLES),
        )


def _column_issue(
    metric: MetricDefinition, table: str, column: str, kind: Kind, key: tuple[str | int, ...]
) -> Iterator[Issue]:
    columns = canonical_columns(table)
    if column not in columns:
        yield Issue(
            "unknown-column",
            f"table {table!r} has no column {column!r}",
            metric.key_location(*key),
            subject=metric.name,
            hint=did_you_mean(column, columns),
        )
    elif columns[column] != kind:
        yield Issue(
            "column-type",
            f"column {table}.{column} is {columns[column]}, not {kind}",
            metric.key_location(*key),
            subject=metric.name,
        )


def tables_and_columns_exist(catalog: Catalog, metric: MetricDefinition) -> Iterator[Issue]:
    """The tables and time columns ``metric`` names exist, with the right kinds."""
    if metric.type == "aggregate":
        yield from _table_issue(metric, metric.table, ("table",))
        if metric.table in TABLES:
            yield from _column_issue(metric, metric.table, metric.time, "datetime", ("time",))
    elif metric.type == "snapshot":
        yield from _table_issue(metric, metric.table, ("table",))
        if metric.table in TABLES:
            yield from _column_issue(metric, metric.table, metric.from_column, "datetime", ("from",))
            yield from _column_issue(metric, metric.table, metric.until_column, "datetime", ("until",))
    elif metric.type == "entity":
        for name, measure in metric.measures.items():
            where = ("measures", name)
            yield from _table_issue(metric, measure.table, (*where, "table"))
            if measure.table not in TABLES:
                continue
            yield from _column_issue(metric, measure.table, measure.time, "datetime", (*where, "time"))
            if "customer_id" not in canonical_columns(measure.table):
                yield Issue(
                    "unreachable-entity",
                    f"measure {name!r} reads {measure.table!r}, "
                    "which has no customer_id to attribute rows to a customer",
                    metric.key_location(*where, "table"),
                    subject=metric.name,
                )


def formulas_check(catalog: Catalog, metric: MetricDefinition) -> Iterator[Issue]:
    """Check every formula of ``metric`` against the canonical columns; record its references."""
    names: Mapping[str, Kind] = dict.fromkeys(catalog.metrics, "number")
    if metric.type in ("aggregate", "snapshot") and metric.table in TABLES:
        columns = canonical_columns(metric.table)
        if metric.filter:
            yield from _check(catalog, metric, metric.filter, "row", "boolean", columns=columns)
        if metric.expr:
            yield from _check(catalog, metric, metric.expr, "aggregate", "number", columns=columns)
    elif metric.type == "derived" and metric.expr:
        others = {n: k for n, k in names.items() if n != metric.name}
        checked: list[Checked] = []
        yield from _check(catalog, metric, metric.expr, "derived", "number", names=others, found=checked)
        for formula in checked:
            catalog.references[metric.name] = set(formula.references)
            catalog.priors[metric.name] = set(formula.priors)
    elif metric.type == "entity" and metric.expr:
        for measure in metric.measures.values():
            if measure.table not in TABLES:
                continue
            columns = canonical_columns(measure.table)
            if measure.filter:
                yield from _check(catalog, metric, measure.filter, "row", "boolean", columns=columns)
            yield from _check(catalog, metric, measure.expr, "aggregate", "number", columns=columns)
        measures = dict.fromkeys(metric.measures, "number")
        yield from _check(catalog, metric, metric.expr, "entity", "number", names=measures)  # type: ignore[arg-type]


def _check(
    catalog: Catalog,
    metric: MetricDefinition,
    formula: Formula,
    scope: Scope,
    want: Kind,
    *,
    columns: Mapping[str, Kind] | None = None,
    names: Mapping[str, Kind] | None = None,
    found: list[Checked] | None = None,
) -> Iterator[Issue]:
    try:
        checked = check_formula(
            formula, scope, metric.name, catalog.functions, columns=columns, names=names, params=metric.params
        )
    except DefinitionError as error:
        yield from error.issues
        return
    if found is not None:
        found.append(checked)
    if checked.kind not in (want, "any"):
        yield Issue(
            "formula-type",
            f"this formula gives {checked.kind}, but {want} is needed",
            formula.location,
            subject=metric.name,
        )


def params_do_not_shadow(catalog: Catalog, metric: MetricDefinition) -> Iterator[Issue]:
    """No parameter of ``metric`` has the name of a column, measure or metric it could mean."""
    tables = [metric.table, *(m.table for m in metric.measures.values())]
    columns = {c for t in tables if t in TABLES for c in canonical_columns(t)}
    for name in metric.params:
        shadowed = (
            "measure"
            if name in metric.measures
            else "metric"
            if metric.type == "derived" and name in catalog.metrics
            else "column"
            if name in columns
            else None
        )
        if shadowed:
            yield Issue(
                "param-shadows",
                f"parameter {name!r} has the name of a {shadowed}",
                metric.key_location("params", name, key=True),
                subject=metric.name,
                hint="rename the parameter",
            )


def no_cyclic_metric_references(catalog: Catalog) -> Iterator[Issue]:
    """No metric depends on itself, directly or through others: one issue per cycle."""
    state: dict[str, str] = {}
    stack: list[str] = []
    reported: set[frozenset[str]] = set()

    def visit(name: str) -> Iterator[Issue]:
        state[name] = "open"
        stack.append(name)
        for dependency in sorted(catalog.references.get(name, ())):
            if state.get(dependency) == "open":
                cycle = [*stack[stack.index(dependency) :], dependency]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    metric = catalog.metrics[dependency]
                    yield Issue(
                        "cycle",
                        "metrics reference each other in a cycle: " + " -> ".join(cycle),
                        metric.location,
                        subject=dependency,
                        hint="a metric cannot depend on itself, directly or through others",
                    )
            elif dependency not in state:
                yield from visit(dependency)
        stack.pop()
        state[name] = "done"

    for name in sorted(catalog.metrics):
        if name not in state:
            yield from visit(name)


def sample_size_is_a_count_metric(catalog: Catalog, metric: MetricDefinition) -> Iterator[Issue]:
    """``n`` names another metric of the catalog, one that counts (unit ``count``)."""
    if metric.min_n is not None and not metric.n:
        yield Issue(
            "min-n-without-n",
            "min_n needs n: the count metric giving the sample size",
            metric.key_location("min_n", key=True),
            subject=metric.name,
            hint="add e.g. 'n: nps_responses', or remove min_n",
        )
    if not metric.n:
        return
    target = catalog.metrics.get(metric.n)
    if target is None or target.name == metric.name:
        yield Issue(
            "unknown-sample-size",
            f"n: {metric.n!r} is not " + ("another metric" if target else "a metric"),
            metric.key_location("n"),
            subject=metric.name,
            hint=did_you_mean(metric.n, [n for n in catalog.metrics if n != metric.name]),
        )
    elif target.unit != "count":
        yield Issue(
            "sample-size-unit",
            f"n: {metric.n!r} has unit {target.unit}, but a sample size is a count",
            metric.key_location("n"),
            subject=metric.name,
            hint="name a metric with unit: count",
        )


RULES: tuple[Rule, ...] = (
    tables_and_columns_exist,
    params_do_not_shadow,
    formulas_check,
    sample_size_is_a_count_metric,
)
