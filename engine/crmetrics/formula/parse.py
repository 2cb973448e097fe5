"""Parsing formula text with sqlglot, errors pointing at the character inside the YAML."""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from crmetrics.errors import DefinitionError, Issue
from crmetrics.metric import Formula


@lru_cache(maxsize=4096)
def _parse(text: str) -> exp.Expr:
    return sqlglot.parse_one(text)


#: Nodes sqlglot gives a whole SQL statement; none of them is a value or a condition.
STATEMENTS: tuple[type[exp.Expr], ...] = (
    exp.Query, exp.DDL, exp.DML, exp.Drop, exp.Command, exp.Transaction, exp.Commit,
    exp.Rollback, exp.Use, exp.Set, exp.Pragma,
)  # fmt: skip


def parse_formula(formula: Formula, subject: str, *, what: str = "formula") -> exp.Expr:
    """The sqlglot tree of ``formula``; a syntax error is a :class:`DefinitionError`.

    ``what`` names the text in messages: ``formula`` (one expression) or ``filter`` (one
    condition); a second statement after ``;`` or a whole statement is refused in those words.
    """
    try:
        # Trees are shared between compilations; nothing downstream mutates them.
        tree = _parse(formula.text)
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
    except RecursionError:  # sqlglot's parser recurses once per nesting level
        raise _too_deep(formula, subject, "the formula is nested too deeply to parse") from None
    except TokenError:
        unclosed = _unclosed_quote(formula.text)
        message = "this quote is never closed" if unclosed is not None else "cannot read this formula"
        offset = unclosed if unclosed is not None else 0
        raise DefinitionError(
            Issue(
                "formula-syntax",
                f"cannot parse formula: {message}",
                formula.at(offset),
                subject=subject,
                hint="close the quote; a quote inside text is written twice: 'O''Brien'",
                context=pointer(formula.text, offset),
            )
        ) from None

    _refuse_statements(tree, formula, subject, what)
    depth, commented = _shape(formula.text)
    if depth > MAX_NESTING:
        raise _too_deep(formula, subject, f"the formula is nested more than {MAX_NESTING} levels deep")
    if commented:
        # sqlglot carries comments into the SQL it writes: text that could end a comment
        # there and start something else has no place in a formula.
        offset = min((i for i in (formula.text.find("--"), formula.text.find("/*")) if i >= 0), default=0)
        raise DefinitionError(
            Issue(
                "formula-syntax",
                "comments are not allowed in formulas",
                formula.at(offset),
                subject=subject,
                hint="put the note in the metric's description",
                context=pointer(formula.text, offset),
            )
        )
    return tree


def _refuse_statements(tree: exp.Expr, formula: Formula, subject: str, what: str) -> None:
    """A second statement after ``;``, or a statement (``DROP``, ``SELECT``) in place of one."""
    one = "one condition" if what == "filter" else "one expression"
    if isinstance(tree, exp.Block):
        semicolon = next(t for t in sqlglot.tokenize(formula.text) if t.token_type == TokenType.SEMICOLON)
        offset = semicolon.start
        message = f"a {what} is {one} and cannot hold a second statement after ';'"
        hint = "remove the ';' and what follows" + ("; join conditions with AND" if what == "filter" else "")
    elif isinstance(tree, STATEMENTS):
        offset = 0
        words = formula.text.split(maxsplit=1)
        keyword = tree.key.upper() if isinstance(tree, exp.SetOperation) else words[0].upper()
        message = f"a {what} is {one}, not a SQL statement ({keyword} ...)"
        hint = "write e.g. segment = 'SMB'" if what == "filter" else "write e.g. sum(amount) / count(*)"
    else:
        return
    raise DefinitionError(
        Issue(
            "formula-syntax",
            f"cannot parse {what}: {message}",
            formula.at(offset),
            subject=subject,
            hint=hint,
            context=pointer(formula.text, offset),
        )
    )


#: Levels of nesting a formula may have: each one is a level of recursion in every compiler.
MAX_NESTING = 200


@lru_cache(maxsize=4096)
def _shape(text: str) -> tuple[int, bool]:
    """The nesting depth of the tree of ``text`` and whether it carries a comment.

    A formula is parsed again wherever it is checked (validation, then each request's
    IR); its tree is cached, and so is what these walks of it find.
    """
    tree = _parse(text)
    return _depth(tree), any(node.comments for node in tree.walk())


def _depth(tree: exp.Expr) -> int:
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.iter_expressions())
    return deepest


def _too_deep(formula: Formula, subject: str, message: str) -> DefinitionError:
    return DefinitionError(
        Issue(
            "formula-syntax",
            message,
            formula.location,
            subject=subject,
            hint="split it into derived metrics, or remove redundant parentheses",
        )
    )


def _unclosed_quote(text: str) -> int | None:
    """Where a quote opens that nothing closes (a doubled quote inside stays text), if any."""
    opened: int | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if opened is None and char in "'\"`":
            opened = index
        elif opened is not None and char == text[opened]:
            if text[index + 1 : index + 2] == char:  # '' inside '...' is one quote
                index += 1
            else:
                opened = None
        index += 1
    return opened


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
