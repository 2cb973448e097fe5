"""``crmetrics explain``: a metric's definition and its dependency tree, as text."""

from __future__ import annotations

from crmetrics.catalog import Catalog


def describe_metric(catalog: Catalog, name: str) -> str:
    """The definition of metric ``name`` and the tree of metrics it depends on."""
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
    return "\n".join(lines)


def describe_metric_data(catalog: Catalog, name: str) -> dict[str, object]:
    """The definition of metric ``name`` and its dependency tree, as data."""
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
    return data


def _tree(catalog: Catalog, name: str) -> dict[str, object]:
    return {
        "name": name,
        "type": catalog.metrics[name].type,
        "depends_on": [_tree(catalog, d) for d in sorted(catalog.references.get(name, ()))],
    }


__all__ = ["describe_metric", "describe_metric_data"]
