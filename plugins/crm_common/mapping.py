"""Applying a table mapping (:mod:`crmetrics.mapping`) to an object's rows.

The built-in mappings of both CRM connectors and the mappings of a project file end here,
so a custom object gets the same treatment as a standard one: checkbox and Data Loader
booleans, dates with offsets, picklist value maps with unknown values reported, amounts
converted from the row's currency (or rejected without a rate), and rows left out by a
``where`` condition counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from crmetrics.canonical import ROW_ORIGIN
from crmetrics.errors import Issue, Location, UsageError, did_you_mean
from crmetrics.mapping import (
    ColumnSpec,
    MappingExpressionError,
    TableMapping,
    bool_result,
    compile_expression,
    field_name,
    text_result,
)
from crmetrics.model import TABLES
from crmetrics.plugins.crm_common.frames import (
    TableBuilder,
    bool_text,
    convert_currency,
    map_picklist,
    timestamp_text,
)

_MONEY = ("amount", "cost")


def user_mapping(settings: Mapping[str, Any], table: str) -> Mapping[str, Any] | None:
    """The project file's mapping of ``table``, if it has one."""
    found = (settings.get("mappings") or {}).get(table)
    return found or None


def replaces_builtin(user: Mapping[str, Any] | None, builtin_object: str) -> bool:
    """Whether ``user`` maps the table from another object than the built-in one."""
    other = (user or {}).get("object")
    return bool(other) and str(other).lower() != builtin_object.lower()


def mapped_fields(settings: Mapping[str, Any], object_name: str, builtin: Mapping[str, str]) -> list[str]:
    """The fields the project's mappings read from ``object_name`` (derived ones excluded)."""
    names: list[str] = []
    for table, spec in (settings.get("mappings") or {}).items():
        target = spec.get("object") or builtin.get(table, "")
        if str(target).lower() == object_name.lower():
            fields = TableMapping.parse(spec, default_object=target).fields()
            names += [f for f in fields if not f.lower().startswith("derived.")]
    return names


def _compiled(builder: TableBuilder, text: str, columns: set[str], where: str) -> Any:
    try:
        return compile_expression(text, columns)
    except MappingExpressionError as error:
        raise UsageError(
            Issue(
                "bad-mapping",
                f"mapping {where}: {error}",
                Location(builder.origin),
                subject=f"mappings.{builder.table}",
            )
        ) from None


def _value(builder: TableBuilder, spec: ColumnSpec, columns: set[str], where: str) -> pl.Expr:
    if spec.field:
        name = field_name(spec.field)
        return pl.col(name).cast(pl.String) if name in columns else pl.lit(None, dtype=pl.String)
    if spec.expr:
        return text_result(_compiled(builder, spec.expr, columns, where))
    if spec.value is None:
        return pl.lit(None, dtype=pl.String)
    if isinstance(spec.value, bool):
        return pl.lit("true" if spec.value else "false")
    return pl.lit(str(spec.value))


def apply_mapping(
    builder: TableBuilder,
    frame: pl.DataFrame,
    mapping: TableMapping,
    *,
    currency: Mapping[str, Any],
    hints: Mapping[str, str] | None = None,
    ids: Callable[[pl.Expr], pl.Expr] | None = None,
) -> pl.DataFrame:
    """The canonical columns of ``builder.table`` computed from ``frame`` by ``mapping``.

    Args:
        builder: collects rejected rows and warnings of the table.
        frame: the object's rows, lower-case field names, text values.
        mapping: the table's mapping, built-in with the project's changes applied.
        currency: the connector's ``currency`` option (reporting currency and rates).
        hints: canonical column -> the option that holds its value map, for warnings
            (default: the column's ``values`` in the project file's mapping).
        ids: the source's own normal form of an id, applied to the table's key and
            ``customer_id`` (Salesforce widens 15-character ids to 18).

    Returns:
        The canonical columns as text (plus where each row was read), for the canonical
        conversion to parse.
    """
    table = TABLES[builder.table]
    columns = set(frame.columns)
    _check_mapping(builder, mapping, columns)
    if mapping.where:
        condition = bool_result(_compiled(builder, mapping.where, columns, f"{builder.table}.where"))
        frame = builder.reject(frame, ~condition.fill_null(False), f"left out by where: {mapping.where}")
    out: list[str] = []
    for column in table.columns:
        target = f"__map_{column.name}"
        spec = mapping.columns.get(column.name)
        where = f"{builder.table}.columns.{column.name}"
        value = _value(builder, spec, columns, where) if spec else pl.lit(None, dtype=pl.String)
        if ids is not None and (column.name == table.key or column.name == "customer_id"):
            value = ids(value)
        if column.kind == "bool":
            value = bool_text(value)
        elif column.kind == "datetime":
            value = timestamp_text(value)
        if spec and spec.values is not None:
            option = (hints or {}).get(column.name, f"mappings.{where}.values")
            frame = map_picklist(
                builder, frame, value, spec.values, target=target, label=column.name, option=option
            )
        else:
            frame = frame.with_columns(value.alias(target))
        if column.name in _MONEY and mapping.currency is not None:
            code = _value(builder, mapping.currency, columns, f"{builder.table}.currency")
            frame = convert_currency(builder, frame, amount=target, currency=code, settings=currency)
        out.append(column.name)
    keep = [pl.col(f"__map_{name}").alias(name) for name in out]
    if ROW_ORIGIN in frame.columns:
        keep.append(pl.col(ROW_ORIGIN))
    return frame.select(keep)


def _check_mapping(builder: TableBuilder, mapping: TableMapping, columns: set[str]) -> None:
    """A required column nobody maps is a mistake in the mapping, not in every row; a field
    the project names that the object lacks is most likely a typo, and is said so."""
    table = TABLES[builder.table]
    missing = [c.name for c in table.columns if not c.nullable and c.name not in mapping.columns]
    if missing:
        raise UsageError(
            Issue(
                "incomplete-mapping",
                f"the mapping of {builder.table} from {mapping.object} gives no "
                f"{', '.join(missing)}, which the table requires",
                Location(builder.origin),
                subject=f"mappings.{builder.table}",
                hint=f"add columns.{missing[0]} (a field, {{expr: ...}} or {{value: ...}})",
            )
        )
    have = sorted(c for c in columns if not c.startswith("__"))
    for name in sorted(mapping.user_fields):
        if field_name(name) not in columns and not name.lower().startswith("derived."):
            builder.warn(
                "unknown-field",
                f"{builder.table}: {mapping.object} has no field {name!r}; its values are taken as null",
                subject=f"mappings.{builder.table}",
                hint=_joined(did_you_mean(field_name(name), have), f"fields read: {_some(have)}"),
            )


def _some(names: list[str], limit: int = 15) -> str:
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown


def _joined(first: str, second: str) -> str:
    return f"{first} {second}" if first else second


def builtin(
    object_name: str,
    columns: Mapping[str, str | ColumnSpec],
    *,
    currency: str | None = None,
    user: Mapping[str, Any] | None = None,
) -> TableMapping:
    """A connector's built-in mapping, with the project file's changes (``user``) applied.

    Field names starting ``derived.`` are columns the connector computed before mapping
    (a first won deal's date, a flag read from pipeline metadata): documented per table.
    """
    mapping = TableMapping(
        object_name,
        {name: ColumnSpec.parse(spec) for name, spec in columns.items()},
        ColumnSpec(field=currency) if currency else None,
    )
    return mapping.override(user)


def derived_revenue(
    rows: pl.DataFrame, object_name: str, id_field: str, settings: Mapping[str, Any]
) -> tuple[pl.DataFrame, TableMapping]:
    """Revenue rows the connector prepared, renamed for the built-in revenue mapping, and that mapping.

    The connector computes ``__customer``, ``__date``, ``__amount``, ``__cost`` and
    ``__currency`` from whichever object revenue is read from; they become ``derived.*``
    columns. The project file's revenue mapping applies except its ``object``, since the
    connector has already chosen the object by then.

    Args:
        rows: the object's rows with the ``__`` columns.
        object_name: the object revenue is read from.
        id_field: the object's record id field.
        settings: the connector's settings.
    """
    derived = ("customer", "date", "amount", "cost", "currency")
    rows = rows.rename({f"__{name}": f"derived.{name}" for name in derived})
    user = {k: v for k, v in (user_mapping(settings, "revenue") or {}).items() if k != "object"}
    mapping = builtin(
        object_name,
        {
            "revenue_id": id_field,
            "customer_id": "derived.customer",
            "recognized_at": "derived.date",
            "amount": "derived.amount",
            "cost": "derived.cost",
        },
        currency="derived.currency",
        user=user,
    )
    return rows, mapping
