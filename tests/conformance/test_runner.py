"""The comparison of results with expected rows reports every kind of difference.

A comparator that let a wrong result through would make the whole suite vacuous, so each
kind of difference is shown here on a hand-made result frame.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from casefile import Case
from runner import differences

FOLDER = Path(__file__).parent


def _case(rows: list[dict[str, Any]], by: tuple[str, ...] = ()) -> Case:
    request = {"metrics": ["revenue"], "start": "2025-01-01", "end": "2025-03-01", "by": list(by)}
    return Case(file="x.yaml", name="x", line=1, rule="r", request=request, rows=rows)


def _result(values: list[tuple[str, date, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        values,
        schema={"metric": pl.String, "period_start": pl.Date, "value": pl.Float64},
        orient="row",
    )


JAN, FEB = date(2025, 1, 1), date(2025, 2, 1)
EXPECTED = [
    {"metric": "revenue", "period_start": "2025-01-01", "value": 0.1},
    {"metric": "revenue", "period_start": "2025-02-01", "value": None},
]


def test_equal_within_tolerance() -> None:
    # 0.1 + 0.2 - 0.2 is 0.10000000000000003 in binary floating point: the same number.
    result = _result([("revenue", JAN, 0.1 + 0.2 - 0.2), ("revenue", FEB, None)])
    assert differences(result, _case(EXPECTED)) == []


def test_each_kind_of_difference_is_reported() -> None:
    result = _result([("revenue", JAN, 0.2), ("revenue", JAN, 0.2), ("revenue", date(2025, 3, 1), 1.0)])
    assert differences(result, _case(EXPECTED)) == [
        "row ('revenue', '2025-01-01') appears more than once",
        "row ('revenue', '2025-01-01'): value 0.2, expected 0.1",
        "missing row ('revenue', '2025-02-01'): expected value None",
        "unexpected row ('revenue', '2025-03-01'): value 1.0",
    ]


def test_null_and_nan_match_only_null() -> None:
    result = _result([("revenue", JAN, None), ("revenue", FEB, float("nan"))])
    assert differences(result, _case(EXPECTED)) == [
        "row ('revenue', '2025-01-01'): value None, expected 0.1",
        "row ('revenue', '2025-02-01'): value nan, expected None",
    ]


def test_microseconds_are_not_lost_in_the_tolerance() -> None:
    # 19 µs against 18.954 µs: a relative error of 0.24 %, far above 1e-9.
    expected = [{"metric": "revenue", "period_start": "2025-01-01", "value": 0.000019}]
    assert differences(_result([("revenue", JAN, 0.000018954)]), _case(expected)) != []


def test_columns_and_types_are_checked() -> None:
    grouped = _case(
        [{"metric": "revenue", "period_start": "2025-01-01", "segment": None, "value": 1}], ("segment",)
    )
    assert differences(_result([("revenue", JAN, 1.0)]), grouped) == [
        "columns ['metric', 'period_start', 'value'], expected ['metric', 'period_start', 'segment', 'value']"
    ]
    text_dates = _result([("revenue", JAN, 0.1), ("revenue", FEB, None)]).with_columns(
        pl.col("period_start").cast(pl.String)
    )
    assert differences(text_dates, _case(EXPECTED))[0].startswith("types {")


def test_every_case_file_is_listed_in_the_readme() -> None:
    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    assert [p.name for p in sorted(FOLDER.glob("*.yaml")) if f"`{p.name}`" not in readme] == []
