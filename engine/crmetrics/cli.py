"""The ``crmetrics`` command: parses options, calls the :class:`Engine`, renders results.

Data goes to stdout; messages go to stderr. Exit codes: 0 ok, 1 data error, 2 definition or
usage error. Errors crmetrics raises on purpose are printed without a traceback; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from crmetrics.errors import CrmetricsError, Issue, UsageError

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def _reported() -> Iterator[None]:
    try:
        yield
    except CrmetricsError as error:
        click.echo(error.render(), err=True)
        sys.exit(error.exit_code)


def _engine_options(command: F) -> F:
    command = click.option(
        "--definitions",
        "-d",
        multiple=True,
        type=click.Path(path_type=Path),
        help="A folder or file of your own metric definitions (repeatable).",
    )(command)
    command = click.option(
        "--project",
        "-p",
        type=click.Path(path_type=Path),
        default=None,
        envvar="CRMETRICS_PROJECT",
        help="Project file (default: ./crmetrics.yaml when present).",
    )(command)
    return command


def _engine(
    project: Path | None, definitions: Sequence[Path], *, cache: bool = True, memory_limit: str | None = None
) -> Any:
    from crmetrics.engine import Engine
    from crmetrics.project import find_project

    return Engine(
        definitions=definitions, project=find_project(project), cache=cache, memory_limit=memory_limit
    )


_NO_CACHE = click.option(
    "--no-cache",
    is_flag=True,
    help="Check every file's rows again instead of reusing the verdict kept for an unchanged "
    "file (kept in CRMETRICS_CACHE_DIR, default ~/.cache/crmetrics).",
)


def _split(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="crmetrics")
def main() -> None:
    """crmetrics: CRM metrics defined once in YAML, evaluated on any source.

    \b
    Try it on the bundled sample data:
      crmetrics run --source sample --start 2025-01-01 --end 2025-07-01
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_engine_options
def validate(paths: tuple[Path, ...], project: Path | None, definitions: tuple[Path, ...]) -> None:
    """Check metric definitions: YAML, schema, formulas, references, cycles.

    PATHS are extra files or folders of definitions, checked with the catalog.
    """
    with _reported():
        engine = _engine(project, [*definitions, *paths])
        catalog = engine.validate()
        for problem in engine.registry.problems:
            click.echo(problem.render(), err=True)
        click.echo(f"ok: {len(catalog.metrics)} metrics, no problems found", err=True)


@main.command(name="list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_engine_options
def list_(fmt: str, project: Path | None, definitions: tuple[Path, ...]) -> None:
    """List the metrics available, with category, unit and origin."""
    with _reported():
        metrics = _engine(project, definitions).list_metrics()
        if fmt == "json":
            rows = [
                {
                    "name": m.name,
                    "label": m.title,
                    "category": m.category,
                    "type": m.type,
                    "unit": m.unit,
                    "origin": m.origin.provider,
                    "description": m.description,
                }
                for m in metrics
            ]
            click.echo(json.dumps(rows, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(show_edge=False, header_style="bold")
        for column in ("metric", "category", "type", "unit", "origin", "label"):
            table.add_column(column)
        for m in metrics:
            table.add_row(m.name, m.category or "-", m.type, m.unit, m.origin.provider, m.title)
        Console(width=140).print(table)


def _request_options(command: F) -> F:
    options = [
        click.option(
            "--source",
            "-s",
            default=None,
            help="Source URI (csv:DIR, parquet:DIR, sample, ...) or a name from the project file.",
        ),
        click.option(
            "--grain",
            "-g",
            default="month",
            show_default=True,
            help="Period length: day, week, month, quarter or year.",
        ),
        click.option("--start", default=None, help="First period start, e.g. 2025-01-01 (inclusive)."),
        click.option("--end", default=None, help="End of the range, e.g. 2026-01-01 (exclusive)."),
        click.option("--by", multiple=True, help="Grouping columns, comma-separated or repeated."),
        click.option(
            "--where", default=None, help="SQL filter on grouping columns, e.g. \"segment = 'SMB'\"."
        ),
        click.option(
            "--param",
            "params",
            multiple=True,
            metavar="METRIC.NAME=VALUE",
            help="Override a parameter (repeatable).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _request(
    engine: Any,
    metrics: Sequence[str],
    grain: str,
    start: str | None,
    end: str | None,
    by: Sequence[str],
    where: str | None,
    params: Sequence[str],
) -> Any:
    from crmetrics.plan import Request

    missing = [name for name, value in (("--start", start), ("--end", end)) if not value]
    if missing:
        raise UsageError(
            Issue(
                "missing-option",
                f"{' and '.join(missing)} required",
                hint="give the range as --start 2025-01-01 --end 2025-07-01",
            )
        )
    overrides: dict[str, Any] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                Issue(
                    "bad-param",
                    f"--param {item!r} is not METRIC.NAME=VALUE",
                    hint="e.g. --param customer_health_score.usage_target=10",
                )
            )
        overrides[key.strip()] = value.strip()
    return Request.build(
        metrics, grain=grain, start=start, end=end, by=_split(by), where=where, params=overrides
    )


def _source(engine: Any, source: str | None) -> str:
    chosen = source or engine.project.source
    if not chosen:
        raise UsageError(
            Issue(
                "missing-source",
                "no source given",
                hint="pass --source csv:DIR (or 'sample'), or set 'source:' in crmetrics.yaml",
            )
        )
    return chosen


@main.command()
@click.option(
    "--metrics", "-m", default="all", show_default=True, help="Comma-separated metric names, or 'all'."
)
@_request_options
@click.option(
    "--format",
    "-f",
    "fmt",
    default="table",
    show_default=True,
    help="table, csv, json, parquet, or a format a plugin adds.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Write to this file instead of stdout.",
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
@_NO_CACHE
@click.option(
    "--memory-limit",
    default=None,
    envvar="CRMETRICS_MEMORY_LIMIT",
    help="Most memory the duckdb engine may use, e.g. 2GB (the rest spills to disk); "
    "for spark, the driver memory of a new local session, e.g. 2g.",
)
@_engine_options
def run(
    metrics: str,
    source: str | None,
    grain: str,
    start: str | None,
    end: str | None,
    by: tuple[str, ...],
    where: str | None,
    params: tuple[str, ...],
    fmt: str,
    output: Path | None,
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

    with _reported():
        engine = _engine(project, definitions, cache=not no_cache, memory_limit=memory_limit)
        names = _split([metrics])
        request = _request(engine, names, grain, start, end, by, where, params)
        formats = engine.registry.output_formats
        if fmt not in formats:
            from crmetrics.errors import did_you_mean

            raise UsageError(
                Issue("unknown-format", f"unknown format {fmt!r}", hint=did_you_mean(fmt, formats))
            )
        from crmetrics.sql.run import check_engine, native_source

        check_engine(backend)
        chosen = _source(engine, source)
        # duckdb:FILE and spark: name an engine's own tables, not a connector's.
        connector = None if native_source(engine, chosen) else engine.open_source(chosen)
        result = engine.evaluate(
            request, connector or chosen, engine=backend, streaming=streaming, trust=trust
        )
        for report in connector.reports() if connector else ():
            for issue in report.issues:
                click.echo(issue.render(), err=True)
        info = RenderInfo(
            by=request.by,
            metrics={
                m.name: MetricDisplay(m.title, m.unit, m.category) for m in engine.catalog.metrics.values()
            },
        )
        if output is not None:
            with output.open("wb") as stream:
                formats[fmt].write(result, stream, info)
            click.echo(f"wrote {result.height} rows to {output}", err=True)
        else:
            formats[fmt].write(result, sys.stdout.buffer, info)
            sys.stdout.flush()


@main.command()
@click.option("--metrics", "-m", required=True, help="Comma-separated metric names, or 'all'.")
@click.option("--grain", "-g", default="month", show_default=True, help="day, week, month, quarter or year.")
@click.option("--start", default=None, help="First period start, e.g. 2025-01-01 (inclusive).")
@click.option("--end", default=None, help="End of the range, e.g. 2026-01-01 (exclusive).")
@click.option("--by", multiple=True, help="Grouping columns, comma-separated or repeated.")
@click.option("--where", default=None, help="SQL filter on grouping columns, e.g. \"segment = 'SMB'\".")
@click.option("--param", "params", multiple=True, metavar="METRIC.NAME=VALUE", help="Override a parameter.")
@click.option(
    "--dialect",
    "-D",
    required=True,
    help="duckdb, postgres, spark, databricks, snowflake, bigquery or trino.",
)
@_engine_options
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

    \b
    Example:
      crmetrics sql -m churn_rate --start 2025-01-01 --end 2025-07-01 --dialect snowflake
    """
    with _reported():
        engine = _engine(project, definitions)
        request = _request(engine, _split([metrics]), grain, start, end, by, where, params)
        click.echo(engine.sql(request, dialect) + ";")


@main.command()
@click.argument("metric")
@_request_options
@_engine_options
def explain(
    metric: str,
    source: str | None,
    grain: str,
    start: str | None,
    end: str | None,
    by: tuple[str, ...],
    where: str | None,
    params: tuple[str, ...],
    project: Path | None,
    definitions: tuple[Path, ...],
) -> None:
    """Show a metric's definition, its dependency tree and its compiled Polars plan.

    Without --source the plan is compiled against empty canonical tables.
    """
    with _reported():
        import polars as pl

        from crmetrics.model import TABLES

        engine = _engine(project, definitions)
        request = _request(
            engine, [metric], grain, start or "2025-01-01", end or "2025-04-01", by, where, params
        )
        chosen: Any = (
            source
            or engine.project.source
            or {name: pl.DataFrame(schema=table.schema) for name, table in TABLES.items()}
        )
        click.echo(engine.explain(metric, request, chosen))


@main.command()
@click.option("--source", "-s", default=None, help="Source URI or a name from the project file.")
@click.option(
    "--project",
    "-p",
    type=click.Path(path_type=Path),
    default=None,
    envvar="CRMETRICS_PROJECT",
    help="Project file (default: ./crmetrics.yaml when present).",
)
@_NO_CACHE
def inspect(source: str | None, project: Path | None, no_cache: bool) -> None:
    """Show what a source holds: per table, rows read, kept and rejected, null rates, time span."""
    from crmetrics.inspect import inspect_source, render_inspection

    with _reported():
        engine = _engine(project, (), cache=not no_cache)
        connector = engine.open_source(_source(engine, source))
        results = inspect_source(connector)
        click.echo(render_inspection(results))
        if any(r.errors for r in results):
            sys.exit(1)


@main.command()
@click.option("--project", "which", flag_value="project", help="Print the project-file schema instead.")
@click.option("--definitions", "which", flag_value="definitions", default=True, hidden=True)
def schema(which: str) -> None:
    """Print the JSON Schema of definition files (for editors and CI)."""
    from crmetrics.schema_check import load_schema

    click.echo(json.dumps(load_schema(which), indent=2))


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def plugins(fmt: str) -> None:
    """List installed plugins, their hooks and what each registered."""
    from crmetrics.registry import build_registry

    registry = build_registry()
    if fmt == "json":
        click.echo(json.dumps([info.__dict__ for info in registry.plugins.values()], indent=2))
        return
    for info in registry.plugins.values():
        state = "FAILED" if info.errors else "ok"
        click.echo(f"{info.name} {info.version} [{state}]")
        if info.hooks:
            click.echo(f"  hooks:    {', '.join(sorted(set(info.hooks)))}")
        for item in info.provides:
            click.echo(f"  provides: {item}")
        for error in info.errors:
            click.echo(f"  error:    {error}")


if __name__ == "__main__":  # pragma: no cover
    main()
