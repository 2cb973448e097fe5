"""Expressions and steps every CRM mapping uses: parsing text, picklists, currency, recency.

Values that pass straight into a canonical column stay text, so that the canonical
conversion parses them and rejects bad ones with their row. Values the connector itself
reasons about (a close date to find the first won deal, a flag to drop deleted rows) are
parsed here with the same rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from crmetrics.canonical import parse_datetime
from crmetrics.connector import RawTable
from crmetrics.errors import Issue, Location

_TRUE = ("true", "1", "yes", "y", "t", "on")
_FALSE = ("false", "0", "no", "n", "f", "off")
_EXAMPLES = 5


class TableBuilder:
    """Collects what one table's mapping drops and warns about, then hands over a RawTable."""

    def __init__(self, table: str, origin: str) -> None:
        self.table = table
        self.origin = origin
        self.rejected: Counter[str] = Counter()
        self.issues: list[Issue] = []

    def reject(self, frame: pl.DataFrame, mask: pl.Expr, reason: str) -> pl.DataFrame:
        """Drop the rows where ``mask`` holds, counted under ``reason``."""
        hit = frame.select(mask.fill_null(False).alias("hit"))["hit"]
        count = int(hit.sum())
        if count:
            self.rejected[reason] += count
            frame = frame.filter(~hit)
        return frame

    def warn(self, code: str, message: str, *, subject: str = "", hint: str = "") -> None:
        """Record a warning for the table's report."""
        self.issues.append(
            Issue(code, message, Location(self.origin), subject=subject, hint=hint, severity="warning")
        )

    def result(self, frame: pl.DataFrame) -> RawTable:
        """The rows for the canonical conversion; bad values there are rejected, not fatal."""
        return RawTable(
            frame,
            self.origin,
            on_error="reject",
            issues=tuple(self.issues),
            rejected=dict(self.rejected) or None,
        )


def column(frame: pl.DataFrame, name: str | None) -> pl.Expr:
    """``frame[name]`` as an expression, or a null text column when it is absent."""
    if name and name.lower() in frame.columns:
        return pl.col(name.lower())
    return pl.lit(None, dtype=pl.String)


def first_of(frame: pl.DataFrame, *names: str | None) -> pl.Expr:
    """The first non-null value among the columns ``names`` that ``frame`` has."""
    present = [pl.col(n.lower()) for n in names if n and n.lower() in frame.columns]
    if not present:
        return pl.lit(None, dtype=pl.String)
    return pl.coalesce(present) if len(present) > 1 else present[0]


def ensure(frame: pl.DataFrame, *names: str) -> pl.DataFrame:
    """``frame`` with a null text column for each of ``names`` it lacks."""
    missing = [n for n in names if n not in frame.columns]
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(n) for n in missing)


def timestamp_text(expr: pl.Expr) -> pl.Expr:
    """Timestamp text the canonical parser reads: ``2024-03-01 10:00`` gains its seconds."""
    text = expr.cast(pl.String).str.strip_chars()
    return (
        pl.when(text.str.contains(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}$")).then(text + ":00").otherwise(text)
    )


def timestamp(expr: pl.Expr) -> pl.Expr:
    """Text (offsets, ``Z``, epoch milliseconds, bare dates) as a UTC timestamp."""
    return parse_datetime(timestamp_text(expr), pl.String())


def truthy(expr: pl.Expr) -> pl.Expr:
    """Text as a boolean (null when unrecognised), accepting Data Loader's on/off too."""
    text = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    return pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False).otherwise(None)


def bool_text(expr: pl.Expr) -> pl.Expr:
    """``"true"``/``"false"`` where recognised, else the raw text for the conversion to reject."""
    parsed = truthy(expr)
    return (
        pl.when(parsed.is_not_null())
        .then(pl.when(parsed).then(pl.lit("true")).otherwise(pl.lit("false")))
        .otherwise(expr.cast(pl.String))
    )


def number(expr: pl.Expr) -> pl.Expr:
    """Text or numbers as a float; blanks and unreadable values are null."""
    return expr.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)


def snake(expr: pl.Expr) -> pl.Expr:
    """``Partner Referral`` and ``PARTNER_REFERRAL`` both as ``partner_referral``."""
    return (
        expr.cast(pl.String)
        .str.strip_chars()
        .str.to_lowercase()
        .str.replace_all(r"[^a-z0-9]+", "_")
        .str.strip_chars("_")
        .replace("", None)
    )


def channel(expr: pl.Expr, overrides: Mapping[str, Any]) -> pl.Expr:
    """A free-form channel: the user's mapping first (case-insensitive), else snake case."""
    lowered = {str(k).strip().lower(): v for k, v in overrides.items()}
    key = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    if not lowered:
        return snake(expr)
    mapped = key.replace_strict(lowered, default=None, return_dtype=pl.String)
    return pl.when(key.is_in(list(lowered))).then(mapped).otherwise(snake(expr))


def map_picklist(
    builder: TableBuilder,
    frame: pl.DataFrame,
    source: pl.Expr,
    mapping: Mapping[str, Any],
    *,
    target: str,
    label: str,
    option: str,
) -> pl.DataFrame:
    """Map a picklist onto a canonical value, in column ``target``, for the canonical ``label``.

    Keys match case-insensitively. A value the mapping lists as null is known and left null
    quietly; a value it does not list becomes null with one warning counting each value.
    """
    lowered = {str(k).strip().lower(): v for k, v in mapping.items()}
    key = source.cast(pl.String).str.strip_chars().str.to_lowercase()
    frame = frame.with_columns(key.alias("__pick_key"), source.cast(pl.String).alias("__pick_raw"))
    unknown = frame.filter(pl.col("__pick_key").is_not_null() & ~pl.col("__pick_key").is_in(list(lowered)))
    if unknown.height:
        counts = unknown["__pick_raw"].value_counts(sort=True)
        shown = ", ".join(f"{v!r} ({n})" for v, n in counts.head(_EXAMPLES).iter_rows())
        more = f" and {counts.height - _EXAMPLES} more" if counts.height > _EXAMPLES else ""
        builder.warn(
            "unknown-picklist-value",
            f"{builder.table}.{label}: {unknown.height} row(s) with a value the mapping does "
            f"not know, left null: {shown}{more}",
            subject=f"{builder.table}.{label}",
            hint=f"map them under options.{option} (a value mapped to null is left null quietly)",
        )
    mapped = pl.col("__pick_key").replace_strict(lowered, default=None, return_dtype=pl.String)
    return frame.with_columns(mapped.alias(target)).drop("__pick_key", "__pick_raw")


def latest_last(frame: pl.DataFrame, modified: Sequence[str]) -> pl.DataFrame:
    """Rows in order of last modification (unknown first; ties keep source order).

    The canonical conversion keeps the last copy of a duplicate key, so this makes the most
    recent copy of a record win even when an older copy was fetched later.
    """
    stamp = first_of(frame, *modified)
    if not any(m.lower() in frame.columns for m in modified):
        return frame
    return (
        frame.with_columns(timestamp(stamp).alias("__modified"))
        .sort("__modified", nulls_last=False, maintain_order=True)
        .drop("__modified")
    )


def latest(frame: pl.DataFrame, key: str, modified: Sequence[str]) -> pl.DataFrame:
    """One row per ``key``: the most recently modified copy."""
    if key not in frame.columns:
        return frame
    return latest_last(frame, modified).unique(key, keep="last", maintain_order=True)


def drop_where_latest(
    builder: TableBuilder | None,
    frame: pl.DataFrame,
    key: str,
    modified: Sequence[str],
    flag: pl.Expr,
    reason: str,
) -> pl.DataFrame:
    """Drop every copy of the records whose most recent copy has ``flag`` set.

    Deciding on the latest copy matters: a record archived after an earlier page listed it
    must go entirely, and one restored since must stay.
    """
    if key not in frame.columns:
        return frame
    flagged = latest(frame, key, modified).filter(flag.fill_null(False))[key]
    mask = pl.col(key).is_in(flagged.implode())
    if builder is None:
        return frame.filter(~mask)
    return builder.reject(frame, mask, reason)


def convert_currency(
    builder: TableBuilder,
    frame: pl.DataFrame,
    *,
    amount: str,
    currency: pl.Expr,
    settings: Mapping[str, Any],
    extra_rates: Mapping[str, float] | None = None,
) -> pl.DataFrame:
    """Column ``amount`` in the reporting currency; rows with no known rate are rejected.

    A null currency means the record is in the reporting currency (a single-currency org or
    portal carries no currency code). A row whose amount is null needs no rate.
    """
    reporting = str(settings["reporting"])
    rates = {str(k).upper(): float(v) for k, v in {**(extra_rates or {}), **settings["rates"]}.items()}
    rates[reporting] = 1.0
    frame = frame.with_columns(currency.cast(pl.String).str.strip_chars().str.to_uppercase().alias("__ccy"))
    amount_known = pl.col(amount).is_not_null()
    missing = (
        frame.filter(amount_known & pl.col("__ccy").is_not_null() & ~pl.col("__ccy").is_in(list(rates)))[
            "__ccy"
        ]
        .unique()
        .sort()
    )
    for code in missing:
        frame = builder.reject(
            frame,
            amount_known & (pl.col("__ccy") == code),
            f"amount in {code} with no rate to {reporting}",
        )
        builder.warn(
            "missing-exchange-rate",
            f"{builder.table}: rows in {code} dropped, there is no rate from {code} to {reporting}",
            subject=f"{builder.table}.amount",
            hint=f"add options.currency.rates.{code} (units of {reporting} per {code})",
        )
    rate = pl.col("__ccy").replace_strict(rates, default=1.0, return_dtype=pl.Float64)
    parsed = number(pl.col(amount))
    converted = (
        pl.when(pl.col("__ccy").is_null() | (pl.col("__ccy") == reporting))
        .then(pl.col(amount).cast(pl.String))
        .when(parsed.is_not_null())
        .then((parsed * rate).cast(pl.String))
        .otherwise(pl.col(amount).cast(pl.String))
    )
    return frame.with_columns(converted.alias(amount)).drop("__ccy")


def segment(frame: pl.DataFrame, settings: Mapping[str, Any], employees: str) -> pl.Expr:
    """The customer segment: a field as is, or the band the employee count falls in."""
    if settings.get("field"):
        return column(frame, settings["field"])
    count = number(column(frame, employees))
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    # Ascending, so the band with the highest floor the count reaches is tested first.
    for name, low in sorted(settings["employee_bands"].items(), key=lambda item: item[1]):
        expr = pl.when(count >= low).then(pl.lit(name)).otherwise(expr)
    return expr
