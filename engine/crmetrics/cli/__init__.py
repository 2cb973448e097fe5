"""The ``crmetrics`` command: parses options, calls the :class:`Engine`, renders results.

Data goes to stdout; messages go to stderr. Exit codes: 0 ok, 1 data error, 2 definition or
usage error. Errors crmetrics raises on purpose are printed without a traceback; anything
else is a bug and keeps its traceback. A reader that stops early (``| head``) ends the
command quietly.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from crmetrics.cli.definitions import schema, validate
from crmetrics.cli.discover import dimensions, explain, inspect, list_, plugins, values
from crmetrics.cli.reports import plot, report, test
from crmetrics.cli.run import run, sql


class _Group(click.Group):
    """The command group, quiet when the reader of stdout goes away."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader closed the pipe (`| head -1`): what it wanted is written. Point
            # stdout at /dev/null so that the interpreter's final flush cannot fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="crmetrics")
def main() -> None:
    """crmetrics: CRM metrics defined once in YAML, evaluated on any source.

    \b
    Try it on the bundled sample data:
      crmetrics run --source sample --start 2025-01-01 --end 2025-07-01
    """


for _command in (
    validate,
    list_,
    run,
    sql,
    explain,
    inspect,
    dimensions,
    values,
    schema,
    plugins,
    test,
    report,
    plot,
):
    main.add_command(_command)


__all__ = ["main"]
