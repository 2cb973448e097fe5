"""Finding the test cases of a project and of the installed plugins.

A user's cases are the ``tests:`` of their definitions files, the files under the project
file's ``tests:`` folders, and any path given on the command line. A plugin's cases (the
built-in catalog's among them) sit in a ``tests/`` folder inside each definitions folder it
registers; they run with ``--builtin``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from crmetrics.testing.cases import TestCase, collect

if TYPE_CHECKING:
    from crmetrics.engine import Engine

#: The folder, inside a plugin's definitions folder, that holds the plugin's own cases.
PLUGIN_TESTS = "tests"


def _definition_files(paths: Sequence[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        elif path.is_file():
            files.append(path)
    return files


def user_cases(engine: Engine, paths: Sequence[Path] = ()) -> list[TestCase]:
    """The cases of the user's definitions, of the project's ``tests:`` and of ``paths``."""
    return collect(
        definition_files=_definition_files(engine.definition_paths),
        test_paths=[*engine.project.tests, *paths],
    )


def plugin_cases(engine: Engine) -> list[TestCase]:
    """The cases every installed plugin ships beside its definitions (``--builtin``)."""
    cases = []
    for folder, provider in engine.registry.definition_dirs:
        tests = folder / PLUGIN_TESTS
        if tests.is_dir():
            cases += collect(test_paths=[tests], provider=provider)
    return cases
