"""The data checks of an unchanged file run once; a changed or replaced file is checked again."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import crmetrics
from crmetrics.checks_cache import ChecksCache, fingerprint
from crmetrics.cli import main
from crmetrics.engine import Engine
from crmetrics.errors import DataError
from crmetrics.plan import Request
from crmetrics.plugins.files import footer_null_counts

RANGE = {"start": "2025-01-01", "end": "2025-03-01"}
JAN, FEB = datetime(2025, 1, 10, tzinfo=UTC), datetime(2025, 2, 10, tzinfo=UTC)


def _revenue(ids: list[str], amounts: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "revenue_id": ids,
            "customer_id": ["C1"] * len(ids),
            "recognized_at": [JAN] * (len(ids) - 1) + [FEB],
            "amount": amounts,
            "cost": [None] * len(ids),
        },
        schema_overrides={"recognized_at": pl.Datetime("us", "UTC"), "cost": pl.Float64},
    )


def _write(folder: Path, frame: pl.DataFrame) -> Path:
    folder.mkdir(exist_ok=True)
    frame.write_parquet(folder / "revenue.parquet")
    return folder


def _pending_after_scan(folder: Path) -> list[str]:
    """The tables whose checks still have to run after a scan with checks deferred."""
    connector = Engine().open_source(f"parquet:{folder}")
    with connector.deferred_checks():
        connector.scan("revenue")
        return list(connector.run_checks())


def _revenue_by_month(folder: Path, **options: bool) -> list[float]:
    return crmetrics.evaluate(["revenue"], f"parquet:{folder}", **RANGE, **options)["value"].to_list()


def test_an_unchanged_file_is_checked_once(tmp_path: Path, _private_checks_cache: Path) -> None:
    folder = _write(tmp_path / "data", _revenue(["R1", "R2", "R3"], [10.0, 20.0, 5.0]))
    assert _pending_after_scan(folder) == ["revenue"]
    # January: R1 + R2 = 10 + 20 = 30; February: R3 = 5.
    assert _revenue_by_month(folder) == [30.0, 5.0]
    assert list((_private_checks_cache / "checks").glob("*.json"))
    assert _pending_after_scan(folder) == []
    assert _revenue_by_month(folder) == [30.0, 5.0]


def test_a_changed_file_is_checked_again(tmp_path: Path) -> None:
    folder = _write(tmp_path / "data", _revenue(["R1", "R2", "R3"], [10.0, 20.0, 5.0]))
    path = folder / "revenue.parquet"
    assert _revenue_by_month(folder) == [30.0, 5.0]
    before = path.stat()
    # Same length of every value, so the same size; the modification time is set back too:
    # only the footer's statistics tell the files apart.
    _write(folder, _revenue(["R1", "R1", "R3"], [10.0, 20.0, 5.0]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    connector = Engine().open_source(f"parquet:{folder}")
    result = Engine().evaluate(Request.build(["revenue"], **RANGE), connector)
    # R1 twice: the last copy (20) is kept, so January is 20, not 30.
    assert result["value"].to_list() == [20.0, 5.0]
    report = connector.reports()[0]
    assert report.duplicates_dropped == 1


def test_a_replaced_file_with_a_bad_value_is_refused(tmp_path: Path) -> None:
    folder = _write(tmp_path / "data", _revenue(["R1", "R2", "R3"], [10.0, 20.0, 5.0]))
    assert _revenue_by_month(folder) == [30.0, 5.0]
    other = _revenue(["R1", "R2", "R3"], [10.0, 20.0, 5.0]).with_columns(
        pl.lit(None, pl.String).alias("revenue_id")
    )
    replacement = tmp_path / "other.parquet"
    other.write_parquet(replacement)
    replacement.replace(folder / "revenue.parquet")
    with pytest.raises(DataError, match="missing value"):
        _revenue_by_month(folder)


def test_no_cache_checks_every_run(tmp_path: Path, _private_checks_cache: Path) -> None:
    folder = _write(tmp_path / "data", _revenue(["R1", "R2", "R3"], [10.0, 20.0, 5.0]))
    assert _revenue_by_month(folder, cache=False) == [30.0, 5.0]
    assert not (_private_checks_cache / "checks").exists()
    runner = CliRunner()
    args = ["run", "-s", f"parquet:{folder}", "-m", "revenue", "--start", "2025-01-01", "--end", "2025-03-01"]
    assert runner.invoke(main, [*args, "--format", "csv", "--no-cache"]).exit_code == 0
    assert not (_private_checks_cache / "checks").exists()
    assert runner.invoke(main, [*args, "--format", "csv"]).exit_code == 0
    assert list((_private_checks_cache / "checks").glob("*.json"))


def test_inspect_prints_the_same_report_from_the_cache(tmp_path: Path) -> None:
    folder = _write(tmp_path / "data", _revenue(["R1", "R2", "R3"], [10.0, 20.0, 5.0]))
    runner = CliRunner()
    first = runner.invoke(main, ["inspect", "-s", f"parquet:{folder}"])
    second = runner.invoke(main, ["inspect", "-s", f"parquet:{folder}"])
    assert first.exit_code == second.exit_code == 0
    assert first.output == second.output
    # 3 rows, cost null in all 3: a null rate of 100%.
    assert "rows read:   3" in second.output and "cost 100%" in second.output


def test_the_fingerprint_follows_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "data", _revenue(["R1", "R2", "R3"], [10.0, 20.0, 5.0])) / "revenue.parquet"
    key = fingerprint(path, table="revenue")
    assert key is not None and key == fingerprint(path, table="revenue")
    assert key != fingerprint(path, table="deals")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1))
    assert key != fingerprint(path, table="revenue")
    assert fingerprint(tmp_path / "missing.parquet", table="revenue") is None


def test_footer_null_counts_spare_the_scan_of_required_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "data", _revenue(["R1", "R2", "R3"], [10.0, 20.0, 5.0])) / "revenue.parquet"
    counts = footer_null_counts(path)
    # Every id, time and amount present; cost null in all three rows.
    assert counts["revenue_id"] == 0 and counts["amount"] == 0 and counts["cost"] == 3


def test_an_unwritable_cache_is_skipped(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = ChecksCache(blocker / "checks")
    cache.put("key", {"rows": 1})
    assert cache.get("key") is None


def _inspect(folder: Path, *options: str) -> str:
    result = CliRunner().invoke(main, ["inspect", "-s", f"parquet:{folder}", *options])
    assert result.exit_code == 0, result.output
    return result.output


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "checks").glob("*.json"))


def test_inspect_figures_are_cached_with_the_verdict(tmp_path: Path, _private_checks_cache: Path) -> None:
    folder = _write(tmp_path / "data", _revenue(["R1", "R2", "R3"], [10.0, 20.0, 5.0]))
    # 3 rows, cost null in all 3: 100%.
    assert "cost 100%" in _inspect(folder)
    (entry,) = _entries(_private_checks_cache)
    stored = json.loads(entry.read_text())
    assert stored["rows"] == 3
    assert stored["inspection"]["rows"] == 3 and stored["inspection"]["null_counts"]["cost"] == 3
    assert stored["inspection"]["first"] == "2025-01-10T00:00:00+00:00"
    assert stored["inspection"]["last"] == "2025-02-10T00:00:00+00:00"
    # The figures are read from the cache, not from the rows: an entry altered by hand
    # (cost counted null in 0 of 3 rows) is what the second inspect prints.
    stored["inspection"]["null_counts"]["cost"] = 0
    entry.write_text(json.dumps(stored))
    assert "null rate:   no nulls" in _inspect(folder)
    # --no-cache counts the rows again: 3 of 3.
    assert "cost 100%" in _inspect(folder, "--no-cache")


def test_inspect_counts_a_changed_file_again(tmp_path: Path, _private_checks_cache: Path) -> None:
    folder = _write(tmp_path / "data", _revenue(["R1", "R2", "R3"], [10.0, 20.0, 5.0]))
    assert "cost 100%" in _inspect(folder)
    frame = _revenue(["R1", "R2", "R3"], [10.0, 20.0, 5.0]).with_columns(pl.Series("cost", [1.0, None, 2.0]))
    _write(folder, frame)
    # One cost null of 3 rows: 1/3 = 33%.
    assert "cost 33%" in _inspect(folder)
    assert len(_entries(_private_checks_cache)) == 2  # one entry per version of the file


def test_inspect_caches_nothing_for_a_table_that_breaks_a_rule(
    tmp_path: Path, _private_checks_cache: Path
) -> None:
    folder = _write(tmp_path / "data", _revenue(["R1", "R1", "R3"], [10.0, 20.0, 5.0]))
    # R1 twice: one copy dropped, 2 of 3 rows kept.
    assert "rows kept:   2" in _inspect(folder)
    assert _entries(_private_checks_cache) == []
