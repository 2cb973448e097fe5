"""Salesforce objects as frames of text, from export files or from the REST API.

Folder layout (object names match case-insensitively)::

    Account.json            one REST query result, a list of them, or a list of records
    Opportunity/            a folder of pages: page-1.json, page-2.json, ... (REST results)
                            or part-1.csv, part-2.csv, ... (Bulk API 2.0 result chunks)
    Lead.csv                a Bulk API 2.0 or Data Loader export

Every frame has lower-case column names (Salesforce API names are case-insensitive and Data
Loader writes them upper-case), relationship fields as dotted columns (``account.name``),
and 15-character ids widened to their 18-character form so that joins match.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from crmetrics import progress
from crmetrics.errors import DataError, Issue, Location
from crmetrics.plugins.crm_common.files import (
    concat_text,
    find_entry,
    frame_of_text,
    lower_columns,
    page_files,
    read_csv_text,
    read_json,
    to_text,
    with_record_origin,
)
from crmetrics.plugins.crm_common.http import ApiClient

_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SHORT_ID = r"^[a-zA-Z0-9]{15}$"


class ObjectSource(Protocol):
    """Where Salesforce objects come from."""

    origin: str

    def has(self, name: str) -> bool:
        """Whether the object ``name`` is present."""
        ...

    def read(self, name: str, fields: Sequence[str]) -> pl.DataFrame:
        """The object's rows; ``fields`` is what the mapping needs (files hold what they hold)."""
        ...

    def where(self, name: str) -> str:
        """The file or URL the object comes from, for messages."""
        ...

    def checkboxes(self, name: str) -> set[str]:
        """The object's boolean fields the source knows of (lower-case), e.g. from describe."""
        ...


def long_id(short: str) -> str:
    """The 18-character, case-insensitive form of a 15-character Salesforce id."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(short[start : start + 5]) if "A" <= ch <= "Z")
        suffix += _SUFFIX_CHARS[bits]
    return short + suffix


def long_ids(expr: pl.Expr) -> pl.Expr:
    """:func:`long_id` as an expression: 15-character ids widened, anything else as it is."""
    text = expr.cast(pl.String)
    suffix = []
    for start in (0, 5, 10):
        bits = pl.sum_horizontal(
            text.str.slice(start + i, 1).str.contains("^[A-Z]$").cast(pl.Int32) * (1 << i) for i in range(5)
        )
        suffix.append(bits.replace_strict(dict(enumerate(_SUFFIX_CHARS)), return_dtype=pl.String))
    return pl.when(text.str.contains(_SHORT_ID)).then(pl.concat_str([text, *suffix])).otherwise(text)


def normalise(frame: pl.DataFrame) -> pl.DataFrame:
    """Lower-case columns, and 18-character ids in every id or reference column."""
    frame = lower_columns(frame)
    ids = [c for c in frame.columns if c == "id" or c.endswith(("id", ".id"))]
    return frame.with_columns(long_ids(pl.col(c)).alias(c) for c in ids if frame.schema[c] == pl.String)


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, str | None]:
    """A REST record as flat text: ``attributes`` dropped, parent lookups as dotted names."""
    out: dict[str, str | None] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        name = prefix + key
        if isinstance(value, Mapping):
            if "records" in value:  # a child subquery: a nested result, not a field
                continue
            out.update(flatten(value, name + "."))
        else:
            out[name] = to_text(value)
    return out


def records_of(document: Any, path: Path) -> Iterator[Mapping[str, Any]]:
    """The records of a query result, a list of query results, or a list of records."""
    pages = document if isinstance(document, list) else [document]
    for page in pages:
        if isinstance(page, Mapping) and "records" in page:
            yield from page["records"] or []
        elif isinstance(page, Mapping):
            yield page
        else:
            raise DataError(
                Issue(
                    "unreadable-file",
                    f"{path} holds neither query results nor records",
                    Location(str(path)),
                    hint='expected {"records": [...]} or a list of records',
                )
            )


class FileSource:
    """Objects read from a folder of REST JSON results and CSV exports."""

    def __init__(self, folder: Path, date_format: str | None = None) -> None:
        self.folder = folder
        self.origin = str(folder)
        self.date_format = date_format

    def checkboxes(self, name: str) -> set[str]:
        """None known: export files carry no field types (see ``checkbox_fields``)."""
        return set()

    def _entry(self, name: str) -> Path | None:
        return find_entry(self.folder, name, (".json", ".csv"))

    def has(self, name: str) -> bool:
        """Whether object ``name`` can be read."""
        return self._entry(name) is not None

    def where(self, name: str) -> str:
        """Where object ``name`` is read from, for messages."""
        entry = self._entry(name)
        return str(entry) if entry else str(self.folder / name)

    def read(self, name: str, fields: Sequence[str]) -> pl.DataFrame:
        """The records of object ``name``, with the fields asked for."""
        entry = self._entry(name)
        if entry is None:
            return pl.DataFrame()
        files = page_files(entry, (".json", ".csv")) if entry.is_dir() else [entry]
        frames = [self._read_file(path) for path in files]
        return normalise(concat_text(frames))

    def _read_file(self, path: Path) -> pl.DataFrame:
        if path.suffix.lower() == ".csv":
            return read_csv_text(path, date_format=self.date_format, origins=True)
        return with_record_origin(
            frame_of_text([flatten(r) for r in records_of(read_json(path), path)]), str(path)
        )


class ApiSource:
    """Objects queried live through ``/services/data/<version>/query``, page by page."""

    def __init__(self, client: ApiClient, api_version: str) -> None:
        self.client = client
        self.origin = client.base_url
        self.prefix = f"/services/data/{api_version}"
        self._objects: dict[str, str] | None = None
        self._described: dict[str, dict[str, Any]] = {}

    def _names(self) -> dict[str, str]:
        if self._objects is None:
            body = self.client.get_json(f"{self.prefix}/sobjects")
            self._objects = {
                o["name"].lower(): o["name"] for o in body.get("sobjects", []) if o.get("queryable", True)
            }
        return self._objects

    def has(self, name: str) -> bool:
        """Whether object ``name`` can be read."""
        return name.lower() in self._names()

    def where(self, name: str) -> str:
        """Where object ``name`` is read from, for messages."""
        return f"{self.origin}{self.prefix}/query (FROM {name})"

    def read(self, name: str, fields: Sequence[str]) -> pl.DataFrame:
        """The records of object ``name``, with the fields asked for."""
        if not self.has(name):
            return pl.DataFrame()
        api_name = self._names()[name.lower()]
        soql = f"SELECT {', '.join(self._selectable(api_name, fields))} FROM {api_name}"
        frames: list[pl.DataFrame] = []
        listener = progress.current()
        listener.object_started(self.client.service, api_name)
        body = self.client.get_json(f"{self.prefix}/query", params={"q": soql})
        while True:
            records = body.get("records") or []
            page = frame_of_text([flatten(r) for r in records])
            frames.append(with_record_origin(page, f"{self.where(name)} page {len(frames) + 1}"))
            listener.page_read(self.client.service, api_name, len(records))
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                break
            body = self.client.get_json(next_url)
        listener.object_done(self.client.service, api_name)
        return normalise(concat_text(frames))

    def checkboxes(self, name: str) -> set[str]:
        """The fields the object's describe types ``boolean``."""
        if not self.has(name):
            return set()
        described = self._describe(self._names()[name.lower()]).get("fields", [])
        return {f["name"].lower() for f in described if f.get("type") == "boolean"}

    def _describe(self, api_name: str) -> dict[str, Any]:
        if api_name not in self._described:
            self._described[api_name] = self.client.get_json(f"{self.prefix}/sobjects/{api_name}/describe")
        return self._described[api_name]

    def _selectable(self, api_name: str, fields: Sequence[str]) -> list[str]:
        """The wanted fields the org has: asking for a missing one fails the whole query."""
        described = self._describe(api_name).get("fields", [])
        names = {f["name"].lower(): f["name"] for f in described}
        relations = {str(f["relationshipName"]).lower() for f in described if f.get("relationshipName")}
        chosen: dict[str, str] = {"id": "Id"}
        for field in fields:
            low = field.lower()
            head = low.split(".", 1)[0]
            if low in names:
                chosen.setdefault(low, names[low])
            elif "." in low and head in relations and re.fullmatch(r"[A-Za-z0-9_.]+", field):
                chosen.setdefault(low, field)
        return list(chosen.values())
