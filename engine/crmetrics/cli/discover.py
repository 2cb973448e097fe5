"""Commands that show what is there: metrics, columns, values, sources, plugins, plans."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click

from crmetrics.cli.common import (
    build_engine,
    build_request,
    chosen_source,
    echo_json,
    engine_options,
    format_option,
    no_cache_option,
    project_option,
    reported,
    request_options,
    source_option,
)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


@click.command(name="list")
@format_option("table", "json")
@engine_options
def list_(fmt: str, project: Path | None, definitions: tuple[Path, ...]) -> None:
    """List the metrics available, with category, unit and origin."""
    with reported():
        metrics = build_engine(project, definitions).list_metrics()
        if fmt == "json":
            echo_json(
                [
                    {
                        "name": m.name,
                        "label": m.title,
                        "category": m.category,
                        "type": m.type,
                        "unit": m.unit,
                        "origin": m.origin.provider,
                        "n": m.n or None,
                        "description": m.description,
                    }
                    for m in metrics
                ]
            )
            return
        rows = [[m.name, m.category or "-", m.type, m.unit, m.origin.provider, m.title] for m in metrics]
        click.echo(_table(["metric", "category", "type", "unit", "origin", "label"], rows))


@click.command()
@click.argument("metric", required=False)
@source_option
@format_option("table", "json")
@engine_options
def dimensions(
    metric: str | None,
    source: tuple[str, ...],
    fmt: str,
    project: Path | None,
    definitions: tuple[Path, ...],
) -> None:
    """List the columns METRIC can be grouped (--by) and filtered (--where) by.

    They are the columns of the metric's table and, through customer_id, of customers.
    Without METRIC, every table's columns. Without --source (or a project source), the
    canonical model's columns; with one, the source's own, extra columns included.

    \b
    Example:
      crmetrics dimensions churn_rate -s sample
    """
    with reported():
        engine = build_engine(project, definitions)
        chosen = chosen_source(engine, source) if source or engine.project.source else None
        found = engine.dimensions(metric, chosen)
        if fmt == "json":
            echo_json([dataclasses.asdict(d) for d in found])
            return
        click.echo(_table(["column", "type", "table"], [[d.column, d.type, d.table] for d in found]))


@click.command()
@click.argument("column")
@source_option
@click.option(
    "--table", "-t", default=None, help="The table to read (default: customers, else the first that has it)."
)
@format_option("table", "json")
@project_option
def values(column: str, source: tuple[str, ...], table: str | None, fmt: str, project: Path | None) -> None:
    """List the distinct values of COLUMN in a source, with how many rows hold each.

    \b
    Example:
      crmetrics values segment -s sample
    """
    with reported():
        engine = build_engine(project)
        counts = engine.values(column, chosen_source(engine, source), table=table)
        if fmt == "json":
            echo_json(counts.select("value", "count").to_dicts())
            return
        where = counts["table"][0] if counts.height else table or ""
        rows = [
            ["(null)" if v is None else str(v), str(n)]
            for v, n in counts.select("value", "count").iter_rows()
        ]
        click.echo(f"{where}.{column}")
        click.echo(_table(["value", "rows"], rows))


@click.command()
@click.argument("metric")
@click.option("--plan", "show_plan", is_flag=True, help="Also show the relational plan every engine runs.")
@request_options
@format_option("text", "json")
@engine_options
def explain(
    metric: str,
    show_plan: bool,
    source: tuple[str, ...],
    grain: str,
    start: str | None,
    end: str | None,
    by: tuple[str, ...],
    where: str | None,
    params: tuple[str, ...],
    fmt: str,
    project: Path | None,
    definitions: tuple[Path, ...],
) -> None:
    """Show a metric's definition and its dependency tree; with --plan, its relational plan.

    The plan is the one every engine generates its code from (docs/architecture.md), built
    on --source's tables (or the project's source), or on the canonical tables;
    --start and --end default to the first quarter of 2025.
    """
    with reported():
        engine = build_engine(project, definitions)
        request = None
        chosen: Any = None
        if show_plan:
            request = build_request(
                [metric],
                grain,
                start or "2025-01-01",
                end or "2025-04-01",
                by,
                where,
                params,
                calendar=engine.project.calendar,
            )
            chosen = (
                chosen_source(engine, source) if source or engine.project.source else engine.empty_source()
            )
        if fmt == "json":
            echo_json(engine.describe(metric, request, chosen))
            return
        click.echo(engine.explain(metric, request, chosen, plan=show_plan))


@click.command()
@source_option
@format_option("table", "json")
@project_option
@no_cache_option
def inspect(source: tuple[str, ...], fmt: str, project: Path | None, no_cache: bool) -> None:
    """Show what a source holds: per table, rows read, kept and rejected, null rates, time span."""
    from crmetrics.inspect import render_inspection

    with reported():
        engine = build_engine(project, cache=not no_cache)
        results = engine.inspect(chosen_source(engine, source))
        if fmt == "json":
            echo_json([r.to_dict() for r in results])
        else:
            click.echo(render_inspection(results))
        if any(r.errors for r in results):
            sys.exit(1)


@click.command()
@format_option("table", "json")
def plugins(fmt: str) -> None:
    """List installed plugins, their hooks and what each registered."""
    from crmetrics.engine import Engine

    found = Engine().registry.plugins.values()
    if fmt == "json":
        echo_json([dataclasses.asdict(info) for info in found])
        return
    for info in found:
        state = "FAILED" if info.errors else "ok"
        click.echo(f"{info.name} {info.version} [{state}]")
        if info.hooks:
            click.echo(f"  hooks:    {', '.join(sorted(set(info.hooks)))}")
        for item in info.provides:
            click.echo(f"  provides: {item}")
        for error in info.errors:
            click.echo(f"  error:    {error}")
