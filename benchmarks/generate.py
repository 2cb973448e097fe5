"""Deterministic canonical CRM data for the benchmarks, written as Parquet.

``python -m benchmarks.generate --rows 1m`` writes ``benchmarks/data/1m/<table>.parquet``:
``rows`` rows in every event table (deals, leads, tickets, survey_responses, spend,
revenue, activity) and a tenth of that in customers. The same seed and size always give
the same bytes of data, so every run of every variant sees identical input.

Event times span 2023-01 to 2026-06 while the benchmarked range is 2024-01 to 2026-01, so
about a third of every event table lies outside the window and time pushdown matters.
Event files are ordered by their time column, as exports of append-only event logs
usually are, which lets Parquet row-group statistics skip out-of-window data. Null
customer ids, segments, costs and response times are sprinkled in so that the null
group and every "null counts as ..." rule of the spec are exercised.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

SIZES = {"5k": 5_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000, "30m": 30_000_000}
DATA = Path(__file__).resolve().parent / "data"
SEED = 20240601

_US = 1_000_000
_DAY = 86_400 * _US
_EVENTS_FROM = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp()) * _US
_EVENTS_TO = int(datetime(2026, 7, 1, tzinfo=UTC).timestamp()) * _US
_CUSTOMERS_FROM = int(datetime(2021, 1, 1, tzinfo=UTC).timestamp()) * _US
_CUSTOMERS_TO = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) * _US

SEGMENTS = ["SMB", "Mid-Market", "Enterprise"]
REGIONS = ["EMEA", "NA", "APAC", "LATAM"]
INDUSTRIES = ["software", "retail", "finance", "health", "manufacturing"]
CHANNELS = ["paid_search", "referral", "outbound", "events"]
DEAL_TYPES = ["new_business", "upsell", "cross_sell", "renewal"]
CATEGORIES = ["marketing", "sales", "retention", "other"]


def parse_size(text: str) -> int:
    """``100k``, ``1m``, ``10m`` or a plain number of rows."""
    key = text.lower()
    if key in SIZES:
        return SIZES[key]
    multiplier = {"k": 1_000, "m": 1_000_000}.get(key[-1:], 1)
    return int(float(key.rstrip("km")) * multiplier)


def _ids(prefix: str, n: int) -> pl.Series:
    return pl.select(pl.format(prefix + "{}", pl.int_range(n, dtype=pl.Int64).cast(pl.String).str.zfill(9)))[
        :, 0
    ]


def _timestamps(values: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _choice(rng: np.random.Generator, values: list[str], n: int, p: list[float] | None = None) -> pl.Series:
    codes = rng.choice(len(values), size=n, p=p)
    return pl.Series(values, dtype=pl.String).gather(pl.Series(codes))


def _with_nulls(rng: np.random.Generator, series: pl.Series, share: float) -> pl.Series:
    mask = pl.Series(rng.random(series.len()) < share)
    return pl.select(pl.when(mask).then(None).otherwise(series))[:, 0].alias(series.name)


def _event_times(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.sort(rng.integers(_EVENTS_FROM, _EVENTS_TO, size=n))


def customers(rng: np.random.Generator, n: int) -> pl.DataFrame:
    acquired = rng.integers(_CUSTOMERS_FROM, _CUSTOMERS_TO, size=n)
    lifetime = (rng.exponential(700, size=n) * _DAY).astype(np.int64) + rng.integers(0, _DAY, size=n)
    churned = np.where(rng.random(n) < 0.4, acquired + lifetime, np.iinfo(np.int64).min)
    churned_series = _timestamps(churned)
    churned_series = pl.select(
        pl.when(pl.Series(churned) == np.iinfo(np.int64).min).then(None).otherwise(churned_series)
    )[:, 0]
    return pl.DataFrame(
        {
            "customer_id": _ids("C", n),
            "name": _ids("Customer ", n),
            "acquired_at": _timestamps(acquired),
            "churned_at": churned_series,
            "segment": _with_nulls(rng, _choice(rng, SEGMENTS, n, [0.6, 0.3, 0.1]), 0.02),
            "region": _choice(rng, REGIONS, n),
            "industry": _choice(rng, INDUSTRIES, n),
            "acquisition_channel": _choice(rng, CHANNELS, n),
        }
    )


def _customer_refs(rng: np.random.Generator, customers_n: int, n: int) -> pl.Series:
    numbers = pl.Series(rng.integers(0, customers_n, size=n))
    return pl.select(pl.format("C{}", pl.lit(numbers).cast(pl.String).str.zfill(9)))[:, 0]


def _after(base: np.ndarray, rng: np.random.Generator, mean_days: float) -> np.ndarray:
    return base + (rng.exponential(mean_days, size=base.size) * _DAY).astype(np.int64)


def deals(rng: np.random.Generator, n: int, customers_n: int) -> pl.DataFrame:
    created = _event_times(rng, n)
    closed = rng.random(n) < 0.7
    won = closed & (rng.random(n) < 0.45)
    closed_at = _timestamps(_after(created, rng, 40))
    return pl.DataFrame(
        {
            "deal_id": _ids("D", n),
            "customer_id": _with_nulls(rng, _customer_refs(rng, customers_n, n), 0.05),
            "amount": _with_nulls(rng, pl.Series(np.round(rng.lognormal(8, 1, size=n), 2)), 0.03),
            "stage": pl.select(
                pl.when(pl.Series(won))
                .then(pl.lit("Closed Won"))
                .when(pl.Series(closed))
                .then(pl.lit("Closed Lost"))
                .otherwise(pl.lit("Negotiation"))
            )[:, 0],
            "is_closed": closed,
            "is_won": won,
            "deal_type": _with_nulls(rng, _choice(rng, DEAL_TYPES, n, [0.4, 0.25, 0.15, 0.2]), 0.05),
            "created_at": _timestamps(created),
            "closed_at": pl.select(pl.when(pl.Series(closed)).then(closed_at))[:, 0],
        }
    ).sort("closed_at", nulls_last=True)


def leads(rng: np.random.Generator, n: int, customers_n: int) -> pl.DataFrame:
    created = _event_times(rng, n)
    converted = rng.random(n) < 0.2
    mask = pl.Series(converted)
    return pl.DataFrame(
        {
            "lead_id": _ids("L", n),
            "created_at": _timestamps(created),
            "source": _with_nulls(rng, _choice(rng, CHANNELS, n), 0.1),
            "is_converted": converted,
            "converted_at": pl.select(pl.when(mask).then(_timestamps(_after(created, rng, 30))))[:, 0],
            "customer_id": pl.select(pl.when(mask).then(_customer_refs(rng, customers_n, n)))[:, 0],
        }
    )


def tickets(rng: np.random.Generator, n: int, customers_n: int) -> pl.DataFrame:
    created = _event_times(rng, n)
    response = created + (rng.exponential(6, size=n) * 3600 * _US).astype(np.int64)
    resolved = response + (rng.exponential(2, size=n) * _DAY).astype(np.int64)
    return pl.DataFrame(
        {
            "ticket_id": _ids("T", n),
            "customer_id": _with_nulls(rng, _customer_refs(rng, customers_n, n), 0.03),
            "created_at": _timestamps(created),
            "first_response_at": _with_nulls(rng, _timestamps(response), 0.15),
            "resolved_at": _with_nulls(rng, _timestamps(resolved), 0.2),
            "handle_time_seconds": _with_nulls(rng, pl.Series(rng.gamma(2, 600, size=n)), 0.1),
            "channel": _choice(rng, ["email", "phone", "chat", "web"], n),
            "priority": _choice(rng, ["low", "normal", "high"], n),
        }
    )


def survey_responses(rng: np.random.Generator, n: int, customers_n: int) -> pl.DataFrame:
    kinds = rng.choice(3, size=n, p=[0.6, 0.25, 0.15])
    high = np.array([10, 5, 7])[kinds]
    low = np.array([0, 1, 1])[kinds]
    scores = low + np.floor(rng.random(n) * (high - low + 1))
    return pl.DataFrame(
        {
            "response_id": _ids("S", n),
            "customer_id": _with_nulls(rng, _customer_refs(rng, customers_n, n), 0.05),
            "survey_type": pl.Series(["nps", "csat", "ces"]).gather(pl.Series(kinds)),
            "score": scores.astype(np.float64),
            "submitted_at": _timestamps(_event_times(rng, n)),
        }
    )


def spend(rng: np.random.Generator, n: int, customers_n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "spend_id": _ids("X", n),
            "spent_at": _timestamps(_event_times(rng, n)),
            "category": _choice(rng, CATEGORIES, n, [0.45, 0.3, 0.15, 0.1]),
            "channel": _with_nulls(rng, _choice(rng, CHANNELS, n), 0.2),
            "amount": np.round(rng.lognormal(6, 1, size=n), 2),
        }
    )


def revenue(rng: np.random.Generator, n: int, customers_n: int) -> pl.DataFrame:
    amount = np.round(rng.lognormal(7, 0.8, size=n), 2)
    return pl.DataFrame(
        {
            "revenue_id": _ids("R", n),
            "customer_id": _customer_refs(rng, customers_n, n),
            "recognized_at": _timestamps(_event_times(rng, n)),
            "amount": amount,
            "cost": _with_nulls(rng, pl.Series(np.round(amount * rng.uniform(0.1, 0.6, size=n), 2)), 0.1),
        }
    )


def activity(rng: np.random.Generator, n: int, customers_n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "activity_id": _ids("A", n),
            "customer_id": _customer_refs(rng, customers_n, n),
            "occurred_at": _timestamps(_event_times(rng, n)),
            "activity_type": _choice(rng, ["login", "feature", "meeting", "export"], n),
        }
    )


EVENT_TABLES: dict[str, Callable[[np.random.Generator, int, int], pl.DataFrame]] = {
    "deals": deals,
    "leads": leads,
    "tickets": tickets,
    "survey_responses": survey_responses,
    "spend": spend,
    "revenue": revenue,
    "activity": activity,
}


def generate(rows: int, folder: Path, *, seed: int = SEED, verbose: bool = False) -> Path:
    """Write the canonical tables for ``rows`` rows per event table into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    customers_n = max(rows // 10, 10)
    tables: dict[str, Callable[[np.random.Generator, int], pl.DataFrame]] = {
        "customers": lambda rng, n: customers(rng, customers_n),
        **{name: (lambda rng, n, f=f: f(rng, n, customers_n)) for name, f in EVENT_TABLES.items()},
    }
    for index, (name, make) in enumerate(tables.items()):
        began = time.perf_counter()
        # One generator per table, seeded from the table's position: a table's rows do not
        # depend on how many rows another table has.
        frame = make(np.random.default_rng([seed, index, rows]), rows)
        frame.write_parquet(folder / f"{name}.parquet", row_group_size=256 * 1024)
        if verbose:
            print(f"  {name}: {frame.height:,} rows in {time.perf_counter() - began:.1f}s")
        del frame
    (folder / "ROWS").write_text(f"{rows}\n")
    return folder


def ensure(rows: int, *, verbose: bool = False) -> Path:
    """The data folder for ``rows``, generated on first use."""
    folder = DATA / str(rows)
    marker = folder / "ROWS"
    if not (marker.is_file() and marker.read_text().strip() == str(rows)):
        if verbose:
            print(f"generating {rows:,} rows per event table into {folder}")
        generate(rows, folder, verbose=verbose)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100k", help="rows per event table: 100k, 1m, 10m or a number")
    parser.add_argument("--out", type=Path, default=None, help="folder (default benchmarks/data/ROWS)")
    args = parser.parse_args()
    rows = parse_size(args.rows)
    if args.out is None:
        ensure(rows, verbose=True)
    else:
        generate(rows, args.out, verbose=True)


if __name__ == "__main__":
    main()
