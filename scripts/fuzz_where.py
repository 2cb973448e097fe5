"""Try hostile and clumsy ``--where`` filters on every backend and count what gives way.

Each attempt is evaluated through the Python API on Polars and DuckDB and rendered as SQL
in every dialect. An attempt must either work or raise one of crmetrics' own errors; the
script counts the others:

- a traceback: any other exception;
- an escape: a rendering that, parsed back, holds more than one statement, a comment, a
  table other than the canonical ones and the statement's own CTEs, or a function outside
  what the formula language renders (``read_csv``, ``pg_read_file``, ...).

Usage::

    python scripts/fuzz_where.py [--seed 15] [--count 400]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter

import sqlglot
from sqlglot import exp

COLUMNS = ["segment", "region", "industry", "acquisition_channel"]
HOSTILE_VALUES = [
    "SMB",
    "O'Brien",
    "a''b",
    "back\\slash",
    "semi;colon",
    "-- comment",
    "/* open",
    "*/",
    "'; DROP TABLE customers; --",
    "\\'; SELECT 1; --",
    "ünïcødé ✓ 日本",
    "x" * 5_000,
    "\n",
    "$$",
    "${x}",
    "%s",
    "\x00",
]
BROKEN = [
    "segment = 'SMB",
    'segment = "SMB',
    "segment IN ('a', 1)",
    "segment IN (1, 2)",
    "segment = 1",
    "segment > 3",
    "region IN ('EMEA', NULL, 2.5)",
    "(segment = 'SMB'",
    "segment = 'SMB')",
    "segment = 'SMB'; DROP TABLE customers",
    "segment = 'SMB' -- and the rest",
    "segment = 'SMB' /* rest",
    "segment IN (SELECT segment FROM customers)",
    "EXISTS (SELECT 1)",
    "read_csv('/etc/passwd') IS NOT NULL",
    "segment = (SELECT 'SMB')",
    "pg_read_file('/etc/passwd') = 'x'",
    "segment = current_setting('x')",
    "1 = 1 UNION SELECT * FROM deals",
    "segment LIKE '%",
    "segment =",
    "= 'SMB'",
    "",
    " ",
    "\x00",
    "segment = 'SMB' AND",
    "segment BETWEEN 'a' AND 3",
    "CASE WHEN segment THEN 1 END = 1",
    "segment::int = 1",
    "CAST(segment AS INT) = 1",
    "nosuchcolumn = 'x'",
    "\"segment\" = 'SMB'",
    '"seg""ment" = \'x\'',
    "`segment` = 'x'",
    "[segment] = 'x'",
    "segment = 'a' OR 1=1",
    "segment IS NULL OR region IS NOT NULL",
    "NOT segment",
    "segment = x'41'",
    "segment = E'\\x41'",
    "segment = $$SMB$$",
    "segment = @x",
    "segment = :x",
    "segment = ?",
    "segment = 'SMB' COLLATE \"C\"",
    "((((((((((segment = 'SMB'))))))))))",
    "(" * 500 + "segment = 'SMB'" + ")" * 500,
    "segment = 'SMB' " + "AND segment = 'SMB' " * 300,
]
OPERATORS = ["=", "<>", "!=", "<", ">=", "LIKE", "NOT LIKE", "IN", "NOT IN"]
KNOWN_FUNCTIONS = {
    "date_trunc",
    "datetrunc",
    "timestamp_trunc",
    "trunc",
    "cast",
    "try_cast",
    "coalesce",
    "nullif",
    "if",
    "iff",
    "case",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "lag",
    "row_number",
    "floor",
    "ceil",
    "abs",
    "round",
    "median",
    "percentile_cont",
    "quantile_cont",
    "approx_quantile",
    "date_diff",
    "datediff",
    "timestamp_diff",
    "extract",
    "epoch",
    "unix_timestamp",
    "to_unix_timestamp",
    "date_add",
    "dateadd",
    "timestamp_add",
    "date_sub",
    "greatest",
    "least",
    "lower",
    "upper",
    "length",
    "concat",
    "substring",
    "ln",
    "exp",
    "power",
    "pow",
    "sqrt",
    "sign",
    "mod",
    "div",
    "make_interval",
    "interval",
    "to_timestamp",
    "timestamp",
    "current_timestamp",
    "max_by",
    "min_by",
    "generate_series",
    "unnest",
    "explode",
    "sequence",
    "range",
    "date",
    "to_date",
    "day",
    "dayofweek",
    "isodow",
    "dow",
    "last_day",
    "months_between",
    "date_part",
    "datepart",
    "at_time_zone",
    "convert_timezone",
    "from_utc_timestamp",
    "struct",
    "array",
    "count_if",
    "countif",
    "bool_or",
    "bool_and",
    "logical_or",
    "logical_and",
    "first_value",
    "last_value",
    "any_value",
    "stddev",
    "stddev_samp",
    "variance",
    "var_samp",
    "corr",
    "regexp_like",
    "regexp_matches",
    "rlike",
    "contains",
    "starts_with",
    "startswith",
    "ends_with",
    "strpos",
    "position",
    "replace",
    "trim",
    "ltrim",
    "rtrim",
    "split",
    "split_part",
    "element_at",
    "cardinality",
    "size",
    "len",
}


def attempts(rng: random.Random, count: int) -> list[str]:
    """The fixed broken filters, then random ones made of columns, operators and hostile values."""
    found = list(BROKEN)
    while len(found) < count:
        column = rng.choice(COLUMNS)
        if rng.random() < 0.1:  # a hostile column name, quoted
            column = '"' + rng.choice(HOSTILE_VALUES).replace('"', '""') + '"'
        operator = rng.choice(OPERATORS)
        values = ["'" + rng.choice(HOSTILE_VALUES).replace("'", "''") + "'" for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.1:
            values.append(rng.choice(["1", "2.5", "NULL", "TRUE", "1e309"]))
        if operator.endswith("IN"):
            found.append(f"{column} {operator} ({', '.join(values)})")
        else:
            found.append(f"{column} {operator} {values[0]}")
    return found


def escapes(sql: str, dialect: str) -> list[str]:
    """What a rendering does beyond one statement over the canonical tables."""
    from crmetrics.model import TABLES

    problems = []
    try:
        statements = sqlglot.parse(sql, read=dialect)
    except sqlglot.errors.SqlglotError as error:
        return [f"does not parse back: {str(error)[:60]}"]
    if len(statements) != 1:
        problems.append(f"{len(statements)} statements")
    tree = statements[0]
    if tree is None:
        return ["empty"]
    if any(node.comments for node in tree.walk()):
        problems.append("a comment")
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.name not in ctes and table.name not in TABLES:
            problems.append(f"table {table.name!r}")
    for function in tree.find_all(exp.Anonymous):
        if str(function.this).lower() not in KNOWN_FUNCTIONS:
            problems.append(f"function {function.this!r}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--count", type=int, default=400)
    args = parser.parse_args()

    import crmetrics
    from crmetrics.errors import CrmetricsError
    from crmetrics.plan import Request
    from crmetrics.sql.dialects import DIALECTS

    engine = crmetrics.Engine()
    outcomes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for where in attempts(random.Random(args.seed), args.count):
        for backend in ("polars", "duckdb", *(f"sql:{d}" for d in DIALECTS)):
            try:
                request = Request.build(
                    ["new_customers"], start="2024-01-01", end="2024-03-01", by=["segment"], where=where
                )
                if backend.startswith("sql:"):
                    dialect = backend.removeprefix("sql:")
                    found = escapes(engine.sql(request, dialect), dialect)
                    if found:
                        outcomes["escape"] += 1
                        kinds[f"escape ({dialect}): {found[0]}"] += 1
                        continue
                else:
                    engine.evaluate(request, "sample", engine=backend)
                outcomes["ok"] += 1
            except CrmetricsError:
                outcomes["error"] += 1
            except Exception as error:  # what the script is here to count
                outcomes["traceback"] += 1
                first = str(error).splitlines()[0][:60] if str(error) else ""
                kinds[f"{type(error).__name__}: {first}"] += 1
    total = sum(outcomes.values())
    print(f"{args.count} filters x 9 backends = {total} attempts (seed {args.seed})")
    for outcome in ("ok", "error", "traceback", "escape"):
        print(f"  {outcome:9} {outcomes[outcome]}")
    for kind, count in kinds.most_common(15):
        print(f"  {count:5} x {kind}")
    return 1 if outcomes["traceback"] or outcomes["escape"] else 0


if __name__ == "__main__":
    sys.exit(main())
