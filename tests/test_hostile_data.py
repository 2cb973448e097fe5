"""Data and requests that once gave a wrong number without a word, or cost without bound.

Non-finite amounts (``NaN``, ``inf``, ``1e309``) are data errors at their row; a CSV with
classic Mac line ends reads its rows; a non-finite literal or parameter never reaches SQL as
a bare ``inf`` (a column's name there); ``round`` takes a sensible number of places; a
diamond of derived metrics and a long chain of them cost linear time on Polars and in SQL.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import crmetrics
from crmetrics.errors import DataError, DefinitionError, UsageError
from crmetrics.plan import Request
from crmetrics.plugins.files import CsvConnector, ParquetConnector
from crmetrics.sql.dialects import number

DEALS = "deal_id,customer_id,amount,stage,is_closed,is_won,deal_type,created_at,closed_at"
HEADER_ROW = 1  # a CSV's first data line is line 2


def deals_csv(folder: Path, *amounts: str, line_end: str = "\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        f"D{i},C1,{amount},Open,false,false,new_business,2025-01-1{i},"
        for i, amount in enumerate(amounts, start=1)
    ]
    path = folder / "deals.csv"
    path.write_bytes(line_end.join([DEALS, *rows, ""]).encode())
    return path


@pytest.mark.parametrize("amount", ["NaN", "inf", "-inf", "1e309", "Infinity"])
def test_non_finite_amounts_are_a_data_error_at_their_row(tmp_path: Path, amount: str) -> None:
    deals_csv(tmp_path, "100", amount, "300")
    with pytest.raises(DataError) as caught:
        CsvConnector(str(tmp_path)).scan("deals")
    issue = caught.value.issues[0]
    assert issue.code == "bad-value"
    assert "row 3" in issue.message and repr(amount) in issue.message  # the second data row


def test_non_finite_floats_in_typed_parquet_are_a_data_error(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "deal_id": ["D1", "D2"],
            "customer_id": ["C1", "C1"],
            "amount": [100.0, math.inf],
            "stage": ["Open", "Open"],
            "is_closed": [False, False],
            "is_won": [False, False],
            "deal_type": ["new_business", "new_business"],
            "created_at": [datetime(2025, 1, 1, tzinfo=UTC)] * 2,
            "closed_at": [None, None],
        },
        schema_overrides={"closed_at": pl.Datetime("us", "UTC")},
    )
    (tmp_path / "data").mkdir()
    frame.write_parquet(tmp_path / "data" / "deals.parquet")
    request = Request.build(["e0"], start="2025-01-01", end="2025-02-01")
    engine = crmetrics.Engine(definitions=[definitions(tmp_path, BASE)], load_installed_plugins=False)
    with pytest.raises(DataError, match="row 2: 'inf'"):  # Parquet rows count from 1
        engine.evaluate(request, ParquetConnector(str(tmp_path / "data")))


def test_a_csv_with_carriage_returns_only_reads_every_row(tmp_path: Path) -> None:
    deals_csv(tmp_path, "100", "200", "300", line_end="\r")
    frame = CsvConnector(str(tmp_path)).scan("deals").collect()
    assert frame["amount"].to_list() == [100.0, 200.0, 300.0]  # three rows, not zero


def test_non_finite_numbers_have_no_sql_literal() -> None:
    for value in (math.inf, -math.inf, math.nan):
        with pytest.raises(ValueError, match="non-finite"):
            number(value)
    assert number(0.5).sql("duckdb") == "CAST(0.5 AS DOUBLE)"


def definitions(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "defs"
    folder.mkdir(exist_ok=True)
    (folder / "metrics.yaml").write_text(text)
    return folder


BASE = """\
metrics:
  - name: d0
    type: aggregate
    table: deals
    time: created_at
    expr: count(*)
  - name: e0
    type: aggregate
    table: deals
    time: created_at
    expr: sum(amount)
"""


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("sum(amount) * 1e309", "the number 1e309 is too large to compute with"),
        ("round(sum(amount), 100000000)", "ROUND takes a whole number of decimal places from 0 to 15"),
        ("round(sum(amount), 16)", "ROUND takes a whole number of decimal places from 0 to 15"),
    ],
)
def test_formulas_without_a_finite_meaning_are_refused(tmp_path: Path, formula: str, message: str) -> None:
    folder = definitions(tmp_path, BASE.replace("sum(amount)", formula))
    with pytest.raises(DefinitionError) as caught:
        crmetrics.Engine(definitions=[folder], load_installed_plugins=False).validate()
    assert message in caught.value.issues[0].message


def test_round_to_fifteen_places_is_allowed(tmp_path: Path) -> None:
    folder = definitions(tmp_path, BASE.replace("sum(amount)", "round(sum(amount), 15)"))
    crmetrics.Engine(definitions=[folder], load_installed_plugins=False).validate()


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e309"])
def test_a_non_finite_param_is_a_usage_error(value: str) -> None:
    engine = crmetrics.Engine()
    name = next(m.name for m in engine.list_metrics() if m.params)
    param = next(iter(engine.catalog.metrics[name].params))
    with pytest.raises(UsageError, match="must be a number"):
        engine.plan(
            Request.build([name], start="2025-01-01", end="2025-02-01", params={f"{name}.{param}": value})  # type: ignore[dict-item]
        )


def diamond(levels: int) -> str:
    """d<i> = d<i-1> + e<i-1> and e<i> = d<i-1> - e<i-1>: each level reads both of the last."""
    lines = [BASE.rstrip("\n")]
    for i in range(1, levels + 1):
        lines.append(f"  - name: d{i}\n    type: derived\n    expr: d{i - 1} + e{i - 1}")
        lines.append(f"  - name: e{i}\n    type: derived\n    expr: d{i - 1} - e{i - 1}")
    return "\n".join(lines) + "\n"


def test_a_diamond_of_derived_metrics_costs_linear_time_on_polars(tmp_path: Path) -> None:
    folder = definitions(tmp_path, diamond(24))
    deals_csv(tmp_path / "data", "100", "250")  # two deals in January: d0 = 2, e0 = 350
    started = time.monotonic()
    result = crmetrics.evaluate(
        ["d24"], f"csv:{tmp_path / 'data'}", start="2025-01-01", end="2025-02-01", definitions=[folder]
    )
    assert time.monotonic() - started < 20.0  # 16 levels once took 38 s and 1.8 GB
    # Two levels double both: (d, e) -> (d + e, d - e) -> (2d, 2e); 24 levels multiply d0 by 2**12.
    assert result["value"].to_list() == [2 * 2**12]


def test_a_chain_of_200_derived_metrics_renders_sql_quickly(tmp_path: Path) -> None:
    lines = [BASE.rstrip("\n")]
    lines += [
        f"  - name: c{i}\n    type: derived\n    expr: {'d0' if i == 1 else f'c{i - 1}'} + 1"
        for i in range(1, 201)
    ]
    folder = definitions(tmp_path, "\n".join(lines) + "\n")
    engine = crmetrics.Engine(definitions=[folder], load_installed_plugins=False)
    started = time.monotonic()
    sql = engine.sql(Request.build(["c200"], start="2025-01-01", end="2025-02-01"), "duckdb")
    assert time.monotonic() - started < 15.0  # once 52 s: every CTE copied the statement
    assert len(re.findall(r'"__\d+_derived" AS \(', sql)) == 200  # one CTE per derived metric


def test_the_table_format_refuses_a_result_longer_than_people_read(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from crmetrics.output import BUILTIN_FORMATS, RenderInfo

    # 3 periods x 4 groups = 12 lines of the table, past a limit of 11 and within one of 12.
    periods = [datetime(2025, m, 1).date() for m in (1, 2, 3)]
    result = pl.DataFrame(
        {
            "metric": ["m"] * 12,
            "period_start": [p for p in periods for _ in range(4)],
            "region": ["a", "b", "c", "d"] * 3,
            "value": [1.0] * 12,
        }
    )
    monkeypatch.setenv("CRMETRICS_MAX_TABLE_ROWS", "11")
    with pytest.raises(UsageError, match=r"the result has 12 \(period, group\) rows"):
        BUILTIN_FORMATS["table"].write(result, io.BytesIO(), RenderInfo(by=["region"]))
    monkeypatch.setenv("CRMETRICS_MAX_TABLE_ROWS", "12")
    stream = io.BytesIO()
    BUILTIN_FORMATS["table"].write(result, stream, RenderInfo(by=["region"]))
    assert stream.getvalue().decode().count("2025-0") == 12
