"""The package's import graph has no circle, counting imports inside functions too."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _import_graph():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    return module


def test_no_import_cycles() -> None:
    graph = _import_graph()
    assert graph.cycles(graph.graph()) == []


def test_a_cycle_is_found(tmp_path: Path) -> None:
    # a imports b at the top, b imports a inside a function: still a circle.
    package = tmp_path / "crmetrics"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from crmetrics.b import f\n")
    (package / "b.py").write_text("def f():\n    from crmetrics import a\n    return a\n")
    graph = _import_graph()
    assert graph.cycles(graph.graph(package)) == [["crmetrics.a", "crmetrics.b", "crmetrics.a"]]


def test_the_formula_checker_and_the_ir_do_not_import_a_backend() -> None:
    graph = _import_graph().graph()
    neutral = [m for m in graph if m.startswith(("crmetrics.formula", "crmetrics.ir"))]
    for module in neutral:
        backends = {d for d in graph[module] if d.startswith(("crmetrics.polars_backend", "crmetrics.sql"))}
        assert not backends, f"{module} imports {backends}"
    checker = ROOT / "engine" / "crmetrics" / "formula"
    for path in checker.glob("*.py"):
        assert "import polars" not in path.read_text(encoding="utf-8"), path.name
