WITH "__1_customers" AS (
  SELECT
    *
  FROM "analytics"."dim_customers" AS "t"
), "__2_snapshot_changes" AS (
  SELECT
    "segment",
    DATE_TRUNC('MONTH', "acquired_at") AS "__bucket",
    1 AS "__delta"
  FROM "__1_customers" AS "t"
  WHERE
    NOT "acquired_at" IS NULL
  UNION ALL
  SELECT
    "segment",
    DATE_TRUNC('MONTH', "churned_at") AS "__bucket",
    -1 AS "__delta"
  FROM "__1_customers" AS "t"
  WHERE
    NOT "acquired_at" IS NULL AND NOT "churned_at" IS NULL
), "__3_snapshot_deltas" AS (
  SELECT
    CASE
      WHEN "__bucket" > CAST('2024-12-01 00:00:00' AS TIMESTAMP)
      THEN "__bucket"
      ELSE CAST('2024-12-01 00:00:00' AS TIMESTAMP)
    END AS "period_start",
    "segment",
    SUM("__delta") AS "__delta"
  FROM "__2_snapshot_changes" AS "t"
  WHERE
    "__bucket" < CAST('2025-04-01 00:00:00' AS TIMESTAMP)
  GROUP BY
    CASE
      WHEN "__bucket" > CAST('2024-12-01 00:00:00' AS TIMESTAMP)
      THEN "__bucket"
      ELSE CAST('2024-12-01 00:00:00' AS TIMESTAMP)
    END,
    "segment"
), "__4_periods" AS (
  SELECT
    CAST("v"."period_start" AS TIMESTAMP) AS "period_start",
    CAST("v"."__previous_start" AS TIMESTAMP) AS "__previous_start",
    "v"."__period_days" AS "__period_days"
  FROM (VALUES
    ('2025-01-01 00:00:00', '2024-12-01 00:00:00', CAST(31.0 AS DOUBLE)),
    ('2025-02-01 00:00:00', '2025-01-01 00:00:00', CAST(28.0 AS DOUBLE)),
    ('2025-03-01 00:00:00', '2025-02-01 00:00:00', CAST(31.0 AS DOUBLE))) AS "v"("period_start", "__previous_start", "__period_days")
), "__5_snapshot_periods" AS (
  SELECT
    CAST('2024-12-01 00:00:00' AS TIMESTAMP) AS "period_start"
  UNION ALL
  SELECT
    "period_start"
  FROM "__4_periods" AS "p"
), "__6_groups" AS (
  SELECT DISTINCT
    "segment"
  FROM "__1_customers" AS "t"
), "__7_grid" AS (
  SELECT
    "p"."period_start",
    "g".*
  FROM "__5_snapshot_periods" AS "p"
  CROSS JOIN "__6_groups" AS "g"
), "__8_snapshot_running" AS (
  SELECT
    "g"."period_start",
    "g"."segment",
    COALESCE("d"."__delta", 0) AS "__delta",
    SUM(COALESCE("d"."__delta", 0)) OVER (
      PARTITION BY "g"."segment"
      ORDER BY "g"."period_start"
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS "__at_end"
  FROM "__7_grid" AS "g"
  LEFT JOIN "__3_snapshot_deltas" AS "d"
    ON "g"."period_start" = "d"."period_start"
    AND "g"."segment" IS NOT DISTINCT FROM "d"."segment"
), "__9_snapshot" AS (
  SELECT
    "period_start",
    "segment",
    "__at_end" - "__delta" AS "__at_start",
    "__at_end"
  FROM "__8_snapshot_running" AS "r"
  WHERE
    "period_start" > CAST('2024-12-01 00:00:00' AS TIMESTAMP)
), "__10_grid" AS (
  SELECT
    "p"."period_start",
    "g".*
  FROM "__4_periods" AS "p"
  CROSS JOIN "__6_groups" AS "g"
), "__11_window" AS (
  SELECT
    *
  FROM "__1_customers" AS "t"
  WHERE
    "churned_at" >= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
    AND "churned_at" < CAST('2025-04-01 00:00:00' AS TIMESTAMP)
), "__12_aggregate" AS (
  SELECT
    DATE_TRUNC('MONTH', "churned_at") AS "period_start",
    "segment",
    COUNT(*) AS "lost_customers",
    COUNT(*) AS "__rows"
  FROM "__11_window" AS "t"
  GROUP BY
    DATE_TRUNC('MONTH', "churned_at"),
    "segment"
), "__13_complete" AS (
  SELECT
    "g"."period_start",
    "g"."segment",
    CASE WHEN "v"."__rows" IS NULL THEN 0 ELSE "v"."lost_customers" END AS "lost_customers"
  FROM "__10_grid" AS "g"
  LEFT JOIN "__12_aggregate" AS "v"
    ON "g"."period_start" = "v"."period_start"
    AND "g"."segment" IS NOT DISTINCT FROM "v"."segment"
), "__14_derived_stack" AS (
  SELECT
    "period_start",
    "segment",
    CAST("__at_start" AS DOUBLE) AS "__input_0",
    CAST(NULL AS DOUBLE) AS "__input_1"
  FROM "__9_snapshot" AS "f"
  UNION ALL
  SELECT
    "period_start",
    "segment",
    CAST(NULL AS DOUBLE) AS "__input_0",
    CAST("lost_customers" AS DOUBLE) AS "__input_1"
  FROM "__13_complete" AS "f"
), "__15_derived_merged" AS (
  SELECT
    "period_start",
    "segment",
    MAX("__input_0") AS "__input_0",
    MAX("__input_1") AS "__input_1"
  FROM "__14_derived_stack" AS "s"
  GROUP BY
    "period_start",
    "segment"
), "__16_derived_inputs" AS (
  SELECT
    "k"."period_start",
    "k"."segment",
    COALESCE("k"."__input_0", 0) AS "customers_at_start",
    COALESCE("k"."__input_1", 0) AS "lost_customers",
    "p"."__period_days"
  FROM "__15_derived_merged" AS "k"
  LEFT JOIN "__4_periods" AS "p"
    ON "k"."period_start" = "p"."period_start"
), "__17_derived" AS (
  SELECT
    "period_start",
    "segment",
    CAST("lost_customers" AS DOUBLE) / NULLIF("customers_at_start", 0) AS "churn_rate"
  FROM "__16_derived_inputs" AS "w"
), "__18_result" AS (
  SELECT
    'churn_rate' AS "metric",
    CAST("period_start" AS DATE) AS "period_start",
    "segment",
    CAST("churn_rate" AS DOUBLE) AS "value"
  FROM "__17_derived" AS "m"
  WHERE
    "period_start" >= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
)
SELECT
  *
FROM "__18_result" AS "r"
ORDER BY
  "metric" NULLS FIRST,
  "period_start" NULLS FIRST,
  "segment" NULLS FIRST;
