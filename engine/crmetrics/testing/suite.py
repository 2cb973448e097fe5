"""Finding the test cases of a project and of the installed plugins.

A user's cases are the ``tests:`` of their definitions files, the files under the project
file's ``tests:`` folders, and any path given on the command line. A plugin's cases (the
built-in catalog's among them) sit in a ``tests/`` folder inside each definitions folder it
registers; they run with ``--builtin``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from crmetrics.testing.cases import TestCase, collect

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


def user_cases(definitions: Sequence[Path], tests: Sequence[Path]) -> list[TestCase]:
    """The cases of the user's definitions (files, or folders of them) and of ``tests``."""
    return collect(definition_files=_definition_files(definitions), test_paths=tests)


def plugin_cases(definition_dirs: Iterable[tuple[Path, str]]) -> list[TestCase]:
    """The cases plugins ship in a ``tests/`` folder of each definitions folder (``--builtin``).

    Args:
        definition_dirs: each plugin's definitions folder and the plugin's name.
    """
    cases = []
    for folder, provider in definition_dirs:
        tests = folder / PLUGIN_TESTS
        if tests.is_dir():
            cases += collect(test_paths=[tests], provider=provider)
    return cases
