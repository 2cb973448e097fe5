"""The ``test``, ``report`` and ``plot`` commands: parse options, call the Engine, print.

They are registered on the ``crmetrics`` group in :mod:`crmetrics.cli`.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import click

from crmetrics.cli.common import (
    build_engine,
    build_request,
    chosen_source,
    engine_options,
    reported,
    request_options,
    split,
    warn,
)
from crmetrics.cli.destination import check_output, dash_is_stdout, write_output


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--builtin",
    is_flag=True,
    help="Run the cases the installed plugins ship (the built-in catalog's among them).",
)
@click.option(
    "--engine",
    "backend",
    default="polars",
    show_default=True,
    help="polars, duckdb (pip install crmetrics[duckdb]) or spark (pip install crmetrics[spark]).",
)
@click.option("-k", "keyword", default=None, help="Run only the cases whose name contains this text.")
@engine_options
def test(
    paths: tuple[Path, ...],
    builtin: bool,
    backend: str,
    keyword: str | None,
    project: Path | None,
    definitions: tuple[Path, ...],
) -> None:
    """Run metric test cases written in YAML (docs/tests.md).

    Cases come from the 'tests:' of your definitions files, the project file's 'tests:'
    folders and PATHS. Exit code 1 when a case fails.

    \b
    Example:
      crmetrics test tests/metrics/ --engine duckdb
      crmetrics test --builtin
    """
    from crmetrics.errors import Issue, UsageError
    from crmetrics.testing.summary import progress_line, render_failures, summary_line

    with reported():
        engine = build_engine(project, definitions)
        engine.check_engine(backend)
        cases = engine.test_cases(paths, builtin=builtin)
        if keyword:
            cases = [case for case in cases if keyword in case.name]
        if not cases:
            raise UsageError(
                Issue(
                    "no-tests",
                    "no test cases found" + (f" matching {keyword!r}" if keyword else ""),
                    hint="write 'tests:' (docs/tests.md), or name a folder of them, or add --builtin",
                )
            )
        began = time.perf_counter()
        by_file: dict[str, list[Any]] = defaultdict(list)
        for case in cases:
            by_file[case.file].append(case)
        results = []
        for file, file_cases in by_file.items():
            done = [engine.run_test(case, engine=backend) for case in file_cases]
            click.echo(progress_line(file, done))
            results += done
        for line in render_failures(results):
            click.echo(line)
        click.echo(summary_line(results, time.perf_counter() - began))
        if not all(result.passed for result in results):
            sys.exit(1)


@click.command()
@click.option(
    "--metrics",
    "-m",
    default="all",
    show_default=True,
    help="Comma-separated metric names, or 'all' (the catalog, by category).",
)
@request_options
@click.option("--title", default="Metrics report", show_default=True, help="The page's title.")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("report.html"),
    show_default=True,
    callback=dash_is_stdout,
    help="The HTML file to write ('-' writes the page to stdout).",
)
@engine_options
def report(
    metrics: str,
    source: tuple[str, ...],
    grain: str,
    start: str | None,
    end: str | None,
    by: tuple[str, ...],
    where: str | None,
    params: tuple[str, ...],
    title: str,
    output: Path | None,
    project: Path | None,
    definitions: tuple[Path, ...],
) -> None:
    """Write a static HTML report: a KPI card and a trend chart per metric (docs/reports.md).

    The page is one self-contained file: it needs no network and no script to view.
    Needs the report extra: pip install 'crmetrics[report]'.

    \b
    Example:
      crmetrics report -s sample --start 2025-01-01 --end 2025-07-01 -o report.html
    """
    with reported():
        check_output(output, "html")
        engine = build_engine(project, definitions)
        request = build_request(split([metrics]), grain, start, end, by, where, params)
        data = engine.report_data(request, chosen_source(engine, source))
        warn(data.skipped)
        warn(data.notes)
        page = engine.render_report(data, title=title)
        encoded = page.encode()
        if output is None:
            sys.stdout.buffer.write(encoded)
            sys.stdout.flush()
            return
        write_output(output, encoded)
        click.echo(f"wrote {output} ({len(encoded) / 1024:,.0f} KB)", err=True)


@click.command()
@click.argument("metrics", nargs=-1, required=True)
@request_options
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    required=True,
    help="The image to write: its extension (.png or .svg) chooses the format.",
)
@engine_options
def plot(
    metrics: tuple[str, ...],
    source: tuple[str, ...],
    grain: str,
    start: str | None,
    end: str | None,
    by: tuple[str, ...],
    where: str | None,
    params: tuple[str, ...],
    output: Path,
    project: Path | None,
    definitions: tuple[Path, ...],
) -> None:
    """Write a PNG or SVG chart of METRICS: a line per group over the periods.

    Needs the report extra: pip install 'crmetrics[report]'.

    \b
    Example:
      crmetrics plot churn_rate -s sample --start 2025-01-01 --end 2025-07-01 \\
        --by segment -o churn.png
    """
    with reported():
        check_output(output, "png")
        engine = build_engine(project, definitions)
        request = build_request(split(metrics), grain, start, end, by, where, params)
        drawn = engine.chart(request, chosen_source(engine, source), image_format=output.suffix or "(none)")
        warn(drawn.notes)
        write_output(output, drawn.image)
        click.echo(f"wrote {output}", err=True)
