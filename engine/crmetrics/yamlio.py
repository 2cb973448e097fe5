"""Reading YAML while remembering where every key and value was written.

ruamel.yaml's round-trip loader records a line and column for each mapping key and each
sequence item; :class:`Document` keeps that tree so any JSON path (as jsonschema reports it)
can be turned back into ``file:line:column``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from crmetrics.errors import DefinitionError, Issue, Location

PathItem = str | int


@dataclass
class Document:
    """A parsed YAML file: plain Python data plus a way back to positions."""

    file: str
    tree: Any
    text: str

    @property
    def data(self) -> Any:
        return _plain(self.tree)

    def location(self, path: Sequence[PathItem], *, key: bool = False) -> Location:
        """Where the value at ``path`` (or, with ``key=True``, its key) was written.

        A path that goes deeper than the document (a missing key) points at the closest
        existing parent, which is where the user has to add something.
        """
        node = self.tree
        line, column = 0, 0
        for index, item in enumerate(path):
            last = index == len(path) - 1
            if isinstance(node, CommentedMap) and item in node:
                on_value = _is_scalar_value(node, item) and not (key and last)
                line, column = node.lc.value(item) if on_value else node.lc.key(item)
                node = node[item]
            elif isinstance(node, CommentedSeq) and isinstance(item, int) and item < len(node):
                line, column = node.lc.item(item)
                node = node[item]
            else:
                if hasattr(node, "lc") and not line:
                    line, column = node.lc.line, node.lc.col
                break
        return Location(self.file, line + 1, column + 1)

    def value_location(self, path: Sequence[PathItem]) -> tuple[Location, str | None]:
        """The position of a scalar value and its style (None plain, or a quote/block mark)."""
        node = self.tree
        for item in path[:-1]:
            node = node[item]
        last = path[-1]
        line, column = node.lc.value(last) if isinstance(node, CommentedMap) else node.lc.item(last)
        style = getattr(node[last], "style", None)
        return Location(self.file, line + 1, column + 1), style


def _is_scalar_value(node: CommentedMap, key: Any) -> bool:
    return not isinstance(node[key], (CommentedMap, CommentedSeq))


def _plain(node: Any) -> Any:
    if isinstance(node, CommentedMap):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def load_text(text: str, file: str) -> Document:
    """Parse YAML text; a syntax error is a :class:`DefinitionError` at file:line:column."""
    yaml = YAML(typ="rt")
    # Quoted scalars keep their style, so positions inside them can be shifted past the quote.
    yaml.preserve_quotes = True
    try:
        # The round-trip loader builds plain maps, lists and scalars only, never objects.
        tree = yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        problem = _describe(error.problem or error.context or "invalid YAML")
        raise DefinitionError(
            Issue(
                "yaml-syntax",
                f"YAML syntax error: {problem}",
                where,
                hint="check indentation, colons and quotes around this place",
                context=_excerpt(text, where),
            )
        ) from None
    return Document(file, tree, text)


#: ruamel.yaml's wording for frequent mistakes, and what it means for a definitions file.
_PLAIN_WORDS = {
    "expected <block end>, but found": "this line is not indented like the lines around it",
    "found character '\\t' that cannot start any token": "a tab character; indent with spaces only",
}


def _describe(problem: str) -> str:
    for start, meaning in _PLAIN_WORDS.items():
        if problem.startswith(start):
            return meaning
    return problem


def load_file(path: Path) -> Document:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DefinitionError(
            Issue("unreadable-file", f"cannot read {path}: {error.strerror}", Location(str(path)))
        ) from None
    return load_text(text, str(path))


def _excerpt(text: str, where: Location) -> str:
    lines = text.splitlines()
    if not where.line or where.line > len(lines):
        return ""
    pointer = " " * (max(where.column, 1) - 1) + "^"
    return f"  {lines[where.line - 1]}\n  {pointer}"


def excerpt(text: str, where: Location) -> str:
    """The source line at ``where`` with a caret under the column, for messages."""
    return _excerpt(text, where)
