"""Source mappings: how the fields of a CRM object become the columns of a canonical table.

A mapping names a source object and, per canonical column, a field, a SQL expression over
the object's fields (parsed by sqlglot, never evaluated as Python) or a constant, optionally
followed by a value map for picklists. The CRM connectors express their built-in mappings
this way, and a project file overrides them column by column or maps a custom object::

    mappings:
      spend:
        object: Spend__c
        where: "Status__c = 'Approved'"
        currency: CurrencyIsoCode
        columns:
          spend_id: Id
          spent_at: Spend_Date__c
          category: {value: marketing}
          channel: {field: Channel__c, values: {Paid Search: paid_search}}
          amount: {expr: "Amount__c + COALESCE(Fees__c, 0)"}

Fields are text as the source wrote them; an expression parses what it computes with
(numbers for arithmetic, checkbox text for conditions), and its result goes through the
same canonical conversion as any field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

import polars as pl
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from crmetrics.canonical import parse_datetime
from crmetrics.errors import Issue, Location, UsageError
from crmetrics.polars_comparisons import COMPARISONS

_TRUE = ("true", "1", "yes", "y", "t", "on")
_FALSE = ("false", "0", "no", "n", "f", "off")


class MappingExpressionError(ValueError):
    """An expression of a mapping that cannot be compiled; ``str()`` says why."""


@dataclass(frozen=True)
class ColumnSpec:
    """How one canonical column is computed from the source object's fields.

    Attributes:
        field: the source field (``Amount``, ``Account.Name``, ``hs_value``), case-insensitive.
        expr: a SQL expression over the fields, e.g. ``Amount__c * 1.2``.
        value: a constant, when neither ``field`` nor ``expr`` is given.
        values: picklist value -> canonical value (case-insensitive; null leaves it null).
            A value not listed becomes null and is reported.
    """

    field: str | None = None
    expr: str | None = None
    value: Any = None
    values: Mapping[str, Any] | None = None

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | ColumnSpec) -> ColumnSpec:
        """A spec from its project-file form: a field name, or a mapping."""
        if isinstance(spec, ColumnSpec):
            return spec
        if isinstance(spec, str):
            return cls(field=spec)
        values = spec.get("values")
        return cls(spec.get("field"), spec.get("expr"), spec.get("value"), dict(values) if values else None)

    def fields(self) -> list[str]:
        """The source fields this column reads (to ask a live API for them)."""
        if self.field:
            return [self.field]
        if self.expr:
            return expression_fields(self.expr)
        return []


@dataclass(frozen=True)
class TableMapping:
    """One canonical table from one source object.

    Attributes:
        object: the source object (``Opportunity``, ``Spend__c``, ``deals``, ``p_survey``).
        columns: canonical column -> how it is computed; a column not listed is null.
        currency: the field or expression holding the ISO code of the money columns
            (``amount``, ``cost``); null means the reporting currency.
        where: a SQL condition; rows for which it is not true are left out, counted.
    """

    object: str
    columns: Mapping[str, ColumnSpec] = field(default_factory=dict)
    currency: ColumnSpec | None = None
    where: str | None = None
    #: The fields a user wrote (a project file's), which must exist: a built-in mapping's
    #: fields may be absent from an org (CurrencyIsoCode in a single-currency org).
    user_fields: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, spec: Mapping[str, Any], *, default_object: str = "") -> TableMapping:
        """A mapping from its project-file form; ``default_object`` when it names none."""
        currency = spec.get("currency")
        mapping = cls(
            object=str(spec.get("object") or default_object),
            columns={name: ColumnSpec.parse(value) for name, value in (spec.get("columns") or {}).items()},
            currency=ColumnSpec.parse(currency) if currency else None,
            where=spec.get("where"),
        )
        return replace(mapping, user_fields=frozenset(mapping.fields()))

    def override(self, spec: Mapping[str, Any] | None) -> TableMapping:
        """This mapping with a project file's changes: another object replaces it whole,
        otherwise the listed columns, ``currency`` and ``where`` replace their own."""
        if not spec:
            return self
        other = spec.get("object")
        if other and str(other).lower() != self.object.lower():
            return TableMapping.parse(spec)
        changed = TableMapping.parse(spec, default_object=self.object)
        return replace(
            self,
            columns={**self.columns, **changed.columns},
            currency=changed.currency if "currency" in spec else self.currency,
            where=changed.where if "where" in spec else self.where,
            user_fields=self.user_fields | changed.user_fields,
        )

    def fields(self) -> list[str]:
        """Every source field the mapping reads."""
        specs = [*self.columns.values(), *([self.currency] if self.currency else [])]
        names = [name for spec in specs for name in spec.fields()]
        if self.where:
            names += expression_fields(self.where)
        return list(dict.fromkeys(names))


def field_name(name: str) -> str:
    """The frame column of a source field: field names are case-insensitive."""
    return name.strip().lower()


def _parse(text: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(text)
    except (ParseError, sqlglot.errors.TokenError) as error:
        raise MappingExpressionError(f"cannot parse {text!r}: {error}") from None
    if tree is None:
        raise MappingExpressionError(f"{text!r} is empty")
    return cast(exp.Expression, tree)


def expression_fields(text: str) -> list[str]:
    """The fields an expression reads, in order of appearance."""
    try:
        tree = _parse(text)
    except MappingExpressionError:
        return []
    return list(dict.fromkeys(_column_name(c) for c in tree.find_all(exp.Column)))


def _column_name(column: exp.Column) -> str:
    return ".".join(part.name for part in column.parts)


# -- compiling an expression over a frame of text -------------------------------------------

#: (expression, kind), kind one of "text", "number", "bool", "datetime".
Typed = tuple[pl.Expr, str]


def _number(typed: Typed) -> pl.Expr:
    expr, kind = typed
    if kind == "number":
        return expr
    if kind == "bool":
        return expr.cast(pl.Float64)
    return expr.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)


def _bool(typed: Typed) -> pl.Expr:
    expr, kind = typed
    if kind == "bool":
        return expr
    if kind == "number":
        return expr != 0
    text = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    return pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False).otherwise(None)


def _datetime(typed: Typed) -> pl.Expr:
    expr, kind = typed
    return expr if kind == "datetime" else parse_datetime(expr.cast(pl.String), pl.String())


def _text(typed: Typed) -> pl.Expr:
    expr, kind = typed
    if kind == "bool":
        return pl.when(expr).then(pl.lit("true")).when(~expr).then(pl.lit("false"))
    if kind == "datetime":
        return expr.dt.strftime("%Y-%m-%dT%H:%M:%S%.f%z")
    return expr.cast(pl.String)


_ARITHMETIC: dict[type[exp.Expression], Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    exp.Add: lambda a, b: a + b,
    exp.Sub: lambda a, b: a - b,
    exp.Mul: lambda a, b: a * b,
    exp.Div: lambda a, b: a / b,
}
_TEXT_FUNCTIONS: dict[type[exp.Expression], Callable[[pl.Expr], pl.Expr]] = {
    exp.Lower: lambda e: e.str.to_lowercase(),
    exp.Upper: lambda e: e.str.to_uppercase(),
    exp.Trim: lambda e: e.str.strip_chars(),
}


class _Compiler:
    """Compiles one expression tree; ``columns`` are the frame's (lower-case) columns."""

    def __init__(self, columns: set[str]) -> None:
        self.columns = columns

    def compile(self, node: exp.Expression) -> Typed:
        handler = getattr(self, f"_{type(node).__name__.lower()}", None)
        if type(node) in _ARITHMETIC:
            return _ARITHMETIC[type(node)](
                _number(self.compile(node.this)), _number(self.compile(node.expression))
            ), ("number")
        if type(node) in COMPARISONS:
            return self._compare(node), "bool"
        if type(node) in _TEXT_FUNCTIONS:
            return _TEXT_FUNCTIONS[type(node)](_text(self.compile(node.this))), "text"
        if handler is None:
            raise MappingExpressionError(f"{node.sql()!r} ({node.key}) is not supported in a mapping")
        result: Typed = handler(node)
        return result

    def _column(self, node: exp.Column) -> Typed:
        name = field_name(_column_name(node))
        if name in self.columns:
            return pl.col(name), "text"
        return pl.lit(None, dtype=pl.String), "text"

    def _literal(self, node: exp.Literal) -> Typed:
        if node.is_string:
            return pl.lit(node.this, dtype=pl.String), "text"
        return pl.lit(float(node.this), dtype=pl.Float64), "number"

    def _boolean(self, node: exp.Boolean) -> Typed:
        return pl.lit(bool(node.this), dtype=pl.Boolean), "bool"

    def _null(self, node: exp.Null) -> Typed:
        return pl.lit(None, dtype=pl.String), "text"

    def _paren(self, node: exp.Paren) -> Typed:
        return self.compile(node.this)

    def _neg(self, node: exp.Neg) -> Typed:
        return -_number(self.compile(node.this)), "number"

    def _and(self, node: exp.And) -> Typed:
        return _bool(self.compile(node.this)) & _bool(self.compile(node.expression)), "bool"

    def _or(self, node: exp.Or) -> Typed:
        return _bool(self.compile(node.this)) | _bool(self.compile(node.expression)), "bool"

    def _not(self, node: exp.Not) -> Typed:
        return ~_bool(self.compile(node.this)), "bool"

    def _is(self, node: exp.Is) -> Typed:
        if not isinstance(node.expression, exp.Null):
            raise MappingExpressionError(f"{node.sql()!r}: only IS NULL / IS NOT NULL are supported")
        return self.compile(node.this)[0].is_null(), "bool"

    def _in(self, node: exp.In) -> Typed:
        value = self.compile(node.this)
        items = [self.compile(e) for e in node.expressions]
        if any(kind == "number" for _, kind in items):
            return _number(value).is_in([_literal_value(e) for e in node.expressions]), "bool"
        texts = [str(_literal_value(e)) for e in node.expressions]
        return _text(value).is_in(texts), "bool"

    def _compare(self, node: exp.Expression) -> pl.Expr:
        left, right = self.compile(node.this), self.compile(node.expression)
        kinds = {left[1], right[1]}
        op = COMPARISONS[type(node)]
        if "number" in kinds:
            return op(_number(left), _number(right))
        if "datetime" in kinds:
            return op(_datetime(left), _datetime(right))
        if "bool" in kinds:
            return op(_bool(left), _bool(right))
        return op(_text(left), _text(right))

    def _case(self, node: exp.Case) -> Typed:
        branches = [(self.compile(i.this), self.compile(i.args["true"])) for i in node.args.get("ifs", [])]
        default = node.args.get("default")
        otherwise = self.compile(default) if default is not None else None
        results = [then for _, then in branches] + ([otherwise] if otherwise else [])
        kind = results[0][1] if len({k for _, k in results}) == 1 else "text"
        cast = (lambda t: t[0]) if kind != "text" else _text
        chain: Any = pl
        for condition, then in branches:
            chain = chain.when(_bool(condition)).then(cast(then))
        out = chain.otherwise(cast(otherwise)) if otherwise else chain.otherwise(None)
        return out, kind

    def _if(self, node: exp.If) -> Typed:
        then = self.compile(node.args["true"])
        other = node.args.get("false")
        otherwise = self.compile(other) if other is not None else None
        same = otherwise is None or otherwise[1] == then[1]
        kind = then[1] if same else "text"
        cast = (lambda t: t[0]) if same else _text
        out = pl.when(_bool(self.compile(node.this))).then(cast(then))
        return (out.otherwise(cast(otherwise)) if otherwise else out.otherwise(None)), kind

    def _coalesce(self, node: exp.Coalesce) -> Typed:
        parts = [self.compile(node.this), *(self.compile(e) for e in node.expressions)]
        kinds = {kind for _, kind in parts}
        if len(kinds) == 1:
            return pl.coalesce([e for e, _ in parts]), kinds.pop()
        if kinds <= {"number", "text"}:
            return pl.coalesce([_number(p) for p in parts]), "number"
        return pl.coalesce([_text(p) for p in parts]), "text"

    def _concat(self, node: exp.Concat) -> Typed:
        parts = [_text(self.compile(e)).fill_null("") for e in node.expressions]
        return pl.concat_str(parts), "text"

    def _dpipe(self, node: exp.DPipe) -> Typed:
        parts = [
            _text(self.compile(node.this)).fill_null(""),
            _text(self.compile(node.expression)).fill_null(""),
        ]
        return pl.concat_str(parts), "text"

    def _round(self, node: exp.Round) -> Typed:
        digits = node.args.get("decimals")
        places = int(_literal_value(digits)) if digits is not None else 0
        return _number(self.compile(node.this)).round(places), "number"

    def _abs(self, node: exp.Abs) -> Typed:
        return _number(self.compile(node.this)).abs(), "number"

    def _nullif(self, node: exp.Nullif) -> Typed:
        value = self.compile(node.this)
        other = self.compile(node.expression)
        if "number" in (value[1], other[1]):
            return pl.when(_number(value) == _number(other)).then(None).otherwise(_number(value)), "number"
        return pl.when(_text(value) == _text(other)).then(None).otherwise(_text(value)), "text"


def _literal_value(node: exp.Expression) -> Any:
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else float(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -float(node.this.this)
    raise MappingExpressionError(f"{node.sql()!r} must be a constant here")


def compile_expression(text: str, columns: set[str]) -> Typed:
    """A mapping expression as a Polars expression over a frame with ``columns``.

    Raises:
        MappingExpressionError: the expression does not parse or uses a construct that
            mappings do not support (the message names it).
    """
    return _Compiler(columns).compile(_parse(text))


def text_result(typed: Typed) -> pl.Expr:
    """A compiled expression as text, the form the canonical conversion parses."""
    return _text(typed)


def bool_result(typed: Typed) -> pl.Expr:
    """A compiled condition as a boolean (text is read as a checkbox)."""
    return _bool(typed)


# -- checking the mappings of a project file --------------------------------------------------


def iter_expressions(mappings: Mapping[str, Any]) -> Iterator[tuple[list[str | int], str]]:
    """``(path inside the mappings, expression)`` for every expression a mapping holds."""
    for table, spec in (mappings or {}).items():
        if not isinstance(spec, Mapping):
            continue
        if isinstance(spec.get("where"), str):
            yield [table, "where"], spec["where"]
        currency = spec.get("currency")
        if isinstance(currency, Mapping) and isinstance(currency.get("expr"), str):
            yield [table, "currency", "expr"], currency["expr"]
        for column, value in (spec.get("columns") or {}).items():
            if isinstance(value, Mapping) and isinstance(value.get("expr"), str):
                yield [table, "columns", column, "expr"], value["expr"]


def check_expressions(
    mappings: Mapping[str, Any], where: Callable[[list[str | int]], Location | None]
) -> list[Issue]:
    """Issues for the expressions of ``mappings`` that do not compile, each placed by ``where``."""
    issues = []
    for path, text in iter_expressions(mappings):
        try:
            compile_expression(text, set())
        except MappingExpressionError as error:
            issues.append(
                Issue(
                    "bad-mapping",
                    f"mapping {'.'.join(map(str, path))}: {error}",
                    where(path),
                    subject=f"mappings.{path[0]}",
                    hint="use fields, constants, + - * /, comparisons, AND/OR/NOT, IS NULL, IN, "
                    "CASE WHEN, COALESCE, NULLIF, CONCAT or ||, LOWER, UPPER, TRIM, ROUND, ABS",
                )
            )
    return issues


def parse_mappings(mappings: Mapping[str, Any] | None, *, subject: str) -> dict[str, Mapping[str, Any]]:
    """Check a connector's ``mappings`` option given from Python (the project file is checked
    with positions when it loads); returns it unchanged."""
    mappings = dict(mappings or {})
    issues = check_expressions(mappings, lambda _path: None)
    if issues:
        raise UsageError([replace(i, subject=subject) for i in issues])
    return mappings
