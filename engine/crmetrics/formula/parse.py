"""Parsing formula text with sqlglot, errors pointing at the character inside the YAML."""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from crmetrics.errors import DefinitionError, Issue
from crmetrics.metric import Formula


@lru_cache(maxsize=4096)
def _parse(text: str) -> exp.Expr:
    return sqlglot.parse_one(text)


def parse_formula(formula: Formula, subject: str) -> exp.Expr:
    """The sqlglot tree of ``formula``; a syntax error is a :class:`DefinitionError`."""
    try:
        # Trees are shared between compilations; nothing downstream mutates them.
        return _parse(formula.text)
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        # sqlglot reports the column where the offending token ends; point at its start.
        end = _offset(formula.text, detail.get("line", 1), detail.get("col", 1))
        offset = max(end - max(len(detail.get("highlight") or "") - 1, 0), 0)
        message = describe_parse_error(detail.get("description", str(error)))
        raise DefinitionError(
            Issue(
                "formula-syntax",
                f"cannot parse formula: {message}",
                formula.at(offset),
                subject=subject,
                hint="formulas are SQL expressions, e.g. sum(amount) / nullif(count(*), 0)",
                context=pointer(formula.text, offset),
            )
        ) from None
    except TokenError as error:
        raise DefinitionError(
            Issue("formula-syntax", f"cannot read formula: {error}", formula.location, subject=subject)
        ) from None


def describe_parse_error(description: str) -> str:
    """sqlglot's first error line, without Python class names in it."""
    first = description.split("\n")[0]
    return re.sub(r"<class '(?:\w+\.)*(\w+)'>", r"\1", first)


def plain_parse_error(description: str) -> str:
    """sqlglot's message in plain words, for people who never read a parser's grammar."""
    text = describe_parse_error(description)
    if text.startswith("Required keyword"):
        return "something is missing after this"
    if text.startswith(("Invalid expression", "Unexpected token")):
        return "this is not understood here"
    if text.startswith("Expecting )"):
        return "a closing parenthesis is missing"
    return text


def error_offset(text: str, detail: dict[str, object]) -> int:
    """The 0-based offset of the token sqlglot's error ``detail`` is about (its start)."""
    line = detail.get("line", 1)
    column = detail.get("col", 1)
    end = _offset(text, line if isinstance(line, int) else 1, column if isinstance(column, int) else 1)
    highlight = detail.get("highlight") or ""
    return max(end - max(len(str(highlight)) - 1, 0), 0)


def pointer(text: str, offset: int) -> str:
    """The formula line holding ``offset``, with a caret under that character."""
    offset = min(max(offset, 0), len(text))
    line = text.split("\n")[text.count("\n", 0, offset)]
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return f"  {line}\n  {' ' * column}^"


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + max(column - 1, 0)


def node_offset(node: exp.Expr) -> int:
    """The 0-based character offset where ``node`` starts in its formula (best effort)."""
    starts = [n.meta["start"] for n in node.walk() if "start" in n.meta]
    return min(starts) if starts else 0
