"""What a new user meets in the first hour: definitions named twice, the connector base class
a plugin author subclasses, and the smaller findings (messages, help, docs)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result

import crmetrics
from crmetrics import Connector, RawTable
from crmetrics.cli import main
from crmetrics.project import load_project

ROOT = Path(__file__).resolve().parents[1]
WON = """\
metrics:
  - name: won_deals
    unit: count
    type: aggregate
    table: deals
    time: closed_at
    expr: count(*) FILTER (WHERE is_won)
"""
RANGE = ["--start", "2025-01-01", "--end", "2025-02-01"]


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "won.yaml").write_text(WON, encoding="utf-8")
    return folder


# -- 1. a folder or file named twice is loaded once -------------------------------------------


@pytest.mark.parametrize(
    "names",
    [
        ["-d", "metrics", "-d", "metrics/"],
        ["-d", "metrics", "-d", "metrics/won.yaml"],
        ["-d", "metrics/won.yaml", "-d", "./metrics/won.yaml"],
    ],
    ids=["folder-twice", "file-and-its-folder", "file-twice"],
)
def test_a_path_named_twice_is_loaded_once(metrics: Path, names: list[str]) -> None:
    result = invoke("validate", *names)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("ok: 1 metric of yours and ")


def test_project_file_and_option_naming_the_same_folder(metrics: Path) -> None:
    (metrics.parent / "crmetrics.yaml").write_text(
        "definitions: [metrics]\nsource: sample\n", encoding="utf-8"
    )
    result = invoke("run", "-d", "metrics/", "-m", "won_deals", *RANGE, "-f", "csv")
    assert result.exit_code == 0, result.output


def test_a_metric_really_defined_twice_names_both_places(metrics: Path) -> None:
    (metrics / "again.yaml").write_text(WON, encoding="utf-8")
    result = invoke("validate", "-d", "metrics")
    assert result.exit_code == 2
    first, second = "metrics/again.yaml", "metrics/won.yaml"  # as named: -d metrics
    [line] = [line for line in result.stderr.splitlines() if "defined twice" in line]
    # again.yaml sorts first, so won.yaml's copy is the second one, pointing back at again.yaml.
    assert line.startswith(f"{second}:2:11: error: [won_deals] metric 'won_deals' is defined twice")
    assert f"at {first}:2:11" in line


def test_validate_counts_yours_apart_from_the_catalog(metrics: Path) -> None:
    result = invoke("validate", "metrics")
    total = len(crmetrics.Engine().catalog.metrics)
    assert (
        result.stderr
        == f"ok: 1 metric of yours and {total} from the catalog and plugins, no problems found\n"
    )


# -- 9. the connector base class keeps its own state -------------------------------------------


def _customers() -> pl.DataFrame:
    return pl.DataFrame({"customer_id": ["a", "b"], "acquired_at": ["2025-01-05", "2025-01-20"]})


def test_subclass_attributes_cannot_overwrite_the_base_state() -> None:
    class Careless(Connector):
        scheme = "careless"

        def __init__(self, location: str, options: object = None) -> None:
            super().__init__(location)
            # Names a base class might well have used for its own bookkeeping.
            self._cache: dict[str, str] = {"customers": "not a frame"}
            self._reports = "not reports"
            self._pending = None

        def available_tables(self) -> list[str]:
            return ["customers"]

        def read_table(self, table: str) -> RawTable:
            return RawTable(_customers(), "memory")

    connector = Careless("x")
    request = crmetrics.Request.build(["new_customers"], start="2025-01-01", end="2025-02-01")
    result = crmetrics.Engine().evaluate(request, connector)
    assert result["value"].to_list() == [2.0]  # a and b, both acquired in January
    assert [r.table for r in connector.reports()] == ["customers"]


def test_subclass_that_forgets_super_init_still_scans() -> None:
    class Forgetful(Connector):
        scheme = "forgetful"

        def __init__(self, location: str, options: object = None) -> None:
            self.location = location
            self.options = {}

        def available_tables(self) -> list[str]:
            return ["customers"]

        def read_table(self, table: str) -> RawTable:
            return RawTable(_customers(), "memory")

    assert Forgetful("x").scan("customers").collect().height == 2


def test_replacing_a_checking_method_is_refused_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match=r"defines scan, reports, which the Connector base class uses"):

        class Overriding(Connector):
            scheme = "overriding"

            def scan(self, table: str) -> pl.LazyFrame:
                return pl.LazyFrame()

            def reports(self) -> list[object]:
                return []

            def available_tables(self) -> list[str]:
                return []

            def read_table(self, table: str) -> RawTable:
                raise NotImplementedError


def test_an_attribute_hiding_a_checking_method_is_refused() -> None:
    class Shadowing(Connector):
        scheme = "shadowing"

        def __init__(self, location: str, options: object = None) -> None:
            super().__init__(location)
            self.reports = []  # type: ignore[method-assign]

        def available_tables(self) -> list[str]:
            return []

        def read_table(self, table: str) -> RawTable:
            raise NotImplementedError

    with pytest.raises(TypeError, match=r"sets the attribute 'reports', which would hide"):
        Shadowing("x")


def test_docs_say_what_a_subclass_may_use() -> None:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert "**What a subclass may use.**" in text
    for name in ("scan", "deferred_checks", "run_checks", "settle", "reports"):
        assert f"`{name}`" in text


# -- 11. the smaller findings --------------------------------------------------------------------


def test_engine_hint_lists_the_engines_once() -> None:
    result = invoke("run", "-s", "sample", "-m", "revenue", *RANGE, "--engine", "zzz")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: unknown engine 'zzz'",
        "  hint: engines: polars, duckdb, spark",
    ]
    close = invoke("run", "-s", "sample", "-m", "revenue", *RANGE, "--engine", "duckd")
    assert close.stderr.splitlines()[1] == "  hint: did you mean 'duckdb'? engines: polars, duckdb, spark"


def test_every_unknown_metric_is_reported_at_once() -> None:
    result = invoke("run", "-s", "sample", "-m", "revenu,churn_rat", *RANGE)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: unknown metric 'revenu'",
        "  hint: did you mean 'revenue' or 'revenue_share'?",
        "error: unknown metric 'churn_rat'",
        "  hint: did you mean 'churn_rate'?",
    ]
    sql = invoke("sql", "-m", "revenu,churn_rat", *RANGE, "--dialect", "duckdb")
    assert sql.stderr.count("unknown metric") == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics:\n", "metrics: is empty; expected a list of metrics"),
        ("metrics: 5\n", "metrics: is a number (5); expected a list of metrics"),
        ("metrics: {a: 1}\n", 'metrics: is a mapping ({"a": 1}); expected a list of metrics'),
    ],
    ids=["empty", "number", "mapping"],
)
def test_schema_messages_speak_yaml(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].endswith(f"error: {message}")
    assert not re.search(r"NoneType|\bint\b|\bdict\b|\blist\b \[", result.stderr)


def test_evaluate_accepts_the_project_files_named_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    _customers().write_csv(folder / "customers.csv")
    (tmp_path / "crmetrics.yaml").write_text("sources:\n  crm: csv:crm\n", encoding="utf-8")
    # Found in the working directory, as the CLI finds it ...
    monkeypatch.chdir(tmp_path)
    found = crmetrics.evaluate("new_customers", "crm", start="2025-01-01", end="2025-02-01")
    assert found["value"].to_list() == [2.0]
    # ... or passed explicitly, from anywhere.
    monkeypatch.chdir(ROOT)
    given = crmetrics.evaluate(
        "new_customers", "crm", start="2025-01-01", end="2025-02-01", project=tmp_path / "crmetrics.yaml"
    )
    assert given["value"].to_list() == [2.0]
    loaded = crmetrics.evaluate(
        "new_customers",
        "crm",
        start="2025-01-01",
        end="2025-02-01",
        project=load_project(tmp_path / "crmetrics.yaml"),
    )
    assert loaded["value"].to_list() == [2.0]


def test_docs_list_every_command() -> None:
    guide = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    for name in main.commands:
        assert f"`crmetrics {name}" in guide, f"docs/getting-started.md does not list 'crmetrics {name}'"
    run_options = [o for p in main.commands["run"].params for o in p.opts if o.startswith("--")]
    missing = [o for o in run_options if f"`{o}`" not in guide]
    assert not missing, f"docs/getting-started.md does not explain {missing}"


def test_docs_list_every_evaluate_argument() -> None:
    import inspect

    page = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    block = page[page.index("crmetrics.evaluate(\n") : page.index(") -> pl.DataFrame")]
    documented = re.findall(r"^\s{4}(\w+)(?:=|,)", block, re.M) + re.findall(r"^\s{4}start, end", block, re.M)
    arguments = set(inspect.signature(crmetrics.evaluate).parameters)
    named = set(documented) | ({"start", "end"} if "start, end" in block else set())
    assert arguments <= named, f"docs/python-api.md lacks {sorted(arguments - named)}"


def test_connector_docs_point_only_inside_the_repository() -> None:
    for page in sorted((ROOT / "docs" / "connectors").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        assert "shared/" not in text, f"{page.name} points at files outside the repository"
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{page.name} links to {target}"
