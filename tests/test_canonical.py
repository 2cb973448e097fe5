"""The canonical conversion rules, through ``conform`` and the file connectors."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

from crmetrics.canonical import conform
from crmetrics.errors import DataError
from crmetrics.model import TABLES, UTC_DATETIME
from crmetrics.plugins.files import CsvConnector, ParquetConnector, SampleConnector

REPO = Path(__file__).resolve().parent.parent


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def write_csv(folder: Path, table: str, *lines: str) -> Path:
    path = folder / f"{table}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_csv(folder: Path, table: str, *lines: str) -> pl.DataFrame:
    write_csv(folder, table, *lines)
    return CsvConnector(str(folder)).scan(table).collect()


def data_error(folder: Path, table: str, *lines: str) -> DataError:
    write_csv(folder, table, *lines)
    with pytest.raises(DataError) as caught:
        CsvConnector(str(folder)).scan(table)
    return caught.value


# -- timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01T01:30:00+02:00", utc(2025, 2, 28, 23, 30)),
        ("2025-03-01T01:30:00+0200", utc(2025, 2, 28, 23, 30)),
        ("2025-03-01T10:00:00.000+0200", utc(2025, 3, 1, 8, 0)),
        ("2025-03-01 10:00:00+02:00", utc(2025, 3, 1, 8, 0)),
        ("2025-03-01T10:00:00-05:00", utc(2025, 3, 1, 15, 0)),
        ("2024-12-31T23:30:00-01:00", utc(2025, 1, 1, 0, 30)),
        ("2025-03-01T10:00:00Z", utc(2025, 3, 1, 10, 0)),
        ("2025-03-01", utc(2025, 3, 1)),
        ("2025-03-01T10:00:00", utc(2025, 3, 1, 10, 0)),
        ("2025-03-01 10:00:00", utc(2025, 3, 1, 10, 0)),
        # 1 740 787 200 s is 2025-03-01T00:00:00Z; the extra 42 312 345 ms are 11:45:12.345.
        ("1740787200000", utc(2025, 3, 1)),
        ("1740829512345", utc(2025, 3, 1, 11, 45, 12, 345000)),
        ("2025-03-01T10:00:00.123456Z", utc(2025, 3, 1, 10, 0, 0, 123456)),
        ("2025-03-01T10:00:00.000001+01:00", utc(2025, 3, 1, 9, 0, 0, 1)),
        ("  2025-03-01T10:00:00Z  ", utc(2025, 3, 1, 10, 0)),
    ],
)
def test_timestamp_text_becomes_utc(text: str, expected: datetime) -> None:
    raw = pl.DataFrame({"customer_id": ["c1"], "acquired_at": [text]})
    frame = conform(TABLES["customers"], raw, origin="test").frame
    assert frame.schema["acquired_at"] == UTC_DATETIME
    assert frame["acquired_at"].to_list() == [expected]


def test_csv_timestamps_become_utc(tmp_path: Path) -> None:
    frame = load_csv(
        tmp_path,
        "customers",
        "customer_id,acquired_at,churned_at",
        "c1,2025-03-01T01:30:00+02:00,2025-03-02T00:00:00.250+0200",
        "c2,2025-03-01,1740873600000",
        "c3,2025-03-01T10:00:00,",
    )
    assert frame.schema["acquired_at"] == UTC_DATETIME
    assert frame.schema["churned_at"] == UTC_DATETIME
    assert frame.select("customer_id", "acquired_at", "churned_at").rows() == [
        ("c1", utc(2025, 2, 28, 23, 30), utc(2025, 3, 1, 22, 0, 0, 250000)),
        ("c2", utc(2025, 3, 1), utc(2025, 3, 2)),
        ("c3", utc(2025, 3, 1, 10), None),
    ]


def test_parquet_timestamps_of_every_type_become_utc(tmp_path: Path) -> None:
    pl.DataFrame(
        {
            "ticket_id": ["t1", "t2"],
            # Epoch milliseconds stored as integers.
            "created_at": pl.Series([1740787200000, 1740829512345], dtype=pl.Int64),
            # Naive timestamps are taken as UTC.
            "first_response_at": pl.Series(
                [datetime(2025, 3, 1, 10, 0, 0, 123456), None], dtype=pl.Datetime("ns")
            ),
            # Zoned timestamps are converted: 12:00 in Paris in March is 11:00 UTC.
            "resolved_at": pl.Series(
                [datetime(2025, 3, 1, 12), datetime(2025, 7, 1, 12)], dtype=pl.Datetime("ms")
            ).dt.replace_time_zone("Europe/Paris"),
            "handle_time_seconds": pl.Series([300, None], dtype=pl.Int32),
        }
    ).write_parquet(tmp_path / "tickets.parquet")
    pl.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "acquired_at": [date(2025, 3, 1), date(2024, 2, 29)],
            "churned_at": ["2025-03-02T01:00:00+0200", None],
        }
    ).write_parquet(tmp_path / "customers.parquet")

    connector = ParquetConnector(str(tmp_path))
    tickets = connector.scan("tickets").collect()
    assert tickets.schema == {**TABLES["tickets"].schema}
    assert tickets.select("created_at", "first_response_at", "resolved_at").rows() == [
        (utc(2025, 3, 1), utc(2025, 3, 1, 10, 0, 0, 123456), utc(2025, 3, 1, 11)),
        (utc(2025, 3, 1, 11, 45, 12, 345000), None, utc(2025, 7, 1, 10)),
    ]
    assert tickets["handle_time_seconds"].to_list() == [300.0, None]

    customers = connector.scan("customers").collect()
    assert customers.select("acquired_at", "churned_at").rows() == [
        (utc(2025, 3, 1), utc(2025, 3, 1, 23)),
        (utc(2024, 2, 29), None),
    ]


def test_bad_date_names_file_row_column_and_value(tmp_path: Path) -> None:
    error = data_error(
        tmp_path,
        "customers",
        "customer_id,acquired_at",
        "c1,2025-03-01",
        "c2,2025-13-45",
    )
    path = str(tmp_path / "customers.csv")
    [issue] = error.issues
    assert issue.location is not None
    assert (issue.location.file, issue.location.line) == (path, 3)
    message = str(error)
    assert path in message
    assert "row 3" in message
    assert "acquired_at" in message
    assert "'2025-13-45'" in message


# -- booleans --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("Yes", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        (" NO ", False),
    ],
)
def test_boolean_spellings(text: str, expected: bool) -> None:
    raw = pl.DataFrame(
        {
            "lead_id": ["l1"],
            "created_at": ["2025-01-01"],
            "is_converted": [text],
            "converted_at": ["2025-01-02"],
        }
    )
    frame = conform(TABLES["leads"], raw, origin="test").frame
    assert frame.schema["is_converted"] == pl.Boolean
    assert frame["is_converted"].to_list() == [expected]


@pytest.mark.parametrize("text", ["maybe", "t", "y", "n", "2", "-1", "truee"])
def test_other_boolean_text_is_a_data_error(tmp_path: Path, text: str) -> None:
    error = data_error(
        tmp_path,
        "leads",
        "lead_id,created_at,is_converted,converted_at",
        "l1,2025-01-01,false,",
        "l2,2025-01-02,true,2025-01-05",
        f"l3,2025-01-03,{text},",
    )
    path = str(tmp_path / "leads.csv")
    [issue] = error.issues
    assert issue.location is not None
    assert (issue.location.file, issue.location.line) == (path, 4)
    message = str(error)
    assert path in message
    assert "row 4" in message
    assert "is_converted" in message
    assert repr(text) in message


def test_parquet_booleans(tmp_path: Path) -> None:
    pl.DataFrame(
        {
            "deal_id": ["d1", "d2", "d3"],
            "stage": ["Won", "Lost", "Open"],
            "is_closed": [True, True, False],
            "is_won": pl.Series([1, 0, 0], dtype=pl.Int8),
            "created_at": ["2025-01-01"] * 3,
            "closed_at": ["2025-02-01", "2025-02-02", None],
        }
    ).write_parquet(tmp_path / "deals.parquet")
    frame = ParquetConnector(str(tmp_path)).scan("deals").collect()
    assert frame.select("is_closed", "is_won").rows() == [(True, True), (True, False), (False, False)]


# -- keys and columns ------------------------------------------------------------------------


def test_duplicate_key_keeps_last_copy_and_is_reported(tmp_path: Path) -> None:
    write_csv(
        tmp_path,
        "customers",
        "customer_id,name,acquired_at",
        "c1,Old Name,2024-01-01",
        "c2,Other,2024-02-01",
        "c1,New Name,2024-03-01",
    )
    connector = CsvConnector(str(tmp_path))
    frame = connector.scan("customers").collect()
    assert frame.sort("customer_id").select("customer_id", "name", "acquired_at").rows() == [
        ("c1", "New Name", utc(2024, 3, 1)),
        ("c2", "Other", utc(2024, 2, 1)),
    ]
    [report] = connector.reports()
    assert (report.table, report.rows_read, report.rows_kept) == ("customers", 3, 2)
    assert report.duplicates_dropped == 1
    [issue] = report.issues
    assert issue.code == "duplicate-key"
    assert issue.severity == "warning"
    assert "'c1'" in issue.message
    assert "customer_id" in issue.message


def test_churned_before_acquired_is_a_data_error(tmp_path: Path) -> None:
    error = data_error(
        tmp_path,
        "customers",
        "customer_id,acquired_at,churned_at",
        "c1,2025-03-01,2025-03-01",
        "c2,2025-03-01T10:00:00Z,2025-03-01T09:59:59Z",
    )
    [issue] = error.issues
    assert issue.location is not None
    assert issue.location.line == 3
    assert "churned_at before acquired_at" in issue.message
    assert "row 3" in issue.message


def test_churned_at_equal_to_acquired_at_is_allowed(tmp_path: Path) -> None:
    frame = load_csv(
        tmp_path,
        "customers",
        "customer_id,acquired_at,churned_at",
        "c1,2025-03-01T02:00:00+02:00,2025-03-01",
    )
    assert frame["churned_at"].to_list() == [utc(2025, 3, 1)]


def test_missing_required_column_is_a_data_error(tmp_path: Path) -> None:
    error = data_error(tmp_path, "customers", "customer_id,name", "c1,Acme")
    [issue] = error.issues
    assert issue.code == "missing-column"
    assert "'acquired_at'" in issue.message
    assert str(tmp_path / "customers.csv") in str(error)


def test_missing_nullable_columns_become_null(tmp_path: Path) -> None:
    frame = load_csv(tmp_path, "customers", "customer_id,acquired_at", "c1,2025-03-01")
    assert frame.columns == TABLES["customers"].column_names
    assert frame.schema == TABLES["customers"].schema
    assert frame.row(0, named=True) == {
        "customer_id": "c1",
        "name": None,
        "acquired_at": utc(2025, 3, 1),
        "churned_at": None,
        "segment": None,
        "region": None,
        "industry": None,
        "acquisition_channel": None,
    }


def test_extra_columns_are_kept_after_the_canonical_ones(tmp_path: Path) -> None:
    frame = load_csv(
        tmp_path,
        "customers",
        "plan,customer_id,acquired_at,account_owner",
        "pro,c1,2025-03-01,Ana",
        "basic,c2,2025-03-02,",
    )
    assert frame.columns == [*TABLES["customers"].column_names, "plan", "account_owner"]
    assert frame.select("customer_id", "plan", "account_owner").rows() == [
        ("c1", "pro", "Ana"),
        ("c2", "basic", None),
    ]


def test_empty_required_value_is_a_data_error(tmp_path: Path) -> None:
    error = data_error(tmp_path, "customers", "customer_id,acquired_at", "c1,2025-03-01", ",2025-03-02")
    [issue] = error.issues
    assert "customers.customer_id: missing value" in issue.message
    assert issue.location is not None
    assert issue.location.line == 3


# -- allowed values and row rules ------------------------------------------------------------


def test_deal_type_outside_the_allowed_set_is_a_data_error(tmp_path: Path) -> None:
    error = data_error(
        tmp_path,
        "deals",
        "deal_id,stage,is_closed,is_won,deal_type,created_at,closed_at",
        "d1,Won,true,true,new_business,2025-01-01,2025-02-01",
        "d2,Won,true,true,expansion,2025-01-01,2025-02-01",
    )
    [issue] = error.issues
    assert issue.location is not None
    assert issue.location.line == 3
    assert "deals.deal_type" in issue.message
    assert "'expansion'" in issue.message


def test_deal_rules(tmp_path: Path) -> None:
    error = data_error(
        tmp_path,
        "deals",
        "deal_id,stage,is_closed,is_won,created_at,closed_at",
        "d1,Open,false,true,2025-01-01,",
        "d2,Lost,true,false,2025-01-01,",
        "d3,Won,true,true,2025-01-01,2025-02-01",
    )
    messages = sorted(issue.message for issue in error.issues)
    assert len(messages) == 2
    assert "closed deal without closed_at: row 3" in messages[0]
    assert "is_won without is_closed: row 2" in messages[1]


@pytest.mark.parametrize(
    ("survey_type", "score", "valid"),
    [
        ("nps", "0", True),
        ("nps", "10", True),
        ("nps", "10.5", False),
        ("nps", "-1", False),
        ("csat", "1", True),
        ("csat", "5", True),
        ("csat", "0", False),
        ("csat", "6", False),
        ("ces", "1", True),
        ("ces", "7", True),
        ("ces", "0.5", False),
        ("ces", "8", False),
    ],
)
def test_survey_score_must_lie_on_its_scale(
    tmp_path: Path, survey_type: str, score: str, valid: bool
) -> None:
    lines = (
        "response_id,survey_type,score,submitted_at",
        f"r1,{survey_type},{score},2025-01-01T12:00:00Z",
    )
    if valid:
        frame = load_csv(tmp_path, "survey_responses", *lines)
        assert frame["score"].to_list() == [float(score)]
        return
    error = data_error(tmp_path, "survey_responses", *lines)
    [issue] = error.issues
    assert "survey_responses.score" in issue.message
    assert f"{survey_type} score {float(score)}" in issue.message


def test_reject_drops_offending_rows_and_counts_them_by_reason() -> None:
    raw = pl.DataFrame(
        {
            "deal_id": ["d1", "d2", "d3", "d4", "d5", "d1"],
            "stage": ["Won", "Won", "Won", "Lost", "Open", "Won"],
            "is_closed": ["true", "maybe", "true", "true", "no", "yes"],
            "is_won": ["true", "true", "true", "false", "false", "1"],
            "deal_type": ["renewal", "upsell", "expansion", "bogus", None, "upsell"],
            "created_at": ["2025-01-01"] * 4 + ["not a date", "2025-01-02"],
            "closed_at": ["2025-02-01"] * 4 + [None, "2025-02-02"],
        }
    )
    result = conform(TABLES["deals"], raw, origin="api", on_error="reject")
    assert result.frame.select("deal_id", "deal_type", "created_at").rows() == [
        ("d1", "upsell", utc(2025, 1, 2)),
    ]
    report = result.report
    assert dict(report.rejected) == {
        "is_closed: not a boolean (true/false, 1/0, yes/no)": 1,
        "created_at: not a timestamp or date": 1,
        "deal_type: not one of cross_sell, new_business, renewal, upsell": 2,
    }
    # d2, d3, d4 and d5 are bad, each counted once: 4 of the 6 rows read.
    assert report.rejected_rows == 4
    assert (report.rows_read, report.rows_kept, report.duplicates_dropped) == (6, 1, 1)
    assert {issue.severity for issue in report.issues} == {"warning"}
    assert [issue.code for issue in report.issues].count("duplicate-key") == 1


def test_raise_refuses_the_table_with_every_problem() -> None:
    raw = pl.DataFrame(
        {
            "deal_id": ["d1", "d2"],
            "stage": ["Won", "Won"],
            "is_closed": ["maybe", "true"],
            "is_won": ["true", "true"],
            "deal_type": ["renewal", "bogus"],
            "created_at": ["2025-01-01", "2025-01-01"],
            "closed_at": ["2025-02-01", "2025-02-01"],
        }
    )
    with pytest.raises(DataError) as caught:
        conform(TABLES["deals"], raw, origin="api", first_row=1)
    lines = sorted((i.location.line, i.subject) for i in caught.value.issues if i.location)
    assert lines == [(1, "deals.is_closed"), (2, "deals.deal_type")]


# -- folders ---------------------------------------------------------------------------------


def test_missing_table_names_it_and_lists_present_ones(tmp_path: Path) -> None:
    write_csv(tmp_path, "deals", "deal_id,stage,is_closed,is_won,created_at")
    write_csv(tmp_path, "customers", "customer_id,acquired_at")
    connector = CsvConnector(str(tmp_path))
    assert connector.available_tables() == ["customers", "deals"]
    with pytest.raises(DataError) as caught:
        connector.scan("leads")
    [issue] = caught.value.issues
    assert issue.code == "missing-table"
    assert "'leads'" in issue.message
    assert issue.hint == "tables present: customers, deals"


def test_header_only_file_gives_an_empty_canonical_table(tmp_path: Path) -> None:
    frame = load_csv(tmp_path, "customers", "customer_id,acquired_at")
    assert frame.height == 0
    assert frame.schema == TABLES["customers"].schema


@pytest.mark.parametrize("content", [b"", b"\n", b"\xef\xbb\xbf"], ids=["no-bytes", "line-end", "bom"])
def test_file_without_a_header_is_an_empty_canonical_table(tmp_path: Path, content: bytes) -> None:
    # An export of no record may be written without its header line: the same table
    # as a header alone, not an unreadable file.
    (tmp_path / "customers.csv").write_bytes(content)
    frame = CsvConnector(str(tmp_path)).scan("customers").collect()
    assert frame.height == 0
    assert frame.schema == TABLES["customers"].schema


@pytest.mark.parametrize("connector_class", [CsvConnector, ParquetConnector])
def test_folder_that_does_not_exist_is_a_data_error(
    tmp_path: Path, connector_class: type[CsvConnector] | type[ParquetConnector]
) -> None:
    missing = tmp_path / "nowhere"
    connector = connector_class(str(missing))
    with pytest.raises(DataError) as caught:
        connector.scan("customers")
    [issue] = caught.value.issues
    assert issue.code == "missing-source"
    assert str(missing) in issue.message


# -- the bundled sample ----------------------------------------------------------------------


def test_sample_loads_every_canonical_table_without_issues() -> None:
    connector = SampleConnector("")
    assert connector.available_tables() == list(TABLES)
    for name, table in TABLES.items():
        frame = connector.scan(name).collect()
        assert frame.schema == table.schema, name
        assert frame.height > 0, name
    reports = connector.reports()
    assert [r.table for r in reports] == list(TABLES)
    for report in reports:
        assert report.issues == [], report.table
        assert not report.rejected, report.table
        assert report.duplicates_dropped == 0, report.table
        assert report.rows_kept == report.rows_read, report.table


def test_sample_timestamps_match_the_standard_library_reading() -> None:
    """Every timestamp in the sample, whatever its spelling, reads as Python reads it."""
    connector = SampleConnector("")
    for name, table in TABLES.items():
        columns = [c.name for c in table.columns if c.kind == "datetime"]
        raw = pl.read_csv(connector.path(name), infer_schema=False, columns=columns)
        parsed = connector.scan(name).select(columns).collect()
        for column in columns:
            expected = [
                None if text is None else as_utc(datetime.fromisoformat(text))
                for text in raw[column].to_list()
            ]
            assert parsed[column].to_list() == expected, f"{name}.{column}"


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    path = REPO / "scripts" / "generate_sample.py"
    spec = importlib.util.spec_from_file_location("generate_sample", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_generator_is_deterministic_and_matches_the_bundled_sample(
    tmp_path: Path, generator: ModuleType
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    generator.main(["--out", str(first)])
    generator.main(["--out", str(second)])
    bundled = Path(str(resources.files("crmetrics.sample") / "data"))
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(f"{name}.csv" for name in TABLES)
    for file_name in names:
        assert (first / file_name).read_bytes() == (second / file_name).read_bytes(), file_name
        assert (first / file_name).read_bytes() == (bundled / file_name).read_bytes(), (
            f"{file_name} is stale: run python scripts/generate_sample.py"
        )
    assert generator.DEFAULT_OUT.resolve() == bundled.resolve()
