"""Keys in strictly increasing order are proven distinct without hashing them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from crmetrics.canonical import DUPLICATE_KEYS, KEYS_OUT_OF_ORDER, LazyConformed, conform_lazy
from crmetrics.model import TABLES

JAN = datetime(2025, 1, 10, tzinfo=UTC)


def _checked(ids: list[str | None]) -> LazyConformed:
    revenue = pl.DataFrame(
        {
            "revenue_id": ids,
            "customer_id": ["C1"] * len(ids),
            "recognized_at": [JAN] * len(ids),
            "amount": [1.0] * len(ids),
            "cost": [0.5] * len(ids),
        },
        schema={
            "revenue_id": pl.String,
            "customer_id": pl.String,
            "recognized_at": pl.Datetime("us", "UTC"),
            "amount": pl.Float64,
            "cost": pl.Float64,
        },
    )
    lazy = conform_lazy(TABLES["revenue"], revenue.lazy(), origin="<revenue>")
    assert lazy is not None
    return lazy


def _unreadable() -> pl.LazyFrame:
    """A query that fails if anyone runs it."""
    return pl.LazyFrame({"a": [1]}).select(pl.col("not there"))


def test_increasing_keys_need_no_hash() -> None:
    # R1 < R2 < R3: every row after the first has a greater key, so none is out of order.
    lazy = dataclasses.replace(_checked(["R1", "R2", "R3"]), key_check=_unreadable())
    rules = lazy.rule_checks.collect()
    assert rules[KEYS_OUT_OF_ORDER].item() == 0
    counts = lazy.counts(rules).row(0, named=True)
    assert counts[DUPLICATE_KEYS] == 0 and KEYS_OUT_OF_ORDER not in counts
    assert LazyConformed.clean(counts)


@pytest.mark.parametrize(
    ("ids", "out_of_order", "duplicates"),
    [
        # R1 after R2 is out of order; R3 after R1 is not: 1. Three distinct keys: 0.
        (["R2", "R1", "R3"], 1, 0),
        # The second R1 is not greater than the first: 1; the hash finds R1 twice: 1.
        (["R1", "R1", "R2"], 1, 1),
        # Strings compare byte by byte: "R10" < "R9", so R10 after R9 is out of order.
        (["R9", "R10"], 1, 0),
        # A null key is never in order: R1 after null counts (1); null and R1 differ: 0.
        ([None, "R1"], 1, 0),
    ],
    ids=["shuffled", "repeated", "text-order", "null"],
)
def test_keys_out_of_order_are_hashed(ids: list[str | None], out_of_order: int, duplicates: int) -> None:
    lazy = _checked(ids)
    rules = lazy.rule_checks.collect()
    assert rules[KEYS_OUT_OF_ORDER].item() == out_of_order
    counts = lazy.counts(rules).row(0, named=True)
    assert counts[DUPLICATE_KEYS] == duplicates
    assert LazyConformed.clean(counts) is (duplicates == 0 and ids[0] is not None)


def test_the_one_query_counts_duplicates_by_hashing() -> None:
    # Sorted or not, the one-query form counts the duplicates itself: R1 twice, so 1.
    counts = _checked(["R1", "R1", "R2"]).checks.collect().row(0, named=True)
    assert counts[DUPLICATE_KEYS] == 1 and KEYS_OUT_OF_ORDER not in counts


def test_no_rows_and_one_row_are_in_order() -> None:
    for ids in ([], ["R1"]):
        assert _checked(ids).rule_checks.collect()[KEYS_OUT_OF_ORDER].item() == 0


def test_keys_known_out_of_order_are_hashed_in_the_rules_pass() -> None:
    revenue = _checked(["R2", "R1", "R2"]).frame
    lazy = conform_lazy(TABLES["revenue"], revenue, origin="<revenue>", keys_may_rise=False)
    assert lazy is not None
    lazy = dataclasses.replace(lazy, key_check=_unreadable())  # no second pass over the keys
    rules = lazy.rule_checks.collect()
    # R2 twice among three rows: one duplicate, counted by the rules' own pass.
    assert KEYS_OUT_OF_ORDER not in rules.columns and rules[DUPLICATE_KEYS].item() == 1
    counts = lazy.counts(rules).row(0, named=True)
    assert counts[DUPLICATE_KEYS] == 1 and not LazyConformed.clean(counts)


def test_a_parquet_file_whose_row_groups_overlap_is_known_out_of_order(tmp_path: Path) -> None:
    from crmetrics.engine import Engine

    deals = Engine().open_source("sample").scan("deals").collect()
    # Row groups of two rows, the file sorted by descending key: each group's keys lie
    # below the one before, so the footer alone shows the keys do not rise.
    deals.sort("deal_id", descending=True).write_parquet(tmp_path / "deals.parquet", row_group_size=2)
    raw = Engine().open_source(f"parquet:{tmp_path}").read_table("deals")
    assert raw.keys_may_rise is False
    deals.sort("deal_id").write_parquet(tmp_path / "deals.parquet", row_group_size=2)
    assert Engine().open_source(f"parquet:{tmp_path}").read_table("deals").keys_may_rise is True
