"""Print the import graph of the crmetrics package and fail on a cycle.

    python scripts/import_graph.py            # one line per module: module -> imports
    python scripts/import_graph.py --cycles   # only the check

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a circle
drawn with any of them is still a circle between two modules' concerns.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "engine" / "crmetrics"


def module_name(path: Path, package: Path) -> str:
    """The dotted name of the module in ``path``, a file of ``package``."""
    parts = ["crmetrics", *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path, modules: set[str]) -> set[str]:
    """The crmetrics modules ``path`` imports (a name imported from a package counts as its module)."""
    found: set[str] = set()
    this = module_name(path, root)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], base])
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != this:
                found.add(name)
    return found


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of ``package`` and the crmetrics modules it imports."""
    paths = sorted(package.rglob("*.py"))
    modules = {module_name(p, package) for p in paths}
    result = {module_name(p, package): imports(p, package, modules) for p in paths}
    # A package's __init__ importing its own submodules is how packages work, not a circle.
    return {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in result.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle found by depth-first search (one per back edge)."""
    found: list[list[str]] = []
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", action="store_true", help="only check for cycles")
    parser.add_argument("--package", type=Path, default=PACKAGE, help="the package folder (default: ours)")
    args = parser.parse_args()
    edges = graph(args.package)
    if not args.cycles:
        for module, targets in sorted(edges.items()):
            print(f"{module} -> {', '.join(sorted(targets)) or '(nothing)'}")
    found = cycles(edges)
    for cycle in found:
        print("cycle: " + " -> ".join(cycle), file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
