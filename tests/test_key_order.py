"""A key that rises strictly from row to row is proven unique without counting distinct keys."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from crmetrics.key_order import KeyOrderProof


def keys_rise(files: list[Path], key: str) -> bool:
    """The proof as the engines make it: the footers first, then the key column."""
    proof = KeyOrderProof(tuple(files), key)
    return proof.possible() and proof.holds()


def _write(path: Path, keys: list[str | None], *, row_group_size: int | None = None) -> Path:
    pl.DataFrame(
        {"deal_id": keys, "amount": [1.0] * len(keys)}, schema_overrides={"deal_id": pl.String}
    ).write_parquet(path, row_group_size=row_group_size)
    return path


@pytest.mark.parametrize(
    ("keys", "rises"),
    [
        (["D1", "D2", "D3"], True),
        # D2 twice: equal neighbours are not a rise.
        (["D1", "D2", "D2", "D3"], False),
        # D2 < D3 but D3 > D10 as text: a fall, whatever the numbers suggest.
        (["D2", "D3", "D10"], False),
        # A null key is a missing key, never proven.
        (["D1", None, "D3"], False),
        (["D1"], True),
    ],
    ids=["rising", "repeated", "falling", "null", "one-row"],
)
def test_keys_rise_only_strictly(tmp_path: Path, keys: list[str | None], rises: bool) -> None:
    assert keys_rise([_write(tmp_path / "deals.parquet", keys)], "deal_id") is rises


def test_files_of_a_folder_rise_together_in_either_order(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.parquet", ["D1", "D2"])
    second = _write(tmp_path / "b.parquet", ["D3", "D4"])
    assert keys_rise([first, second], "deal_id")
    assert keys_rise([second, first], "deal_id") is False  # D4 then D1: a fall, proves nothing
    repeated = _write(tmp_path / "c.parquet", ["D2", "D5"])
    assert keys_rise([first, repeated], "deal_id") is False  # D2 in both files


def test_row_groups_that_overlap_prove_nothing(tmp_path: Path) -> None:
    # Two row groups of two rows: [D1, D5] then [D3, D4]; the second starts below the first's end.
    path = _write(tmp_path / "deals.parquet", ["D1", "D5", "D3", "D4"], row_group_size=2)
    assert keys_rise([path], "deal_id") is False
    rising = _write(tmp_path / "rising.parquet", ["D1", "D2", "D3", "D4"], row_group_size=2)
    assert keys_rise([rising], "deal_id")


def test_a_missing_file_or_column_proves_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path / "deals.parquet", ["D1", "D2"])
    assert keys_rise([tmp_path / "gone.parquet"], "deal_id") is False
    assert keys_rise([path], "lead_id") is False
    assert keys_rise([], "deal_id") is False
