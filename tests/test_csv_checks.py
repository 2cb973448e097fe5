"""CSV files checked in one vectorised pass, the row-by-row path kept for naming bad rows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import crmetrics
from crmetrics.engine import Engine
from crmetrics.errors import DataError

RANGE = {"start": "2025-01-01", "end": "2025-03-01"}
HEADER = "revenue_id,customer_id,recognized_at,amount,cost\n"


def _write(folder: Path, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "revenue.csv").write_text(HEADER + body)
    return folder


def _pending_after_scan(folder: Path) -> list[str]:
    connector = Engine().open_source(f"csv:{folder}")
    with connector.deferred_checks():
        connector.scan("revenue")
        return list(connector.run_checks())


def _revenue(folder: Path) -> list[float]:
    return crmetrics.evaluate(["revenue"], f"csv:{folder}", **RANGE)["value"].to_list()


CLEAN = "R1,C1,2025-01-10,10,\nR2,C1,2025-01-20T08:00:00+02:00,20.5,1\nR3,C1,2025-02-10,5,\n"


def test_a_clean_file_is_checked_once_and_then_scanned(tmp_path: Path, _private_checks_cache: Path) -> None:
    folder = _write(tmp_path / "data", CLEAN)
    assert _pending_after_scan(folder) == ["revenue"]
    # January: R1 + R2 = 10 + 20.5 = 30.5; February: R3 = 5.
    assert _revenue(folder) == [30.5, 5.0]
    assert list((_private_checks_cache / "checks").glob("*.json"))
    assert _pending_after_scan(folder) == []
    assert _revenue(folder) == [30.5, 5.0]


def test_a_changed_file_is_checked_again(tmp_path: Path) -> None:
    folder = _write(tmp_path / "data", CLEAN)
    assert _revenue(folder) == [30.5, 5.0]
    path = folder / "revenue.csv"
    before = path.stat()
    # The same length, the modification time set back: the amount 10 became 1x.
    _write(folder, CLEAN.replace(",10,", ",1x,"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1))
    # Line 1 is the header, R1 is on line 2.
    with pytest.raises(DataError, match=r"revenue\.amount: not a number: row 2: '1x'"):
        _revenue(folder)


def test_a_bad_row_is_named_at_its_line(tmp_path: Path) -> None:
    # R2's customer_id holds a quoted line break, so its record spans lines 3 and 4;
    # R3, with an amount that is no number, starts on line 5, not 4.
    folder = _write(
        tmp_path / "data", 'R1,C1,2025-01-10,10,\nR2,"C\n1",2025-01-20,20,\nR3,C1,2025-02-10,abc,\n'
    )
    with pytest.raises(DataError) as error:
        _revenue(folder)
    (issue,) = error.value.issues
    assert issue.message == "revenue.amount: not a number: row 5: 'abc'"
    assert (issue.location.line, Path(issue.location.file).name) == (5, "revenue.csv")


def test_duplicates_are_dropped_by_the_row_by_row_path(tmp_path: Path, _private_checks_cache: Path) -> None:
    folder = _write(tmp_path / "data", CLEAN + "R1,C1,2025-01-11,7,\n")
    connector = Engine().open_source(f"csv:{folder}")
    result = crmetrics.evaluate(["revenue"], connector, **RANGE)
    # R1 twice: the last copy (7, on Jan 11) is kept: January = 7 + 20.5 = 27.5.
    assert result["value"].to_list() == [27.5, 5.0]
    report = connector.reports()[0]
    assert (report.rows_read, report.rows_kept, report.duplicates_dropped) == (4, 3, 1)
    # A table that broke a rule is never cached: checked, and reported, on every run.
    assert not (_private_checks_cache / "checks").exists()


def test_a_ragged_file_is_refused_by_the_row_by_row_reader(tmp_path: Path) -> None:
    folder = _write(tmp_path / "data", CLEAN + "R4,C1,2025-02-11,5,,extra\n")
    with pytest.raises(DataError, match=r"cannot read .*revenue\.csv as CSV"):
        _revenue(folder)
