"""``crmetrics test``: YAML test cases, their comparison cell by cell, and the built-in cases.

Every built-in case (definitions/tests/, and the cx plugin's) runs here as its own pytest
test, so a change to a catalog formula that breaks a hand-worked value fails the suite.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
from click.testing import CliRunner

from crmetrics.cli import main
from crmetrics.engine import Engine
from crmetrics.testing import TestCase

BUILTIN = Engine()
BUILTIN_CASES = BUILTIN.test_cases(builtin=True)

# One customer lost of two at the start of January: churn_rate 1/2 = 0.5.
CHURN_CASE = """\
tests:
  - name: churn in january
    given:
      customers:
        - {customer_id: C1, acquired_at: 2024-12-01, churned_at: 2025-01-15}
        - {customer_id: C2, acquired_at: 2024-12-01}
    request: {metrics: [churn_rate], start: 2025-01-01, end: 2025-02-01}
    expect:
      rows:
        - {metric: churn_rate, period_start: 2025-01-01, value: %s}
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["test", *args])
    return result.exit_code, result.output


def write(tmp_path: Path, text: str, name: str = "cases.yaml") -> Path:
    path = tmp_path / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", BUILTIN_CASES, ids=lambda case: case.name)
def test_builtin_case(case: TestCase) -> None:
    result = BUILTIN.run_test(case)
    assert result.passed, [result.message, *result.diffs, *(i.render() for i in result.issues)]


def test_every_catalog_metric_has_a_builtin_case() -> None:
    covered = {name for case in BUILTIN_CASES for name in case.request["metrics"]}
    missing = sorted(set(BUILTIN.catalog.metrics) - covered)
    assert not missing, f"catalog metrics without a built-in test case: {missing}"


def test_builtin_cases_pass_from_the_command_line() -> None:
    code, output = run("--builtin")
    assert code == 0, output
    assert f"{len(BUILTIN_CASES)} passed" in output


def test_builtin_cases_pass_on_duckdb() -> None:
    pytest.importorskip("duckdb")
    code, output = run("--builtin", "--engine", "duckdb")
    assert code == 0, output


def test_a_passing_case(tmp_path: Path) -> None:
    path = write(tmp_path, CHURN_CASE % "0.5")
    code, output = run(str(path))
    assert code == 0, output
    assert f"{path} ." in output
    assert "1 passed" in output


def test_a_fraction_is_exact(tmp_path: Path) -> None:
    path = write(tmp_path, CHURN_CASE % '"1/2"')
    assert run(str(path))[0] == 0


def test_a_fraction_over_zero_is_refused_at_its_place(tmp_path: Path) -> None:
    # "1/0" is no number: the schema refuses it, with the place of the value (line 10).
    path = write(tmp_path, CHURN_CASE % '"1/0"')
    code, output = run(str(path))
    assert code == 2, output
    assert f"{path}:10:" in output
    assert "whose denominator is not 0" in output
    assert "not a valid name" not in output


def test_a_wrong_value_is_a_diff_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, CHURN_CASE % "0.4")
    code, output = run(str(path))
    assert code == 1
    assert f"FAILED {path}:2:" in output  # the case's name line
    # line 10 holds the expected row: metric, period, no group, expected 0.4, got 0.5
    line = next(line for line in output.splitlines() if f"{path}:10:" in line)
    assert line.split()[1:] == ["churn_rate", "2025-01-01", "-", "0.4", "0.5"]
    assert "1 failed" in output


def test_a_tolerance_allows_a_rounded_value(tmp_path: Path) -> None:
    # |0.33 - 1/3| = 0.00333..., inside 0.01 and outside the default 1e-9
    text = CHURN_CASE.replace(
        "churned_at: 2025-01-15}",
        "churned_at: 2025-01-15}\n        - {customer_id: C3, acquired_at: 2024-12-02}",
    )
    strict = write(tmp_path, text % "0.33", "strict.yaml")
    assert run(str(strict))[0] == 1
    loose = write(tmp_path, (text % "0.33") + "      tolerance: 0.01\n", "loose.yaml")
    assert run(str(loose))[0] == 0


def test_missing_and_extra_rows_are_diffs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tests:
          - name: two months listed as one
            given:
              customers:
                - {customer_id: C1, segment: SMB, acquired_at: 2025-01-10}
            request: {metrics: [new_customers], start: 2025-01-01, end: 2025-03-01, by: [segment]}
            expect:
              rows:
                - {metric: new_customers, period_start: 2025-01-01, segment: SMB, value: 1}
                - {metric: new_customers, period_start: 2025-03-01, segment: SMB, value: 0}
        """,
    )
    code, output = run(str(path))
    assert code == 1
    rows = [line.split() for line in output.splitlines() if line.startswith(f"  {path}:")]
    # March is outside the range: expected but not in the result; February is in the
    # result (0 new SMB customers) but not listed.
    assert rows == [
        [f"{path}:10:11", "new_customers", "2025-03-01", "segment=SMB", "0.0", "(no", "row)"],
        [f"{path}:2:11", "new_customers", "2025-02-01", "segment=SMB", "(no", "row)", "0.0"],
    ]


def test_expected_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tests:
          - name: unknown metric
            given: {}
            request: {metrics: [nope], start: 2025-01-01, end: 2025-02-01}
            expect: {error: unknown-metric}
          - name: wrong code
            given: {}
            request: {metrics: [nope], start: 2025-01-01, end: 2025-02-01}
            expect: {error: empty-range}
          - name: no error at all
            given: {}
            request: {metrics: [churn_rate], start: 2025-01-01, end: 2025-02-01}
            expect: {error: unknown-metric}
        """,
    )
    code, output = run(str(path))
    assert code == 1
    assert f"{path} .FF" in output
    assert "expected error 'empty-range', got 'unknown-metric'" in output
    assert "expected error 'unknown-metric', but the request gave 1 rows" in output


def test_a_bad_input_value_is_reported_with_its_row(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tests:
          - name: bad date
            given:
              customers:
                - {customer_id: C1, acquired_at: not a date}
            request: {metrics: [new_customers], start: 2025-01-01, end: 2025-02-01}
            expect:
              rows:
                - {metric: new_customers, period_start: 2025-01-01, value: 0}
        """,
    )
    code, output = run(str(path))
    assert code == 1
    assert "not a date" in output and "acquired_at" in output


def test_a_case_breaking_the_schema_is_refused_at_its_place(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tests:
          - name: typo
            given: {}
            request: {metrics: [churn_rate], start: 2025-01-01, end: 2025-02-01}
            expected: {error: unknown-metric}
        """,
    )
    code, output = run(str(path))
    assert code == 2
    assert f"{path}:5:" in output and "expected" in output


def test_csv_input_relative_to_the_case(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "customers.csv").write_text(
        "customer_id,acquired_at,churned_at\nC1,2024-12-01,2025-01-15\nC2,2024-12-01,\n", encoding="utf-8"
    )
    text = CHURN_CASE % "0.5"
    text = text.replace(
        """      customers:
        - {customer_id: C1, acquired_at: 2024-12-01, churned_at: 2025-01-15}
        - {customer_id: C2, acquired_at: 2024-12-01}
""",
        "      customers: data/customers.csv\n",
    )
    path = write(tmp_path, text)
    code, output = run(str(path))
    assert code == 0, output


def test_cases_beside_definitions_and_in_the_project_tests_folder(tmp_path: Path) -> None:
    # smb_customers at January's end: C1 only (C2 is Enterprise) = 1
    write(
        tmp_path,
        """\
        metrics:
          - name: smb_customers
            type: snapshot
            table: customers
            active_at: period_end
            filter: segment = 'SMB'
        tests:
          - name: smb at end
            given:
              customers:
                - {customer_id: C1, segment: SMB, acquired_at: 2025-01-10}
                - {customer_id: C2, segment: Enterprise, acquired_at: 2025-01-10}
            request: {metrics: [smb_customers], start: 2025-01-01, end: 2025-02-01}
            expect:
              rows:
                - {metric: smb_customers, period_start: 2025-01-01, value: 1}
        """,
        "metrics.yaml",
    )
    (tmp_path / "cases").mkdir()
    write(tmp_path, CHURN_CASE % "0.5", "cases/churn.yaml")
    project = write(tmp_path, "definitions: [metrics.yaml]\ntests: [cases]\n", "crmetrics.yaml")
    code, output = run("--project", str(project))
    assert code == 0, output
    assert "2 passed" in output
    code, output = run("--project", str(project), "-k", "smb")
    assert "1 passed" in output


def test_a_file_of_cases_alone_may_sit_among_the_definitions(tmp_path: Path) -> None:
    # The definitions folder holds the metrics' file and, beside it, a file of cases only.
    (tmp_path / "metrics").mkdir()
    write(tmp_path, CHURN_CASE % "0.5", "metrics/churn_tests.yaml")
    code, output = run("-d", str(tmp_path / "metrics"))
    assert code == 0, output
    assert "1 passed" in output
    validated = CliRunner().invoke(main, ["validate", str(tmp_path / "metrics")])
    assert validated.exit_code == 0, validated.output


def test_a_file_with_neither_metrics_nor_tests_names_both(tmp_path: Path) -> None:
    path = write(tmp_path, "{}\n", "empty.yaml")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{path}:1:1: error: missing required key: 'metrics' or 'tests'"


def test_no_cases_is_a_usage_error(tmp_path: Path) -> None:
    project = write(tmp_path, "{}\n", "crmetrics.yaml")
    code, output = run("--project", str(project))
    assert code == 2
    assert "no test cases found" in output


def test_the_guide_example_passes(tmp_path: Path) -> None:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "tests.md").read_text(encoding="utf-8")
    block = guide.split("```yaml\n# metrics/smb.yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "smb.yaml").write_text(block, encoding="utf-8")
    code, output = run("-d", str(tmp_path / "metrics"))
    assert code == 0, output
    assert "1 passed" in output


def test_a_group_the_request_does_not_ask_for_is_pointed_out(tmp_path: Path) -> None:
    text = (CHURN_CASE % "0.5").replace(
        "period_start: 2025-01-01,", "period_start: 2025-01-01, segment: SMB,"
    )
    path = write(tmp_path, text)
    code, output = run(str(path))
    assert code == 1
    assert f"{path}:10:11" in output and "add it to the request's 'by'" in output


# Week of Sunday 2 March 2025: the Sunday itself and the Saturday after it, 10 + 20 = 30.
CALENDAR_CASE = """\
tests:
  - name: a sunday week
    given:
      revenue:
        - {revenue_id: R1, customer_id: C1, recognized_at: 2025-03-02, amount: 10}
        - {revenue_id: R2, customer_id: C1, recognized_at: 2025-03-08, amount: 20}
    request:
      metrics: [revenue]
      grain: week
      start: 2025-03-02
      end: 2025-03-09
      calendar:
        week_start: %s
        time_zone: %s
    expect:
      rows:
        - {metric: revenue, period_start: 2025-03-02, value: 30}
"""


def test_a_case_on_its_own_calendar_passes(tmp_path: Path) -> None:
    path = write(tmp_path, CALENDAR_CASE % ("sunday", "UTC"))
    code, output = run(str(path))
    assert code == 0, output
    assert "1 passed" in output


def test_a_wrong_calendar_value_is_reported_at_its_line(tmp_path: Path) -> None:
    # Line 13 holds week_start, line 14 time_zone.
    path = write(tmp_path, CALENDAR_CASE % ("sundy", "UTC"))
    code, output = run(str(path))
    assert code == 2, output
    assert f"{path}:13:" in output and "did you mean 'sunday'" in output

    path = write(tmp_path, CALENDAR_CASE % ("sunday", "Europe/Pariss"))
    code, output = run(str(path))
    assert code == 2, output
    assert f"{path}:14:" in output and "unknown time_zone 'Europe/Pariss'" in output
    assert "did you mean 'Europe/Paris'" in output


def test_a_fiscal_month_out_of_range_is_reported_at_its_line(tmp_path: Path) -> None:
    text = (CALENDAR_CASE % ("sunday", "UTC")).replace("time_zone: UTC", "fiscal_year_start_month: 13")
    path = write(tmp_path, text)
    code, output = run(str(path))
    assert code == 2, output
    assert f"{path}:14:" in output and "13 is greater than the maximum of 12" in output


def test_a_wrong_fiscal_period_is_a_diff(tmp_path: Path) -> None:
    # February fiscal years: the quarter of 1 November 2025 is the fourth of FY2026
    # (Feb-Apr, May-Jul, Aug-Oct, Nov-Jan), so an expected FY2026-Q3 is wrong.
    path = write(
        tmp_path,
        """\
        tests:
          - name: fiscal label
            given:
              revenue:
                - {revenue_id: R1, customer_id: C1, recognized_at: 2025-11-05, amount: 10}
            request:
              metrics: [revenue]
              grain: fiscal_quarter
              start: 2025-11-01
              end: 2026-02-01
              calendar: {fiscal_year_start_month: 2}
            expect:
              rows:
                - {metric: revenue, period_start: 2025-11-01, fiscal_period: FY2026-Q3, value: 10}
        """,
    )
    code, output = run(str(path))
    assert code == 1, output
    line = next(line for line in output.splitlines() if f"{path}:14:" in line)
    assert "fiscal_period FY2026-Q3" in line and "fiscal_period FY2026-Q4" in line


def test_a_misspelt_given_column_is_reported_at_its_key(tmp_path: Path) -> None:
    text = CHURN_CASE.replace("{customer_id: C2,", "{customer_id: C2, segmnt: SMB,") % "0.5"
    path = write(tmp_path, text)
    code, output = run(str(path))
    assert code == 2, output
    assert f"{path}:6:29" in output and "no column 'segmnt'" in output
    assert "did you mean 'segment'?" in output


def test_an_extra_column_the_request_uses_is_kept(tmp_path: Path) -> None:
    # 'segments' is close to 'segment' but the request groups by it: a real extra column.
    # C1 (group a) is lost of the two at the start: group a 1/1 = 1, group b 0/1 = 0.
    text = (
        (CHURN_CASE % "1")
        .replace("{customer_id: C1,", "{customer_id: C1, segments: a,")
        .replace("{customer_id: C2,", "{customer_id: C2, segments: b,")
        .replace("end: 2025-02-01}", "end: 2025-02-01, by: [segments]}")
        .replace("period_start: 2025-01-01, value: 1}", "period_start: 2025-01-01, segments: a, value: 1}")
    )
    text += "        - {metric: churn_rate, period_start: 2025-01-01, segments: b, value: 0}\n"
    path = write(tmp_path, text)
    code, output = run(str(path))
    assert code == 0, output
