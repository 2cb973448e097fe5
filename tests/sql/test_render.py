"""The SQL rendering: golden statements, every dialect, quoting, and what cannot be rendered.

Golden files hold our own rendering of one metric in two dialects. After an intended
change, rewrite them with ``CRMETRICS_UPDATE_GOLDEN=1 python -m pytest tests/sql`` and
review the difference.
"""

from __future__ import annotations

import os
import textwrap
import types
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import sqlglot
from catalog_fixtures import main_source
from sql_helpers import compare
from sqlglot import exp

import crmetrics
from crmetrics import FunctionSpec, hookimpl
from crmetrics.errors import DefinitionError, UsageError
from crmetrics.plan import Request
from crmetrics.project import Project
from crmetrics.sql import DIALECTS, Tables, to_sql

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CRMETRICS_UPDATE_GOLDEN") == "1"


def _request(metrics: list[str], **options: object) -> Request:
    return Request.build(metrics, start="2025-01-01", end="2025-04-01", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("dialect", ["duckdb", "snowflake"])
def test_golden_statement(dialect: str) -> None:
    engine = crmetrics.Engine(project=Project(warehouse={"customers": "analytics.dim_customers"}))
    statement = engine.sql(_request(["churn_rate"], by=["segment"]), dialect) + ";\n"
    path = GOLDEN / f"churn_rate_by_segment.{dialect}.sql"
    if UPDATE:
        path.write_text(statement, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with CRMETRICS_UPDATE_GOLDEN=1"
    assert statement == path.read_text(encoding="utf-8"), f"{path.name} changed; see the module docstring"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("grain", "by"), [("month", ()), ("quarter", ("segment",))], ids=["month", "quarter-segment"]
)
def test_every_metric_renders_and_parses_back(dialect: str, grain: str, by: tuple[str, ...]) -> None:
    engine = crmetrics.Engine()
    spend = {
        "sales_marketing_spend",
        "retention_spend",
        "customer_acquisition_cost",
        "acquisition_retention_cost_ratio",
    }
    metrics = [
        m
        for m in sorted(engine.catalog.metrics)
        if not (by and m in spend) and not engine.catalog.metrics[m].requires_by
    ]
    request = Request.build(metrics, grain=grain, start="2025-01-01", end="2025-07-01", by=by)
    tree = sqlglot.parse_one(engine.sql(request, dialect), read=dialect)
    assert isinstance(tree, exp.Query)
    assert tree.named_selects == ["*"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_metric_renders_on_a_calendar(dialect: str) -> None:
    # Sunday weeks, fiscal years from February and New York midnights: every construct's
    # period arithmetic in every dialect, the cohort metric grouped by its cohort.
    engine = crmetrics.Engine()
    calendar = crmetrics.Calendar.parse(
        week_start="sunday", fiscal_year_start_month=2, time_zone="America/New_York"
    )
    spend = {
        "sales_marketing_spend",
        "retention_spend",
        "customer_acquisition_cost",
        "acquisition_retention_cost_ratio",
    }
    metrics = [m for m in sorted(engine.catalog.metrics) if m not in spend]
    request = Request.build(
        metrics,
        grain="fiscal_quarter",
        start="2025-02-01",
        end="2026-02-01",
        by=["acquisition_cohort"],
        calendar=calendar,
    )
    sql = engine.sql(request, dialect)
    assert "America/New_York" in sql
    tree = sqlglot.parse_one(sql, read=dialect)
    assert isinstance(tree, exp.Query)


def test_weeks_start_on_monday_in_every_dialect() -> None:
    engine = crmetrics.Engine()
    request = Request.build(
        ["new_customers", "customer_health_score"], grain="week", start="2025-01-06", end="2025-01-20"
    )
    texts = {d: engine.sql(request, d, pretty=False) for d in DIALECTS}
    for dialect, text in texts.items():
        sqlglot.parse_one(text, read=dialect)
    assert "TIMESTAMP_TRUNC(`acquired_at`, ISOWEEK)" in texts["bigquery"]
    assert "DAYOFWEEKISO" in texts["snowflake"]
    for dialect in ("duckdb", "postgres", "spark", "databricks", "trino"):
        assert "DATE_TRUNC('WEEK'" in texts[dialect], dialect  # ISO weeks: Monday


def test_epoch_keeps_microseconds_and_median_is_exact() -> None:
    engine = crmetrics.Engine()
    texts = {d: engine.sql(_request(["first_response_time"]), d, pretty=False) for d in DIALECTS}
    assert "UNIX_MICROS" in texts["spark"] and "UNIX_TIMESTAMP" not in texts["spark"]
    assert "UNIX_MICROS" in texts["bigquery"]
    assert "EPOCH_MICROSECOND" in texts["snowflake"]
    assert "APPROX" not in " ".join(texts.values()).upper()
    assert "PERCENTILE_CONT" in texts["postgres"] and "ARRAY_SORT" in texts["trino"]


def test_durations_subtract_whole_epoch_microseconds() -> None:
    # Epoch seconds near 1.7e9 are doubles 2.4e-7 s apart: subtracting them loses microseconds,
    # so durations subtract whole microsecond counts and divide once, as the Polars form does.
    engine = crmetrics.Engine()
    texts = {d: engine.sql(_request(["customer_service_response_time"]), d, pretty=False) for d in DIALECTS}
    assert "EPOCH_US(" in texts["duckdb"] and "EPOCH(" not in texts["duckdb"]
    assert "UNIX_MICROS(" in texts["spark"] and "/ 1000000)" not in texts["spark"]
    assert "CAST(ROUND(EXTRACT(EPOCH FROM" in texts["postgres"]
    assert "DATE_PART(EPOCH_MICROSECOND" in texts["snowflake"]
    for dialect, text in texts.items():
        assert "/ 3600000000" in text, dialect  # microseconds to hours, once at the end


# ---- quoting --------------------------------------------------------------------------------

ODD_TABLE = "we\"ird`sch.cust'omers table"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_identifiers_and_where_text_are_quoted(dialect: str) -> None:
    engine = crmetrics.Engine(project=Project(warehouse={"customers": ODD_TABLE}))
    where = "segment = 'O''Brien; DROP TABLE x --' OR segment = 'a\"b'"
    statement = engine.sql(_request(["new_customers"], by=["segment"], where=where), dialect)
    tree = sqlglot.parse_one(statement, read=dialect)
    tables = {(t.db, t.name) for t in tree.find_all(exp.Table)}
    assert ('we"ird`sch', "cust'omers table") in tables
    strings = {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}
    assert {"O'Brien; DROP TABLE x --", 'a"b'} <= strings
    assert not any(isinstance(node, exp.Drop) for node in tree.walk())


def test_where_with_a_quote_gives_the_same_rows_on_duckdb() -> None:
    source = main_source()
    source["customers"] = source["customers"].with_columns(pl.col("segment").replace("SMB", "O'Brien"))
    engine = crmetrics.Engine()
    request = _request(["new_customers", "churn_rate"], by=["segment"], where="segment = 'O''Brien'")
    results = {e: engine.evaluate(request, source, engine=e) for e in ("polars", "duckdb")}
    compare(results, ("segment",))
    assert set(results["duckdb"]["segment"]) == {"O'Brien"}


# ---- what SQL cannot do -------------------------------------------------------------------


def _plugin_without_sql() -> types.ModuleType:
    module = types.ModuleType("doubling_plugin")

    @hookimpl
    def register_functions(register: Callable[[FunctionSpec], None]) -> None:
        register(FunctionSpec("doubled", ("number",), "number", lambda value: value * 2))

    module.register_functions = register_functions  # type: ignore[attr-defined]
    return module


def test_function_without_sql_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "metrics.yaml"
    path.write_text(
        textwrap.dedent(
            """
            metrics:
              - name: doubled_revenue
                type: aggregate
                table: revenue
                time: recognized_at
                expr: sum(doubled(amount))
            """
        ),
        encoding="utf-8",
    )
    engine = crmetrics.Engine(plugins=[_plugin_without_sql()], definitions=[path])
    request = _request(["doubled_revenue"])
    assert engine.evaluate(request, main_source()).height == 3  # fine on Polars
    for attempt in (
        lambda: engine.sql(request, "duckdb"),
        lambda: engine.evaluate(request, main_source(), engine="duckdb"),
    ):
        with pytest.raises(DefinitionError) as caught:
            attempt()
        message = caught.value.render()
        assert "'doubled'" in message and "doubling_plugin" in message
        assert "no SQL implementation" in message and "doubled_revenue" in message


def test_unknown_dialect_and_engine_are_usage_errors() -> None:
    engine = crmetrics.Engine()
    with pytest.raises(UsageError, match="unknown SQL dialect 'mysqll'"):
        engine.sql(_request(["revenue"]), "mysqll")
    with pytest.raises(UsageError, match="unknown engine"):
        engine.evaluate(_request(["revenue"]), main_source(), engine="dukdb")


def test_unreachable_grouping_is_the_same_error_on_sql() -> None:
    engine = crmetrics.Engine()
    request = _request(["sales_marketing_spend"], by=["segment"])
    with pytest.raises(UsageError) as polars_error:
        engine.evaluate(request, main_source())
    with pytest.raises(UsageError) as sql_error:
        engine.sql(request, "duckdb")
    assert sql_error.value.render() == polars_error.value.render()


def test_renamed_columns_are_read_under_their_warehouse_names() -> None:
    warehouse = {"customers": {"table": "crm.accounts", "columns": {"acquired_at": "created_date"}}}
    engine = crmetrics.Engine(project=Project(warehouse=warehouse))
    tree = sqlglot.parse_one(engine.sql(_request(["new_customers"]), "duckdb"), read="duckdb")
    aliases = {(a.this.name, a.alias) for a in tree.find_all(exp.Alias) if isinstance(a.this, exp.Column)}
    assert ("created_date", "acquired_at") in aliases
    assert Tables.warehouse(warehouse).kinds["customers"]["acquired_at"] == "datetime"
    assert to_sql  # the package's entry point stays importable


def test_scaling_guide_shows_the_current_rendering() -> None:
    """docs/scaling.md shows real output: its SQL blocks are what the engine prints now."""
    page = (Path(__file__).parents[2] / "docs" / "scaling.md").read_text(encoding="utf-8")
    engine = crmetrics.Engine()
    request = Request.build(["revenue_growth_rate"], grain="quarter", start="2025-01-01", end="2025-07-01")
    for dialect in ("duckdb", "bigquery"):
        options = "-g quarter --start 2025-01-01 --end 2025-07-01"
        command = f"crmetrics sql -m revenue_growth_rate {options} -D {dialect}"
        block = f"```sql\n-- {command}\n"
        assert block + engine.sql(request, dialect) + ";\n```" in page, dialect
