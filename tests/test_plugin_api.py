"""The plugin API, end to end: every hook, the faults a plugin can make, the env variables.

Each hook has a ``test_hook_<name>`` here that registers an in-process plugin and uses what
it registered the way a user would; ``test_every_hook_is_tested_and_documented`` fails when
a hook lacks one, or lacks its section in docs/plugins.md.

Most tests build isolated engines from the built-in plugins as in-process plugins
(``crmetrics.plugins.files`` and ``crmetrics.definitions``), so whatever else is installed
cannot change their results; tests of entry-point loading use the installed ones.
"""

from __future__ import annotations

import inspect
import io
import types
from collections.abc import Callable
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy
import polars as pl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

import crmetrics
import crmetrics.definitions as builtin_catalog
import crmetrics.plugins.files as builtin_files
from crmetrics import Connector, FunctionSpec, OutputFormat, RawTable, RenderInfo, hookimpl, hookspecs
from crmetrics.cli import main
from crmetrics.model import TABLES
from crmetrics.registry import Registry, build_registry

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
BUILTINS = (builtin_files, builtin_catalog)


def isolated(*plugins: object, definitions: tuple[Path, ...] = ()) -> crmetrics.Engine:
    """An engine with the built-in plugins and ``plugins``, and nothing installed."""
    return crmetrics.Engine(
        plugins=[*BUILTINS, *plugins], definitions=definitions, load_installed_plugins=False
    )


def monthly(*metrics: str, start: str = "2025-01-01", end: str = "2025-03-01") -> crmetrics.Request:
    return crmetrics.Request.build(list(metrics), grain="month", start=start, end=end)


def values(result: pl.DataFrame, metric: str) -> list[float | None]:
    return result.filter(pl.col("metric") == metric)["value"].to_list()


def write_yaml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(inspect.cleandoc(text) + "\n")
    return path


# Customers as a CRM export would give them: text timestamps with offsets.
# c1 2025-01-05 UTC: January. c2 2025-01-31T23:30-02:00 = 2025-02-01 01:30 UTC: February.
# c3 2025-02-10: February.
RAW_CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["c1", "c2", "c3"],
        "acquired_at": ["2025-01-05T09:00:00Z", "2025-01-31T23:30:00-02:00", "2025-02-10"],
        "churned_at": [None, None, None],
    }
)


# ---- register_connectors -----------------------------------------------------------------


class InlineConnector(Connector):
    """Serves RAW_CUSTOMERS for any location; the base class does the conversion."""

    scheme = "inline"
    tables = ("customers",)
    description = "customers held in memory, for tests"

    def available_tables(self) -> list[str]:
        return ["customers"]

    def read_table(self, table: str) -> RawTable:
        return RawTable(RAW_CUSTOMERS, f"inline:{self.location}/{table}")


class InlinePlugin:
    @hookimpl
    def register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
        register(InlineConnector)


def test_hook_register_connectors() -> None:
    engine = isolated(InlinePlugin())
    assert engine.registry.connectors["inline"] is InlineConnector
    assert engine.registry.providers["connector:inline"] == "InlinePlugin"
    assert engine.registry.plugins["InlinePlugin"].provides == ["connector inline:"]
    connector = engine.open_source("inline:acme")
    assert isinstance(connector, InlineConnector)
    assert connector.location == "acme"
    result = engine.evaluate(monthly("new_customers"), "inline:acme")
    # January: c1. February: c2 (2025-02-01 01:30 UTC once converted) and c3.
    expected = pl.DataFrame(
        {
            "metric": ["new_customers"] * 2,
            "period_start": [date(2025, 1, 1), date(2025, 2, 1)],
            "value": [1.0, 2.0],
        }
    )
    assert_frame_equal(result, expected)
    assert connector.scan("customers").collect_schema()["acquired_at"] == pl.Datetime("us", "UTC")


# ---- register_functions ------------------------------------------------------------------


CLAMP = FunctionSpec(
    "clamp",
    ("number", "number", "number"),
    "number",
    lambda value, low, high: value.clip(low, high),
    description="The value, raised to low and lowered to high.",
)


def clamp_plugin() -> types.ModuleType:
    """A plugin as a module object, the way an entry point gives one."""
    module = types.ModuleType("clamp_plugin")

    @hookimpl
    def register_functions(register: Callable[[FunctionSpec], None]) -> None:
        register(CLAMP)

    module.register_functions = register_functions  # type: ignore[attr-defined]
    return module


CAPPED_REVENUE = """
    metrics:
      - name: capped_revenue
        label: Capped revenue
        unit: currency
        type: aggregate
        table: revenue
        time: recognized_at
        expr: sum(clamp(amount, 0, 100))
"""


def test_hook_register_functions(tmp_path: Path) -> None:
    definitions = write_yaml(tmp_path / "metrics.yaml", CAPPED_REVENUE)
    engine = isolated(clamp_plugin(), definitions=(definitions,))
    assert engine.catalog.functions.providers["clamp"] == "clamp_plugin"
    revenue = pl.DataFrame(
        {
            "revenue_id": ["r1", "r2", "r3", "r4"],
            "customer_id": ["c1", "c1", "c2", "c2"],
            "recognized_at": ["2025-01-03", "2025-01-09", "2025-01-20", "2025-02-14"],
            "amount": [250.0, -20.0, 40.0, 99.5],
        }
    )
    result = engine.evaluate(monthly("capped_revenue"), {"revenue": revenue})
    # January: clamp(250) + clamp(-20) + clamp(40) = 100 + 0 + 40. February: 99.5.
    assert values(result, "capped_revenue") == [140.0, 99.5]


def test_formula_using_a_missing_function_names_it(tmp_path: Path) -> None:
    definitions = write_yaml(tmp_path / "metrics.yaml", CAPPED_REVENUE)
    with pytest.raises(crmetrics.DefinitionError, match="unknown function 'clamp'"):
        isolated(definitions=(definitions,)).validate()


# ---- register_definition_dirs ------------------------------------------------------------


class FolderPlugin:
    """Registers one folder of definitions; the tests write the YAML into it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def register_definition_dirs(self, register: Callable[[Path], None]) -> None:
        register(self.folder)


def test_hook_register_definition_dirs(tmp_path: Path) -> None:
    write_yaml(
        tmp_path / "pack" / "sales.yaml",
        """
        metrics:
          - name: won_deal_value
            label: Won deal value
            category: financial
            unit: currency
            type: aggregate
            table: deals
            time: closed_at
            expr: sum(amount) FILTER (WHERE is_won)
        """,
    )
    engine = isolated(FolderPlugin(tmp_path / "pack"))
    assert "won_deal_value" in [m.name for m in engine.list_metrics()]
    metric = engine.catalog.metrics["won_deal_value"]
    assert metric.origin.provider == "FolderPlugin"
    assert metric.origin.file.endswith("sales.yaml")
    assert engine.registry.plugins["FolderPlugin"].provides == ["definitions pack/"]
    deals = pl.DataFrame(
        {
            "deal_id": ["d1", "d2", "d3", "d4"],
            "amount": ["1000", "500", "250", "75"],
            "stage": ["won", "lost", "won", "open"],
            "is_closed": ["true", "true", "true", "false"],
            "is_won": ["true", "false", "true", "false"],
            "created_at": ["2024-12-01"] * 4,
            "closed_at": ["2025-01-15", "2025-01-20", "2025-02-28T23:00:00-05:00", None],
        }
    )
    result = engine.evaluate(monthly("won_deal_value", end="2025-04-01"), {"deals": deals})
    # January: d1 (d2 was lost). February: nothing. March: d3, closed 2025-03-01 04:00 UTC.
    assert values(result, "won_deal_value") == [1000.0, 0.0, 250.0]


# ---- register_output_formats -------------------------------------------------------------


def _write_markdown(result: pl.DataFrame, stream: Any, info: RenderInfo) -> None:
    lines = ["| metric | period_start | value |", "|---|---|---|"]
    lines += [f"| {m} | {p} | {v:g} |" for m, p, v in result.select("metric", "period_start", "value").rows()]
    stream.write(("\n".join(lines) + "\n").encode())


MARKDOWN = OutputFormat("markdown", _write_markdown, "a Markdown table")


class MarkdownPlugin:
    @hookimpl
    def register_output_formats(self, register: Callable[[OutputFormat], None]) -> None:
        register(MARKDOWN)


def with_markdown(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make ``module``'s build_registry (what the CLI uses) see only built-ins and MarkdownPlugin."""
    original = build_registry

    def build(plugins: Any = (), *, entry_point_group: str | None = "crmetrics") -> Registry:
        return original([*BUILTINS, *plugins, MarkdownPlugin()], entry_point_group=None)

    monkeypatch.setattr(f"{module}.build_registry", build)


def test_hook_register_output_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = build_registry([MarkdownPlugin()], entry_point_group=None)
    assert registry.output_formats["markdown"] is MARKDOWN
    assert registry.providers["format:markdown"] == "MarkdownPlugin"
    frame = pl.DataFrame({"metric": ["revenue"], "period_start": [date(2025, 1, 1)], "value": [12.5]})
    stream = io.BytesIO()
    registry.output_formats["markdown"].write(frame, stream, RenderInfo())
    assert stream.getvalue().decode().splitlines()[-1] == "| revenue | 2025-01-01 | 12.5 |"

    # Through the CLI, which builds its own engine from the installed plugins.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    RAW_CUSTOMERS.write_csv(tmp_path / "data" / "customers.csv")
    with_markdown(monkeypatch, "crmetrics.engine")
    args = ["run", "-s", "csv:data", "-m", "new_customers", "--start", "2025-01-01", "--end", "2025-03-01"]
    result = CliRunner().invoke(main, [*args, "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "| metric | period_start | value |",
        "|---|---|---|",
        "| new_customers | 2025-01-01 | 1 |",
        "| new_customers | 2025-02-01 | 2 |",
    ]

    with_markdown(monkeypatch, "crmetrics.registry")
    listing = CliRunner().invoke(main, ["plugins"])
    assert "MarkdownPlugin  [ok]" in listing.output
    assert "provides: format markdown" in listing.output


# ---- every hook is tested and documented ---------------------------------------------------


def signature(hook_name: str) -> str:
    """The hook as its docs section is titled: ``register_connectors(register)``."""
    parameters = inspect.signature(getattr(hookspecs, hook_name)).parameters
    return f"{hook_name}({', '.join(parameters)})"


def test_hook_names_are_the_specs() -> None:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    specs = sorted(name for name, caller in vars(manager.hook).items() if caller.has_spec())
    assert specs == hookspecs.HOOK_NAMES
    assert len(specs) >= 4


@pytest.mark.parametrize("hook_name", hookspecs.HOOK_NAMES)
def test_every_hook_is_tested_and_documented(hook_name: str) -> None:
    assert callable(globals().get(f"test_hook_{hook_name}")), f"write test_hook_{hook_name} in {__file__}"
    heading = f"## `{signature(hook_name)}`"
    sections = DOCS.read_text(encoding="utf-8").splitlines()
    assert heading in sections, f"docs/plugins.md needs a section {heading!r}"


def test_docs_list_the_columns_a_connector_must_produce() -> None:
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    for table in TABLES.values():
        required = ", ".join(f"`{c.name}`" for c in table.columns if not c.nullable)
        optional = ", ".join(f"`{c.name}`" for c in table.columns if c.nullable)
        assert f"| `{table.name}` | {required} | {optional} |" in lines


# ---- faults are contained ------------------------------------------------------------------


def assert_builtins_work(registry: Registry) -> None:
    assert registry.plugins["files"].errors == []
    assert registry.plugins["catalog"].errors == []
    assert {"csv", "parquet", "sample"} <= set(registry.connectors)


class RaisingPlugin:
    @hookimpl
    def register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
        raise RuntimeError("cannot reach the licence server")


def test_hook_that_raises_is_reported() -> None:
    registry = build_registry([RaisingPlugin()])
    assert registry.plugins["RaisingPlugin"].errors == [
        "hook register_connectors raised RuntimeError: cannot reach the licence server"
    ]
    assert_builtins_work(registry)
    [problem] = [p for p in registry.problems if "RaisingPlugin" in p.message]
    assert problem.severity == "warning"
    assert "CRMETRICS_DISABLE_PLUGINS=RaisingPlugin" in problem.hint


def test_engine_keeps_working_beside_a_raising_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    engine = isolated(RaisingPlugin())
    result = engine.evaluate(monthly("new_customers"), "sample")
    assert result.height == 2
    # The library reports the problem as data and prints nothing; the CLI shows it.
    reported = "plugin 'RaisingPlugin': hook register_connectors raised"
    assert any(reported in problem.message for problem in engine.problems)
    assert capsys.readouterr().err == ""


class NoScheme(Connector):
    def available_tables(self) -> list[str]:
        return []

    def read_table(self, table: str) -> RawTable:
        raise NotImplementedError


@pytest.mark.parametrize(
    ("thing", "error"),
    [
        (dict, "register_connectors gave <class 'dict'>, not a Connector subclass"),
        (InlineConnector("x"), "not a Connector subclass"),
        ("inline", "register_connectors gave 'inline', not a Connector subclass"),
        (NoScheme, "connector NoScheme has no valid 'scheme' attribute"),
    ],
    ids=["plain-class", "instance", "string", "no-scheme"],
)
def test_registering_a_non_connector_is_reported(thing: object, error: str) -> None:
    class WrongThing:
        @hookimpl
        def register_connectors(self, register: Callable[[Any], None]) -> None:
            register(thing)
            register(InlineConnector)

    registry = build_registry([*BUILTINS, WrongThing()], entry_point_group=None)
    [message] = registry.plugins["WrongThing"].errors
    assert error in message
    assert registry.connectors["inline"] is InlineConnector  # the plugin's valid part still counts
    assert registry.connectors["csv"] is builtin_files.CsvConnector


def test_duplicate_scheme_names_both_plugins() -> None:
    class CsvToo(InlineConnector):
        scheme = "csv"

    class Shadowing:
        @hookimpl
        def register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
            register(CsvToo)

    registry = build_registry([Shadowing()])
    assert registry.plugins["Shadowing"].errors == ["connector scheme 'csv' is already registered by files"]
    assert registry.connectors["csv"] is builtin_files.CsvConnector  # the first one stays
    assert_builtins_work(registry)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (
            lambda: FunctionSpec("Clamp", ("number",), "number", lambda x: x),
            "hook register_functions raised ValueError: name 'Clamp' must be a lower-case identifier",
        ),
        (
            lambda: FunctionSpec("days_between", ("number",), "number", lambda x: x),
            "function 'days_between' is already registered by crmetrics",
        ),
        (
            lambda: FunctionSpec("sqrt", ("number",), "number", lambda x: x.sqrt()),
            "function 'sqrt' cannot be called from formulas: SQL already gives sqrt() a meaning",
        ),
        (lambda: FunctionSpec("twice", ("integer",), "number", lambda x: x), "unknown argument kind"),
        (lambda: lambda x: x * 2, "not a FunctionSpec"),
    ],
    ids=["bad-name", "clashes-with-builtin", "sql-function-name", "bad-kind", "not-a-spec"],
)
def test_bad_function_spec_is_reported(make: Callable[[], Any], error: str) -> None:
    class BadFunctions:
        @hookimpl
        def register_functions(self, register: Callable[[FunctionSpec], None]) -> None:
            register(make())

    registry = build_registry([BadFunctions()], entry_point_group=None)
    [message] = registry.plugins["BadFunctions"].errors
    assert error in message
    assert registry.functions.providers["days_between"] == "crmetrics"


def test_duplicate_output_format_names_both() -> None:
    class CsvFormat:
        @hookimpl
        def register_output_formats(self, register: Callable[[OutputFormat], None]) -> None:
            register(OutputFormat("csv", _write_markdown))
            register(MARKDOWN)

    class MarkdownToo:
        @hookimpl
        def register_output_formats(self, register: Callable[[OutputFormat], None]) -> None:
            register(OutputFormat("markdown", _write_markdown))

    registry = build_registry([CsvFormat(), MarkdownToo()], entry_point_group=None)
    assert registry.plugins["CsvFormat"].errors == ["output format 'csv' is already registered by crmetrics"]
    assert registry.plugins["MarkdownToo"].errors == [
        "output format 'markdown' is already registered by CsvFormat"
    ]
    assert registry.output_formats["markdown"] is MARKDOWN


@pytest.fixture
def broken_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "broken_at_import.py").write_text("raise RuntimeError('missing licence key')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "broken_at_import"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("crmetrics_no_such_module", "failed to load (ModuleNotFoundError: No module named"),
        ("broken_at_import", "failed to load (RuntimeError: missing licence key)"),
        ("crmetrics.definitions:nothing_here", "failed to load (AttributeError:"),
    ],
    ids=["missing-module", "raises-on-import", "missing-attribute"],
)
def test_entry_point_that_fails_to_load_is_reported(
    value: str, error: str, broken_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = metadata.entry_points

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        return [*installed(group=group), metadata.EntryPoint("broken", value, group)]

    monkeypatch.setattr("crmetrics.registry.entry_points", entry_points)
    monkeypatch.delenv("CRMETRICS_LOAD_PLUGINS")  # the suite loads only its own plugins
    registry = build_registry()
    [message] = registry.plugins["broken"].errors
    assert message.startswith(error)
    assert_builtins_work(registry)
    assert any(p.message.startswith("plugin 'broken': failed to load") for p in registry.problems)


def test_unknown_hook_is_reported() -> None:
    class Misspelled:
        @hookimpl
        def register_conectors(self, register: Callable[[Any], None]) -> None:
            register(InlineConnector)

    registry = build_registry([Misspelled()])
    [message] = registry.plugins["Misspelled"].errors
    assert "unknown hook 'register_conectors'" in message
    assert_builtins_work(registry)


def test_hook_with_unknown_arguments_is_reported() -> None:
    class ExtraArgument:
        @hookimpl
        def register_connectors(self, register: Callable[[Any], None], engine: Any) -> None:
            register(InlineConnector)

    registry = build_registry([ExtraArgument()])
    [message] = registry.plugins["ExtraArgument"].errors
    assert message.startswith("failed to register")
    assert "engine" in message
    assert "inline" not in registry.connectors
    assert_builtins_work(registry)


# ---- environment variables -----------------------------------------------------------------


def test_disable_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMETRICS_DISABLE_PLUGINS", "files")
    registry = build_registry()
    assert "files" not in registry.plugins
    assert "csv" not in registry.connectors
    assert registry.plugins["catalog"].errors == []


def test_disable_all_keeps_in_process_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMETRICS_DISABLE_PLUGINS", "all")
    registry = build_registry([InlinePlugin()])
    assert list(registry.plugins) == ["InlinePlugin"]
    assert list(registry.connectors) == ["inline"]


def test_load_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMETRICS_LOAD_PLUGINS", "files")
    assert list(build_registry().plugins) == ["files"]
    monkeypatch.setenv("CRMETRICS_LOAD_PLUGINS", " files , catalog ")
    assert sorted(build_registry().plugins) == ["catalog", "files"]
    monkeypatch.setenv("CRMETRICS_DISABLE_PLUGINS", "catalog")
    assert list(build_registry().plugins) == ["files"]


def test_trace_plugins(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    build_registry([InlinePlugin()], entry_point_group=None)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("CRMETRICS_TRACE_PLUGINS", "1")
    build_registry([InlinePlugin(), RaisingPlugin()], entry_point_group=None)
    err = capsys.readouterr().err
    assert "register_connectors [hook]\n    plugin: InlinePlugin\n" in err
    assert "finish register_connectors --> ['connector inline:'] [hook]" in err
    assert "plugin: RaisingPlugin" in err
    assert "raised RuntimeError: cannot reach the licence server" in err


# ---- definitions from plugins and the user ---------------------------------------------------


CUSTOMERS = pl.DataFrame(
    {
        # At 2025-01-01: c1 and c2 are active. In January: c2 churns, c3 is acquired.
        "customer_id": ["c1", "c2", "c3"],
        "acquired_at": ["2024-12-01", "2024-12-15", "2025-01-10"],
        "churned_at": [None, "2025-01-20", None],
    }
)


def test_plugin_metric_named_like_a_builtin_is_an_error(tmp_path: Path) -> None:
    write_yaml(
        tmp_path / "pack" / "churn.yaml",
        """
        metrics:
          - name: churn_rate
            type: derived
            expr: lost_customers / customers_at_end
        """,
    )
    with pytest.raises(crmetrics.DefinitionError) as caught:
        isolated(FolderPlugin(tmp_path / "pack")).validate()
    [issue] = caught.value.issues
    assert issue.code == "duplicate-metric"
    assert issue.location is not None and issue.location.file.endswith("churn.yaml")
    assert "metric 'churn_rate' is defined twice: here (FolderPlugin) and at " in issue.message
    assert "operational.yaml" in issue.message
    assert "(crmetrics.definitions)" in issue.message


def test_user_definition_with_override_replaces_a_builtin(tmp_path: Path) -> None:
    churn = """
        metrics:
          - name: churn_rate
            label: Churn rate (with the period's new customers)
            unit: ratio
            type: derived
            expr: lost_customers / (customers_at_start + new_customers)
            {override}
    """
    clash = write_yaml(tmp_path / "clash.yaml", churn.format(override=""))
    with pytest.raises(crmetrics.DefinitionError, match=r"defined twice: here \(user\)"):
        isolated(definitions=(clash,)).validate()

    mine = write_yaml(tmp_path / "mine.yaml", churn.format(override="override: true"))
    engine = isolated(definitions=(mine,))
    assert engine.catalog.metrics["churn_rate"].origin.provider == "user"
    result = engine.evaluate(monthly("churn_rate", end="2025-02-01"), {"customers": CUSTOMERS})
    # January: lost 1 (c2) / (at start 2 (c1, c2) + new 1 (c3)); the built-in would give 1 / 2.
    assert values(result, "churn_rate") == pytest.approx([1 / 3])
