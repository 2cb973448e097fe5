"""Time the inputs that once cost minutes: many metrics, diamonds, deep chains, alias bombs.

Each case is built in a temporary folder and timed once through the public API:

- validating 8,000 derived metrics over one aggregate;
- evaluating a 24-level diamond of derived metrics on Polars (each level reads both metrics
  of the one below);
- rendering the SQL of a chain of 200 derived metrics;
- refusing a 500-byte YAML alias bomb.

Usage::

    python benchmarks/hostile_inputs.py
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import crmetrics
from crmetrics.errors import DefinitionError
from crmetrics.plan import Request

AGGREGATE = "  - name: m0\n    type: aggregate\n    table: deals\n    time: created_at\n    expr: count(*)"
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def folder_with(root: Path, name: str, text: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "metrics.yaml").write_text(text, encoding="utf-8")
    return folder


def many(count: int) -> str:
    lines = ["metrics:", AGGREGATE]
    lines += [f"  - name: m{i}\n    type: derived\n    expr: m0 + {i}" for i in range(1, count + 1)]
    return "\n".join(lines) + "\n"


def diamond(levels: int) -> str:
    lines = ["metrics:", AGGREGATE, AGGREGATE.replace("m0", "e0").replace("count(*)", "sum(amount)")]
    for i in range(1, levels + 1):
        lines.append(f"  - name: m{i}\n    type: derived\n    expr: m{i - 1} + e{i - 1}")
        lines.append(f"  - name: e{i}\n    type: derived\n    expr: m{i - 1} - e{i - 1}")
    return "\n".join(lines) + "\n"


def chain(length: int) -> str:
    lines = ["metrics:", AGGREGATE]
    lines += [f"  - name: m{i}\n    type: derived\n    expr: m{i - 1} + 1" for i in range(1, length + 1)]
    return "\n".join(lines) + "\n"


def timed(label: str, action: Callable[[], object]) -> None:
    started = time.perf_counter()
    action()
    print(f"{label:55} {time.perf_counter() - started:8.2f} s")


def refuse(folder: Path) -> None:
    try:
        crmetrics.Engine(definitions=[folder], load_installed_plugins=False).validate()
    except DefinitionError:
        return
    raise AssertionError("the alias bomb was accepted")


def main() -> None:
    # 8,000 metrics in one file is past the default max_metrics (docs/limits.md): raised here
    # to time the checks themselves.
    os.environ["CRMETRICS_MAX_METRICS"] = "10000"
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        eight_thousand = folder_with(root, "many", many(8_000))
        timed(
            "validate 8,000 derived metrics",
            lambda: crmetrics.Engine(definitions=[eight_thousand], load_installed_plugins=False).validate(),
        )
        levels = folder_with(root, "diamond", diamond(24))
        timed(
            "evaluate a 24-level diamond on Polars (sample data)",
            lambda: crmetrics.evaluate(
                ["m24"], "sample", start="2024-01-01", end="2024-07-01", definitions=[levels]
            ),
        )
        deep = folder_with(root, "chain", chain(200))
        engine = crmetrics.Engine(definitions=[deep], load_installed_plugins=False)
        engine.validate()
        request = Request.build(["m200"], start="2024-01-01", end="2024-07-01")
        timed("render SQL for a chain of 200 derived metrics", lambda: engine.sql(request, "duckdb"))
        bomb = folder_with(root, "bomb", ALIAS_BOMB)
        timed("refuse a 498-byte YAML alias bomb", lambda: refuse(bomb))


if __name__ == "__main__":
    main()
