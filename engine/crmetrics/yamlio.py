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
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from crmetrics.errors import DefinitionError, Issue, Location
from crmetrics.limits import Limits, raise_hint

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

    @cached_property
    def lines(self) -> list[str]:
        """The text's lines, split once: every formula of a file looks up its own."""
        return self.text.splitlines()

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
            # A key written 3 is the number 3 in the data and the text "3" in the node.
            if isinstance(key_node, ScalarNode) and key_node.value in (item, str(item)):
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


def load_text(text: str, file: str, limits: Limits | None = None) -> Document:
    """Parse YAML text; any problem is a :class:`DefinitionError` at file:line:column.

    Besides syntax errors this refuses control characters, aliases that expand past
    ``limits.max_yaml_nodes`` (an alias bomb), aliases that contain themselves, and nesting
    deeper than ``limits.max_depth``.
    """
    limits = limits or Limits.from_env()
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_shape(root, file, text, limits)
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
    except yaml.reader.ReaderError as error:
        where = _location_of_offset(text, error.position, file)
        raise DefinitionError(
            Issue(
                "yaml-syntax",
                f"character {error.character!r} cannot appear in a YAML file",
                where,
                hint="remove it: control characters such as NUL are not text; is this a binary file?",
                context=_excerpt(text, where),
            )
        ) from None
    except yaml.YAMLError as error:
        raise DefinitionError(
            Issue("yaml-syntax", f"YAML syntax error: {_clip(str(error))}", Location(file))
        ) from None
    finally:
        loader.dispose()
    duplicates = [
        Issue(
            "yaml-duplicate-key",
            f"key {_clip(node.value)!r} is written twice in the same mapping",
            Location(file, node.start_mark.line + 1, node.start_mark.column + 1),
            hint="remove one of them: YAML would silently keep only the last",
            context=_excerpt(text, Location(file, node.start_mark.line + 1, node.start_mark.column + 1)),
        )
        for node in _duplicate_keys(root)
    ]
    if duplicates:
        raise DefinitionError(duplicates)
    return Document(file, root, text, data)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _check_shape(root: Node, file: str, text: str, limits: Limits) -> None:
    """Refuse an alias bomb, an alias inside itself, or nesting past the limit, in linear time.

    Aliases make the node tree a graph: each node is visited once, and its size once its
    aliases are expanded is summed from its children's, so a bomb is measured without
    being expanded.
    """
    sizes: dict[int, int] = {}
    heights: dict[int, int] = {}
    open_nodes: set[int] = set()  # the ancestors of the node being visited
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            heights[key] = 1 + max((heights[id(child)] for child in children), default=0)
            if sizes[key] > limits.max_yaml_nodes:
                _refuse(
                    node,
                    file,
                    text,
                    f"this value expands to more than {limits.max_yaml_nodes:,} YAML nodes "
                    "(aliases repeat what they point at)",
                    "max_yaml_nodes",
                )
            if heights[key] > limits.max_depth:
                _refuse(
                    node,
                    file,
                    text,
                    f"mappings and lists are nested more than {limits.max_depth} deep here",
                    "max_depth",
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise DefinitionError(
                Issue(
                    "yaml-limit",
                    "an alias points at a value that contains it, which never ends",
                    _location_of_mark(node, file),
                    hint="replace the alias (*name) with the value it should hold",
                )
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _location_of_mark(node: Node, file: str) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _refuse(node: Node, file: str, text: str, message: str, limit: str) -> None:
    where = _location_of_mark(node, file)
    raise DefinitionError(
        Issue("yaml-limit", message, where, hint=raise_hint(limit), context=_excerpt(text, where))
    )


def _location_of_offset(text: str, offset: int, file: str) -> Location:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Location(file, line, column)


def _clip(text: str, width: int = 80) -> str:
    """``text`` cut to ``width`` characters, so a megabyte value cannot flood a message."""
    return text if len(text) <= width else text[: width - 3] + "..."


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


def load_file(path: Path, limits: Limits | None = None) -> Document:
    """Read and parse a YAML file: UTF-8 (a BOM is allowed) within ``limits.max_file_bytes``."""
    limits = limits or Limits.from_env()
    where = Location(str(path))
    if path.is_dir():
        raise DefinitionError(
            Issue("unreadable-file", f"{path} is a folder, not a YAML file", where, hint="name a .yaml file")
        )
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise DefinitionError(
                Issue(
                    "file-too-large",
                    f"{path} has {size:,} bytes, more than the limit of {limits.max_file_bytes:,}",
                    where,
                    hint=raise_hint("max_file_bytes"),
                )
            )
        # Read one byte past the limit: a file that grows between stat and read stays bounded.
        with path.open("rb") as stream:
            content = stream.read(limits.max_file_bytes + 1)
    except OSError as error:
        raise DefinitionError(
            Issue("unreadable-file", f"cannot read {path}: {error.strerror}", where)
        ) from None
    return load_text(decode(content, str(path)), str(path), limits)


def decode(content: bytes, file: str) -> str:
    """UTF-8 text of a file (without a leading BOM), or an error at the first bad byte."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DefinitionError(
            Issue(
                "not-utf8",
                "the file is UTF-16 text; definitions are read as UTF-8",
                Location(file, 1, 1),
                hint="save the file as UTF-8",
            )
        )
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        start = content[: error.start]
        line = start.count(b"\n") + 1
        column = len(start[start.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        raise DefinitionError(
            Issue(
                "not-utf8",
                f"byte 0x{content[error.start]:02x} is not UTF-8 text",
                Location(file, line, column),
                hint="save the file as UTF-8; is this a binary file?",
            )
        ) from None


def _excerpt(text: str, where: Location, width: int = 100) -> str:
    lines = text.splitlines()
    if not where.line or where.line > len(lines):
        return ""
    line, column = lines[where.line - 1], max(where.column, 1) - 1
    # A long line is shown as a window around the column, so the message stays one screen.
    start = max(0, min(column - width // 2, len(line) - width))
    shown = line[start : start + width]
    return f"  {shown}\n  {' ' * (column - start)}^"


def excerpt(text: str, where: Location) -> str:
    """The source line at ``where`` with a caret under the column, for messages."""
    return _excerpt(text, where)
