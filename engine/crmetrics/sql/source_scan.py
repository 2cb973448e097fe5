"""The canonical tables of a SQL engine, read where the data lies.

Parquet files are read by the engine itself (DuckDB's ``read_parquet``, Spark's reader), and
warehouse tables (a DuckDB file, the Spark catalog) are read where they are; either way each
table is converted and checked in SQL (``canonical_sql``), as a view the engine reads
lazily, so no source table passes through this process. Only two things come back: the
one-row counts of each table's checks, and the metrics' result.

A table whose checks are clean (now, or on an earlier run of the unchanged file, see
``checks_cache``) is used through its view. A table that breaks a rule, or that needs text
parsed, takes the row-by-row path of ``crmetrics.canonical`` instead: it is read into this
process once, so that the error names the offending rows, or the rows are rejected and
duplicate keys dropped, exactly as on the Polars engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlglot import exp

from crmetrics.canonical import ROWS_CHECKED, LazyConformed, conform
from crmetrics.catalog import Catalog
from crmetrics.checks_cache import ChecksCache
from crmetrics.connector import Connector, FileLocation
from crmetrics.errors import DataError, Issue, Location
from crmetrics.key_order import KeyOrderProof
from crmetrics.model import TABLES
from crmetrics.plan import LogicalPlan
from crmetrics.sql.canonical_sql import canonical_select, check_select, duplicate_keys_select
from crmetrics.sql.execute import plan_tables
from crmetrics.sql.tables import TableMapping, Tables, identifier


def _missing_columns(table: str, present: Sequence[str], origin: str) -> None:
    missing = [c.name for c in TABLES[table].columns if c.name not in present and not c.nullable]
    if missing:
        raise DataError(
            Issue(
                "missing-column",
                f"table {table!r} has no column {', '.join(map(repr, missing))}",
                Location(origin),
                hint=f"columns found: {', '.join(present) or 'none'}; "
                f"the canonical columns are: {', '.join(TABLES[table].column_names)}",
            )
        )


@dataclass(frozen=True)
class _PendingChecks:
    """The check counts of one table, waiting to run with the others' in one statement.

    ``key_proof`` is a proof of the key's uniqueness still to read: ``counts`` leave out
    the duplicate keys, which are counted after all should the proof fail.
    """

    counts: exp.Select
    fingerprint: str | None
    view: exp.Expr
    key_proof: KeyOrderProof | None = None


class CanonicalViews:
    """Builds, for one runner, a checked canonical view per table.

    Tables are added one by one (:meth:`add`), then checked together (:meth:`check`): the
    engine computes every table's counts in one statement, side by side.

    Args:
        runner: a DuckDB or Spark runner (``create_view``, ``schema``, ``execute``, ``load``).
        cache: where clean verdicts are remembered; None checks every time.
    """

    def __init__(self, runner: Any, cache: ChecksCache | None) -> None:
        self.runner = runner
        self.cache = cache
        self.names: dict[str, str] = {}
        self.schemas: dict[str, pl.Schema] = {}
        self._pending: dict[str, _PendingChecks] = {}

    def add(
        self,
        table: str,
        raw: exp.Expr,
        origin: str,
        *,
        fingerprint: str | None = None,
        null_counts: Mapping[str, int] | None = None,
        unique_key: KeyOrderProof | None = None,
    ) -> bool:
        """Make ``table`` a view over ``raw``, to be checked by :meth:`check`.

        ``null_counts`` and ``unique_key`` (tried only if the checks are to run) say what
        the source proves without a scan by the engine: required columns without nulls, a
        key without duplicates. Returns False if the table must take the row-by-row path
        now (a column needs parsing).
        """
        schema = self.runner.schema(raw)
        if schema is None:
            raise DataError(
                Issue("unreadable-table", f"cannot read {origin} as table {table!r}", Location(origin))
            )
        _missing_columns(table, list(schema), origin)
        model = TABLES[table]
        select = canonical_select(model, raw, schema, naive_utc=self.runner.naive_utc)
        if select is None:
            return False
        # Not the name a table loaded from Python gets, should this one fail its checks.
        name = f"crmetrics_canonical_{table}"
        self.runner.create_view(name, select)
        view = exp.to_table(name)
        remembered = fingerprint is not None and self.cache is not None and self.cache.get(fingerprint)
        if not remembered:
            proof = unique_key if unique_key is not None and unique_key.possible() else None
            counts = check_select(model, view, schema, known_nulls=null_counts, unique_key=proof is not None)
            self._pending[table] = _PendingChecks(counts, fingerprint, view, proof)
        self.names[table] = name
        found = self.runner.schema(view)
        assert found is not None
        self.schemas[table] = found
        return True

    def check(self) -> list[str]:
        """Run the checks of every table added since, in one statement.

        (A second, smaller one counts the distinct keys of a table whose key proof failed.)

        Returns the tables that broke a rule: their views are dropped, and the caller reads
        them through the row-by-row path. Clean verdicts are remembered in the cache.
        """
        pending, self._pending = self._pending, {}
        if not pending:
            return []
        all_counts = self._counts(pending)
        broken = []
        for table, checks in pending.items():
            counts = all_counts[table]
            if not LazyConformed.clean(counts):
                broken.append(table)
                del self.names[table], self.schemas[table]
            elif checks.fingerprint is not None and self.cache is not None:
                self.cache.put(checks.fingerprint, {ROWS_CHECKED: int(counts[ROWS_CHECKED])})
        return broken

    def _counts(self, pending: Mapping[str, _PendingChecks]) -> dict[str, dict[str, Any]]:
        """Each pending table's check counts, by reason.

        The key proofs read their key columns in a second thread while the engine counts
        (Polars and the engine both leave the interpreter free), so the proofs cost next to
        no time of their own. A key whose proof fails is counted distinct afterwards.
        """
        statement, names = _side_by_side([checks.counts for checks in pending.values()])
        sql = statement.sql(dialect=self.runner.dialect)
        proofs = {t: checks.key_proof for t, checks in pending.items() if checks.key_proof is not None}
        if proofs:
            with ThreadPoolExecutor(max_workers=1) as pool:
                proving = pool.submit(lambda: [table for table, proof in proofs.items() if not proof.holds()])
                row = self.runner.execute(sql).row(0)
                unproven = proving.result()
        else:
            row, unproven = self.runner.execute(sql).row(0), []
        counts: dict[str, dict[str, Any]] = {}
        position = 0
        for table, reasons in zip(pending, names, strict=True):
            counts[table] = dict(zip(reasons, row[position : position + len(reasons)], strict=True))
            position += len(reasons)
        # A table that broke another rule takes the row-by-row path, which counts its keys.
        unproven = [table for table in unproven if LazyConformed.clean(counts[table])]
        if unproven:
            selects = [duplicate_keys_select(TABLES[t], pending[t].view) for t in unproven]
            again, extra = _side_by_side(selects)
            values = self.runner.execute(again.sql(dialect=self.runner.dialect)).row(0)
            for table, (reason,), value in zip(unproven, extra, values, strict=True):
                counts[table][reason] = value
        return counts

    def tables(self, frames: Mapping[str, pl.DataFrame] = {}) -> Tables:
        """The views, and ``frames`` loaded for the tables that took the row-by-row path."""
        names = dict(self.names)
        schemas: dict[str, pl.Schema] = dict(self.schemas)
        if frames:
            loaded = self.runner.load(frames)
            for table in frames:
                names[table] = loaded.mappings[table].name
                schemas[table] = frames[table].schema
        return Tables.frames(schemas, names)


def _side_by_side(selects: Sequence[exp.Select]) -> tuple[exp.Select, list[list[str]]]:
    """One-row aggregates as one statement of one row, and each one's column names.

    The aggregates are cross joined, each a subquery of its own, so the engine computes
    them in one pass of its scheduler instead of one statement per table; the columns are
    renamed by position, since two tables' checks share names (``rows``, ``duplicate keys``).
    """
    names = [[column.alias_or_name for column in select.expressions] for select in selects]
    columns = []
    joined: exp.Select | None = None
    for index, select in enumerate(selects):
        alias = f"checks_{index}"
        columns += [
            exp.alias_(exp.column(identifier(name), table=alias), f"c_{index}_{position}")
            for position, name in enumerate(names[index])
        ]
        subquery = select.subquery(alias)
        joined = exp.select().from_(subquery) if joined is None else joined.join(subquery, join_type="cross")
    assert joined is not None
    return joined.select(*columns), names


def _naive_utc(frame: pl.DataFrame) -> pl.DataFrame:
    """Timestamps as naive UTC: what SQL engines compare, whatever their session's zone."""
    return frame.with_columns(
        pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    )


def read_tables(runner: Any, plan: LogicalPlan, catalog: Catalog, connector: Connector) -> Tables:
    """The tables ``plan`` reads from a crmetrics source, as :func:`source_tables` gives them.

    ``customers`` comes along for grouping and filtering when the source has it; whether a
    metric may reach it is checked later.
    """
    wanted = plan_tables(plan, catalog)
    if (plan.request.by or plan.request.where) and "customers" in connector.available_tables():
        wanted.append("customers")
    return source_tables(runner, list(dict.fromkeys(wanted)), connector)


def source_tables(runner: Any, wanted: Sequence[str], connector: Connector) -> Tables:
    """The ``wanted`` tables of a crmetrics source, read in place where the engine can.

    A table whose connector names its files (:meth:`Connector.file_location`, e.g.
    ``parquet:DIR``) is read by the engine; any other, and any that breaks a rule, comes
    through the connector's own conversion and checks.
    """
    views = CanonicalViews(runner, connector.checks_cache)
    elsewhere = []
    for table in wanted:
        location = connector.file_location(table)
        if location is None or not _reads(runner, location) or not _in_place(views, table, location):
            elsewhere.append(table)
    elsewhere += views.check()
    frames = {table: _naive_utc(connector.scan(table).collect()) for table in wanted if table in elsewhere}
    return views.tables(frames)


def _reads(runner: Any, location: FileLocation) -> bool:
    return location.format == "parquet" and hasattr(runner, "parquet_relation")


def _in_place(views: CanonicalViews, table: str, location: FileLocation) -> bool:
    raw = views.runner.parquet_relation(table, location.path)
    path = location.path
    files = location.files or (tuple(sorted(path.rglob("*.parquet"))) if path.is_dir() else (path,))
    unique_key = KeyOrderProof(files, TABLES[table].key) if views.runner.reads_files_itself else None
    return views.add(
        table,
        raw,
        str(path),
        fingerprint=location.fingerprint,
        null_counts=location.null_counts,
        unique_key=unique_key,
    )


def checked_warehouse(runner: Any, tables: Tables, wanted: Sequence[str], where: str) -> Tables:
    """The ``wanted`` warehouse tables converted and checked in the engine, under canonical names.

    ``tables`` names each canonical table's relation (the project's ``warehouse`` mapping,
    with renamed columns); warehouse tables have no fingerprint, so they are checked on
    every run. A table that breaks a rule is read into this process and goes through the
    row-by-row rules, whose error names the rows as the Polars engine would.
    """
    views = CanonicalViews(runner, None)
    origins = {table: f"{where} {tables.mappings.get(table, TableMapping(table)).name}" for table in wanted}
    elsewhere = [table for table in wanted if not views.add(table, tables.relation(table), origins[table])]
    elsewhere += views.check()
    frames = {}
    for table in wanted:
        if table not in elsewhere:
            continue
        query = exp.select(exp.Star()).from_(tables.relation(table)).sql(dialect=runner.dialect)
        raw = runner.execute(query)
        frames[table] = _naive_utc(conform(TABLES[table], raw, origin=origins[table]).frame)
    checked = views.tables(frames)
    # Tables the plan does not read keep the mapping's names and canonical columns.
    return Tables({**tables.kinds, **checked.kinds}, {**tables.mappings, **checked.mappings})


__all__ = ["CanonicalViews", "checked_warehouse", "read_tables", "source_tables"]
