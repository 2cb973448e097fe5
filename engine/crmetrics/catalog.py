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
from crmetrics.formula.typed import Checked, Kind, Node, Prior, Scope, Windowed
from crmetrics.limits import Limits, raise_hint
from crmetrics.metric import DimensionDefinition, Formula, MetricDefinition, load_definitions_file
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
    #: The time constructs each derived metric uses (``Prior`` and ``Windowed`` nodes).
    windows: dict[str, tuple[Node, ...]] = field(default_factory=dict)
    #: Derived grouping columns (``acquisition_cohort``), by name.
    dimensions: dict[str, DimensionDefinition] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits.from_env)

    def get(self, name: str) -> MetricDefinition:
        """The metric called ``name``; an unknown name is a usage error with a suggestion."""
        if name not in self.metrics:
            raise UsageError(
                Issue("unknown-metric", f"unknown metric {name!r}", hint=did_you_mean(name, self.metrics))
            )
        return self.metrics[name]

    def closure(self, names: Iterable[str]) -> list[str]:
        """``names`` and everything they depend on, dependencies first."""
        ordered: dict[str, None] = {}
        for name in names:
            self.get(name)
            # Depth-first without recursion: a chain of thousands of metrics is allowed.
            stack: list[tuple[str, bool]] = [(name, False)]
            while stack:
                current, expanded = stack.pop()
                if current in ordered:
                    continue
                if expanded:
                    ordered[current] = None
                    continue
                stack.append((current, True))
                dependencies = sorted(self.references.get(current, ()), reverse=True)
                stack.extend((d, False) for d in dependencies if d not in ordered)
        return list(ordered)

    def tree(self, name: str, depth: int = 0) -> Iterator[tuple[int, str]]:
        """The dependency tree under ``name``, depth-first; a metric already shown is not expanded.

        Derived metrics may share dependencies (a diamond); expanding each occurrence would
        double the tree at every level.
        """
        shown: set[str] = set()
        stack = [(depth, name)]
        while stack:
            level, current = stack.pop()
            yield level, current
            if current in shown:
                continue
            shown.add(current)
            stack.extend((level + 1, d) for d in sorted(self.references.get(current, ()), reverse=True))


def load_catalog(
    folders: Iterable[tuple[Path, str]],
    functions: FunctionTable,
    files: Iterable[tuple[Path, str]] = (),
    *,
    limits: Limits | None = None,
) -> Catalog:
    """Load every ``*.yaml`` in ``folders`` (and the given ``files``); raise on any issue."""
    limits = limits or Limits.from_env()
    issues: list[Issue] = []
    metrics: dict[str, MetricDefinition] = {}
    dimensions: dict[str, DimensionDefinition] = {}
    paths = [
        (path, provider)
        for folder, provider in folders
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    ]
    paths += list(files)
    for path, provider in paths:
        loaded, declared, found = load_definitions_file(path, provider, limits)
        issues.extend(found)
        for metric in loaded:
            issues.extend(_merge(metrics, metric))
        for dimension in declared:
            issues.extend(_add_dimension(dimensions, dimension))
    catalog = Catalog(metrics, functions, limits=limits, dimensions=dimensions)
    if not issues:
        issues.extend(check_catalog(catalog))
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise DefinitionError(sorted(errors, key=lambda i: (i.location or ("",), i.message)))
    return catalog


def _add_dimension(
    dimensions: dict[str, DimensionDefinition], dimension: DimensionDefinition
) -> Iterator[Issue]:
    existing = dimensions.get(dimension.name)
    if existing is not None:
        yield Issue(
            "duplicate-dimension",
            f"dimension {dimension.name!r} is defined twice: here and at {existing.location}",
            dimension.location,
            hint="rename one of them",
        )
        return
    columns = canonical_columns(dimension.table)
    if dimension.name in columns:
        yield Issue(
            "dimension-shadows-column",
            f"dimension {dimension.name!r} has the name of a column of {dimension.table}",
            dimension.location,
            hint="give the dimension its own name, e.g. acquisition_cohort",
        )
    elif columns.get(dimension.period_of) != "datetime":
        yield Issue(
            "unknown-column",
            f"dimension {dimension.name!r}: {dimension.table} has no timestamp column "
            f"{dimension.period_of!r}",
            dimension.location,
            hint=did_you_mean(dimension.period_of, [c for c, k in columns.items() if k == "datetime"]),
        )
    else:
        dimensions[dimension.name] = dimension


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
    if not issues:
        issues.extend(metrics_reach_within_limit(catalog))
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
            if metric.until_column:
                yield from _column_issue(metric, metric.table, metric.until_column, "datetime", ("until",))
    elif metric.type in ("entity", "cohort"):
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


class _OtherMetrics(Mapping[str, Kind]):
    """Every metric but one, as numbers: what a derived formula may name.

    A view rather than a copy, so checking n derived metrics costs n, not n squared.
    """

    def __init__(self, metrics: Mapping[str, MetricDefinition], excluded: str) -> None:
        self._metrics = metrics
        self._excluded = excluded

    def __getitem__(self, name: str) -> Kind:
        if name == self._excluded or name not in self._metrics:
            raise KeyError(name)
        return "number"

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._metrics if name != self._excluded)

    def __len__(self) -> int:
        return len(self._metrics) - (self._excluded in self._metrics)


def formulas_check(catalog: Catalog, metric: MetricDefinition) -> Iterator[Issue]:
    """Check every formula of ``metric`` against the canonical columns; record its references."""
    if metric.type in ("aggregate", "snapshot") and metric.table in TABLES:
        columns = canonical_columns(metric.table)
        if metric.filter:
            yield from _check(catalog, metric, metric.filter, "row", "boolean", columns=columns)
        if metric.expr:
            yield from _check(catalog, metric, metric.expr, "aggregate", "number", columns=columns)
    elif metric.type == "derived" and metric.expr:
        others = _OtherMetrics(catalog.metrics, metric.name)
        checked: list[Checked] = []
        yield from _check(catalog, metric, metric.expr, "derived", "number", names=others, found=checked)
        for formula in checked:
            catalog.references[metric.name] = set(formula.references)
            catalog.priors[metric.name] = set(formula.priors)
            if not formula.references:
                # Without an input metric there are no periods or groups to give it a value in.
                yield Issue(
                    "formula",
                    "a derived metric combines other metrics, but this formula names none",
                    metric.expr.location,
                    subject=metric.name,
                    hint="name the metrics it is computed from, e.g. revenue / paying_customers",
                )
            catalog.windows[metric.name] = formula.windows
            yield from _window_targets(catalog, metric, formula)
    elif metric.type == "entity" and metric.expr:
        yield from _measures_check(catalog, metric)
        measures = dict.fromkeys(metric.measures, "number")
        yield from _check(catalog, metric, metric.expr, "entity", "number", names=measures)  # type: ignore[arg-type]
    elif metric.type == "cohort" and metric.expr and metric.base:
        yield from _measures_check(catalog, metric)
        numbers: dict[str, Kind] = {name: "number" for name in metric.measures}
        found: list[Checked] = []
        yield from _check(catalog, metric, metric.base, "row", "boolean", columns=numbers, found=found)
        yield from _check(catalog, metric, metric.expr, "aggregate", "number", columns=numbers, found=found)
        if len(found) == 2 and not any(isinstance(n, Prior) for c in found for n in c.windows):
            yield Issue(
                "cohort-without-base-period",
                "a cohort's base reads its measures in an earlier period, with year_ago(m) or prior(m, n)",
                metric.base.location,
                subject=metric.name,
                hint="e.g. base: year_ago(revenue) > 0",
            )


def _window_targets(catalog: Catalog, metric: MetricDefinition, formula: Checked) -> Iterator[Issue]:
    """``rolling``, ``to_date`` and ``share`` recompute a metric from its rows: it must aggregate rows."""
    assert metric.expr is not None
    for node in formula.windows:
        if not isinstance(node, Windowed):
            continue
        target = catalog.metrics.get(node.name)
        if target is not None and target.type != "aggregate":
            yield Issue(
                "window-of-non-aggregate",
                f"{node.construct}({node.name}) recomputes {node.name!r} from its rows, "
                f"but {node.name!r} is a {target.type} metric",
                metric.expr.location,
                subject=metric.name,
                hint=f"apply {node.construct}() to the aggregate metrics it is made of, "
                "e.g. rolling(revenue, 3) / rolling(paying_customers, 3)",
            )


def _measures_check(catalog: Catalog, metric: MetricDefinition) -> Iterator[Issue]:
    for measure in metric.measures.values():
        if measure.table not in TABLES:
            continue
        columns = canonical_columns(measure.table)
        if measure.filter:
            yield from _check(catalog, metric, measure.filter, "row", "boolean", columns=columns)
        yield from _check(catalog, metric, measure.expr, "aggregate", "number", columns=columns)


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
    limit = catalog.limits.max_formula_chars
    if len(formula.text) > limit:
        yield Issue(
            "formula-too-long",
            f"this formula has {len(formula.text):,} characters, more than the limit of {limit:,}",
            formula.location,
            subject=metric.name,
            hint=raise_hint("max_formula_chars"),
        )
        return
    try:
        checked = check_formula(
            formula,
            scope,
            metric.name,
            catalog.functions,
            columns=columns,
            names=names,
            params=metric.params,
            lookback=metric.type == "cohort",
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
    reported: set[frozenset[str]] = set()
    for root in sorted(catalog.metrics):
        if root in state:
            continue
        state[root] = "open"
        path = [root]
        pending = [iter(sorted(catalog.references.get(root, ())))]
        while pending:
            dependency = next(pending[-1], None)
            if dependency is None:
                state[path.pop()] = "done"
                pending.pop()
                continue
            if state.get(dependency) == "open":
                cycle = [*path[path.index(dependency) :], dependency]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    yield Issue(
                        "cycle",
                        "metrics reference each other in a cycle: " + " -> ".join(cycle),
                        catalog.metrics[dependency].location,
                        subject=dependency,
                        hint="a metric cannot depend on itself, directly or through others",
                    )
            elif dependency not in state:
                state[dependency] = "open"
                path.append(dependency)
                pending.append(iter(sorted(catalog.references.get(dependency, ()))))


def metrics_reach_within_limit(catalog: Catalog) -> Iterator[Issue]:
    """No metric depends on more metrics than ``limits.max_metric_reach`` (cycles are gone).

    Reach sets are built dependencies first; once one passes the limit it stops growing,
    so the check costs at most metrics x limit even on a long chain.
    """
    limit = catalog.limits.max_metric_reach
    reach: dict[str, frozenset[str] | None] = {}
    for name in catalog.closure(sorted(catalog.metrics)):
        found: set[str] = set()
        over = inherited = False
        for dependency in catalog.references.get(name, ()):
            below = reach[dependency]
            if below is None:  # already reported where the limit was first passed
                over = inherited = True
                break
            found.add(dependency)
            found.update(below)
            if len(found) > limit:
                over = True
                break
        reach[name] = None if over else frozenset(found)
        if over and not inherited:
            yield Issue(
                "metric-reach",
                f"metric {name!r} depends on more than {limit:,} metrics, directly and through others",
                catalog.metrics[name].location,
                subject=name,
                hint=raise_hint("max_metric_reach"),
            )


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
