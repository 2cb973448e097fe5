"""The built-in metric catalog: YAML definitions, shipped as an ordinary plugin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from crmetrics.hookspecs import hookimpl

FOLDER = Path(__file__).parent


@hookimpl
def register_definition_dirs(register: Callable[[Path], None]) -> None:
    register(FOLDER)
