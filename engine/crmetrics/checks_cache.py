"""The data checks' verdicts, remembered per file so that an unchanged file is checked once.

Checking a table (duplicate keys, required and allowed values, the rules across columns)
reads every row of its key and rule columns. For a file that has not changed since it was
last checked, the verdict is already known: this module stores it, keyed by a fingerprint
of the file, in the user's cache folder.

What the fingerprint trusts: the file's absolute path, its size in bytes and its
modification time in nanoseconds, and for Parquet the whole footer (schema, row counts and
every row group's statistics), hashed. Rewriting a file changes its modification time;
replacing it by another file changes its size, its time or, for Parquet, its footer. What
it does not catch is a program that rewrites a file in place with the same size and then
sets its modification time back: run with ``--no-cache`` (or ``CRMETRICS_NO_CACHE=1``)
when files are produced that way.

The verdict is stored only for a table that passed every check; a table that broke a rule
is checked, and reported, on every run. The fingerprint also covers the version of the
rules, so a release that changes them checks every file again.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Part of every fingerprint: bump it whenever a check's rules or counts change.
RULES_VERSION = "1"
_FOOTER_TAIL = 8  # a Parquet file ends with the footer's length (4 bytes) and "PAR1"


def cache_folder() -> Path:
    """``CRMETRICS_CACHE_DIR``, else the user's cache folder (``XDG_CACHE_HOME`` or ``~/.cache``)."""
    explicit = os.environ.get("CRMETRICS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crmetrics"


def caching_disabled() -> bool:
    """True when ``CRMETRICS_NO_CACHE`` is set to anything but ``0`` or empty."""
    return os.environ.get("CRMETRICS_NO_CACHE", "") not in ("", "0")


def parquet_footer(path: Path) -> bytes | None:
    """The raw footer of a Parquet file (its metadata), or None if it has none."""
    try:
        with path.open("rb") as file:
            file.seek(0, os.SEEK_END)
            size = file.tell()
            if size < 12:
                return None
            file.seek(size - _FOOTER_TAIL)
            tail = file.read(_FOOTER_TAIL)
            if tail[4:] != b"PAR1":
                return None
            (length,) = struct.unpack("<I", tail[:4])
            if length > size - 12:
                return None
            file.seek(size - _FOOTER_TAIL - length)
            return file.read(length)
    except OSError:
        return None


def fingerprint(path: str | Path, *, table: str, extra: str = "") -> str | None:
    """A key that changes whenever the file at ``path`` does (see the module's notes).

    Args:
        path: the file.
        table: the canonical table it is read as (the same file checked as another table
            has other rules).
        extra: anything else the verdict depends on (e.g. the connector's options).

    Returns:
        A hex digest, or None when the file cannot be examined (then nothing is cached).
    """
    location = Path(path)
    try:
        stat = location.stat()
        resolved = location.resolve()
    except OSError:
        return None
    digest = hashlib.sha256()
    for part in (RULES_VERSION, table, str(resolved), str(stat.st_size), str(stat.st_mtime_ns), extra):
        digest.update(part.encode())
        digest.update(b"\0")
    if location.suffix == ".parquet":
        footer = parquet_footer(location)
        if footer is None:
            return None
        digest.update(footer)
    return digest.hexdigest()


def fingerprint_of(parts: list[str | None]) -> str | None:
    """One key for a table spread over several files: None if any file has none."""
    if any(part is None for part in parts):
        return None
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()


@dataclass(frozen=True)
class ChecksCache:
    """Verdicts of the data checks, one small JSON file per fingerprint under ``folder``."""

    folder: Path

    @classmethod
    def default(cls) -> ChecksCache | None:
        """The user's cache, or None when caching is switched off by the environment."""
        return None if caching_disabled() else cls(cache_folder() / "checks")

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry stored under ``key``; None if there is none or it cannot be read."""
        try:
            value = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        """Store ``value`` under ``key``; a cache that cannot be written is silently skipped.

        The file is written beside its final name and renamed into place, so a reader never
        sees half an entry, even with several runs at once.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self.folder, suffix=".tmp", delete=False) as file:
                json.dump(dict(value), file, default=str)
            Path(file.name).replace(self._path(key))
        except OSError:
            return


__all__ = [
    "RULES_VERSION",
    "ChecksCache",
    "cache_folder",
    "caching_disabled",
    "fingerprint",
    "parquet_footer",
]
