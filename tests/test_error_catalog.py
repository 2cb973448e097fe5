"""Every error code the code base can raise is documented in docs/errors.md.

Codes are found by reading the source: the first argument of every ``Issue(...)`` (and of
the helpers that build one from a code: ``_issue``, a report's ``warn``) and every
``code=`` keyword. A site that passes a code it did not write itself must be one of the few
that forward a code made elsewhere, so that no code can slip past this test.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [*sorted((ROOT / "engine").rglob("*.py")), *sorted((ROOT / "plugins").rglob("*.py"))]
BUILDERS = {"Issue", "_issue", "warn"}
#: (file, function) pairs that pass on a code made by their caller.
FORWARDERS = {
    ("errors.py", "__init__"),  # CrmetricsError("message", code=...)
    ("http.py", "get_json"),  # a service's classifier's own Issue
    ("http.py", "_issue"),
    ("frames.py", "warn"),
}


def _enclosing_functions(tree: ast.AST) -> dict[ast.AST, str]:
    owner: dict[ast.AST, str] = {}
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                owner.setdefault(node, function.name)
    return owner


def _builds_an_issue(call: ast.Call) -> bool:
    """``Issue(...)``, ``self._issue(...)``, ``report.warn(code, ...)``; not ``warnings.warn``."""
    if isinstance(call.func, ast.Attribute) and call.func.attr == "warn":
        return not (isinstance(call.func.value, ast.Name) and call.func.value.id == "warnings")
    return not (isinstance(call.func, ast.Name) and call.func.id == "warn")  # the CLI's printer


def raised_codes() -> tuple[set[str], list[str]]:
    """The literal codes in the source, and the sites that build an issue from a variable."""
    codes = {"error"}  # CrmetricsError("message") without a code
    unknown_sites = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        owner = _enclosing_functions(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    codes.add(str(keyword.value.value))
            if name not in BUILDERS or not node.args or not _builds_an_issue(node):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes.add(first.value)
            elif (path.name, owner.get(node, "")) not in FORWARDERS:
                unknown_sites.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return codes, unknown_sites


def documented_codes() -> set[str]:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", text, flags=re.MULTILINE))


def test_every_raisable_code_is_documented() -> None:
    codes, _ = raised_codes()
    missing = sorted(codes - documented_codes())
    assert missing == [], f"add these codes to docs/errors.md: {missing}"


def test_no_issue_is_built_from_a_code_this_test_cannot_see() -> None:
    _, sites = raised_codes()
    assert sites == [], f"build these issues with a literal code, or list the site in FORWARDERS: {sites}"


def test_each_documented_code_has_a_meaning_and_a_fix() -> None:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            assert len(cells) == 3 and all(cells), line
