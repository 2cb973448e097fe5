"""Commands about definitions themselves: ``validate`` and ``schema``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from crmetrics.cli.common import build_engine, engine_options, reported


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@engine_options
def validate(paths: tuple[Path, ...], project: Path | None, definitions: tuple[Path, ...]) -> None:
    """Check metric definitions: YAML, schema, formulas, references, cycles.

    PATHS are extra files or folders of definitions, checked with the catalog.
    """
    with reported():
        engine = build_engine(project, [*definitions, *paths])
        catalog = engine.validate()
        mine = sum(1 for m in catalog.metrics.values() if m.origin.provider == "user")
        others = len(catalog.metrics) - mine
        click.echo(
            f"ok: {mine} metric{'s' if mine != 1 else ''} of yours and {others} from the catalog "
            "and plugins, no problems found",
            err=True,
        )


@click.command()
@click.option("--project", "which", flag_value="project", help="Print the project-file schema instead.")
@click.option("--definitions", "which", flag_value="definitions", default=True, hidden=True)
def schema(which: str) -> None:
    """Print the JSON Schema of definition files (for editors and CI)."""
    from crmetrics.schema_check import load_schema

    click.echo(json.dumps(load_schema(which), indent=2))
