"""Turning a connector's raw rows into a canonical table, by the rules of the model.

Every connector ends here, so the conversion rules live once: timestamps with offsets or
epoch milliseconds become UTC, ``true/1/yes`` become booleans, duplicate keys keep the last
copy (and are reported), and values the model forbids are data errors. Nothing is silently
coerced: a value that cannot be converted is either refused (the default) or, where the
connector asks for it, rejected and counted by reason.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from crmetrics.errors import DataError, Issue, Location
from crmetrics.model import ALLOWED_VALUES, SURVEY_SCALES, UTC_DATETIME, Table

OnError = Literal["raise", "reject"]
#: The Polars engine a query is collected with.
CollectEngine = Literal["auto", "streaming"]

_ROW = "__crmetrics_row"
#: Optional text column of a raw frame saying where each row was read (``file.csv:12``,
#: ``page-2.json record 3``); messages then point there rather than at a row number.
ROW_ORIGIN = "__crmetrics_origin"
_LINE = re.compile(r"^(.*):(\d+)$")
_DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
# Exactly the spellings the model allows: a one-letter "t" or "n" is as likely to be a typo
# as a boolean, so it is a data error rather than a guess.
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")
_EXAMPLES = 3


@dataclass
class TableReport:
    """What happened to one table on its way into the canonical model."""

    table: str
    origin: str
    rows_read: int = 0
    rows_kept: int = 0
    #: Rows left out, each counted once however many of its values were wrong.
    rejected_rows: int = 0
    #: Why, per reason (``column: reason`` for values): a row may count under several.
    rejected: Counter[str] = field(default_factory=Counter)
    duplicates_dropped: int = 0
    issues: list[Issue] = field(default_factory=list)


@dataclass
class Conformed:
    """A table converted to the canonical model, and the report of what the conversion found."""

    frame: pl.DataFrame
    report: TableReport


def parse_datetime(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """An expression turning ``expr`` of type ``dtype`` into UTC microsecond timestamps.

    Strings may carry an offset (``+0200``, ``+02:00``, ``Z``), no offset (taken as UTC), or
    be a bare date (midnight UTC) or epoch milliseconds. Unparseable values become null; the
    caller compares nulls before and after to find them.
    """
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            expr = expr.dt.replace_time_zone("UTC")
        return expr.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if isinstance(dtype, pl.Date):
        return expr.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_integer():
        return pl.from_epoch(expr, time_unit="ms").dt.replace_time_zone("UTC").dt.cast_time_unit("us")
    text = expr.cast(pl.String).str.strip_chars()
    from_epoch = (
        pl.when(text.str.contains(r"^-?\d{10,}$"))
        .then(pl.from_epoch(text.cast(pl.Int64, strict=False), time_unit="ms"))
        .dt.replace_time_zone("UTC")
        .dt.cast_time_unit("us")
    )
    parsed = [
        text.str.to_datetime(fmt, strict=False, time_zone="UTC", time_unit="us") for fmt in _DATETIME_FORMATS
    ]
    return pl.coalesce(from_epoch, *parsed)


def parse_boolean(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Boolean):
        return expr
    text = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    return (pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False).otherwise(None)).cast(
        pl.Boolean
    )


def parse_float(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A finite number, or null: ``NaN``, ``inf`` and ``1e309`` are no amounts or scores.

    Left in, one of them turns every sum, average and ratio it touches into NaN or
    infinity without a word; as a null it is reported with its row like any other value
    that is not a number.
    """
    number = (
        expr.cast(pl.Float64)
        if dtype.is_numeric()
        else expr.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    )
    return pl.when(number.is_finite()).then(number)


def _convert(kind: str, name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if kind == "datetime":
        return parse_datetime(col, dtype)
    if kind == "bool":
        return parse_boolean(col, dtype)
    if kind == "float":
        return parse_float(col, dtype)
    return col.cast(pl.String)


_WHAT = {
    "datetime": "a timestamp or date",
    "bool": "a boolean (true/false, 1/0, yes/no)",
    "float": "a number",
}


def conform(
    table: Table,
    raw: pl.DataFrame,
    *,
    origin: str,
    first_row: int = 1,
    on_error: OnError = "raise",
) -> Conformed:
    """Convert ``raw`` into ``table``'s canonical types and check the model's rules.

    Args:
        table: the canonical table the rows belong to.
        raw: the rows as read, in source order; extra columns are kept as they are.
        origin: where they came from (a file path or URL), used in every message.
        first_row: the number that the first row has in the source (2 for a CSV file with
            a header line), so that messages point at the right line.
        on_error: ``"raise"`` refuses the table with a :class:`DataError` listing every
            problem; ``"reject"`` drops the offending rows and counts them by reason.

    Returns:
        The converted frame (canonical columns first, in model order) and its report.
    """
    report = TableReport(table.name, origin, rows_read=raw.height)
    _require_columns(table, raw.columns, origin)
    frame = raw.with_row_index(_ROW, offset=first_row)
    converted = []
    for column in table.columns:
        if column.name in raw.columns:
            converted.append(_convert(column.kind, column.name, raw.schema[column.name]).alias(column.name))
        else:
            converted.append(pl.lit(None, dtype=column.dtype).alias(column.name))
    extras = [c for c in raw.columns if table.column(c) is None and c != ROW_ORIGIN]
    where = pl.col(ROW_ORIGIN) if ROW_ORIGIN in raw.columns else pl.lit(None, dtype=pl.String)
    out = frame.select(pl.col(_ROW), where.alias(ROW_ORIGIN), *converted, *extras)

    problems = list(_problems(table, raw, out))
    bad_rows = pl.Series(_ROW, [], dtype=pl.UInt32)
    for reason, name, rows in problems:
        report.rejected[f"{name}: {reason}"] += rows.height
        bad_rows = pl.concat([bad_rows, rows[_ROW].cast(pl.UInt32)])
    issues = [_problem_issue(table, origin, reason, column, rows) for reason, column, rows in problems]
    if issues and on_error == "raise":
        raise DataError(issues)
    if issues:
        report.issues.extend(i.__class__(**{**i.__dict__, "severity": "warning"}) for i in issues)
        report.rejected_rows = bad_rows.n_unique()
        out = out.filter(~pl.col(_ROW).is_in(bad_rows.unique().implode()))

    out, dropped = _drop_duplicates(table, out)
    if dropped.height:
        report.duplicates_dropped = dropped.height
        ids = ", ".join(repr(v) for v in dropped[table.key].unique(maintain_order=True).head(_EXAMPLES))
        report.issues.append(
            Issue(
                "duplicate-key",
                f"{dropped.height} duplicate {table.key} value(s) in {table.name} "
                f"(e.g. {ids}); kept the last copy of each",
                Location(origin),
                severity="warning",
            )
        )
    out = out.drop(_ROW, ROW_ORIGIN)
    report.rows_kept = out.height
    return Conformed(out, report)


def _require_columns(table: Table, present: Sequence[str], origin: str) -> None:
    missing = [c.name for c in table.columns if c.name not in present and not c.nullable]
    if missing:
        raise DataError(
            Issue(
                "missing-column",
                f"table {table.name!r} has no column {', '.join(map(repr, missing))}",
                Location(origin),
                hint=f"columns found: {', '.join(present) or 'none'}; "
                f"the canonical columns are: {', '.join(table.column_names)}",
            )
        )


def _problems(table: Table, raw: pl.DataFrame, out: pl.DataFrame) -> Iterator[tuple[str, str, pl.DataFrame]]:
    """Yield (reason, column, offending rows with the raw value) for every broken rule."""
    with_raw = out.with_columns(raw.select(pl.all().name.prefix(_RAW)).get_columns()) if raw.width else out
    for column in table.columns:
        name = column.name
        if name not in raw.columns:
            continue
        raw_name = _RAW + name
        if column.kind != "str":
            rows = with_raw.filter(_unparsed(name)).select(
                _ROW, ROW_ORIGIN, pl.col(raw_name).cast(pl.String).alias("value")
            )
            if rows.height:
                yield f"not {_WHAT[column.kind]}", name, rows
        if not column.nullable:
            rows = with_raw.filter(
                pl.col(name).is_null()
                & ~(
                    pl.col(raw_name).is_not_null()
                    & (pl.col(raw_name).cast(pl.String).str.strip_chars() != "")
                    & (pl.lit(column.kind) != "str")
                )
            ).select(_ROW, ROW_ORIGIN, pl.lit("").alias("value"))
            if rows.height:
                yield "missing value", name, rows
        allowed = ALLOWED_VALUES.get((table.name, name))
        if allowed:
            rows = out.filter(pl.col(name).is_not_null() & ~pl.col(name).is_in(sorted(allowed)))
            if rows.height:
                yield (
                    f"not one of {', '.join(sorted(allowed))}",
                    name,
                    rows.select(_ROW, ROW_ORIGIN, pl.col(name).alias("value")),
                )
    yield from _row_rules(table, out)


def row_rules(table: Table) -> list[tuple[str, str, pl.Expr, pl.Expr]]:
    """The model's rules across columns: (reason, column, offending-row test, value shown)."""
    if table.name == "customers":
        return [
            (
                "churned_at before acquired_at",
                "churned_at",
                pl.col("churned_at") < pl.col("acquired_at"),
                pl.format("churned_at {} < acquired_at {}", "churned_at", "acquired_at"),
            )
        ]
    if table.name == "deals":
        return [
            ("is_won without is_closed", "is_won", pl.col("is_won") & ~pl.col("is_closed"), pl.col("is_won")),
            (
                "closed deal without closed_at",
                "closed_at",
                pl.col("is_closed") & pl.col("closed_at").is_null(),
                pl.col("is_closed"),
            ),
            _before_creation("closed_at", date_only=True),
        ]
    if table.name == "leads":
        return [
            (
                "converted lead without converted_at",
                "converted_at",
                pl.col("is_converted") & pl.col("converted_at").is_null(),
                pl.col("is_converted"),
            ),
            _before_creation("converted_at", date_only=True),
        ]
    if table.name == "tickets":
        return [
            _before_creation("first_response_at", date_only=False),
            _before_creation("resolved_at", date_only=False),
            (
                "negative handle_time_seconds",
                "handle_time_seconds",
                pl.col("handle_time_seconds") < 0,
                pl.col("handle_time_seconds"),
            ),
        ]
    if table.name == "survey_responses":
        off_scale = pl.lit(False)
        for survey, (low, high) in SURVEY_SCALES.items():
            off_scale = off_scale | (
                (pl.col("survey_type") == survey) & ~pl.col("score").is_between(low, high)
            )
        return [
            (
                "score off the survey's scale (nps 0-10, csat 1-5, ces 1-7)",
                "score",
                off_scale,
                pl.format("{} score {}", "survey_type", "score"),
            )
        ]
    return []


def _before_creation(column: str, *, date_only: bool) -> tuple[str, str, pl.Expr, pl.Expr]:
    """The rule that ``column`` does not precede ``created_at``.

    CRMs store a close or conversion date without a time, in the org's own time zone, while
    the creation is a UTC timestamp: such a date may fall on the day before the creation's
    UTC day without being wrong, so only an earlier date breaks the rule.
    """
    created = pl.col("created_at")
    floor = created.dt.truncate("1d") - pl.duration(days=1) if date_only else created
    return (
        f"{column} before created_at",
        column,
        pl.col(column) < floor,
        pl.format(
            "{} {} < created_at {}",
            pl.lit(column),
            pl.col(column).dt.strftime("%Y-%m-%d %H:%M"),
            pl.col("created_at").dt.strftime("%Y-%m-%d %H:%M"),
        ),
    )


def _row_rules(table: Table, out: pl.DataFrame) -> Iterator[tuple[str, str, pl.DataFrame]]:
    for reason, column, bad, shown in row_rules(table):
        rows = out.filter(bad.fill_null(False)).select(_ROW, ROW_ORIGIN, shown.cast(pl.String).alias("value"))
        if rows.height:
            yield reason, column, rows


def with_line_origin(frame: pl.DataFrame, where: str, first_line: int = 2) -> pl.DataFrame:
    """``frame`` (a CSV file's records) with the line each record starts on in ``where``.

    A quoted newline makes a record span several lines, so a record's line is not its
    position plus one; messages then still point at the line to open.
    """
    if not frame.height:
        return frame.with_columns(pl.lit(None, dtype=pl.String).alias(ROW_ORIGIN))
    breaks = [
        pl.col(c).str.count_matches("\n").fill_null(0) for c, t in frame.schema.items() if t == pl.String
    ]
    lines = 1 + pl.sum_horizontal(pl.repeat(0, pl.len()), *breaks)
    start = first_line + lines.cum_sum() - lines
    return frame.with_columns(pl.format("{}:{}", pl.lit(where), start).alias(ROW_ORIGIN))


def _row_place(row: Mapping[str, object], origin: str) -> str:
    """Where a row was read: ``row N`` (its line) in the table's own file, else its place."""
    place = row.get(ROW_ORIGIN)
    if not place:
        return f"row {row[_ROW]}"
    found = _LINE.match(str(place))
    return f"row {found.group(2)}" if found and found.group(1) == origin else str(place)


def _row_location(origin: str, row: Mapping[str, object]) -> Location:
    place = row.get(ROW_ORIGIN)
    if not place:
        return Location(origin, int(str(row[_ROW])))
    found = _LINE.match(str(place))
    return Location(found.group(1), int(found.group(2))) if found else Location(str(place))


def _problem_issue(table: Table, origin: str, reason: str, column: str, rows: pl.DataFrame) -> Issue:
    first = rows.row(0, named=True)
    examples = "; ".join(
        f"{_row_place(r, origin)}: {r['value']!r}" if r["value"] else _row_place(r, origin)
        for r in rows.head(_EXAMPLES).iter_rows(named=True)
    )
    more = f" (and {rows.height - _EXAMPLES} more)" if rows.height > _EXAMPLES else ""
    return Issue(
        "bad-value",
        f"{table.name}.{column}: {reason}: {examples}{more}",
        _row_location(origin, first),
        subject=f"{table.name}.{column}",
        hint="fix the source rows; crmetrics never guesses a value",
    )


def _drop_duplicates(table: Table, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    is_last = pl.col(_ROW) == pl.col(_ROW).max().over(table.key)
    return frame.filter(is_last), frame.filter(~is_last)


def _converts_losslessly(kind: str, dtype: pl.DataType) -> bool:
    """Whether every non-null value of ``dtype`` converts to ``kind`` without parsing.

    Only then can the conversion run lazily: no value can fail it, so no row needs to be
    pointed at. Text in a typed column (a timestamp stored as a string) takes the eager path.
    """
    if kind == "datetime":
        return isinstance(dtype, pl.Datetime | pl.Date) or dtype.is_integer()
    if kind == "float":
        return dtype.is_float() or dtype.is_integer()
    if kind == "bool":
        return isinstance(dtype, pl.Boolean)
    return isinstance(dtype, pl.String | pl.Categorical | pl.Enum)


@dataclass
class LazyConformed:
    """A table converted lazily, and the one-row queries that check the model's rules on it.

    ``rule_checks`` counts, over every row, each way a row can break the model (nulls in
    required columns, values outside a column's allowed set, the rules across columns), and
    how many keys do not come after the key before them (:data:`KEYS_OUT_OF_ORDER`). Keys
    in strictly increasing order are distinct, as exports numbered in sequence usually are;
    only when they are not does ``key_check`` hash every key to count the duplicates (see
    :meth:`counts`). All counts zero means the lazy frame is exactly what :func:`conform`
    would give; otherwise the caller runs :func:`conform` on the table, which names the
    offending rows (or drops them and duplicates, as asked), so the messages stay those of
    the eager path.
    """

    frame: pl.LazyFrame
    rule_checks: pl.LazyFrame
    key_check: pl.LazyFrame
    #: The table's key, counted for duplicates by ``key_check``.
    key: str = ""
    #: The columns parsed from text; their conversion is the costly part of a read.
    parsed: tuple[str, ...] = ()
    #: ``frame`` with the raw values of the parsed columns beside it, and the counts'
    #: expressions over it: :meth:`materialised` reads and converts the rows once from it.
    wide: pl.LazyFrame | None = None
    count_exprs: tuple[pl.Expr, ...] = ()

    def materialised(self) -> LazyConformed:
        """The same table with its rows read and converted once, held in memory.

        A table parsed from text would otherwise be parsed twice, by the query and by the
        checks; in memory, both read the converted values. The counts that need the raw
        text are taken now, so that it is not held in memory while the query runs.
        """
        if self.wide is None:
            return self
        wide = self.wide.collect()
        counts = wide.lazy().select(self.count_exprs).collect()
        frame = wide.drop(*(_RAW + name for name in self.parsed)).lazy()
        return dataclasses.replace(
            self,
            frame=frame,
            rule_checks=counts.lazy(),
            key_check=frame.select(_duplicates(self.key)),
            wide=None,
        )

    @property
    def checks(self) -> pl.LazyFrame:
        """Every count in one query, the duplicate keys always counted by hashing."""
        return pl.concat([self.rule_checks.drop(KEYS_OUT_OF_ORDER), self.key_check], how="horizontal")

    def counts(self, rule_counts: pl.DataFrame, engine: CollectEngine = "auto") -> pl.DataFrame:
        """The full counts, given ``rule_counts`` (``rule_checks`` collected).

        The duplicate keys are zero without another pass when the keys are in strictly
        increasing order, and counted by ``key_check`` otherwise; when the source knew the
        keys out of order, ``rule_counts`` already holds them.
        """
        if DUPLICATE_KEYS in rule_counts.columns:  # counted by hashing in the same pass
            return rule_counts.with_columns(pl.col(DUPLICATE_KEYS).cast(pl.UInt32))
        if rule_counts.item(0, KEYS_OUT_OF_ORDER) == 0:
            duplicates = pl.DataFrame({DUPLICATE_KEYS: [0]}, schema={DUPLICATE_KEYS: pl.UInt32})
        else:
            duplicates = self.key_check.collect(engine=engine)
        return pl.concat([rule_counts.drop(KEYS_OUT_OF_ORDER), duplicates.cast(pl.UInt32)], how="horizontal")

    @staticmethod
    def clean(counts: Mapping[str, int | None]) -> bool:
        """Whether the check counts found no broken row."""
        return not any(v for k, v in counts.items() if k != ROWS_CHECKED)


ROWS_CHECKED = "rows"
#: Rows whose key is null or not greater than the key of the row before: zero proves
#: the keys distinct without hashing them.
KEYS_OUT_OF_ORDER = "keys out of order"
DUPLICATE_KEYS = "duplicate keys"


#: Rules across columns that only a value below a bound breaks: (column, bound) by reason.
#: A column whose recorded minimum is at or above the bound holds no offending row.
PROVEN_BY_MINIMUM = {"negative handle_time_seconds": ("handle_time_seconds", 0.0)}


def _proven_by_minimum(reason: str, minimums: Mapping[str, float], schema: pl.Schema) -> bool:
    column, bound = PROVEN_BY_MINIMUM.get(reason, ("", 0.0))
    # Only a column read as it is stored: a conversion could move its values.
    return column in minimums and schema[column].is_float() and minimums[column] >= bound


def keys_out_of_order(key: str) -> pl.Expr:
    """How many rows after the first lack a key greater than the previous row's.

    Strings compare byte by byte and numbers by value, both strict total orders once nulls
    (counted here) are left out: a column whose count is zero holds no value twice.
    """
    increasing = (pl.col(key) > pl.col(key).shift(1)).fill_null(False).sum()
    return (pl.len().cast(pl.Int64) - 1 - increasing.cast(pl.Int64)).clip(lower_bound=0)


def conform_lazy(
    table: Table,
    raw: pl.LazyFrame,
    *,
    origin: str,
    known_nulls: Mapping[str, int] | None = None,
    known_minimums: Mapping[str, float] | None = None,
    keys_may_rise: bool = True,
) -> LazyConformed | None:
    """``raw`` converted like :func:`conform` does, as a LazyFrame, with its checks deferred.

    ``known_nulls`` are null counts the source already knows for certain (a Parquet footer's
    statistics): a required column known to hold no null is not read to count them.
    ``known_minimums`` are smallest values known the same way: a rule only a smaller value
    breaks (:data:`PROVEN_BY_MINIMUM`) is not counted. ``keys_may_rise`` False (the
    source knows the keys out of order) hashes them for duplicates in the same pass as
    the rules, instead of comparing each with the one before and hashing them after.

    A column that needs parsing (text, for a typed column) is parsed as :func:`conform`
    parses it, and its values that do not parse are counted (``not read name``): only the
    eager :func:`conform` says which rows they are, so any count sends the table there.
    """
    schema = raw.collect_schema()
    _require_columns(table, list(schema), origin)
    parsed = [
        c.name for c in table.columns if c.name in schema and not _converts_losslessly(c.kind, schema[c.name])
    ]
    converted = [
        # A column already of its canonical type is passed through untouched: a computed
        # column, even an identity, would stop Polars pushing filters into the scan.
        pl.col(c.name)
        if c.name in schema and schema[c.name] == c.dtype
        else _convert(c.kind, c.name, schema[c.name]).alias(c.name)
        if c.name in schema
        else pl.lit(None, dtype=c.dtype).alias(c.name)
        for c in table.columns
    ]
    extras = [name for name in schema if table.column(name) is None and name != ROW_ORIGIN]
    frame = raw.select(*converted, *extras)
    counts = [pl.len().alias(ROWS_CHECKED)]
    counts += [_unparsed(name).sum().alias(f"{NOT_READ} {name}") for name in parsed]
    # A source's null counts are of the values as stored: a blank text is no null there.
    known = {name: count for name, count in (known_nulls or {}).items() if name not in parsed}
    counts += [
        pl.col(c.name).null_count().alias(f"missing {c.name}")
        for c in table.columns
        if not c.nullable and c.name in schema and known.get(c.name) != 0
    ]
    counts += [
        (~pl.col(c.name).cast(pl.Float64).is_finite()).sum().alias(f"not finite {c.name}")
        for c in table.columns
        if c.kind == "float" and c.name in schema
    ]
    for (table_name, name), allowed in ALLOWED_VALUES.items():
        if table_name == table.name and name in schema:
            outside = pl.col(name).is_not_null() & ~pl.col(name).is_in(sorted(allowed))
            counts.append(outside.sum().alias(f"outside {name}"))
    minimums = known_minimums or {}
    counts += [
        bad.fill_null(False).sum().alias(reason)
        for reason, _, bad, _ in row_rules(table)
        if not _proven_by_minimum(reason, minimums, schema)
    ]
    counts.append(
        keys_out_of_order(table.key).alias(KEYS_OUT_OF_ORDER) if keys_may_rise else _duplicates(table.key)
    )
    wide = raw.select(*converted, *extras, *(pl.col(name).alias(_RAW + name) for name in parsed))
    return LazyConformed(
        frame,
        wide.select(counts),
        frame.select(_duplicates(table.key)),
        key=table.key,
        parsed=tuple(parsed),
        wide=wide if parsed else None,
        count_exprs=tuple(counts),
    )


def _duplicates(key: str) -> pl.Expr:
    # Distinct hashes prove distinct keys; a collision only sends the table down the eager
    # path, which compares the keys themselves. Hashing is several times cheaper than
    # counting distinct strings.
    return (pl.len() - pl.col(key).hash().n_unique()).alias(DUPLICATE_KEYS)


_RAW = "__raw_"
#: The count of a column's values that do not parse as its type (``not read amount``).
NOT_READ = "not read"


def _unparsed(name: str) -> pl.Expr:
    """Values present in the source (not null, not blank) that the conversion turned null."""
    raw = pl.col(_RAW + name)
    present = raw.is_not_null() & (raw.cast(pl.String).str.strip_chars() != "")
    return present & pl.col(name).is_null()


__all__ = [
    "DUPLICATE_KEYS",
    "KEYS_OUT_OF_ORDER",
    "UTC_DATETIME",
    "Conformed",
    "LazyConformed",
    "TableReport",
    "conform",
    "conform_lazy",
    "parse_datetime",
]
