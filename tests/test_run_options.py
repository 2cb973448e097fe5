"""``run``'s everyday options: ``-m all`` skipping what does not apply, warnings against
silent emptiness, ``--compare``, ``--with-n`` and ``--min-n``.

The data, with every expected number worked out by hand (periods are months):

    customers  C1 SMB        acquired 2024-11-10, never churned
               C2 Enterprise acquired 2024-12-03, churned 2025-02-14
               C3 SMB        acquired 2025-01-20, never churned
               C4 SMB        acquired 2025-02-02, churned 2025-03-10

    new_customers   2024-11: 1 (C1)  2024-12: 1 (C2)  2025-01: 1 (C3)  2025-02: 1 (C4)  2025-03: 0
    active at start 2024-12: C1      2025-01: C1 C2   2025-02: C1 C2 C3  2025-03: C1 C3 C4
    lost during     2024-12: -       2025-01: -       2025-02: C2        2025-03: C4
    churn_rate      2024-12: 0/1=0   2025-01: 0/2=0   2025-02: 1/3       2025-03: 1/3

    survey_responses (all nps)  January: C1 10, C3 9, C2 3   February: C1 10   March: none
    net_promoter_score  January 100 * (2 promoters - 1 detractor) / 3 = 33.33..., n 3
                        February 100 * (1 - 0) / 1 = 100, n 1
                        March: no answers, null, n 0
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result

import crmetrics
from crmetrics.cli import main

CUSTOMERS = """\
customer_id,name,acquired_at,churned_at,segment,region,industry,acquisition_channel
C1,Alpha,2024-11-10,,SMB,EMEA,Software,web
C2,Beta,2024-12-03T09:00:00Z,2025-02-14T12:00:00Z,Enterprise,EMEA,Media,outbound
C3,Gamma,2025-01-20,,SMB,LATAM,Software,referral
C4,Delta,2025-02-02,2025-03-10,SMB,EMEA,Retail,web
"""
SURVEYS = """\
response_id,customer_id,survey_type,score,submitted_at
R1,C1,nps,10,2025-01-05
R2,C3,nps,9,2025-01-25
R3,C2,nps,3,2025-01-28
R4,C1,nps,10,2025-02-11
"""
RANGE = ["--start", "2025-01-01", "--end", "2025-04-01"]
JAN, FEB, MAR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "survey_responses.csv").write_text(SURVEYS, encoding="utf-8")
    return folder


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def run_csv(data: Path, *args: str) -> tuple[pl.DataFrame, str]:
    result = invoke("run", "-s", f"csv:{data}", *RANGE, "-f", "csv", *args)
    assert result.exit_code == 0, result.output
    return pl.read_csv(io.StringIO(result.stdout), try_parse_dates=True), result.stderr


# -- -m all means all that apply --------------------------------------------------------------


def test_all_skips_metrics_whose_tables_the_source_lacks(data: Path) -> None:
    frame, stderr = run_csv(data)
    # customers and survey_responses alone feed exactly these metrics of the catalog and
    # of the customer-experience plugin.
    assert set(frame["metric"]) == {
        "csat",
        "csat_responses",
        "customer_effort_score",
        "ces_responses",
        "new_customers",
        "lost_customers",
        "customers_at_start",
        "customers_at_end",
        "customers_acquired_to_date",
        "churn_rate",
        "customer_retention_rate",
        "net_promoter_score",
        "nps_responses",
    }
    lines = stderr.splitlines()
    assert "warning: skipped revenue: the source has no table 'revenue'" in lines
    through = "(through paying_customers)"
    assert f"warning: skipped customer_lifetime_value: the source has no table 'revenue' {through}" in lines
    # One line per skipped metric: every line of stderr is a skip.
    assert all(line.startswith("warning: skipped ") for line in lines)


def test_a_metric_named_explicitly_is_still_an_error(data: Path) -> None:
    result = invoke("run", "-s", f"csv:{data}", *RANGE, "-m", "revenue")
    assert result.exit_code == 1
    assert "has no table 'revenue'" in result.stderr


def test_all_skips_metrics_that_cannot_reach_a_by_column() -> None:
    engine = crmetrics.Engine()
    request = crmetrics.Request.build(["all"], start="2025-01-01", end="2025-02-01", by=["region"])
    chosen, skipped = engine.applicable(request, "sample")
    # spend has no customer_id, so nothing computed from it reaches customers.region.
    spend = {
        "sales_marketing_spend",
        "retention_spend",
        "customer_acquisition_cost",
        "acquisition_retention_cost_ratio",
    }
    # cohort_retention_rate is only defined grouped by acquisition_cohort.
    needs_cohort = {"cohort_retention_rate"}
    assert {i.message.split(":")[0].removeprefix("skipped ") for i in skipped} == spend | needs_cohort
    assert not spend & set(chosen.metrics)
    assert "churn_rate" in chosen.metrics
    assert skipped[0].severity == "warning"


def test_sql_all_skips_too() -> None:
    result = invoke("sql", "-m", "all", "--by", "region", *RANGE, "--dialect", "duckdb")
    assert result.exit_code == 0, result.output
    assert "warning: skipped retention_spend: table 'spend' cannot reach column 'region'" in result.stderr
    assert "retention_spend" not in result.stdout
    assert "churn_rate" in result.stdout


# -- no silent emptiness ------------------------------------------------------------------------


def test_where_matching_no_row_warns_with_the_values(data: Path) -> None:
    frame, stderr = run_csv(data, "-m", "new_customers", "--where", "segment = 'smb'")
    assert frame["value"].to_list() == [0, 0, 0]
    assert "warning: --where segment = 'smb' matches no row of customers" in stderr
    # The hint names what the column holds, most frequent first: SMB 3 rows, Enterprise 1.
    assert "hint: segment holds SMB (3), Enterprise (1)" in stderr


def test_range_outside_the_data_warns_with_the_span(data: Path) -> None:
    result = invoke(
        "run", "-s", f"csv:{data}", "-m", "new_customers", "--start", "2030-01-01", "--end", "2030-03-01"
    )
    assert result.exit_code == 0, result.output
    assert "warning: the range 2030-01-01 to 2030-03-01 holds no row of customers" in result.stderr
    assert "customers.acquired_at spans 2024-11-10 to 2025-02-02" in result.stderr


TICKETS_HEADER = (
    "ticket_id,customer_id,created_at,first_response_at,resolved_at,handle_time_seconds,channel,priority\n"
)


@pytest.mark.parametrize(
    "content",
    [TICKETS_HEADER.encode(), b"", b"\xef\xbb\xbf\r\n"],
    ids=["header-only", "zero-bytes", "bom-and-line-end"],
)
def test_a_table_without_rows_warns(data: Path, content: bytes) -> None:
    # An export with no ticket, with or without its header line: answered_tickets is 0 in
    # each of the 3 months, a number that must not pass for a quiet month.
    (data / "tickets.csv").write_bytes(content)
    frame, stderr = run_csv(data, "-m", "answered_tickets,new_customers")
    assert frame.filter(pl.col("metric") == "answered_tickets")["value"].to_list() == [0, 0, 0]
    assert stderr.splitlines() == [
        "warning: table tickets has no rows: their metrics are computed over no data",
        "  hint: check what the source holds with crmetrics inspect",
    ]


def test_a_range_holding_no_row_of_one_table_warns_for_that_table(data: Path) -> None:
    # The one ticket was opened in June 2025, after the range; customers has rows in it
    # (C3 and C4 acquired in January and February), so only tickets is named.
    (data / "tickets.csv").write_text(
        TICKETS_HEADER + "T1,C1,2025-06-02,2025-06-02T10:00:00Z,2025-06-03,60,email,normal\n",
        encoding="utf-8",
    )
    frame, stderr = run_csv(data, "-m", "answered_tickets,new_customers")
    assert frame.filter(pl.col("metric") == "answered_tickets")["value"].to_list() == [0, 0, 0]
    assert stderr.splitlines() == [
        "warning: the range 2025-01-01 to 2025-04-01 holds no row of tickets: "
        "its metrics are computed over no data",
        "  hint: tickets.created_at spans 2025-06-02 to 2025-06-02; choose --start and --end inside the data",
    ]


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_parquet_footers_spare_the_span_scan_but_not_the_warning(data: Path, engine: str) -> None:
    # The same data as Parquet, in row groups of two rows: the footers' spans give the
    # warnings of the CSV source, on either engine (tickets' one row is from June).
    (data / "tickets.csv").write_text(
        TICKETS_HEADER + "T1,C1,2025-06-02,2025-06-02T10:00:00Z,2025-06-03,60,email,normal\n",
        encoding="utf-8",
    )
    folder = data.parent / "parquet"
    folder.mkdir()
    source = crmetrics.Engine().open_source(f"csv:{data}")
    for table in ("customers", "tickets"):
        source.scan(table).collect().write_parquet(folder / f"{table}.parquet", row_group_size=2)
    result = invoke(
        "run",
        "-s",
        f"parquet:{folder}",
        *RANGE,
        "-f",
        "csv",
        "-m",
        "answered_tickets,new_customers",
        "--engine",
        engine,
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: the range 2025-01-01 to 2025-04-01 holds no row of tickets: "
        "its metrics are computed over no data",
        "  hint: tickets.created_at spans 2025-06-02 to 2025-06-02; choose --start and --end inside the data",
    ]


def test_a_range_inside_the_data_does_not_warn(data: Path) -> None:
    _, stderr = run_csv(data, "-m", "new_customers")
    assert stderr == ""


def test_bare_word_in_where_is_refused_with_the_quoted_form(data: Path) -> None:
    result = invoke("run", "-s", f"csv:{data}", *RANGE, "-m", "new_customers", "--where", "segment = SMB")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: --where compares column 'segment' with 'SMB', which is not a column; "
        "to compare with the text SMB, quote it: segment = 'SMB'",
        "  hint: segment holds: SMB (3), Enterprise (1)",
    ]


def test_bare_word_in_an_in_list_is_quoted_in_place(data: Path) -> None:
    where = "segment IN (SMB, 'Enterprise') AND region = 'EMEA'"
    result = invoke("run", "-s", f"csv:{data}", *RANGE, "-m", "new_customers", "--where", where)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].endswith(
        "quote it: segment IN ('SMB', 'Enterprise') AND region = 'EMEA'"
    )


# -- comparisons ----------------------------------------------------------------------------------


def test_compare_previous_reads_the_period_before_start(data: Path) -> None:
    frame, stderr = run_csv(data, "-m", "new_customers,churn_rate", "--compare", "previous")
    # December 2024 comes after the first record (C1, 2024-11-10): nothing to warn about.
    assert stderr == ""
    assert frame.columns == ["metric", "period_start", "value", "compare_value", "change", "relative_change"]
    churn = frame.filter(pl.col("metric") == "churn_rate")
    # January compares with December 2024 (0/1 = 0), before --start.
    assert churn["compare_value"].to_list() == pytest.approx([0.0, 0.0, 1 / 3])
    assert churn["change"].to_list() == pytest.approx([0.0, 1 / 3, 0.0])
    # A comparison with 0 has no relative change; 1/3 -> 1/3 is 0.
    assert churn["relative_change"].to_list() == [None, None, 0.0]
    new = frame.filter(pl.col("metric") == "new_customers")
    assert new["compare_value"].to_list() == [1, 1, 1]  # December, January, February
    assert new["change"].to_list() == [0, 0, -1]
    assert new["relative_change"].to_list() == [0.0, 0.0, -1.0]


def test_compare_year_ago_at_month_grain(data: Path) -> None:
    frame, stderr = run_csv(data, "-m", "new_customers", "--compare", "year_ago")
    # Nobody was acquired in January to March 2024: a count of nothing is 0, as the spec
    # says, and a change against 0 has no relative change (null, never infinite).
    assert frame["compare_value"].to_list() == [0, 0, 0]
    assert frame["change"].to_list() == [1, 1, 0]
    assert frame["relative_change"].to_list() == [None, None, None]
    # But those months lie before the first record (2024-11-10), so the zeros are no
    # quiet months: said on stderr. Comparing with November 2024 or later takes a
    # --start of November 2025 or later.
    assert stderr.splitlines() == [
        "warning: --compare year_ago: the comparison periods from 2024-01-01 to 2024-04-01 lie before "
        "the data's first record of customers: the values of those periods are computed over no data, "
        "and the changes against them are not changes",
        "  hint: customers.acquired_at starts 2024-11-10; a --start from 2025-11-01 on compares with "
        "periods the data covers, or use --compare previous",
    ]


@pytest.mark.parametrize(
    ("start", "warned"),
    [("2024-12-01", False), ("2024-11-01", True)],
    ids=["compares-with-the-first-records-month", "compares-with-the-month-before"],
)
def test_compare_previous_warns_from_the_month_before_the_first_record(
    data: Path, start: str, warned: bool
) -> None:
    # The first record is C1, acquired 2024-11-10: November 2024 holds data (from its
    # 10th), October 2024 none.
    result = invoke(
        "run", "-s", f"csv:{data}", "-m", "new_customers", "--start", start, "--end", "2025-01-01",
        "--compare", "previous",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    message = (
        "the comparison periods from 2024-10-01 to 2024-11-01 lie before the data's first record of customers"
    )
    assert (message in result.stderr) is warned
    assert ("warning" in result.stderr) is warned


def test_relative_change_divides_by_the_magnitude() -> None:
    from crmetrics.comparison import compared

    request = crmetrics.Request.build(["x"], start="2025-02-01", end="2025-03-01")
    long = pl.DataFrame({"metric": ["x", "x"], "period_start": [JAN, FEB], "value": [-20.0, -10.0]})
    row = compared(long, request, "previous").row(0, named=True)
    # -20 -> -10 is a change of +10, +50 % of |-20|.
    assert (row["compare_value"], row["change"], row["relative_change"]) == (-20.0, 10.0, 0.5)


@pytest.mark.parametrize("grain", ["day", "week"])
def test_year_ago_needs_months_quarters_or_years(grain: str) -> None:
    dates = ["--start", "2025-01-06", "--end", "2025-01-20"]
    result = invoke("run", "-s", "sample", "-m", "revenue", "--grain", grain, *dates, "--compare", "year_ago")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: --compare year_ago needs a grain of month, quarter or year, not {grain}"
    )


def test_table_shows_an_arrow_and_the_relative_change(data: Path) -> None:
    result = invoke("run", "-s", f"csv:{data}", *RANGE, "-m", "new_customers", "--compare", "previous")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # Three periods: a period per row. The value column is as wide as its header,
    # "New customers" (13), so a cell is right-aligned in 13 characters after a gap of 2.
    # March: 0 new customers after 1 in February, a fall of 100 %.
    assert [line for line in lines if line.startswith("2025-03")] == ["2025-03  " + "0 ↓ 100.0 %".rjust(13)]
    assert [line for line in lines if line.startswith("2025-01")] == ["2025-01  " + "1 → 0.0 %".rjust(13)]


# -- sample sizes ---------------------------------------------------------------------------------


def test_with_n_adds_the_sample_size(data: Path) -> None:
    frame, _ = run_csv(data, "-m", "net_promoter_score,new_customers", "--with-n")
    nps = frame.filter(pl.col("metric") == "net_promoter_score")
    assert nps["value"].to_list() == pytest.approx([100 / 3, 100.0, None], nan_ok=True)
    assert nps["n"].to_list() == [3, 1, 0]
    # new_customers is a count: it declares no n.
    assert frame.filter(pl.col("metric") == "new_customers")["n"].to_list() == [None, None, None]
    # The count metric giving n is not shown unless asked for.
    assert set(frame["metric"]) == {"net_promoter_score", "new_customers"}


def test_min_n_hides_values_resting_on_too_few_rows(data: Path) -> None:
    frame, stderr = run_csv(data, "-m", "net_promoter_score", "--min-n", "2")
    # February rests on 1 answer: hidden. March is null already and is not counted.
    assert frame["value"].to_list() == pytest.approx([100 / 3, None, None], nan_ok=True)
    assert frame.columns == ["metric", "period_start", "value"]
    assert (
        "warning: 1 value(s) shown as null because their n was below min_n (net_promoter_score 1)" in stderr
    )


def test_min_n_from_the_definition(tmp_path: Path, data: Path) -> None:
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "nps.yaml").write_text(
        "metrics:\n"
        "  - name: nps_promoters\n"
        "    unit: count\n"
        "    type: aggregate\n"
        "    table: survey_responses\n"
        "    time: submitted_at\n"
        "    expr: count(*) FILTER (WHERE score >= 9)\n"
        "    n: nps_responses\n"
        "    min_n: 3\n",
        encoding="utf-8",
    )
    frame, stderr = run_csv(data, "-d", str(tmp_path / "defs"), "-m", "nps_promoters", "--with-n")
    # January: 2 promoters of 3 answers (kept); February: 1 of 1 (hidden, 1 < 3);
    # March: 0 of 0 (hidden too: a count of 0 is a value, and 0 < 3).
    assert frame["value"].to_list() == [2, None, None]
    assert frame["n"].to_list() == [3, 1, 0]
    assert "2 value(s) shown as null" in stderr


def test_n_follows_the_grouping(data: Path) -> None:
    frame, _ = run_csv(data, "-m", "net_promoter_score", "--with-n", "--by", "segment")
    january = frame.filter(pl.col("period_start") == JAN).sort("segment")
    # January: Enterprise C2 answered 3 (a detractor), SMB C1 10 and C3 9 (promoters).
    assert january["segment"].to_list() == ["Enterprise", "SMB"]
    assert january["n"].to_list() == [1, 2]
    assert january["value"].to_list() == pytest.approx([-100.0, 100.0])


def test_min_n_must_be_positive(data: Path) -> None:
    result = invoke("run", "-s", f"csv:{data}", *RANGE, "-m", "net_promoter_score", "--min-n", "0")
    assert result.exit_code == 2


def test_scores_of_the_catalog_declare_their_n() -> None:
    metrics = crmetrics.Engine().catalog.metrics
    expected = {
        "net_promoter_score": "nps_responses",
        "lead_conversion_rate": "new_leads",
        "customer_service_response_time": "answered_tickets",
        "customer_health_score": "customers_at_end",
        "churn_rate": "customers_at_start",
        "csat": "csat_responses",
        "customer_effort_score": "ces_responses",
        "first_response_time": "answered_tickets",
    }
    assert {name: metrics[name].n for name in expected} == expected


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    n: nps_answers\n", "n: 'nps_answers' is not a metric"),
        ("    n: revenue\n", "n: 'revenue' has unit currency, but a sample size is a count"),
        ("    min_n: 5\n", "min_n needs n: the count metric giving the sample size"),
    ],
    ids=["unknown", "not-a-count", "min-n-alone"],
)
def test_bad_sample_size_is_a_definition_error(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "metrics:\n  - name: promoters\n    unit: count\n    type: aggregate\n    table: survey_responses\n"
        "    time: submitted_at\n    expr: count(*)\n" + extra,
        encoding="utf-8",
    )
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert message in result.stderr


def test_python_evaluate_takes_the_same_options(data: Path) -> None:
    with pytest.warns(UserWarning, match="shown as null"):
        frame = crmetrics.evaluate(
            "net_promoter_score",
            f"csv:{data}",
            start="2025-01-01",
            end="2025-04-01",
            compare="previous",
            with_n=True,
            min_n=2,
        )
    assert frame.columns == [
        "metric", "period_start", "value", "n", "compare_value", "change", "relative_change",
    ]  # fmt: skip
    # January compares with December (no answers: null); February is hidden (n 1 < 2).
    assert frame["value"].to_list() == pytest.approx([100 / 3, None, None], nan_ok=True)
    assert frame["compare_value"].to_list() == pytest.approx([None, 100 / 3, None], nan_ok=True)
    assert json.loads(frame.write_json())[0]["n"] == 3


@pytest.mark.parametrize(
    ("where", "lines"),
    [
        (
            "1=1; drop table x",
            [
                "error: cannot read --where at character 4: "
                "a filter is one condition and cannot hold a second statement after ';'",
                "  1=1; drop table x",
                "     ^",  # under the ';', the 4th character
                "  hint: remove the ';' and what follows; join conditions with AND",
            ],
        ),
        (
            "drop table x",
            [
                "error: cannot read --where at character 1: a filter is one condition, "
                "not a SQL statement (DROP ...)",
                "  drop table x",
                "  ^",
                "  hint: write e.g. segment = 'SMB'",
            ],
        ),
    ],
    ids=["second-statement", "statement"],
)
def test_where_holding_a_statement_is_refused_in_plain_words(
    data: Path, where: str, lines: list[str]
) -> None:
    result = invoke("run", "-s", f"csv:{data}", *RANGE, "-m", "new_customers", "--where", where)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == lines


def test_where_holding_a_query_names_it_plainly(data: Path) -> None:
    result = invoke("run", "-s", f"csv:{data}", *RANGE, "-m", "new_customers", "--where", "exists (select 1)")
    assert result.exit_code == 2
    assert "a query (SELECT ...) cannot be used here" in result.stderr
    assert "EXISTS" not in result.stderr


def test_formula_holding_a_second_statement_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "metrics:\n  - name: answers\n    unit: count\n    type: aggregate\n    table: survey_responses\n"
        "    time: submitted_at\n    expr: count(*); drop table x\n",
        encoding="utf-8",
    )
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    # The ';' is the 9th character of the formula, which starts at column 11 of line 7.
    assert f"{path}:7:19: error: [answers] cannot parse formula: a formula is one expression" in result.stderr
    assert "BLOCK" not in result.stderr
