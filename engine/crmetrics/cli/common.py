"""What every command shares: turning library errors into exit codes, the shared options,
building the :class:`Engine` and a :class:`Request` from them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from crmetrics.errors import CrmetricsError, Issue, UsageError

if TYPE_CHECKING:
    from crmetrics.engine import Engine
    from crmetrics.periods import Calendar
    from crmetrics.plan import Request
    from crmetrics.progress import Progress

F = TypeVar("F", bound=Callable[..., Any])

#: The grains of ``crmetrics.periods.GRAINS`` and the built-in output formats, spelled out
#: for ``--help`` so that it need not import Polars or load plugins (a test keeps them
#: equal). Values are checked by the engine, whose messages suggest the closest name.
GRAIN_CHOICES = ("day", "week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year")
FORMAT_CHOICES = ("table", "csv", "json", "parquet")


@contextmanager
def reported() -> Iterator[None]:
    """The one place a library error becomes a message on stderr and an exit code."""
    try:
        yield
    except CrmetricsError as error:
        click.echo(error.render(), err=True)
        sys.exit(error.exit_code)


def warn(issues: Sequence[Issue]) -> None:
    """Print warnings on stderr, one block each."""
    for issue in issues:
        click.echo(issue.render(), err=True)


def echo_json(data: Any) -> None:
    """``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, default=str))


def engine_options(command: F) -> F:
    """``--definitions`` and ``--project``."""
    command = click.option(
        "--definitions",
        "-d",
        multiple=True,
        type=click.Path(path_type=Path),
        help="A folder or file of your own metric definitions (repeatable).",
    )(command)
    return project_option(command)


def project_option(command: F) -> F:
    """``--project``."""
    return click.option(
        "--project",
        "-p",
        type=click.Path(path_type=Path),
        default=None,
        envvar="CRMETRICS_PROJECT",
        help="Project file (default: ./crmetrics.yaml when present).",
    )(command)


def format_option(*choices: str) -> Callable[[F], F]:
    """``--format`` with a fixed set of choices, the first the default."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help=f"{choices[0]} for people, json for programs.",
    )


def build_engine(
    project: Path | None,
    definitions: Sequence[Path] = (),
    *,
    cache: bool = True,
    memory_limit: str | None = None,
) -> Engine:
    """The engine of a command: the project file found, its definitions and ``definitions``.

    ``cache`` and ``memory_limit`` are the ``--no-cache`` and ``--memory-limit`` options.
    """
    from crmetrics.engine import Engine
    from crmetrics.project import find_project

    engine = Engine(
        definitions=definitions,
        project=find_project(project),
        progress=_terminal_progress(),
        cache=cache,
        memory_limit=memory_limit,
    )
    # The library never prints: the plugins that failed to load are shown here, once.
    warn(engine.problems)
    return engine


no_cache_option = click.option(
    "--no-cache",
    is_flag=True,
    help="Check every file's rows again instead of reusing the verdict kept for an unchanged "
    "file (kept in CRMETRICS_CACHE_DIR, default ~/.cache/crmetrics).",
)


def split(values: Sequence[str]) -> list[str]:
    """Comma-separated or repeated values as one list."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def request_options(command: F, *, source: bool = True) -> F:
    """The options of a request: grain, range, grouping, filter and parameters."""
    options = [
        click.option(
            "--grain",
            "-g",
            metavar="[" + "|".join(GRAIN_CHOICES) + "]",
            default="month",
            show_default=True,
            help="Period length.",
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
    if source:
        options.insert(0, source_option)
    for option in reversed(options):
        command = option(command)
    return command


def range_options(command: F) -> F:
    """The request options without ``--source`` (for ``sql``)."""
    return request_options(command, source=False)


source_option = click.option(
    "--source",
    "-s",
    multiple=True,
    help="Source URI (csv:DIR, parquet:DIR, sample, ...) or a name from the project file; "
    "repeat it to combine sources, TABLE=SOURCE to say which one provides a table.",
)


def build_request(
    metrics: Sequence[str],
    grain: str,
    start: str | None,
    end: str | None,
    by: Sequence[str],
    where: str | None,
    params: Sequence[str],
    *,
    calendar: Calendar | None = None,
) -> Request:
    """The request the options describe; a missing range or a bad --param is a usage error."""
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
    assert start is not None and end is not None  # refused above when missing
    return Request.build(
        metrics,
        grain=grain,
        start=start,
        end=end,
        by=split(by),
        where=where,
        params=overrides,
        calendar=calendar,
    )


def chosen_source(engine: Engine, source: Sequence[str]) -> Any:
    """``--source``, or the project file's ``source:``; a usage error when neither is set.

    Several ``--source`` values, or ``TABLE=SOURCE`` bindings, give one connector over
    several sources; a single name or URI is returned as it is.
    """
    from crmetrics.combined import parse_source_options

    plain, bindings = parse_source_options(source)
    chosen = plain or ([engine.project.source] if engine.project.source else [])
    if not chosen:
        raise UsageError(
            Issue(
                "missing-source",
                "no source given",
                hint="pass --source csv:DIR (or 'sample'), or set 'source:' in crmetrics.yaml",
            )
        )
    if len(chosen) == 1 and not bindings:
        return chosen[0]
    return engine.open_sources(chosen, bindings)


def _terminal_progress() -> Progress | None:
    # Only a terminal draws progress, so only a terminal pays for importing rich (15 ms).
    if not sys.stderr.isatty():
        return None
    from crmetrics.cli.progress import terminal_progress

    return terminal_progress()
