"""Importing the optional engines, with a message that says which extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from crmetrics.errors import Issue, UsageError

#: The extra of the crmetrics distribution that brings each optional module.
EXTRAS: dict[str, str] = {"duckdb": "duckdb", "pyspark": "spark", "pyspark.sql": "spark"}


def require(module: str) -> ModuleType:
    """``module`` imported; a usage error naming the extra when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        extra = EXTRAS.get(module, module)
        raise UsageError(
            Issue(
                "missing-dependency",
                f"the {extra} engine needs the Python package {module.split('.')[0]!r}, "
                f"which cannot be imported ({error})",
                hint=f"pip install crmetrics[{extra}]",
            )
        ) from None


__all__ = ["EXTRAS", "require"]
