"""Every hook a crmetrics plugin can implement, in one place.

Plugins are found through the ``crmetrics`` entry-point group (or registered in-process with
``crmetrics.Engine(plugins=[...])``). Each hook receives a ``register`` callback and
calls it once per thing it provides; the host decides what a clash means and remembers which
plugin registered what, so errors can name it.

Example::

    from crmetrics import hookimpl

    @hookimpl
    def register_connectors(register):
        register(JsonLinesConnector)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from crmetrics.connector import Connector
    from crmetrics.formula.functions import FunctionSpec
    from crmetrics.output import OutputFormat

PROJECT_NAME = "crmetrics"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register source connectors.

    Args:
        register: call it with each :class:`crmetrics.Connector` subclass the plugin
            provides. The class's ``scheme`` names it in source URIs (``csv:DIR`` has the
            scheme ``csv``); its ``tables`` lists the canonical tables it can produce.

    Two plugins registering the same scheme is an error that names both.
    """


@hookspec
def register_functions(register: Callable[[FunctionSpec], None]) -> None:
    """Register functions usable in metric formulas.

    Args:
        register: call it with each :class:`crmetrics.FunctionSpec`: a name, the argument
            kinds, a Polars implementation (called with one ``pl.Expr`` per argument and
            returning a ``pl.Expr``) and optionally a SQL implementation for SQL backends.

    A name that clashes with a built-in function or another plugin's is an error.
    """


@hookspec
def register_definition_dirs(register: Callable[[Path], None]) -> None:
    """Register folders of YAML metric definitions shipped by the plugin.

    Args:
        register: call it with each folder (a :class:`pathlib.Path`). Every ``*.yaml`` and
            ``*.yml`` file in it is loaded with the catalog. A metric whose name clashes with
            one from another origin is an error naming both, unless the user's own
            definition sets ``override: true``.
    """


@hookspec
def register_output_formats(register: Callable[[OutputFormat], None]) -> None:
    """Register output formats for ``crmetrics run --format``.

    Args:
        register: call it with each :class:`crmetrics.OutputFormat`: a name and a function
            writing a long-format result frame to a binary stream.
    """


def _all_hook_names() -> list[str]:
    return sorted(
        name for name, value in globals().items() if name.startswith("register_") and callable(value)
    )


HOOK_NAMES: list[str] = _all_hook_names()

__all__ = ["HOOK_NAMES", "PROJECT_NAME", "hookimpl", "hookspec"]
