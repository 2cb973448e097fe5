"""HubSpot objects as frames of text, from export files or from the CRM v3 API.

Folder layout (names match case-insensitively)::

    companies.json          one CRM v3 list page ({"results": [...], "paging": ...}),
                            a list of pages, or a list of records
    deals/                  a folder of pages: page-1.json, page-2.json, ...
    contacts.csv            a UI export ("Export view"), label headers
    pipelines/deals.json    GET /crm/v3/pipelines/deals, for stage labels and closed/won
    engagements.json        the legacy v1 engagements export (epoch-millisecond times)

Every frame has the record ``id``, the envelope (``createdat``, ``updatedat``, ``archived``,
``archivedat``), one column per property, and one ``assoc.<type>`` column per association
type holding ``;``-separated ids, the primary association first.
"""

from __future__ import annotations

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
    page_files,
    read_csv_text,
    read_json,
    to_text,
    with_record_origin,
)
from crmetrics.plugins.crm_common.http import ApiClient
from crmetrics.plugins.hubspot.labels import rename_labels

_ENVELOPE = {
    "createdAt": "createdat",
    "updatedAt": "updatedat",
    "archived": "archived",
    "archivedAt": "archivedat",
}
_SINGULAR = {
    "company": "companies",
    "contact": "contacts",
    "deal": "deals",
    "ticket": "tickets",
    "line_item": "line_items",
}


class ObjectSource(Protocol):
    """Where HubSpot objects come from."""

    origin: str

    def has(self, name: str) -> bool:
        """Whether object ``name`` can be read."""
        ...

    def read(
        self, name: str, properties: Sequence[str], associations: Sequence[str], *, optional: bool = False
    ) -> pl.DataFrame:
        """The object's rows; an ``optional`` object the API refuses or lacks reads as empty."""
        ...

    def pipelines(self, object_type: str) -> list[Mapping[str, Any]]:
        """The pipelines of ``object_type`` with their stages."""
        ...

    def where(self, name: str) -> str:
        """Where object ``name`` is read from, for messages."""
        ...


def flatten(record: Mapping[str, Any]) -> dict[str, str | None]:
    """A v3 record (or a v1 engagement) as one flat row of text."""
    if "engagement" in record:
        return _flatten_engagement(record)
    row: dict[str, str | None] = {"id": to_text(record.get("id"))}
    for key, name in _ENVELOPE.items():
        if key in record:
            row[name] = to_text(record[key])
    for key, value in (record.get("properties") or {}).items():
        row.setdefault(key.lower(), to_text(value))
    for kind, block in (record.get("associations") or {}).items():
        results = block.get("results", []) if isinstance(block, Mapping) else block
        row[f"assoc.{_SINGULAR.get(kind, kind)}"] = _ids(results)
    return row


def _ids(results: Sequence[Any]) -> str | None:
    """Association ids, the primary (labelled, not ``*_unlabeled``) first, each once."""

    def is_unlabeled(item: Any) -> bool:
        return isinstance(item, Mapping) and str(item.get("type", "")).endswith("unlabeled")

    ordered = sorted(results, key=is_unlabeled)
    ids = [str(i.get("id") if isinstance(i, Mapping) else i) for i in ordered]
    return ";".join(dict.fromkeys(ids)) or None


def _flatten_engagement(record: Mapping[str, Any]) -> dict[str, str | None]:
    engagement = record["engagement"]
    associations = record.get("associations") or {}
    metadata = record.get("metadata") or {}
    return {
        "id": to_text(engagement.get("id")),
        "engagement_type": to_text(engagement.get("type")),
        "hs_timestamp": to_text(engagement.get("timestamp")),
        "createdat": to_text(engagement.get("createdAt")),
        "updatedat": to_text(engagement.get("lastUpdated")),
        "archived": to_text(engagement.get("archived")),
        "hs_call_duration": to_text(metadata.get("durationMilliseconds")),
        "assoc.companies": _ids(associations.get("companyIds") or []),
        "assoc.tickets": _ids(associations.get("ticketIds") or []),
    }


def records_of(document: Any, path: Path) -> Iterator[Mapping[str, Any]]:
    """The records of a list page, a list of pages, or a list of records."""
    pages = document if isinstance(document, list) else [document]
    for page in pages:
        if isinstance(page, Mapping) and "results" in page:
            yield from page["results"] or []
        elif isinstance(page, Mapping):
            yield page
        else:
            raise DataError(
                Issue(
                    "unreadable-file",
                    f"{path} holds neither list pages nor records",
                    Location(str(path)),
                    hint='expected {"results": [...]} or a list of records',
                )
            )


class FileSource:
    """Objects read from a folder of API pages and UI exports."""

    def __init__(
        self, folder: Path, csv_headers: Mapping[str, str | None], date_format: str | None = None
    ) -> None:
        self.folder = folder
        self.origin = str(folder)
        self.csv_headers = csv_headers
        self.date_format = date_format

    def _entry(self, name: str) -> Path | None:
        found = find_entry(self.folder, name, (".json", ".csv"))
        if found is None:
            exports = sorted(self.folder.glob(f"hubspot-crm-exports-*-{name}-*.csv"))
            found = exports[-1] if exports else None
        return found

    def has(self, name: str) -> bool:
        """Whether object ``name`` can be read."""
        return self._entry(name) is not None

    def where(self, name: str) -> str:
        """Where object ``name`` is read from, for messages."""
        entry = self._entry(name)
        return str(entry) if entry else str(self.folder / name)

    def read(
        self, name: str, properties: Sequence[str], associations: Sequence[str], *, optional: bool = False
    ) -> pl.DataFrame:
        """The records of object ``name``, with the properties asked for."""
        entry = self._entry(name)
        if entry is None:
            return pl.DataFrame()
        files = page_files(entry, (".json", ".csv")) if entry.is_dir() else [entry]
        return concat_text([self._read_file(name, path) for path in files])

    def _read_file(self, name: str, path: Path) -> pl.DataFrame:
        if path.suffix.lower() == ".csv":
            frame = read_csv_text(path, date_format=self.date_format, origins=True)
            return rename_labels(frame, name, self.csv_headers)
        return with_record_origin(
            frame_of_text([flatten(r) for r in records_of(read_json(path), path)]), str(path)
        )

    def pipelines(self, object_type: str) -> list[Mapping[str, Any]]:
        """The pipelines of ``object_type`` with their stages."""
        entry = find_entry(self.folder, "pipelines", ())
        path = entry and find_entry(entry, object_type, (".json",))
        if path is None or not path.is_file():
            return []
        document = read_json(path)
        return list(document.get("results", []) if isinstance(document, Mapping) else document)


class ApiSource:
    """Objects listed live through ``/crm/v3/objects/<type>``, following ``paging.next.after``."""

    def __init__(self, client: ApiClient, page_size: int) -> None:
        self.client = client
        self.origin = client.base_url
        self.page_size = min(page_size, 100)

    def has(self, name: str) -> bool:
        """Whether object ``name`` can be read."""
        # Standard objects exist in every portal; a missing scope surfaces when reading.
        return name != "engagements"

    def where(self, name: str) -> str:
        """Where object ``name`` is read from, for messages."""
        return f"{self.origin}/crm/v3/objects/{name}"

    def read(
        self, name: str, properties: Sequence[str], associations: Sequence[str], *, optional: bool = False
    ) -> pl.DataFrame:
        """The records of object ``name``, with the properties asked for."""
        # A missing scope (403) or object (404) only empties an object a table can do without.
        absent = (403, 404) if optional else (404,)
        params: dict[str, str | int] = {"limit": self.page_size, "archived": "false"}
        if properties:
            params["properties"] = ",".join(dict.fromkeys(properties))
        if associations:
            params["associations"] = ",".join(associations)
        frames: list[pl.DataFrame] = []
        seen: set[str] = set()
        listener = progress.current()
        listener.object_started(self.client.service, name)
        while True:
            body = self.client.get_json(f"/crm/v3/objects/{name}", params=params, absent=absent)
            if body is None:
                listener.object_done(self.client.service, name)
                return pl.DataFrame()
            results = body.get("results") or []
            page = frame_of_text([flatten(r) for r in results])
            frames.append(with_record_origin(page, f"{self.where(name)} page {len(frames) + 1}"))
            listener.page_read(self.client.service, name, len(results))
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
            if str(after) in seen:  # a cursor that repeats would page forever
                raise DataError(
                    Issue(
                        "api-error",
                        f"HubSpot repeated the paging cursor {after!r} for {name}",
                        Location(self.where(name)),
                    )
                )
            seen.add(str(after))
            params["after"] = str(after)
        listener.object_done(self.client.service, name)
        return concat_text(frames)

    def pipelines(self, object_type: str) -> list[Mapping[str, Any]]:
        """The pipelines of ``object_type`` with their stages."""
        return list(self.client.get_json(f"/crm/v3/pipelines/{object_type}").get("results", []))
