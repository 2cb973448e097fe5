"""The ``crmetrics`` command line: output formats, options, project files and subcommands.

The small customers table below gives every expected number (periods are months of 2025):

    C1 SMB         acquired 2024-11-10, never churned
    C2 Enterprise  acquired 2024-12-03, churned 2025-02-14
    C3 SMB         acquired 2025-01-20, never churned
    C4 SMB         acquired 2025-02-02, churned 2025-03-10

    active at the start of   Jan: C1 C2     Feb: C1 C2 C3     Mar: C1 C3 C4
    lost during              Jan: -         Feb: C2           Mar: C4
    new during               Jan: C3        Feb: C4           Mar: -

so churn_rate is 0/2, 1/3, 1/3 and new_customers 1, 1, 0. By segment:
Enterprise 0/1, 1/1, 0/0 (null); SMB 0/1, 0/2, 1/3.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from textwrap import dedent

import jsonschema
import polars as pl
import pytest
import yaml
from click.testing import CliRunner, Result

from crmetrics.cli import main

REPO = Path(__file__).resolve().parent.parent
RANGE = ["--start", "2025-01-01", "--end", "2025-04-01"]

CUSTOMERS = """\
customer_id,name,acquired_at,churned_at,segment,region,industry,acquisition_channel
C1,Alpha,2024-11-10,,SMB,EMEA,Software,web
C2,Beta,2024-12-03T09:00:00Z,2025-02-14T12:00:00Z,Enterprise,EMEA,Media,outbound
C3,Gamma,2025-01-20,,SMB,LATAM,Software,referral
C4,Delta,2025-02-02,2025-03-10,SMB,EMEA,Retail,web
"""

SMB_CUSTOMERS = """
metrics:
  - name: new_smb_customers
    label: New SMB customers
    unit: count
    type: aggregate
    table: customers
    time: acquired_at
    filter: segment = 'SMB'
    expr: count(*)
"""

CUSTOMERS_WON = """
metrics:
  - name: customers_won_twice
    type: derived
    expr: new_customers * 2
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMETRICS_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    return folder


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def run(data: Path, *args: str) -> Result:
    return ok(invoke("run", "-s", f"csv:{data}", *RANGE, *args))


# -- run: formats --------------------------------------------------------------------------


def test_run_csv_is_long_format(data: Path) -> None:
    result = run(data, "-m", "churn_rate", "-f", "csv")
    assert result.stdout == (
        "metric,period_start,value\n"
        "churn_rate,2025-01-01,0.0\n"
        "churn_rate,2025-02-01,0.3333333333333333\n"
        "churn_rate,2025-03-01,0.3333333333333333\n"
    )
    assert result.stderr == ""


def test_run_json_long_format_with_groups_and_nulls(data: Path) -> None:
    result = run(data, "-m", "churn_rate", "--by", "segment", "-f", "json")
    rows = json.loads(result.stdout)
    third = 1 / 3
    assert rows == [
        {"metric": "churn_rate", "period_start": "2025-01-01", "segment": "Enterprise", "value": 0.0},
        {"metric": "churn_rate", "period_start": "2025-01-01", "segment": "SMB", "value": 0.0},
        {"metric": "churn_rate", "period_start": "2025-02-01", "segment": "Enterprise", "value": 1.0},
        {"metric": "churn_rate", "period_start": "2025-02-01", "segment": "SMB", "value": 0.0},
        {"metric": "churn_rate", "period_start": "2025-03-01", "segment": "Enterprise", "value": None},
        {"metric": "churn_rate", "period_start": "2025-03-01", "segment": "SMB", "value": third},
    ]
    assert '"value": null' in result.stdout
    assert list(rows[0]) == ["metric", "period_start", "segment", "value"]


def test_run_json_without_groups(data: Path) -> None:
    rows = json.loads(run(data, "-m", "new_customers", "-f", "json").stdout)
    assert rows == [
        {"metric": "new_customers", "period_start": "2025-01-01", "value": 1.0},
        {"metric": "new_customers", "period_start": "2025-02-01", "value": 1.0},
        {"metric": "new_customers", "period_start": "2025-03-01", "value": 0.0},
    ]


def test_run_parquet_to_output_file(data: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "result.parquet"
    target.parent.mkdir()
    result = run(data, "-m", "churn_rate,new_customers", "-f", "parquet", "-o", str(target))
    assert result.stdout == ""
    assert result.stderr == f"wrote 6 rows to {target}\n"
    frame = pl.read_parquet(target)
    assert frame.schema == pl.Schema({"metric": pl.String, "period_start": pl.Date, "value": pl.Float64})
    assert frame.filter(pl.col("metric") == "new_customers")["value"].to_list() == [1.0, 1.0, 0.0]
    assert frame.filter(pl.col("metric") == "churn_rate")["value"].to_list() == pytest.approx(
        [0.0, 1 / 3, 1 / 3]
    )


def test_run_table_shows_units(data: Path) -> None:
    out = run(data, "-m", "churn_rate,new_customers").stdout
    assert "Churn rate" in out
    assert "New customers" in out
    rows = [line for line in out.splitlines() if line.lstrip().startswith("2025-")]
    assert len(rows) == 3
    # A ratio is shown as a percentage, a count without decimals.
    assert "0.0 %" in rows[0]
    assert "33.3 %" in rows[1]
    assert rows[2].split()[-1] == "0"


def test_table_shows_null_as_dash(data: Path) -> None:
    out = run(data, "-m", "churn_rate", "--by", "segment").stdout
    march = [line for line in out.splitlines() if "2025-03" in line and "Enterprise" in line]
    assert len(march) == 1
    assert march[0].split()[-1] == "-"


def test_stdout_holds_only_data_while_warnings_go_to_stderr(tmp_path: Path) -> None:
    folder = tmp_path / "dup"
    folder.mkdir()
    # C1 twice: a duplicate key, reported as a warning; the last copy is kept (same values).
    lines = CUSTOMERS.splitlines()
    (folder / "customers.csv").write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    result = run(folder, "-m", "churn_rate,new_customers", "-f", "csv")
    frame = pl.read_csv(io.StringIO(result.stdout))
    assert frame.columns == ["metric", "period_start", "value"]
    assert frame.height == 6
    assert frame.filter(pl.col("metric") == "new_customers")["value"].to_list() == [1.0, 1.0, 0.0]
    assert "warning" in result.stderr
    assert "duplicate customer_id" in result.stderr
    assert "'C1'" in result.stderr
    assert "warning" not in result.stdout


# -- run: options --------------------------------------------------------------------------


def test_metrics_comma_separated(data: Path) -> None:
    result = run(data, "--metrics", "new_customers,lost_customers", "-f", "csv")
    frame = pl.read_csv(io.StringIO(result.stdout))
    assert sorted(set(frame["metric"])) == ["lost_customers", "new_customers"]
    assert frame.filter(pl.col("metric") == "lost_customers")["value"].to_list() == [0.0, 1.0, 1.0]


def test_where_filters_on_a_column(data: Path) -> None:
    result = run(data, "-m", "churn_rate", "--where", "segment = 'SMB'", "-f", "csv")
    assert result.stdout == (
        "metric,period_start,value\n"
        "churn_rate,2025-01-01,0.0\n"
        "churn_rate,2025-02-01,0.0\n"
        "churn_rate,2025-03-01,0.3333333333333333\n"
    )


def test_param_changes_the_value() -> None:
    def health(*extra: str) -> float:
        result = ok(
            invoke(
                "run",
                "-s",
                "sample",
                "-m",
                "customer_health_score",
                "--start",
                "2025-01-01",
                "--end",
                "2025-02-01",
                "-f",
                "json",
                *extra,
            )
        )
        rows = json.loads(result.stdout)
        assert len(rows) == 1
        return rows[0]["value"]

    default = health()
    # A lower usage target makes the same activity count as more usage: the score goes up.
    lower_target = health("--param", "customer_health_score.usage_target=10")
    assert lower_target > default
    # Giving the default value again changes nothing.
    assert health("--param", "customer_health_score.usage_target=20") == pytest.approx(default)


# -- validate, list, explain, schema, plugins, help ----------------------------------------


def test_validate_a_good_user_folder(tmp_path: Path) -> None:
    write(tmp_path / "defs", "smb.yaml", SMB_CUSTOMERS)
    result = ok(invoke("validate", str(tmp_path / "defs")))
    assert result.stdout == ""
    assert result.stderr.startswith("ok: ")
    assert "no problems found" in result.stderr


def builtin_names() -> set[str]:
    return {
        metric["name"]
        for path in sorted((REPO / "definitions").glob("*.yaml"))
        for metric in yaml.safe_load(path.read_text(encoding="utf-8"))["metrics"]
    }


def test_list_json_includes_every_builtin_metric() -> None:
    rows = json.loads(ok(invoke("list", "--format", "json")).stdout)
    names = {row["name"] for row in rows}
    expected = builtin_names()
    assert len(expected) >= 20
    assert expected <= names
    churn = next(row for row in rows if row["name"] == "churn_rate")
    assert churn == {
        "name": "churn_rate",
        "label": "Churn rate",
        "category": "operational",
        "type": "derived",
        "unit": "ratio",
        "origin": "catalog",
        "n": "customers_at_start",
        "description": "The share of the customers at the start of the period that were lost during it.",
    }


def test_list_table_shows_metrics() -> None:
    out = ok(invoke("list")).stdout
    for name in ("churn_rate", "net_promoter_score", "customer_acquisition_cost"):
        assert name in out


def test_explain_shows_dependency_tree_and_plan() -> None:
    out = ok(invoke("explain", "churn_rate", "--plan")).stdout
    lines = out.splitlines()
    assert lines[0] == "churn_rate: Churn rate"
    assert "  expr:     lost_customers / customers_at_start" in lines
    tree = lines[lines.index("dependencies:") + 1 : lines.index("dependencies:") + 4]
    assert tree == [
        "  churn_rate [derived]",
        "    customers_at_start [snapshot]",
        "    lost_customers [aggregate]",
    ]
    # The plan is the relational IR as our own text; its lines are snapshot-tested in test_explain.
    assert "plan (month):" in lines
    assert "  %1 = scan customers" in lines


def test_schema_is_a_valid_draft7_schema() -> None:
    for args in (["schema"], ["schema", "--project"]):
        result = ok(invoke(*args))
        schema = json.loads(result.stdout)
        jsonschema.Draft7Validator.check_schema(schema)
    definitions = json.loads(ok(invoke("schema")).stdout)
    assert definitions["properties"]["metrics"]["type"] == "array"
    # Every built-in file satisfies the schema the command prints.
    validator = jsonschema.Draft7Validator(definitions)
    for path in (REPO / "definitions").glob("*.yaml"):
        assert list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))) == []


def test_plugins_lists_the_file_connectors() -> None:
    out = ok(invoke("plugins")).stdout
    assert "provides: connector csv:" in out
    assert "provides: connector sample:" in out
    rows = json.loads(ok(invoke("plugins", "--format", "json")).stdout)
    assert any(row["name"] == "files" for row in rows)


def test_help() -> None:
    result = ok(invoke("--help"))
    for command in ("run", "validate", "list", "explain", "schema", "plugins"):
        assert command in result.stdout
    assert ok(invoke("run", "--help")).stdout.startswith("Usage: ")


# -- project file and --definitions --------------------------------------------------------


def test_project_file_gives_source_and_definitions(tmp_path: Path, data: Path) -> None:
    write(tmp_path / "metrics", "smb.yaml", SMB_CUSTOMERS)
    write(tmp_path, "crmetrics.yaml", "definitions: [metrics]\nsource: csv:data\n")
    result = ok(invoke("run", "-m", "new_smb_customers,new_customers", *RANGE, "-f", "csv"))
    assert result.stdout == (
        "metric,period_start,value\n"
        "new_customers,2025-01-01,1.0\n"
        "new_customers,2025-02-01,1.0\n"
        "new_customers,2025-03-01,0.0\n"
        "new_smb_customers,2025-01-01,1.0\n"
        "new_smb_customers,2025-02-01,1.0\n"
        "new_smb_customers,2025-03-01,0.0\n"
    )
    names = {row["name"] for row in json.loads(ok(invoke("list", "--format", "json")).stdout)}
    assert "new_smb_customers" in names


def test_project_paths_are_relative_to_the_project_file(
    tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "metrics", "smb.yaml", SMB_CUSTOMERS)
    project = write(tmp_path, "crmetrics.yaml", "definitions: [metrics]\nsource: csv:data\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = ok(invoke("run", "--project", str(project), "-m", "new_smb_customers", *RANGE, "-f", "csv"))
    assert result.stdout.splitlines()[1:] == [
        "new_smb_customers,2025-01-01,1.0",
        "new_smb_customers,2025-02-01,1.0",
        "new_smb_customers,2025-03-01,0.0",
    ]


def test_project_named_source(tmp_path: Path, data: Path) -> None:
    write(tmp_path, "crmetrics.yaml", "sources:\n  local: csv:data\nsource: local\n")
    result = ok(invoke("run", "-m", "new_customers", *RANGE, "-f", "csv"))
    assert result.stdout.splitlines()[1] == "new_customers,2025-01-01,1.0"


def test_definitions_option_is_repeatable(tmp_path: Path, data: Path) -> None:
    write(tmp_path / "one", "smb.yaml", SMB_CUSTOMERS)
    write(tmp_path / "two", "won.yaml", CUSTOMERS_WON)
    options = ["-d", str(tmp_path / "one"), "--definitions", str(tmp_path / "two")]
    rows = json.loads(ok(invoke("list", "--format", "json", *options)).stdout)
    origins = {row["name"]: row["origin"] for row in rows}
    assert origins["new_smb_customers"] == "user"
    assert origins["customers_won_twice"] == "user"
    assert origins["churn_rate"] == "catalog"
    result = run(data, *options, "-m", "customers_won_twice,new_smb_customers", "-f", "csv")
    frame = pl.read_csv(io.StringIO(result.stdout))
    assert frame.filter(pl.col("metric") == "customers_won_twice")["value"].to_list() == [2.0, 2.0, 0.0]
    assert frame.filter(pl.col("metric") == "new_smb_customers")["value"].to_list() == [1.0, 1.0, 0.0]


def test_definitions_option_takes_a_single_file(tmp_path: Path) -> None:
    path = write(tmp_path / "defs", "smb.yaml", SMB_CUSTOMERS)
    out = ok(invoke("explain", "new_smb_customers", "-d", str(path))).stdout
    assert f"  defined:  {path}:2:11 (user)" in out.splitlines()
