"""Properties that hold for any input, checked on random input (hypothesis).

- The catalog's identities hold on any small table of customers: at every period
  ``customers_at_end = customers_at_start + new_customers - lost_customers``, and where
  there were customers at the start, ``customer_retention_rate + churn_rate = 1``.
- Polars and DuckDB compute the same numbers on random data and random requests.
- The definition loader, the formula parser and ``--where`` raise nothing but crmetrics'
  own errors, on any text and any bytes.

The budget: the ``default`` profile (the plain ``pytest`` run) tries a few examples per
property; ``.ci/run`` runs this file again with ``CRMETRICS_PROPERTY_PROFILE=ci`` for many
more. Neither has a deadline per example, since the machine's load varies.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crmetrics
from crmetrics.errors import CrmetricsError
from crmetrics.plan import Request

PROFILE_ENV = "CRMETRICS_PROPERTY_PROFILE"
#: Examples per property: the default run, and the longer one of .ci/run.
EXAMPLES = {"default": 15, "ci": 150}
for _name, _count in EXAMPLES.items():
    settings.register_profile(
        _name,
        max_examples=_count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
settings.load_profile(os.environ.get(PROFILE_ENV, "default"))

START = datetime(2025, 1, 1, tzinfo=UTC)
SEGMENTS = ["SMB", "Mid-Market", "Enterprise", "O'Brien; --"]


@pytest.fixture(scope="module")
def engine() -> crmetrics.Engine:
    return crmetrics.Engine()


@st.composite
def customers(draw: st.DrawFn, max_size: int = 12) -> pl.DataFrame:
    """Customers acquired from three months before the range to its end; some churn later."""
    rows = []
    for index in range(draw(st.integers(0, max_size))):
        acquired = START + timedelta(hours=draw(st.integers(-90 * 24, 180 * 24)))
        churn_after = draw(st.one_of(st.none(), st.integers(0, 200 * 24)))
        churned = None if churn_after is None else acquired + timedelta(hours=churn_after)
        rows.append(
            {
                "customer_id": f"C{index}",
                "acquired_at": acquired,
                "churned_at": churned,
                "segment": draw(st.sampled_from(SEGMENTS)),
            }
        )
    schema = {
        "customer_id": pl.String,
        "acquired_at": pl.Datetime("us", "UTC"),
        "churned_at": pl.Datetime("us", "UTC"),
        "segment": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


@st.composite
def revenue(draw: st.DrawFn, ids: int = 12) -> pl.DataFrame:
    rows = [
        {
            "revenue_id": f"R{index}",
            "customer_id": f"C{draw(st.integers(0, max(ids - 1, 0)))}",
            "recognized_at": START + timedelta(hours=draw(st.integers(0, 180 * 24))),
            "amount": float(draw(st.integers(-1_000, 100_000))) / 4,
        }
        for index in range(draw(st.integers(0, 15)))
    ]
    schema = {
        "revenue_id": pl.String,
        "customer_id": pl.String,
        "recognized_at": pl.Datetime("us", "UTC"),
        "amount": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def by_metric(result: pl.DataFrame) -> dict[str, list[float | None]]:
    return {
        name: group.sort("period_start")["value"].to_list() for (name,), group in result.group_by("metric")
    }


IDENTITY_METRICS = [
    "customers_at_start",
    "customers_at_end",
    "new_customers",
    "lost_customers",
    "customer_retention_rate",
    "churn_rate",
]


@given(customers(), st.sampled_from(["week", "month", "quarter"]))
def test_the_customer_identities_hold_on_any_customers(
    engine: crmetrics.Engine, table: pl.DataFrame, grain: str
) -> None:
    request = Request.build(
        IDENTITY_METRICS,
        grain=grain,
        start="2025-01-06" if grain == "week" else "2025-01-01",
        end="2025-06-30" if grain == "week" else "2025-07-01",
    )
    values = by_metric(engine.evaluate(request, {"customers": table}))
    rows = zip(*(values[name] for name in IDENTITY_METRICS), strict=True)
    for at_start, at_end, new, lost, retention, churn in rows:
        assert at_end == at_start + new - lost
        if at_start:
            assert retention is not None and churn is not None
            assert math.isclose(retention + churn, 1.0, abs_tol=1e-9)


REQUESTS = st.fixed_dictionaries(
    {
        "metrics": st.lists(
            st.sampled_from([*IDENTITY_METRICS, "revenue", "paying_customers", "revenue_per_customer"]),
            min_size=1,
            max_size=4,
            unique=True,
        ),
        "grain": st.sampled_from(["month", "quarter"]),
        "by": st.sampled_from([(), ("segment",)]),
        "where": st.sampled_from([None, "segment = 'SMB'", "segment IN ('O''Brien; --', 'Enterprise')"]),
    }
)


@given(customers(), revenue(), REQUESTS)
def test_polars_and_duckdb_agree_on_random_data(
    engine: crmetrics.Engine, people: pl.DataFrame, money: pl.DataFrame, ask: dict[str, object]
) -> None:
    pytest.importorskip("duckdb")
    request = Request.build(start="2025-01-01", end="2025-07-01", **ask)  # type: ignore[arg-type]
    source = {"customers": people, "revenue": money}
    polars = engine.evaluate(request, source)
    duckdb = engine.evaluate(request, source, engine="duckdb")
    keys = ["metric", "period_start", *request.by]
    left = polars.sort(keys, nulls_last=True)
    right = duckdb.sort(keys, nulls_last=True)
    assert left.select(keys).to_dicts() == right.select(keys).to_dicts()
    for a, b in zip(left["value"].to_list(), right["value"].to_list(), strict=True):
        assert (a is None and b is None) or (
            a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9)
        )


def only_our_errors(action: Callable[[], object]) -> None:
    """Run ``action``: it may succeed or raise crmetrics' own error, nothing else."""
    with contextlib.suppress(CrmetricsError):
        action()


@given(st.text(max_size=400))
def test_the_loader_raises_only_our_errors_on_any_text(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    folder = tmp_path_factory.mktemp("defs")
    (folder / "metrics.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    only_our_errors(lambda: crmetrics.Engine(definitions=[folder], load_installed_plugins=False).validate())


@given(st.binary(max_size=400))
def test_the_loader_raises_only_our_errors_on_any_bytes(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    folder = tmp_path_factory.mktemp("defs")
    (folder / "metrics.yaml").write_bytes(data)
    only_our_errors(lambda: crmetrics.Engine(definitions=[folder], load_installed_plugins=False).validate())


FORMULA_PIECES = [
    *"amount cost 0123456789.+-*/%()'\",;=<>!|&^~`$@?:[]{}\\",
    *["sum(", "count(", "CASE ", "WHEN ", "THEN ", "END", " AND ", " IN (", "SELECT ", "--", "/*"],
    *["1e309", "round(", "CAST(", " AS INT)", "IF(", "distinct ", "NULL", "prior(", "\n", "é", "\x00"],
]
FORMULA_ALPHABET = st.sampled_from(FORMULA_PIECES)


@given(st.lists(FORMULA_ALPHABET, max_size=30).map("".join))
def test_the_formula_parser_raises_only_our_errors(
    tmp_path_factory: pytest.TempPathFactory, formula: str
) -> None:
    folder = tmp_path_factory.mktemp("defs")
    definition = {
        "metrics": [
            {"name": "x", "type": "aggregate", "table": "revenue", "time": "recognized_at", "expr": formula}
        ]
    }
    (folder / "metrics.yaml").write_text(json.dumps(definition), encoding="utf-8")  # JSON is YAML
    only_our_errors(lambda: crmetrics.Engine(definitions=[folder], load_installed_plugins=False).validate())


@given(st.one_of(st.text(max_size=80), st.lists(FORMULA_ALPHABET, max_size=20).map("".join)))
def test_where_raises_only_our_errors(engine: crmetrics.Engine, where: str) -> None:
    people = pl.DataFrame(
        {"customer_id": ["C1"], "acquired_at": [START], "churned_at": [None], "segment": ["SMB"]},
        schema_overrides={"churned_at": pl.Datetime("us", "UTC")},
    )

    def run() -> None:
        request = Request.build(["new_customers"], start="2025-01-01", end="2025-02-01", where=where)
        engine.evaluate(request, {"customers": people})

    only_our_errors(run)


def test_the_profiles_are_as_documented() -> None:
    # .ci/run selects the longer profile by name; a renamed profile would silently fall back.
    ci_run = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert f"{PROFILE_ENV}=ci" in ci_run
    assert settings.get_profile("ci").max_examples == EXAMPLES["ci"]
