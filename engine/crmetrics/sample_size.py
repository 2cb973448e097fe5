"""Sample sizes: the ``n`` behind a score, and ``min_n`` to hide values resting on too few.

A score-like metric names, under ``n:`` in its definition, the count metric that gives
the number of rows or entities behind each of its values (``net_promoter_score`` has
``n: nps_responses``). That metric is evaluated in the same run, with the same grain,
range, grouping and filter, so each value's ``n`` is simply the count metric's value in
the same (period, group). ``min_n`` turns a value whose ``n`` is below it into null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import polars as pl

from crmetrics.catalog import Catalog
from crmetrics.errors import Issue
from crmetrics.periods import PERIOD_START
from crmetrics.plan import Request

N_COLUMN = "n"
_OF = "__n_of"


@dataclass(frozen=True)
class Suppressed:
    """Values turned null because their ``n`` was below ``min_n``, counted per metric."""

    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        """The number of values suppressed, over every metric."""
        return sum(self.counts.values())

    def issue(self) -> Issue:
        """The warning saying how many values were hidden, per metric."""
        per_metric = ", ".join(f"{m} {n}" for m, n in sorted(self.counts.items()))
        return Issue(
            "suppressed",
            f"{self.total} value(s) shown as null because their n was below min_n ({per_metric})",
            severity="warning",
            hint="lower --min-n, or widen the grain or the groups to gather more rows",
        )


def sample_sizes(catalog: Catalog, names: Sequence[str]) -> dict[str, str]:
    """Each of ``names`` that has an ``n``, with the count metric giving it."""
    return {name: catalog.metrics[name].n for name in names if catalog.metrics[name].n}


def thresholds(catalog: Catalog, names: Sequence[str], override: int | None) -> dict[str, int]:
    """The ``min_n`` of each metric of ``names`` with an ``n``; ``override`` replaces the YAML's."""
    chosen = {}
    for name, _ in sample_sizes(catalog, names).items():
        value = override if override is not None else catalog.metrics[name].min_n
        if value is not None:
            chosen[name] = value
    return chosen


def with_counts(request: Request, catalog: Catalog, names: Sequence[str]) -> Request:
    """``request`` evaluating, besides ``names``, the count metrics that give their ``n``."""
    extra = [n for n in sample_sizes(catalog, names).values() if n not in names]
    return replace(request, metrics=tuple(dict.fromkeys([*names, *extra])))


def attach(
    result: pl.DataFrame,
    catalog: Catalog,
    names: Sequence[str],
    by: Sequence[str],
    *,
    min_n: Mapping[str, int],
) -> tuple[pl.DataFrame, Suppressed]:
    """``result`` with an ``n`` column, values below their ``min_n`` nulled, only ``names`` kept.

    A metric without an ``n`` gets a null ``n``. A (period, group) where the count metric
    has no row has ``n`` null and is never suppressed: there is nothing to compare.
    """
    sizes = sample_sizes(catalog, names)
    keys = [PERIOD_START, *by]
    pairs = pl.DataFrame(
        {"metric": list(sizes), _OF: list(sizes.values())}, schema={"metric": pl.String, _OF: pl.String}
    )
    counts = result.select(
        pl.col("metric").alias(_OF), *keys, pl.col("value").round().cast(pl.Int64).alias(N_COLUMN)
    )
    limits = pl.DataFrame(
        {"metric": list(min_n), "__min_n": list(min_n.values())},
        schema={"metric": pl.String, "__min_n": pl.Int64},
    )
    joined = (
        result.join(pairs, on="metric", how="left", maintain_order="left")
        .join(counts, on=[_OF, *keys], how="left", nulls_equal=True, maintain_order="left")
        .join(limits, on="metric", how="left", maintain_order="left")
        .with_columns(
            (pl.col("value").is_not_null() & (pl.col(N_COLUMN) < pl.col("__min_n")))
            .fill_null(False)
            .alias("__hide")
        )
    )
    hidden = joined.filter(pl.col("__hide")).group_by("metric").len()
    suppressed = Suppressed(dict(zip(hidden["metric"].to_list(), hidden["len"].to_list(), strict=True)))
    out = (
        joined.with_columns(pl.when(~pl.col("__hide")).then(pl.col("value")).alias("value"))
        .filter(pl.col("metric").is_in(list(names)))
        .drop(_OF, "__min_n", "__hide")
    )
    return out, suppressed


__all__ = ["N_COLUMN", "Suppressed", "attach", "sample_sizes", "thresholds", "with_counts"]
