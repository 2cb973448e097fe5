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


def read_csv_text(path: Path) -> pl.DataFrame:
    """A CSV export as a frame of strings: empty cells are null, ``NA`` stays ``"NA"``.

    Handles a byte-order mark, CRLF line ends, NUL bytes (dropped: they break CSV readers and
    never carry meaning), quoted commas and newlines, and the delimiters Bulk API 2.0 offers.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(
            Issue("unreadable-file", f"cannot read {path}: {error}", Location(str(path)))
        ) from None
    text = raw.replace(b"\x00", b"").decode("utf-8-sig", errors="replace")
    if "\r" in text and "\n" not in text:  # classic Mac line ends: Polars splits on \n only
        text = text.replace("\r", "\n")
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
    return blank_to_null(frame)


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
