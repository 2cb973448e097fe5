"""Every class of user error: its message, its place, no traceback, and the CLI's exit code.

Exit codes: 2 for a definition or usage error, 1 for a data error. A message is one
paragraph: a ``place: error: ...`` line, optionally the offending line with a caret under
the culprit, and a ``hint:`` line; never a blank line, never a traceback.

Formula columns are counted by hand below: in ``    expr: sum(amount)`` the formula
starts at column 11 (four spaces and ``expr: `` take ten), so the character at 0-based
offset ``k`` inside the formula is at column ``11 + k``.
"""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

import pytest
from click.testing import CliRunner, Result

from crmetrics.cli import main
from crmetrics.engine import Engine
from crmetrics.errors import DefinitionError

RANGE = ["--start", "2025-01-01", "--end", "2025-04-01"]

CUSTOMERS_HEADER = "customer_id,name,acquired_at,churned_at,segment,region,industry,acquisition_channel"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No project file or CRMETRICS_PROJECT from the environment leaks into a test."""
    monkeypatch.delenv("CRMETRICS_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def failed(result: Result, code: int) -> str:
    """stderr of a run that failed cleanly with ``code``: no traceback, nothing on stdout."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return result.stderr


def paragraph(text: str) -> list[str]:
    """The lines of one message: a single ``error:`` line first, no blank line anywhere."""
    lines = text.rstrip("\n").split("\n")
    assert all(line.strip() for line in lines), f"blank line in message:\n{text}"
    assert "error: " in lines[0], text
    assert sum("error: " in line for line in lines) == 1, f"more than one error in:\n{text}"
    return lines


def hint(lines: list[str]) -> str:
    hints = [line.strip() for line in lines if line.strip().startswith("hint: ")]
    assert len(hints) == 1, lines
    return hints[0].removeprefix("hint: ")


def validate_folder(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = write(tmp_path / "defs", "metrics.yaml", text)
    return path, failed(invoke("validate", "--definitions", str(tmp_path / "defs")), 2)


def customers_csv(folder: Path, *rows: str) -> Path:
    return write(folder, "customers.csv", "\n".join([CUSTOMERS_HEADER, *rows]) + "\n")


# -- YAML syntax ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "problem"),
    [
        # 'table' is indented two columns deeper than its siblings: the parser stops at its colon.
        (
            """
            metrics:
              - name: deals_won
                type: aggregate
                  table: deals
                time: closed_at
                expr: count(*)
            """,
            12,
            "mapping values are not allowed here",
        ),
        # 'table' is indented one column less than its siblings.
        (
            """
            metrics:
              - name: deals_won
                type: aggregate
               table: deals
                time: closed_at
                expr: count(*)
            """,
            4,
            "this line is not indented like the lines around it",
        ),
        # A tab in the indentation.
        (
            "metrics:\n  - name: deals_won\n    type: aggregate\n\ttable: deals\n",
            1,
            "a tab character; indent with spaces only",
        ),
    ],
    ids=["too-deep", "too-shallow", "tab"],
)
def test_yaml_syntax_error_points_at_line_and_column(
    tmp_path: Path, text: str, column: int, problem: str
) -> None:
    path, stderr = validate_folder(tmp_path, text)
    lines = paragraph(stderr)
    assert lines[0] == f"{path}:4:{column}: error: YAML syntax error: {problem}"
    # The offending line, then a caret under the column.
    assert lines[1] == "  " + path.read_text().splitlines()[3]
    assert lines[2] == "  " + " " * (column - 1) + "^"
    assert "indentation" in hint(lines)


# -- schema violations ---------------------------------------------------------------------

SCHEMA_ERRORS = """
metrics:
  - name: typo_key
    type: aggregate
    table: deals
    time: closed_at
    exprr: count(*)
  - name: bad_category
    type: aggregate
    category: finance
    table: deals
    time: closed_at
    expr: count(*)
  - name: no_time
    type: aggregate
    table: deals
    expr: count(*)
  - name: derived_with_time
    type: derived
    time: closed_at
    expr: revenue / 2
"""


def test_schema_errors_are_all_reported_sorted_by_line(tmp_path: Path) -> None:
    path, stderr = validate_folder(tmp_path, SCHEMA_ERRORS)
    blocks = re.split(r"\n(?=\S)", stderr.rstrip("\n"))
    assert [paragraph(block)[0] for block in blocks] == [
        # A missing key points at the metric that lacks it (where it has to be added).
        f"{path}:2:5: error: [metric typo_key] missing required key 'expr' for an 'aggregate' metric",
        f"{path}:6:5: error: [metric typo_key] unknown key 'exprr'",
        f"{path}:9:15: error: [metric bad_category] category 'finance' is not allowed",
        f"{path}:13:5: error: [metric no_time] missing required key 'time' for an 'aggregate' metric",
        f"{path}:17:5: error: [metric derived_with_time] key 'time' does not apply to a 'derived' metric",
    ]
    assert [hint(paragraph(block)) for block in blocks] == [
        "an 'aggregate' metric needs: table, time, expr",
        "did you mean 'expr'?",
        "did you mean 'financial'?",
        "an 'aggregate' metric needs: table, time, expr",
        "remove the key, or change the metric's type",
    ]


def test_schema_missing_type_is_one_error_not_one_per_type(tmp_path: Path) -> None:
    path, stderr = validate_folder(
        tmp_path,
        """
        metrics:
          - name: untyped
            expr: revenue / 2
        """,
    )
    lines = paragraph(stderr)
    assert lines[0] == f"{path}:2:5: error: [metric untyped] missing required key 'type'"
    assert hint(lines) == "required keys: name, type"


def test_schema_bad_enum_far_from_any_value_lists_what_is_allowed(tmp_path: Path) -> None:
    path, stderr = validate_folder(
        tmp_path,
        """
        metrics:
          - name: odd_unit
            type: derived
            unit: bananas
            expr: revenue / 2
        """,
    )
    lines = paragraph(stderr)
    assert lines[0] == f"{path}:4:11: error: [metric odd_unit] unit 'bananas' is not allowed"
    assert hint(lines) == ("allowed: count, currency, ratio, percent, score, hours, minutes, days, number")


# -- names inside formulas -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "column", "message", "suggestion"),
    [
        # 'dael_id' starts at offset 29 of the formula: 11 + 29 = 40.
        (
            "sum(amount) / count(distinct dael_id)",
            40,
            "unknown column 'dael_id'",
            "did you mean 'deal_id'?",
        ),
        # Quoted: the quote is column 11, the formula starts at 12; 'amout' at offset 4 → 16.
        ('"sum(amout)"', 16, "unknown column 'amout'", "did you mean 'amount'?"),
        # 'summ' is the formula's first character: column 11.
        ("summ(amount)", 11, "unknown function 'summ'", "did you mean 'sum'?"),
    ],
    ids=["column", "column-quoted", "function"],
)
def test_unknown_name_in_formula_points_inside_it(
    tmp_path: Path, expr: str, column: int, message: str, suggestion: str
) -> None:
    path, stderr = validate_folder(
        tmp_path,
        f"""
        metrics:
          - name: deal_value
            type: aggregate
            table: deals
            time: closed_at
            expr: {expr}
        """,
    )
    lines = paragraph(stderr)
    assert lines[0] == f"{path}:6:{column}: error: [deal_value] {message}"
    # The caret sits under the same character, counted within the formula.
    formula = expr.strip('"')
    caret = lines[2].index("^") - 2
    assert formula[caret:].startswith(message.split("'")[1])
    assert hint(lines) == suggestion


def test_formula_folded_over_two_lines_points_at_its_start(tmp_path: Path) -> None:
    # A plain scalar folded over lines loses exact columns: the place is the formula's start.
    path, stderr = validate_folder(
        tmp_path,
        """
        metrics:
          - name: deal_value
            type: aggregate
            table: deals
            time: closed_at
            expr: sum(amount) +
              sum(amout)
        """,
    )
    lines = paragraph(stderr)
    assert lines[0] == f"{path}:6:11: error: [deal_value] unknown column 'amout'"
    assert lines[1:3] == ["  sum(amount) + sum(amout)", "  " + " " * 18 + "^"]


def test_unknown_metric_in_derived_formula(tmp_path: Path) -> None:
    path, stderr = validate_folder(
        tmp_path,
        """
        metrics:
          - name: revenue_per_new_customer
            type: derived
            expr: revenue / new_customerz
        """,
    )
    lines = paragraph(stderr)
    # 'new_customerz' starts at offset 10 of the formula: 11 + 10 = 21.
    assert lines[0] == f"{path}:4:21: error: [revenue_per_new_customer] unknown metric 'new_customerz'"
    assert hint(lines).startswith("did you mean 'new_customers'")


def test_reference_cycle_names_the_whole_cycle(tmp_path: Path) -> None:
    path, stderr = validate_folder(
        tmp_path,
        """
        metrics:
          - name: cycle_a
            type: derived
            expr: cycle_b + 1
          - name: cycle_b
            type: derived
            expr: cycle_c * 2
          - name: cycle_c
            type: derived
            expr: cycle_a - 1
        """,
    )
    lines = paragraph(stderr)
    assert lines[0] == (
        f"{path}:2:11: error: [cycle_a] metrics reference each other in a cycle: "
        "cycle_a -> cycle_b -> cycle_c -> cycle_a"
    )


def test_type_error_sum_of_text_column(tmp_path: Path) -> None:
    path, stderr = validate_folder(
        tmp_path,
        """
        metrics:
          - name: segment_total
            type: aggregate
            table: customers
            time: acquired_at
            expr: sum(segment)
        """,
    )
    lines = paragraph(stderr)
    # 'segment' starts at offset 4: 11 + 4 = 15.
    assert lines[0] == f"{path}:6:15: error: [segment_total] sum() needs number, but 'segment' is text"
    assert lines[1:3] == ["  sum(segment)", "      ^"]


@pytest.mark.parametrize(
    ("expr", "offset", "problem"),
    [
        # The unclosed parenthesis is noticed at the last ')' (offset 22).
        ("sum(amount) / (count(*)", 22, "Expecting )"),
        # A dangling comparison is noticed at the ")" that closes the FILTER (offset 31).
        ("count(*) FILTER (WHERE amount >)", 31, "Required keyword: 'expression' missing for GT"),
    ],
    ids=["unclosed-paren", "missing-operand"],
)
def test_formula_syntax_error_points_inside_the_formula(
    tmp_path: Path, expr: str, offset: int, problem: str
) -> None:
    path, stderr = validate_folder(
        tmp_path,
        f"""
        metrics:
          - name: broken
            type: aggregate
            table: deals
            time: closed_at
            expr: {expr}
        """,
    )
    lines = paragraph(stderr)
    assert lines[0] == f"{path}:6:{11 + offset}: error: [broken] cannot parse formula: {problem}"
    assert lines[1:3] == [f"  {expr}", "  " + " " * offset + "^"]
    assert "SQL expressions" in hint(lines)


def test_definition_error_stops_run_with_exit_2(tmp_path: Path) -> None:
    write(
        tmp_path / "defs",
        "m.yaml",
        """
        metrics:
          - name: deal_value
            type: aggregate
            table: deals
            time: closed_at
            expr: sum(amout)
        """,
    )
    stderr = failed(invoke("run", "-s", "sample", "-d", str(tmp_path / "defs"), "-m", "revenue", *RANGE), 2)
    assert paragraph(stderr)[0].endswith("error: [deal_value] unknown column 'amout'")


def test_engine_raises_definition_error_with_located_issues(tmp_path: Path) -> None:
    path = write(tmp_path / "defs", "m.yaml", SCHEMA_ERRORS)
    with pytest.raises(DefinitionError) as caught:
        Engine(definitions=[path]).validate()
    assert [(i.location.line, i.location.column) for i in caught.value.issues if i.location] == [
        (2, 5),
        (6, 5),
        (9, 15),
        (13, 5),
        (17, 5),
    ]
    assert {i.location.file for i in caught.value.issues if i.location} == {str(path)}


# -- requests: metrics, ranges, grains, parameters, sources ---------------------------------


def test_unknown_metric_on_run(tmp_path: Path) -> None:
    lines = paragraph(failed(invoke("run", "-s", "sample", "-m", "churn_rat", *RANGE), 2))
    assert lines[0] == "error: unknown metric 'churn_rat'"
    assert hint(lines) == "did you mean 'churn_rate'?"


@pytest.mark.parametrize(
    ("args", "message", "expected_hint"),
    [
        (
            ["--start", "2025-01-15", "--end", "2025-04-01"],
            "error: start 2025-01-15 00:00 does not start a month",
            "ranges are whole periods [start, end): use 2025-01-01 or 2025-02-01",
        ),
        (
            # 2025-01-01 is a Wednesday; weeks start on Monday.
            ["--start", "2025-01-01", "--end", "2025-03-31", "--grain", "week"],
            "error: start 2025-01-01 00:00 does not start a week",
            "ranges are whole periods [start, end): use 2024-12-30 or 2025-01-06",
        ),
        (
            ["--start", "yesterday", "--end", "2025-04-01"],
            "error: start 'yesterday' is not a date",
            "write it as YYYY-MM-DD, e.g. 2025-01-01",
        ),
        (
            ["--start", "2025-04-01", "--end", "2025-01-01"],
            "error: end 2025-01-01 is not after start 2025-04-01",
            "the range is [start, end): end must be later than start",
        ),
        (
            [*RANGE, "--grain", "mnth"],
            "error: unknown grain 'mnth'",
            "did you mean 'month'?",
        ),
    ],
    ids=["start-unaligned", "start-not-monday", "start-not-a-date", "empty-range", "unknown-grain"],
)
def test_bad_range_or_grain(args: list[str], message: str, expected_hint: str) -> None:
    lines = paragraph(failed(invoke("run", "-s", "sample", "-m", "churn_rate", *args), 2))
    assert lines[0] == message
    assert hint(lines) == expected_hint


@pytest.mark.parametrize(
    ("param", "message", "expected_hint"),
    [
        (
            "usage_target",
            "error: --param 'usage_target' is not METRIC.NAME=VALUE",
            "e.g. --param customer_health_score.usage_target=10",
        ),
        (
            "customer_health_score.usage_targe=3",
            "error: unknown parameter 'customer_health_score.usage_targe' for the requested metrics",
            "did you mean 'customer_health_score.usage_target'",
        ),
        (
            "customer_health_score.usage_target=lots",
            "error: parameter 'customer_health_score.usage_target' must be a number, not 'lots'",
            None,
        ),
    ],
    ids=["no-equals", "unknown-name", "not-a-number"],
)
def test_bad_param(param: str, message: str, expected_hint: str | None) -> None:
    result = invoke("run", "-s", "sample", "-m", "customer_health_score", "--param", param, *RANGE)
    lines = paragraph(failed(result, 2))
    assert lines[0] == message
    if expected_hint is not None:
        assert hint(lines).startswith(expected_hint)


def test_param_of_a_metric_not_requested_is_unknown() -> None:
    result = invoke("run", "-s", "sample", "-m", "churn_rate", "--param", "usage_target=10", *RANGE)
    lines = paragraph(failed(result, 2))
    assert lines[0] == "error: unknown parameter 'usage_target' for the requested metrics"
    assert hint(lines) == "these metrics take no parameters"


def test_missing_source() -> None:
    lines = paragraph(failed(invoke("run", "-m", "churn_rate", *RANGE), 2))
    assert lines[0] == "error: no source given"
    assert "--source csv:DIR" in hint(lines)


def test_unknown_source_scheme_suggests_a_close_one() -> None:
    lines = paragraph(failed(invoke("run", "-s", "cvs:data", "-m", "churn_rate", *RANGE), 2))
    assert lines[0] == "error: unknown source 'cvs:data'"
    assert hint(lines) == "did you mean 'csv'? write SCHEME:LOCATION, e.g. csv:data/, or 'sample'"


def test_unknown_source_scheme_lists_the_known_ones() -> None:
    lines = paragraph(failed(invoke("run", "-s", "warehouse", "-m", "churn_rate", *RANGE), 2))
    assert lines[0] == "error: unknown source 'warehouse'"
    # Installed plugins may add schemes; the file connectors are always there.
    known, _, rest = hint(lines).removeprefix("expected one of: ").partition("; ")
    assert {"csv", "parquet", "sample"} <= set(known.split(", "))
    assert rest == "write SCHEME:LOCATION, e.g. csv:data/, or 'sample'"


def test_unknown_output_format() -> None:
    lines = paragraph(failed(invoke("run", "-s", "sample", "-m", "churn_rate", "-f", "xml", *RANGE), 2))
    assert lines[0] == "error: unknown format 'xml'"
    known = hint(lines).removeprefix("expected one of: ").split(", ")
    assert {"csv", "json", "parquet", "table"} <= set(known)


def test_missing_definitions_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    lines = paragraph(failed(invoke("validate", "-d", str(missing)), 2))
    assert lines[0] == f"{missing}: error: {missing} does not exist"


# -- grouping out of reach -----------------------------------------------------------------


def test_grouping_column_a_component_cannot_reach() -> None:
    result = invoke("run", "-s", "sample", "-m", "customer_acquisition_cost", "--by", "segment", *RANGE)
    lines = paragraph(failed(result, 2))
    assert lines[0] == (
        "error: [customer_acquisition_cost] metric 'customer_acquisition_cost' cannot be grouped "
        "or filtered by 'segment': it reads table 'spend' through 'sales_marketing_spend', which "
        "has no column 'segment' and no customer_id to reach customers"
    )
    assert hint(lines) == (
        "use a column of spend (spend_id, spent_at, category, channel, amount), "
        "or request customer_acquisition_cost without --by/--where on 'segment'"
    )


def test_misspelt_grouping_column_suggests_the_right_one() -> None:
    lines = paragraph(failed(invoke("run", "-s", "sample", "-m", "revenue", "--by", "segmnt", *RANGE), 2))
    assert "has no column 'segmnt'" in lines[0]
    assert hint(lines).startswith("did you mean 'segment'? use a column of revenue (")
    assert "or of customers" in hint(lines)


def test_where_that_does_not_parse() -> None:
    result = invoke("run", "-s", "sample", "-m", "churn_rate", "--where", "segment =", *RANGE)
    lines = paragraph(failed(result, 2))
    # Plain words, and a caret under the "=" (character 9) after which the value is missing.
    assert lines[:3] == [
        "error: cannot read --where at character 9: something is missing after this",
        "  segment =",
        "          ^",
    ]
    assert hint(lines).endswith("text goes in single quotes")


# -- data errors ---------------------------------------------------------------------------


def test_bad_date_in_csv_names_file_row_column_and_value(tmp_path: Path) -> None:
    path = customers_csv(
        tmp_path / "data",
        "C1,Alpha,2025-01-05,,SMB,EMEA,Software,web",
        "C2,Beta,2025-13-01,,SMB,EMEA,Software,web",
    )
    result = invoke("run", "-s", f"csv:{tmp_path / 'data'}", "-m", "new_customers", *RANGE)
    lines = paragraph(failed(result, 1))
    # Row 3 of the file: the header is row 1, C1 row 2.
    assert lines[0].startswith(f"{path}:3: error: ")
    assert "acquired_at" in lines[0]
    assert "row 3" in lines[0]
    assert "'2025-13-01'" in lines[0]


def test_missing_table_in_csv_folder(tmp_path: Path) -> None:
    customers_csv(tmp_path / "data", "C1,Alpha,2025-01-05,,SMB,EMEA,Software,web")
    folder = tmp_path / "data"
    result = invoke("run", "-s", f"csv:{folder}", "-m", "revenue", *RANGE)
    lines = paragraph(failed(result, 1))
    assert lines[0] == f"{folder}: error: source csv:{folder} has no table 'revenue'"
    assert hint(lines) == "tables present: customers"


def test_csv_source_that_is_not_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "absent"
    lines = paragraph(failed(invoke("run", "-s", f"csv:{folder}", "-m", "revenue", *RANGE), 1))
    assert lines[0] == f"{folder}: error: {folder} is not a folder"


# -- duplicates and overrides --------------------------------------------------------------

BIG_DEALS = """
metrics:
  - name: big_deals
    type: aggregate
    table: deals
    time: closed_at
    expr: count(*) FILTER (WHERE amount > 100000)
"""


def test_duplicate_metric_across_user_files_names_both(tmp_path: Path) -> None:
    first = write(tmp_path / "one", "deals.yaml", BIG_DEALS)
    second = write(tmp_path / "two", "more_deals.yaml", BIG_DEALS)
    result = invoke("validate", "-d", str(tmp_path / "one"), "-d", str(tmp_path / "two"))
    lines = paragraph(failed(result, 2))
    assert lines[0] == (
        f"{second}:2:11: error: [big_deals] metric 'big_deals' is defined twice: "
        f"here (user) and at {first}:2:11 (user)"
    )
    assert "override: true" in hint(lines)


def test_duplicate_of_a_builtin_without_override(tmp_path: Path) -> None:
    path = write(
        tmp_path / "defs",
        "m.yaml",
        """
        metrics:
          - name: churn_rate
            type: derived
            expr: lost_customers / customers_at_end
        """,
    )
    lines = paragraph(failed(invoke("validate", "-d", str(tmp_path / "defs")), 2))
    assert lines[0].startswith(f"{path}:2:11: error: [churn_rate] metric 'churn_rate' is defined twice")
    assert "operational.yaml:4:11 (catalog)" in lines[0]


def test_override_of_a_builtin_replaces_it(tmp_path: Path) -> None:
    write(
        tmp_path / "defs",
        "m.yaml",
        """
        metrics:
          - name: churn_rate
            type: derived
            override: true
            unit: ratio
            expr: lost_customers / customers_at_end
        """,
    )
    customers_csv(
        tmp_path / "data",
        # Active at the start of February: C1 and C2. C2 churns in February.
        # At the end of February only C1 remains, so lost / at end = 1 / 1.
        "C1,Alpha,2024-11-10,,SMB,EMEA,Software,web",
        "C2,Beta,2024-12-03,2025-02-14,SMB,EMEA,Software,web",
    )
    result = invoke(
        "run",
        "-s",
        f"csv:{tmp_path / 'data'}",
        "-d",
        str(tmp_path / "defs"),
        "-m",
        "churn_rate",
        "--start",
        "2025-02-01",
        "--end",
        "2025-03-01",
        "-f",
        "csv",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "metric,period_start,value\nchurn_rate,2025-02-01,1.0\n"
    assert invoke("validate", "-d", str(tmp_path / "defs")).exit_code == 0
