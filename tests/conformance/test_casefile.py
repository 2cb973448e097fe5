"""The case file format: case.schema.json is a valid schema, and mistakes point at file:line:column."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from casefile import SCHEMA_PATH, CaseFileError, load_case_file

GOOD = """\
cases:
  - name: one
    rule: a sum
    tables:
      revenue:
        - {revenue_id: r1, customer_id: a, recognized_at: "2025-01-10", amount: 2}
    request: {metrics: [revenue], start: "2025-01-01", end: "2025-02-01"}
    expect:
      rows:
        - {metric: revenue, period_start: 2025-01-01, value: 2}
"""


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "cases.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CaseFileError) as caught:
        load_case_file(path)
    return caught.value.problems


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def test_good_file_loads_with_dates_as_text(tmp_path: Path) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(GOOD, encoding="utf-8")
    [case] = load_case_file(path)
    assert (case.id, case.line) == ("cases.yaml::one", 2)
    # An unquoted date stays text: the runner compares it with the ISO date of period_start.
    assert case.rows == [{"metric": "revenue", "period_start": "2025-01-01", "value": 2}]


def test_unknown_key_points_at_its_case(tmp_path: Path) -> None:
    text = GOOD.replace("    rule: a sum\n", "    rule: a sum\n    tabels: {}\n")
    assert _problems(tmp_path, text) == [
        "cases.yaml:4:5: Additional properties are not allowed ('tabels' was unexpected)"
    ]


def test_wrong_value_points_at_the_value(tmp_path: Path) -> None:
    text = GOOD.replace("value: 2}", "value: two}")
    [problem] = _problems(tmp_path, text)
    assert problem.startswith("cases.yaml:10:62: 'two' is not of type 'number', 'null'")


def test_unknown_table_is_named(tmp_path: Path) -> None:
    text = GOOD.replace("      revenue:\n", "      revenues:\n")
    [problem] = _problems(tmp_path, text)
    assert problem.startswith("cases.yaml:5:7: 'revenues' is not one of")


def test_row_with_other_groups_than_the_request(tmp_path: Path) -> None:
    text = GOOD.replace("value: 2}", "segment: SMB, value: 2}")
    assert _problems(tmp_path, text) == [
        "cases.yaml:10:11: row has grouping columns ['segment'] but the request groups by []"
    ]


def test_duplicate_case_name_and_duplicate_key(tmp_path: Path) -> None:
    second = GOOD.split("cases:\n", 1)[1]
    assert _problems(tmp_path, GOOD + second) == [
        "cases.yaml:11:11: case name 'one' is already used by case 1"
    ]
    text = GOOD.replace("    rule: a sum\n", "    rule: a sum\n    rule: twice\n")
    assert _problems(tmp_path, text) == ["cases.yaml:4:5: duplicate key 'rule'"]


def test_yaml_syntax_error_has_a_place(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, GOOD.replace("[revenue]", "[revenue"))
    assert problem.startswith("cases.yaml:7:72:")
    assert "YAML syntax" in problem


def test_empty_file(tmp_path: Path) -> None:
    assert _problems(tmp_path, "# nothing yet\n") == [
        "cases.yaml:1:1: the file is empty; write a 'cases:' list"
    ]
