"""Reading YAML while remembering where every key and value was written.

PyYAML's composer (libyaml's C parser where available) gives a node tree with a start
mark on every key and value; :class:`Document` keeps it so that any JSON path, as
jsonschema reports it, can be turned back into ``file:line:column``. Only the safe
constructor ever builds Python values: maps, lists and scalars, never objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from crmetrics.errors import DefinitionError, Issue, Location

PathItem = str | int

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):
    """The safe loader with YAML 1.2's plain scalars: ``yes``, ``on`` and dates stay text."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, pattern)
        for tag, pattern in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass
class Document:
    """A parsed YAML file: its node tree, plain Python data, and a way back to positions."""

    file: str
    root: Node | None
    text: str
    data: Any = None

    @property
    def is_empty(self) -> bool:
        """Whether the document holds nothing."""
        return self.root is None

    def location(self, path: Sequence[PathItem], *, key: bool = False) -> Location:
        """Where the value at ``path`` (or, with ``key=True``, its key) was written.

        A path that goes deeper than the document (a missing key) points at the closest
        existing parent, which is where the user has to add something.
        """
        node = self.root
        mark = node.start_mark if node is not None else None
        for index, item in enumerate(path):
            last = index == len(path) - 1
            child = _child(node, item)
            if child is None:  # a missing key is reported where its parent starts
                break
            key_node, value = child
            on_value = isinstance(value, ScalarNode) and not (key and last)
            mark = value.start_mark if on_value or key_node is None else key_node.start_mark
            node = value
        if mark is None:
            return Location(self.file)
        return Location(self.file, mark.line + 1, mark.column + 1)

    def value_location(self, path: Sequence[PathItem]) -> tuple[Location, str | None]:
        """The position of a scalar value and its style (None plain, or a quote/block mark)."""
        node = self.root
        for item in path:
            child = _child(node, item)
            if child is None:
                return self.location(path), None
            node = child[1]
        assert node is not None
        mark = node.start_mark
        style = node.style if isinstance(node, ScalarNode) else None
        return Location(self.file, mark.line + 1, mark.column + 1), style or None


def _child(node: Node | None, item: PathItem) -> tuple[Node | None, Node] | None:
    """The (key node, value node) of ``item`` under ``node``, or None if there is none."""
    if isinstance(node, MappingNode):
        for key_node, value in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == item:
                return key_node, value
    elif isinstance(node, SequenceNode) and isinstance(item, int) and 0 <= item < len(node.value):
        return None, node.value[item]
    return None


def _duplicate_keys(node: Node | None) -> Iterator[ScalarNode]:
    # YAML allows a repeated key and keeps the last; in a definition that silently drops
    # what was written first, so it is refused.
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for key_node, value in node.value:
            if isinstance(key_node, ScalarNode):
                if key_node.value in seen:
                    yield key_node
                seen.add(key_node.value)
            yield from _duplicate_keys(value)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item)


def load_text(text: str, file: str) -> Document:
    """Parse YAML text; a syntax error is a :class:`DefinitionError` at file:line:column."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as error:
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
    finally:
        loader.dispose()
    duplicates = [
        Issue(
            "yaml-duplicate-key",
            f"key {node.value!r} is written twice in the same mapping",
            Location(file, node.start_mark.line + 1, node.start_mark.column + 1),
            hint="remove one of them: YAML would silently keep only the last",
            context=_excerpt(text, Location(file, node.start_mark.line + 1, node.start_mark.column + 1)),
        )
        for node in _duplicate_keys(root)
    ]
    if duplicates:
        raise DefinitionError(duplicates)
    return Document(file, root, text, data)


#: libyaml's wording for frequent mistakes, and what it means for a definitions file.
_PLAIN_WORDS = {
    "expected <block end>, but found": "this line is not indented like the lines around it",
    "did not find expected '-' indicator": "this line is not indented like the lines around it",
    "did not find expected key": "this line is not indented like the lines around it",
    "found character '\\t' that cannot start any token": "a tab character; indent with spaces only",
    "found a tab character": "a tab character; indent with spaces only",
    "mapping values are not allowed": "mapping values are not allowed here",
}


def _describe(problem: str) -> str:
    for start, meaning in _PLAIN_WORDS.items():
        if problem.startswith(start):
            return meaning
    return problem


def load_file(path: Path) -> Document:
    """The YAML document in ``path``, with the positions of its nodes."""
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
