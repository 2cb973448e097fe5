"""``crmetrics run`` and ``crmetrics sql``: evaluate metrics, or print the SQL that would."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from crmetrics.cli.common import (
    FORMAT_CHOICES,
    build_engine,
    build_request,
    chosen_source,
    engine_options,
    no_cache_option,
    range_options,
    reported,
    request_options,
    split,
    warn,
)
from crmetrics.cli.destination import check_output, chosen_format, dash_is_stdout, output_stream


def _caption(source: str, request: object, compare: str | None) -> str:
    from crmetrics.plan import Request

    assert isinstance(request, Request)
    parts = [
        f"source: {source}",
        f"grain: {request.grain.name}",
        f"range: {request.start:%Y-%m-%d} to {request.end:%Y-%m-%d} (end exclusive)",
    ]
    if request.by:
        parts.append(f"by: {', '.join(request.by)}")
    if request.where:
        parts.append(f"where: {request.where}")
    if compare:
        parts.append(f"compared with: {compare.replace('_', ' ')}")
    return " | ".join(parts)


@click.command()
@click.option(
    "--metrics", "-m", default="all", show_default=True, help="Comma-separated metric names, or 'all'."
)
@request_options
@click.option(
    "--format",
    "-f",
    "fmt",
    metavar="[" + "|".join(FORMAT_CHOICES) + "|...]",
    default=None,
    help="Output format (default: from -o's extension, else table). csv, json and parquet give "
    "the long format, one row per (metric, period, group); plugins may add formats "
    "('crmetrics plugins' lists them).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    callback=dash_is_stdout,
    help="Write to this file instead of stdout ('-' is stdout); .csv, .json and .parquet imply the format.",
)
@click.option(
    "--compare",
    type=click.Choice(["previous", "year_ago"]),
    default=None,
    help="Add each value's change from the previous period, or from the same period a year "
    "before (month, quarter or year grain).",
)
@click.option(
    "--with-n",
    is_flag=True,
    help="Add the column n: the number of rows or entities behind each value of a score.",
)
@click.option(
    "--min-n",
    type=click.IntRange(min=1),
    default=None,
    help="Show a score whose n is below this as null (replaces the definitions' min_n).",
)
@click.option(
    "--engine",
    "backend",
    default="polars",
    show_default=True,
    help="polars, duckdb (pip install crmetrics[duckdb]) or spark (pip install crmetrics[spark]).",
)
@click.option(
    "--streaming",
    is_flag=True,
    help="Use Polars' streaming engine: evaluates sources larger than memory, in batches.",
)
@click.option(
    "--trust",
    is_flag=True,
    help="Skip the row checks (duplicate keys, required and allowed values, cross-column rules) "
    "of tables already in canonical types, e.g. typed Parquet. Faster; the source vouches.",
)
@no_cache_option
@click.option(
    "--memory-limit",
    default=None,
    envvar="CRMETRICS_MEMORY_LIMIT",
    help="Most memory the duckdb engine may use, e.g. 2GB (the rest spills to disk); "
    "for spark, the driver memory of a new local session, e.g. 2g.",
)
@engine_options
def run(
    metrics: str,
    source: tuple[str, ...],
    grain: str,
    start: str | None,
    end: str | None,
    by: tuple[str, ...],
    where: str | None,
    params: tuple[str, ...],
    fmt: str | None,
    output: Path | None,
    compare: str | None,
    with_n: bool,
    min_n: int | None,
    backend: str,
    streaming: bool,
    trust: bool,
    no_cache: bool,
    memory_limit: str | None,
    project: Path | None,
    definitions: tuple[Path, ...],
) -> None:
    """Evaluate metrics over a range of periods.

    \b
    Example:
      crmetrics run -s sample -m churn_rate,net_promoter_score \\
        --start 2025-01-01 --end 2025-07-01 --by segment
    """
    from crmetrics.output import MetricDisplay, RenderInfo

    with reported():
        chosen = chosen_format(fmt, output)
        check_output(output, chosen)
        engine = build_engine(project, definitions, cache=not no_cache, memory_limit=memory_limit)
        writer = engine.output_format(chosen)
        request = build_request(
            split([metrics]), grain, start, end, by, where, params, calendar=engine.project.calendar
        )
        outcome = engine.run(
            request,
            chosen_source(engine, source),
            engine=backend,
            streaming=streaming,
            trust=trust,
            compare=compare,
            with_n=with_n,
            min_n=min_n,
        )
        warn(outcome.notes)
        info = RenderInfo(
            by=request.by,
            metrics={m.name: MetricDisplay(m.title, m.unit, m.category) for m in engine.list_metrics()},
            order=outcome.request.metrics,
            grain=request.grain.name,
            caption=_caption(outcome.source, outcome.request, compare),
            width=shutil.get_terminal_size((80, 24)).columns,
            currency=engine.project.reporting_currency or "",
        )
        if output is not None:
            with output_stream(output) as stream:
                writer.write(outcome.frame, stream, info)
            click.echo(f"wrote {outcome.frame.height} rows to {output}", err=True)
        else:
            writer.write(outcome.frame, sys.stdout.buffer, info)
            sys.stdout.flush()


@click.command()
@click.option("--metrics", "-m", required=True, help="Comma-separated metric names, or 'all'.")
@range_options
@click.option(
    "--dialect",
    "-D",
    required=True,
    help="duckdb, postgres, spark, databricks, snowflake, bigquery or trino.",
)
@engine_options
def sql(
    metrics: str,
    grain: str,
    start: str | None,
    end: str | None,
    by: tuple[str, ...],
    where: str | None,
    params: tuple[str, ...],
    dialect: str,
    project: Path | None,
    definitions: tuple[Path, ...],
) -> None:
    """Print one SQL statement that computes the metrics in a warehouse.

    It returns what 'run' prints in long format: metric, period_start, the --by columns and
    value. Tables are read where the project file's 'warehouse: tables:' mapping says.
    With -m all, metrics that cannot reach a --by or --where column are skipped, each
    with a warning.

    \b
    Example:
      crmetrics sql -m churn_rate --start 2025-01-01 --end 2025-07-01 --dialect snowflake
    """
    with reported():
        engine = build_engine(project, definitions)
        request = build_request(
            split([metrics]), grain, start, end, by, where, params, calendar=engine.project.calendar
        )
        request, skipped = engine.sql_request(request)
        warn(skipped)
        click.echo(engine.sql(request, dialect) + ";")
