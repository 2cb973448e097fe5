"""Where ``run`` writes: stdout or ``-o FILE``, in the format given or implied by the file.

Checked before anything is computed, so a bad ``-o`` costs nothing: a missing folder, a
directory, a file that cannot be written, a format that contradicts the file's extension,
or binary Parquet bound for a terminal are each one line and exit code 2. A write the
system fails once it has begun (a full disk) is one line too, with exit code 1. ``report``
and ``plot`` write through the same functions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from crmetrics.errors import CrmetricsError, Issue, UsageError

#: File extensions that imply a format when ``--format`` is not given.
EXTENSIONS: dict[str, str] = {".csv": "csv", ".json": "json", ".parquet": "parquet"}
BINARY_FORMATS = frozenset({"parquet"})


def dash_is_stdout(_ctx: Any, _param: Any, value: Path | None) -> Path | None:
    """A click callback: ``-o -`` means stdout (None), as it does for most Unix tools."""
    return None if value is not None and str(value) == "-" else value


def chosen_format(fmt: str | None, output: Path | None) -> str:
    """``--format``, else the format ``-o``'s extension names, else ``table``."""
    implied = EXTENSIONS.get(output.suffix.lower()) if output is not None else None
    if fmt is None:
        return implied or "table"
    if implied is not None and implied != fmt:
        raise UsageError(
            Issue(
                "format-mismatch",
                f"--format {fmt} does not match the extension of {output} ({implied})",
                hint=f"drop --format to write {implied}, or name the file with the .{fmt} extension",
            )
        )
    return fmt


def check_output(output: Path | None, fmt: str) -> None:
    """Refuse an output that cannot be written, before any work is done: one line each."""
    if output is None:
        if fmt in BINARY_FORMATS and sys.stdout.isatty():
            raise UsageError(
                Issue(
                    "binary-to-terminal",
                    f"{fmt} is binary and stdout is a terminal",
                    hint=f"write it to a file with -o result.{fmt}, or pipe it to a program",
                )
            )
        return
    if output.is_dir():
        raise UsageError(
            Issue("output-is-folder", f"-o {output} is a folder: name a file, e.g. -o {output}/result.csv")
        )
    folder = output.parent
    if folder.exists() and not folder.is_dir():
        raise UsageError(Issue("output-folder", f"-o {output}: {folder} is a file, not a folder"))
    if not folder.is_dir():
        raise UsageError(
            Issue("output-folder", f"-o {output}: folder {folder} does not exist (create it first)")
        )
    writable = os.access(output, os.W_OK) if output.exists() else os.access(folder, os.W_OK)
    if not writable:
        raise UsageError(Issue("output-denied", f"-o {output}: no permission to write there"))


def open_output(output: Path) -> BinaryIO:
    """``output`` opened for binary writing; an OS refusal is one line, exit code 2."""
    try:
        return output.open("wb")
    except OSError as error:
        raise UsageError(Issue("output", f"-o {output}: {error.strerror or error}")) from None


@contextmanager
def output_stream(output: Path) -> Iterator[BinaryIO]:
    """``output`` open for writing; a write the system fails (a full disk) is one line, exit 1."""
    stream = open_output(output)
    try:
        with stream:
            yield stream
    except OSError as error:
        raise CrmetricsError(
            Issue("output-write", f"cannot write -o {output}: {error.strerror or error}")
        ) from None


def write_output(output: Path, data: bytes) -> None:
    """Write ``data`` to ``output``; a refusal or a failed write is one line, never a traceback."""
    with output_stream(output) as stream:
        stream.write(data)


__all__ = [
    "BINARY_FORMATS",
    "EXTENSIONS",
    "check_output",
    "chosen_format",
    "dash_is_stdout",
    "open_output",
    "output_stream",
    "write_output",
]
