"""The whole catalog as one hand-written DuckDB SQL statement over the Parquet files.

The same algorithm as the hand-written Polars script: windowed scans, segments joined only
when grouping, the health score from a baseline plus the customers with events, and the
derived ratios on one wide row per (period, group). Ungrouped runs use one constant group.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import polars as pl

from benchmarks.common import (
    GROUP_SOURCES,
    NEUTRAL_SATISFACTION,
    SATISFACTION_WEIGHT,
    SUPPORT_WEIGHT,
    TICKET_TARGET,
    USAGE_TARGET,
    USAGE_WEIGHT,
    metrics_for,
)

W, E, S, BEFORE = (
    "TIMESTAMPTZ '2023-12-01 00:00:00+00'",
    "TIMESTAMPTZ '2026-01-01 00:00:00+00'",
    "TIMESTAMPTZ '2024-01-01 00:00:00+00'",
    "TIMESTAMPTZ '2023-11-01 00:00:00+00'",
)


def _sql(folder: Path, grouped: bool) -> str:
    def t(table: str) -> str:
        return f"read_parquet('{folder / (table + '.parquet')}')"

    g = "segment" if grouped else "'all'"

    def events(table: str, time: str, columns: str) -> str:
        window = f"x.{time} >= {W} AND x.{time} < {E}"
        if grouped:
            return (
                f"SELECT {columns}, date_trunc('month', x.{time}) AS p, c.g FROM {t(table)} x "
                f"LEFT JOIN cust c ON x.customer_id = c.customer_id WHERE {window}"
            )
        return (
            f"SELECT {columns}, date_trunc('month', x.{time}) AS p, 'all' AS g "
            f"FROM {t(table)} x WHERE {window}"
        )

    def groups(table: str) -> str:
        if not grouped:
            return "SELECT 'all' AS g"
        if table == "customers":
            return "SELECT DISTINCT g FROM cust"
        return (
            f"SELECT DISTINCT c.g FROM (SELECT DISTINCT customer_id FROM {t(table)}) x "
            "LEFT JOIN cust c ON x.customer_id = c.customer_id"
        )

    sources = sorted({s for m in metrics_for(grouped) for s in GROUP_SOURCES.get(m, ("customers",))})
    flags = ", ".join(f"bool_or(src = '{s}') AS in_{s}" for s in sources)
    group_union = " UNION ALL ".join(f"SELECT g, '{s}' AS src FROM ({groups(s)})" for s in sources)
    baseline = 100 * (SATISFACTION_WEIGHT * NEUTRAL_SATISFACTION + SUPPORT_WEIGHT)
    score = (
        f"100 * ({USAGE_WEIGHT} * least(coalesce(a.n, 0) / {USAGE_TARGET}, 1)"
        f" + {SATISFACTION_WEIGHT} * coalesce(s.m / 10, {NEUTRAL_SATISFACTION})"
        f" + {SUPPORT_WEIGHT} * (1 - least(coalesce(k.n, 0) / {TICKET_TARGET}, 1)))"
    )
    spend = (
        f"""
    spend AS (
        SELECT p, g,
            sum(amount) FILTER (WHERE category IN ('marketing', 'sales')) AS sales_marketing_spend,
            sum(amount) FILTER (WHERE category = 'retention') AS retention_spend
        FROM ({events("spend", "spent_at", "amount, category")}) GROUP BY p, g
    ),"""
        if not grouped
        else ""
    )
    eq = "IS NOT DISTINCT FROM"
    spend_join = "LEFT JOIN spend USING (p, g)" if not grouped else ""
    spend_metrics = (
        """,
        CASE WHEN new_customers <> 0 THEN sales_marketing_spend / new_customers END
            AS customer_acquisition_cost,
        CASE WHEN new_customers <> 0 AND retention_spend / nullif(customers_at_start, 0) <> 0
            THEN (sales_marketing_spend / new_customers) / (retention_spend / customers_at_start)
        END AS acquisition_retention_cost_ratio,
        coalesce(sales_marketing_spend, 0) AS sales_marketing_spend_,
        coalesce(retention_spend, 0) AS retention_spend_"""
        if not grouped
        else ""
    )
    names = list(metrics_for(grouped))
    selected = {n: n for n in names}
    if not grouped:
        selected["sales_marketing_spend"] = "sales_marketing_spend_"
        selected["retention_spend"] = "retention_spend_"
    long = " UNION ALL ".join(
        f"SELECT '{n}' AS metric, p, g, CAST({selected[n]} AS DOUBLE) AS value FROM derived"
        + (" WHERE " + " OR ".join(f"in_{s}" for s in GROUP_SOURCES[n]) if grouped else "")
        for n in names
    )
    return f"""
    WITH
    cust AS (SELECT customer_id, acquired_at, churned_at, {g} AS g FROM {t("customers")}),
    months AS (SELECT unnest(generate_series({W}, {E} - INTERVAL 1 MONTH, INTERVAL 1 MONTH)) AS p),
    member AS (SELECT g, {flags} FROM ({group_union}) GROUP BY g),
    grid AS (SELECT months.p, member.* FROM months CROSS JOIN member),
    acquired AS (
        SELECT date_trunc('month', acquired_at) AS p, g, count(*) AS new_customers FROM cust
        WHERE acquired_at >= {W} AND acquired_at < {E} GROUP BY ALL
    ),
    lost AS (
        SELECT date_trunc('month', churned_at) AS p, g, count(*) AS lost_customers FROM cust
        WHERE churned_at >= {W} AND churned_at < {E} GROUP BY ALL
    ),
    deltas AS (
        SELECT b AS p, g, sum(d) AS d FROM (
            SELECT greatest(date_trunc('month', acquired_at), {BEFORE}) AS b, g, 1 AS d FROM cust
            UNION ALL
            SELECT greatest(date_trunc('month', churned_at), {BEFORE}), g, -1 FROM cust
            WHERE churned_at IS NOT NULL
        ) WHERE b < {E} GROUP BY ALL
    ),
    running AS (
        SELECT x.p, x.g, coalesce(deltas.d, 0) AS d,
            sum(coalesce(deltas.d, 0)) OVER (PARTITION BY x.g ORDER BY x.p) AS customers_at_end
        FROM (
            SELECT m.p, c.g FROM (SELECT {BEFORE} AS p UNION ALL SELECT p FROM months) m
            CROSS JOIN ({groups("customers")}) c
        ) x LEFT JOIN deltas ON x.p = deltas.p AND x.g {eq} deltas.g
    ),
    snapshot AS (
        SELECT p, g, customers_at_end - d AS customers_at_start, customers_at_end FROM running
        WHERE p > {BEFORE}
    ),
    revenue AS (
        SELECT p, g, sum(amount) AS revenue, sum(coalesce(cost, 0)) AS cost_of_revenue,
            count(DISTINCT customer_id) AS paying_customers
        FROM ({events("revenue", "recognized_at", "amount, cost, x.customer_id")}) GROUP BY p, g
    ),{spend}
    deals AS (
        SELECT p, g,
            count(*) FILTER (WHERE is_won AND deal_type IN ('upsell', 'cross_sell')) AS expansion_deals
        FROM ({events("deals", "closed_at", "is_won, deal_type")}) GROUP BY p, g
    ),
    nps AS (
        SELECT p, g, 100 * (count(*) FILTER (WHERE score >= 9) - count(*) FILTER (WHERE score <= 6))
            / count(*) AS net_promoter_score
        FROM ({events("survey_responses", "submitted_at", "score, survey_type")}) WHERE survey_type = 'nps'
        GROUP BY p, g
    ),
    leads AS (
        SELECT p, g, count(*) FILTER (WHERE is_converted) / count(*) AS lead_conversion_rate
        FROM ({events("leads", "created_at", "is_converted")}) GROUP BY p, g
    ),
    tickets AS (
        SELECT p, g, avg(date_diff('microsecond', created_at, first_response_at) / 3.6e9)
            AS customer_service_response_time
        FROM ({events("tickets", "created_at", "x.created_at, first_response_at")}) GROUP BY p, g
    ),
    act AS (
        SELECT customer_id, date_trunc('month', occurred_at) AS p, count(*) AS n FROM {t("activity")}
        WHERE occurred_at >= {W} AND occurred_at < {E} GROUP BY ALL
    ),
    tix AS (
        SELECT customer_id, date_trunc('month', created_at) AS p, count(*) AS n FROM {t("tickets")}
        WHERE created_at >= {W} AND created_at < {E} AND customer_id IS NOT NULL GROUP BY ALL
    ),
    sat AS (
        SELECT customer_id, date_trunc('month', submitted_at) AS p,
            avg(score) FILTER (WHERE survey_type = 'nps') AS m FROM {t("survey_responses")}
        WHERE submitted_at >= {W} AND submitted_at < {E} AND customer_id IS NOT NULL GROUP BY ALL
    ),
    measured AS (
        SELECT coalesce(a.customer_id, k.customer_id, s.customer_id) AS customer_id,
            coalesce(a.p, k.p, s.p) AS p, {score} - {baseline} AS lift
        FROM act a
        FULL JOIN tix k ON a.customer_id = k.customer_id AND a.p = k.p
        FULL JOIN sat s ON coalesce(a.customer_id, k.customer_id) = s.customer_id AND coalesce(a.p, k.p) = s.p
    ),
    lift AS (
        SELECT m.p, c.g, sum(m.lift) AS lift FROM measured m JOIN cust c ON m.customer_id = c.customer_id
        WHERE date_trunc('month', c.acquired_at) <= m.p
            AND (c.churned_at IS NULL OR date_trunc('month', c.churned_at) > m.p)
        GROUP BY ALL
    ),
    wide AS (
        SELECT grid.*,
            coalesce(new_customers, 0) AS new_customers, coalesce(lost_customers, 0) AS lost_customers,
            coalesce(customers_at_start, 0) AS customers_at_start,
            coalesce(customers_at_end, 0) AS customers_at_end,
            coalesce(revenue, 0) AS revenue, coalesce(cost_of_revenue, 0) AS cost_of_revenue,
            coalesce(paying_customers, 0) AS paying_customers,
            coalesce(expansion_deals, 0) AS expansion_deals,
            net_promoter_score, lead_conversion_rate, customer_service_response_time,
            coalesce(lift.lift, 0) AS lift
            {", sales_marketing_spend, retention_spend" if not grouped else ""}
        FROM grid
        LEFT JOIN acquired ON grid.p = acquired.p AND grid.g {eq} acquired.g
        LEFT JOIN lost ON grid.p = lost.p AND grid.g {eq} lost.g
        LEFT JOIN snapshot ON grid.p = snapshot.p AND grid.g {eq} snapshot.g
        LEFT JOIN revenue ON grid.p = revenue.p AND grid.g {eq} revenue.g
        LEFT JOIN deals ON grid.p = deals.p AND grid.g {eq} deals.g
        LEFT JOIN nps ON grid.p = nps.p AND grid.g {eq} nps.g
        LEFT JOIN leads ON grid.p = leads.p AND grid.g {eq} leads.g
        LEFT JOIN tickets ON grid.p = tickets.p AND grid.g {eq} tickets.g
        LEFT JOIN lift ON grid.p = lift.p AND grid.g {eq} lift.g
        {spend_join.replace("USING (p, g)", f"ON grid.p = spend.p AND grid.g {eq} spend.g")}
    ),
    ratios AS (
        SELECT *,
            CASE WHEN customers_at_start <> 0 THEN lost_customers / customers_at_start END AS churn_rate,
            CASE WHEN paying_customers <> 0 THEN revenue / paying_customers END AS revenue_per_customer,
            lag(revenue) OVER (PARTITION BY g ORDER BY p) AS prior_revenue,
            date_diff('microsecond', p, p + INTERVAL 1 MONTH) / 86400e6 AS days
        FROM wide
    ),
    derived AS (
        SELECT *,
            CASE WHEN customers_at_start <> 0 THEN expansion_deals / customers_at_start END
                AS upsell_cross_sell_rate,
            CASE WHEN revenue <> 0 THEN (revenue - cost_of_revenue) / revenue END AS gross_profit_margin,
            CASE WHEN prior_revenue <> 0 THEN (revenue - prior_revenue) / prior_revenue END
                AS revenue_growth_rate,
            CASE WHEN customers_at_start <> 0 THEN (customers_at_end - new_customers) / customers_at_start END
                AS customer_retention_rate,
            CASE WHEN customers_at_end <> 0 THEN ({baseline} * customers_at_end + lift) / customers_at_end END
                AS customer_health_score,
            (revenue_per_customer * 365.25 / days)
                * (days / 365.25 / CASE WHEN churn_rate <> 0 THEN churn_rate END)
                AS customer_lifetime_value
            {spend_metrics}
        FROM ratios WHERE p >= {S}
    )
    SELECT metric, CAST(p AS DATE) AS period_start, g, value FROM ({long})
    """


def compute(folder: Path, grouped: bool) -> pl.DataFrame:
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        result = connection.sql(_sql(folder, grouped)).pl()
    finally:
        connection.close()
    result = result.with_columns(pl.col("value").fill_nan(None))
    return result.rename({"g": "segment"}) if grouped else result.drop("g")


def main() -> None:
    print(compute(Path(sys.argv[1]), sys.argv[2] == "grouped"))


if __name__ == "__main__":
    main()
