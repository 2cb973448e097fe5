"""A crmetrics source connector for folders of JSON Lines files.

``jsonl:DIR`` reads ``DIR/<table>.jsonl`` for each canonical table present (``customers.jsonl``,
``revenue.jsonl``, ...): one JSON object per line, keyed by the canonical column names. The
connector only reads; the :class:`crmetrics.Connector` base class converts the values
(ISO timestamps with offsets and epoch milliseconds to UTC, numbers given as strings,
``"yes"``/``"no"`` booleans) and refuses bad rows, exactly as it does for CSV files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from crmetrics import Connector, DataError, Issue, Location, RawTable, hookimpl

__version__ = "0.1.0"


class JsonLinesConnector(Connector):
    """A folder of canonical JSON Lines files, one per table.

    Rows are numbered from 1 in messages, one per JSON object (the line number when the file
    has no blank lines).
    """

    scheme = "jsonl"
    # ``tables`` keeps the base class's default: every canonical table.
    description = "a folder of canonical JSON Lines files (customers.jsonl, deals.jsonl, ...)"

    @property
    def folder(self) -> Path:
        return Path(self.location or ".")

    def available_tables(self) -> list[str]:
        if not self.folder.is_dir():
            raise DataError(
                Issue(
                    "missing-source",
                    f"{self.folder} is not a folder",
                    Location(str(self.folder)),
                    hint="point jsonl: at a folder holding files such as customers.jsonl, revenue.jsonl",
                )
            )
        return [table for table in self.tables if (self.folder / f"{table}.jsonl").is_file()]

    def read_table(self, table: str) -> RawTable:
        path = self.folder / f"{table}.jsonl"
        try:
            # Every row decides the column types, not just the first hundred: a column that
            # holds a number in one row and a string in another is read as text and parsed
            # by the canonical conversion, which reports a bad value with its row.
            frame = pl.read_ndjson(path, infer_schema_length=None)
        except (pl.exceptions.PolarsError, OSError) as error:
            raise DataError(
                Issue(
                    "unreadable-file",
                    f"cannot read {path} as JSON Lines: {error}",
                    Location(str(path)),
                    hint="write one JSON object per line, keyed by the canonical column names",
                )
            ) from None
        return RawTable(frame, str(path), first_row=1)


@hookimpl
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    register(JsonLinesConnector)
