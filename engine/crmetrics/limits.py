"""Bounds on the work one input may cause, each documented and raisable by the user.

Definitions and project files come from anywhere: a repository, a notebook, a service's
upload. Without bounds a 500-byte YAML alias bomb or a 200-deep chain of derived metrics
takes minutes and gigabytes; with them, such input is refused in milliseconds with a message
that names the limit and how to raise it. Defaults sit far above any real catalog.

A limit is raised through an environment variable (``CRMETRICS_MAX_FILE_BYTES=50000000``) or
the project file's ``limits:`` section (``max_file_bytes: 50000000``); the project file wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from crmetrics.errors import Issue, Location, UsageError

ENV_PREFIX = "CRMETRICS_"


@dataclass(frozen=True)
class Limits:
    """The bounds in force; see ``docs/limits.md`` for what each one protects against.

    Attributes:
        max_file_bytes: the size of one definitions or project file.
        max_yaml_nodes: YAML nodes in one file once aliases are expanded (an alias bomb
            expands to billions).
        max_depth: nesting of mappings and lists in one file.
        max_formula_chars: the length of one formula.
        max_metric_reach: metrics one metric may depend on, directly and through others.
        max_metrics: metrics in one definitions file.
    """

    max_file_bytes: int = 500_000
    max_yaml_nodes: int = 1_000_000
    max_depth: int = 64
    max_formula_chars: int = 10_000
    max_metric_reach: int = 2_000
    max_metrics: int = 2_500

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, with any ``CRMETRICS_MAX_...`` variable applied."""
        environ = os.environ if environ is None else environ
        values = {}
        for item in fields(cls):
            name = ENV_PREFIX + item.name.upper()
            if name in environ:
                values[item.name] = _positive(environ[name], name, Location())
        return cls(**values)

    def with_overrides(self, overrides: Mapping[str, Any], where: Location | None = None) -> Limits:
        """These limits with a project file's ``limits:`` values applied."""
        known = {item.name for item in fields(self)}
        values = {}
        for name, value in overrides.items():
            if name not in known:
                raise UsageError(
                    Issue(
                        "unknown-limit",
                        f"unknown limit {name!r}",
                        where,
                        hint="the limits are " + ", ".join(sorted(known)),
                    )
                )
            values[name] = _positive(value, name, where or Location())
        return replace(self, **values)


def _positive(value: object, name: str, where: Location) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number <= 0:
        raise UsageError(
            Issue(
                "bad-limit",
                f"{name} must be a positive whole number, not {str(value)[:40]!r}",
                where if where.file else None,
                hint="see docs/limits.md for each limit and its default",
            )
        )
    return number


def raise_hint(name: str) -> str:
    """How to raise the limit ``name``: the variable and the project file key."""
    return (
        f"if this input is meant, raise the limit: {ENV_PREFIX}{name.upper()}=N, "
        f"or 'limits: {{{name}: N}}' in crmetrics.yaml"
    )
