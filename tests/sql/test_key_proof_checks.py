"""DuckDB's checks with a key proof read beside them: a failed proof still counts the keys."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from crmetrics.checks_cache import ChecksCache
from crmetrics.key_order import KeyOrderProof
from crmetrics.sql.duckdb_engine import DuckDBRunner
from crmetrics.sql.source_scan import CanonicalViews


def _revenue(path: Path, ids: list[str]) -> Path:
    pl.DataFrame(
        {
            "revenue_id": ids,
            "customer_id": ["C1"] * len(ids),
            "recognized_at": pl.Series([1, 2, 3][: len(ids)]).cast(pl.Datetime("us", "UTC")),
            "amount": [10.0] * len(ids),
        }
    ).write_parquet(path)
    return path


class _Recording(DuckDBRunner):
    """A runner that keeps the statements it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.statements: list[str] = []

    def execute(self, statement: str) -> pl.DataFrame:
        self.statements.append(statement)
        return super().execute(statement)


def _check(path: Path, cache: ChecksCache | None = None) -> tuple[list[str], CanonicalViews, list[str]]:
    runner = _Recording()
    views = CanonicalViews(runner, cache)
    raw = runner.parquet_relation("revenue", path)
    proof = KeyOrderProof((path,), "revenue_id")
    assert views.add("revenue", raw, str(path), fingerprint="revenue-1", unique_key=proof)
    return views.check(), views, runner.statements


@pytest.mark.parametrize(
    ("ids", "statements", "broken"),
    [
        # R1 < R2 < R3: the proof holds, no key is counted, the table is clean.
        (["R1", "R2", "R3"], 1, []),
        # R2 before R1: the proof fails, the keys are counted: 3 rows - 3 distinct = 0.
        (["R2", "R1", "R3"], 2, []),
        # R2 twice: the proof fails, 3 rows - 2 distinct = 1 duplicate, the table is broken.
        (["R1", "R2", "R2"], 2, ["revenue"]),
    ],
    ids=["rising", "unsorted-unique", "repeated"],
)
def test_a_failed_key_proof_counts_the_keys(
    tmp_path: Path, ids: list[str], statements: int, broken: list[str]
) -> None:
    found, views, ran = _check(_revenue(tmp_path / "revenue.parquet", ids))
    assert found == broken
    assert ("revenue" in views.names) is not broken
    assert len(ran) == statements
    assert "DISTINCT" not in ran[0]  # the footer left the proof open: no key in the checks
    assert all("COUNT(DISTINCT" in statement for statement in ran[1:])


def test_keys_the_footer_shows_falling_are_counted_with_the_checks(tmp_path: Path) -> None:
    # Row groups [R3], [R1], [R2]: R3 > R1 between row groups, the footer alone says
    # the keys do not rise, so the one statement counts them: 3 rows - 3 distinct = 0.
    path = tmp_path / "revenue.parquet"
    pl.concat(
        [pl.read_parquet(_revenue(path, ["R3"])), pl.read_parquet(_revenue(path, ["R1", "R2"]))]
    ).write_parquet(path, row_group_size=1)
    found, _, ran = _check(path)
    assert found == []
    assert len(ran) == 1
    assert "COUNT(DISTINCT" in ran[0]


def test_a_clean_verdict_after_a_failed_proof_is_remembered(tmp_path: Path) -> None:
    cache = ChecksCache(tmp_path / "cache")
    found, _, _ = _check(_revenue(tmp_path / "revenue.parquet", ["R2", "R1", "R3"]), cache)
    assert found == []
    assert cache.get("revenue-1") == {"rows": 3}
