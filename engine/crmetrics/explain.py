"""``crmetrics explain``: a metric's definition, its dependency tree and its compiled plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmetrics.catalog import Catalog
from crmetrics.plan import Request

if TYPE_CHECKING:
    from crmetrics.engine import Engine, Source


def explain(engine: Engine, name: str, request: Request | None, source: Source | None) -> str:
    catalog = engine.catalog
    metric = catalog.get(name)
    lines = [f"{metric.name}: {metric.title}", f"  type:     {metric.type}"]
    if metric.category:
        lines.append(f"  category: {metric.category}")
    lines.append(f"  unit:     {metric.unit}")
    lines.append(f"  defined:  {metric.location} ({metric.origin.provider})")
    if metric.description:
        lines.append(f"  about:    {metric.description}")
    if metric.table:
        lines.append(f"  table:    {metric.table}" + (f", time column {metric.time}" if metric.time else ""))
    if metric.active_at:
        lines.append(
            f"  counts:   rows active at {metric.active_at} "
            f"({metric.from_column} < t and ({metric.until_column} is null or >= t))"
        )
    if metric.expr:
        lines.append(f"  expr:     {metric.expr.text.strip()}")
    if metric.filter:
        lines.append(f"  filter:   {metric.filter.text.strip()}")
    for measure in metric.measures.values():
        lines.append(
            f"  measure:  {measure.name} = {measure.expr.text.strip()} on {measure.table} by {measure.time}"
        )
    for param, value in metric.params.items():
        lines.append(f"  param:    {param} = {value:g}")
    lines.append("")
    lines.append("dependencies:")
    for depth, node in catalog.tree(name):
        kind = catalog.metrics[node].type
        prior = " (and its prior period)" if node in catalog.priors.get(name, ()) and depth == 1 else ""
        lines.append(f"  {'  ' * depth}{node} [{kind}]{prior}")
    if request is not None and source is not None:
        query = engine.compile(request, source)
        lines.append("")
        lines.append(
            f"plan ({request.grain.name}, {request.start:%Y-%m-%d} to {request.end:%Y-%m-%d}), "
            "as Polars optimises it:"
        )
        lines.append(query.explain())
    return "\n".join(lines)


def describe(engine: Engine, name: str, request: Request | None, source: Source | None) -> dict[str, object]:
    """The definition, the dependency tree and (with a request and a source) the plan, as data."""
    catalog = engine.catalog
    metric = catalog.get(name)
    data: dict[str, object] = {
        "name": metric.name,
        "label": metric.title,
        "type": metric.type,
        "category": metric.category,
        "unit": metric.unit,
        "defined": str(metric.location),
        "origin": metric.origin.provider,
        "description": metric.description,
        "table": metric.table or None,
        "time": metric.time or None,
        "expr": metric.expr.text.strip() if metric.expr else None,
        "filter": metric.filter.text.strip() if metric.filter else None,
        "measures": {
            m.name: {"table": m.table, "time": m.time, "expr": m.expr.text.strip()}
            for m in metric.measures.values()
        },
        "params": dict(metric.params),
        "n": metric.n or None,
        "min_n": metric.min_n,
        "dependencies": _tree(catalog, name),
    }
    if request is not None and source is not None:
        data["plan"] = engine.compile(request, source).explain()
    return data


def _tree(catalog: Catalog, name: str) -> dict[str, object]:
    return {
        "name": name,
        "type": catalog.metrics[name].type,
        "depends_on": [_tree(catalog, d) for d in sorted(catalog.references.get(name, ()))],
    }
