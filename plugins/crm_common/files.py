"""Reading CRM exports: JSON pages and CSV files, every value kept as text.

Both CRMs' CSV exports are all text, and HubSpot's JSON is too, so every source is brought
to a frame of strings (null for missing or empty). The canonical conversion then parses each
value once, the same way for every source, and rejects what it cannot read by row.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from crmetrics.canonical import ROW_ORIGIN, with_line_origin
from crmetrics.errors import DataError, Issue, Location

_DELIMITERS = (",", ";", "\t", "|", "^", "`")
_NUMBER_RUN = re.compile(r"(\d+)")


def natural_key(path: Path) -> list[Any]:
    """Sort key putting ``page-2.json`` before ``page-10.json``."""
    return [int(part) if part.isdigit() else part.lower() for part in _NUMBER_RUN.split(path.name)]


def find_entry(folder: Path, name: str, suffixes: Iterable[str]) -> Path | None:
    """The file ``NAME.SUFFIX`` or the folder ``NAME/`` in ``folder``, case-insensitively."""
    wanted = {f"{name}{suffix}".lower() for suffix in suffixes} | {name.lower()}
    if not folder.is_dir():
        return None
    for entry in sorted(folder.iterdir(), key=natural_key):
        if entry.name.lower() in wanted and (entry.is_file() or entry.is_dir()):
            return entry
    return None


def page_files(folder: Path, suffixes: Iterable[str]) -> list[Path]:
    """The pages in ``folder``, in natural name order (the order they were fetched)."""
    ends = tuple(s.lower() for s in suffixes)
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(ends)),
        key=natural_key,
    )


def read_json(path: Path) -> Any:
    """Decode a JSON file, or refuse it naming the file and the line."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise DataError(
            Issue(
                "unreadable-file",
                f"{path} is not valid JSON: {error.msg}",
                Location(str(path), error.lineno, error.colno),
            )
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(
            Issue("unreadable-file", f"cannot read {path}: {error}", Location(str(path)))
        ) from None


def read_csv_text(path: Path, *, date_format: str | None = None, origins: bool = False) -> pl.DataFrame:
    """A CSV export as a frame of strings: empty cells are null, ``NA`` stays ``"NA"``.

    Handles a byte-order mark, CRLF line ends, NUL bytes (dropped: they break CSV readers and
    never carry meaning), quoted commas, quotes and newlines (in cells and in headers), and
    the delimiters Bulk API 2.0 offers.

    Args:
        path: the file.
        date_format: ``day_first`` or ``month_first``: how to read the dates Excel writes
            (``02/03/24``, ``2/3/2024 14:05``); without it such a column is refused.
        origins: add the column saying on which line of the file each record starts.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(
            Issue("unreadable-file", f"cannot read {path}: {error}", Location(str(path)))
        ) from None
    text = raw.replace(b"\x00", b"").decode("utf-8-sig", errors="replace")
    if not text.strip():
        return pl.DataFrame()
    separator = _delimiter(text.splitlines()[0])
    try:
        frame = pl.read_csv(
            io.StringIO(text),
            separator=separator,
            infer_schema=False,
            null_values=None,
            truncate_ragged_lines=False,
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as error:
        raise DataError(
            Issue("unreadable-file", f"cannot read {path} as CSV: {error}", Location(str(path)))
        ) from None
    frame = _unescaped_headers(frame, text, separator)
    if origins:
        frame = with_line_origin(frame, str(path))
    return excel_dates(blank_to_null(frame), path, date_format)


def _unescaped_headers(frame: pl.DataFrame, text: str, separator: str) -> pl.DataFrame:
    """Headers as the CSV rules read them: a quote doubled inside a quoted header is one
    quote (HubSpot writes ``Date entered "Opportunity (...)"`` that way); Polars keeps both."""
    header = next(csv.reader(io.StringIO(text), delimiter=separator), [])
    if len(header) != frame.width or header == frame.columns or len(set(header)) != len(header):
        return frame
    return frame.rename(dict(zip(frame.columns, header, strict=True)))


def with_record_origin(frame: pl.DataFrame, where: str) -> pl.DataFrame:
    """``frame`` (records of a JSON page) with each record's place: ``page.json record 3``."""
    if not frame.width:
        return frame
    return frame.with_columns(
        pl.format("{} record {}", pl.lit(where), pl.int_range(1, pl.len() + 1)).alias(ROW_ORIGIN)
    )


_EXCEL_DATE = (
    r"^\s*(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?\s*$"
)
DATE_FORMATS = ("day_first", "month_first")


def excel_dates(frame: pl.DataFrame, path: Path, date_format: str | None) -> pl.DataFrame:
    """Columns holding only dates as Excel saves them, rewritten as ISO text.

    ``02/03/24`` is the 2nd of March or the 3rd of February depending on the locale Excel
    ran in, so the order must be declared; a two-digit year is 2000-2029 or 1930-1999, as
    Excel reads it.
    """
    text = [c for c, t in frame.schema.items() if t == pl.String and c != ROW_ORIGIN]
    if not frame.height or not text:
        return frame
    found = frame.select(
        (pl.col(c).str.contains(_EXCEL_DATE).all(ignore_nulls=True) & pl.col(c).is_not_null().any()).alias(c)
        for c in text
    ).row(0, named=True)
    dated = [c for c in text if found[c]]
    if not dated:
        return frame
    if date_format not in DATE_FORMATS:
        sample = frame[dated[0]].drop_nulls()[0]
        raise DataError(
            Issue(
                "ambiguous-date",
                f"column {dated[0]!r} holds dates as Excel writes them ({sample!r}), "
                "whose day and month order cannot be told",
                Location(str(path)),
                hint="set the source option date_format: day_first (31/12/24) or month_first (12/31/24)",
            )
        )
    return frame.with_columns(_iso_date(pl.col(c), date_format).alias(c) for c in dated)


def _iso_date(expr: pl.Expr, date_format: str) -> pl.Expr:
    parts = expr.str.extract_groups(_EXCEL_DATE)
    first, second = parts.struct.field("1").cast(pl.Int32), parts.struct.field("2").cast(pl.Int32)
    day, month = (first, second) if date_format == "day_first" else (second, first)
    year = parts.struct.field("3").cast(pl.Int32)
    year = pl.when(year < 30).then(year + 2000).when(year < 100).then(year + 1900).otherwise(year)
    hour = parts.struct.field("4").cast(pl.Int32)
    meridiem = parts.struct.field("7").str.to_lowercase()
    hour = (
        pl.when(meridiem == "pm").then(hour % 12 + 12).when(meridiem == "am").then(hour % 12).otherwise(hour)
    )
    minute = parts.struct.field("5")
    seconds = parts.struct.field("6").fill_null("00")
    date = pl.format("{}-{}-{}", year, _two(month), _two(day))
    stamp = pl.format("{} {}:{}:{}", date, _two(hour), minute, seconds)
    return pl.when(hour.is_null()).then(date).otherwise(stamp)


def _two(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).str.zfill(2)


def _delimiter(first_line: str) -> str:
    """The delimiter that splits the header line into the most fields (comma on a tie)."""
    counts = {d: len(next(csv.reader([first_line], delimiter=d), [])) for d in _DELIMITERS}
    return max(_DELIMITERS, key=lambda d: (counts[d], d == ","))


def blank_to_null(frame: pl.DataFrame) -> pl.DataFrame:
    """Empty or all-blank text becomes null: exports write a null as an empty cell."""
    strings = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c) for c in strings
    )


def to_text(value: Any) -> str | None:
    """One JSON value as the text a CSV export would hold for it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def frame_of_text(rows: list[Mapping[str, str | None]], columns: Iterable[str] = ()) -> pl.DataFrame:
    """A frame of string columns from flat rows whose keys may differ from row to row."""
    names: dict[str, None] = dict.fromkeys(columns)
    for row in rows:
        names.update(dict.fromkeys(row))
    data = {name: [row.get(name) for row in rows] for name in names}
    return blank_to_null(pl.DataFrame(data, schema=dict.fromkeys(names, pl.String)))


def lower_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Column names lower-cased; of two names that differ only by case, the first wins."""
    seen: set[str] = set()
    keep: list[pl.Expr] = []
    for name in frame.columns:
        low = name.strip().lower()
        if low not in seen:
            seen.add(low)
            keep.append(pl.col(name).alias(low))
    return frame.select(keep)


def concat_text(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Stack frames of text columns whose column sets differ (missing cells are null)."""
    frames = [f.with_columns(pl.all().cast(pl.String)) for f in frames if f.width]
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal")
