"""Issues as data, and the few exceptions that carry them across the API boundary.

Checks yield :class:`Issue` objects; only the public entry points raise, and they raise one
of the :class:`CrmetricsError` subclasses below with every issue found. The CLI maps
:class:`DefinitionError` and :class:`UsageError` to exit code 2 and :class:`DataError` to 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Location:
    """Where something was written: a file, a 1-based line and column."""

    file: str = ""
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        parts = [self.file or "<input>"]
        if self.line:
            parts.append(str(self.line))
            if self.column:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True)
class Issue:
    """One finding: what is wrong, where, and what to do about it."""

    code: str
    message: str
    location: Location | None = None
    subject: str = ""
    hint: str = ""
    severity: Severity = "error"
    context: str = field(default="", compare=False)

    def render(self) -> str:
        """The issue as ``file:line:col: severity: [metric] message``, its hint and context below."""
        where = f"{self.location}: " if self.location else ""
        subject = f"[{self.subject}] " if self.subject else ""
        text = f"{where}{self.severity}: {subject}{self.message}"
        if self.context:
            text += "\n" + self.context
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class CrmetricsError(Exception):
    """Base class of every error crmetrics raises on purpose."""

    exit_code = 1

    def __init__(self, issues: Issue | str | Sequence[Issue], *, code: str = "error") -> None:
        if isinstance(issues, str):
            issues = [Issue(code, issues)]
        elif isinstance(issues, Issue):
            issues = [issues]
        self.issues: list[Issue] = list(issues)
        super().__init__(self.render())

    def render(self) -> str:
        """Every issue rendered, one after the other."""
        return "\n".join(issue.render() for issue in self.issues)


class DefinitionError(CrmetricsError):
    """A metric definition, a project file or a formula is wrong."""

    exit_code = 2


class UsageError(CrmetricsError):
    """A request is wrong: an unknown metric, a bad date, a grouping column out of reach."""

    exit_code = 2


class DataError(CrmetricsError):
    """The data is wrong or missing: a bad date in a file, a missing table, a key clash."""

    exit_code = 1


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ``did you mean ...?`` hint, or a list of what is allowed when nothing is close."""
    options = sorted(set(candidates))
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    if not options:
        return ""
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"expected one of: {shown}"
