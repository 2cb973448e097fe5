"""The relations a SQL rendering starts from: tables, reach, ``--where`` and the period grid.

The renderer asks for a table reaching some columns, filtered by the request's ``--where``;
this module gives back the name of a CTE holding it, and the kinds of its columns for the
formula checks. Which columns come from ``customers`` and which periods make the window
are :mod:`crmetrics.semantics`' decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from crmetrics import semantics
from crmetrics.catalog import Catalog
from crmetrics.errors import DefinitionError, Location, UsageError
from crmetrics.formula.compiler import PERIOD_DAYS_COLUMN, Context
from crmetrics.formula.functions import Kind
from crmetrics.metric import Formula
from crmetrics.periods import PERIOD_START
from crmetrics.plan import LogicalPlan
from crmetrics.sql.dialects import double, number, timestamp, truncate
from crmetrics.sql.formula import SqlFormula
from crmetrics.sql.query import Statement, alias, col, table_ref
from crmetrics.sql.tables import Tables, identifier

PREVIOUS = "__previous_start"


@dataclass
class Relation:
    """A CTE and the kinds of its columns."""

    name: str
    kinds: dict[str, Kind]


@dataclass
class Sources:
    plan: LogicalPlan
    catalog: Catalog
    tables: Tables
    dialect: str
    statement: Statement
    _bases: dict[str, Relation] = field(default_factory=dict)
    _periods: str | None = None
    _snapshot_periods: str | None = None

    @property
    def by(self) -> list[str]:
        return list(self.plan.request.by)

    def context(
        self, formula: Formula, metric: str, scope: str, kinds: Mapping[str, Kind] | None = None, **kw: Any
    ) -> Context:
        return Context(
            formula=formula,
            scope=scope,  # type: ignore[arg-type]
            subject=metric,
            functions=self.catalog.functions,
            columns=dict(kinds or {}),
            params=self.plan.params.get(metric, {}),
            **kw,
        )

    def sql(self, context: Context, row_filter: exp.Expression | None = None) -> exp.Expression:
        return SqlFormula(context, self.dialect, row_filter=row_filter).compile()

    def truncate(self, column: str, table: str | None = None) -> exp.Expression:
        return truncate(col(column, table), self.plan.request.grain, self.dialect)

    def timestamp(self, moment: Any) -> exp.Expression:
        return timestamp(moment, self.dialect)

    # ---- tables -----------------------------------------------------------------------------

    def base(self, table: str) -> Relation:
        if table not in self._bases:
            relation = self.tables.relation(table)
            relation.set("alias", exp.TableAlias(this=identifier("t")))
            query = exp.select(exp.Star()).from_(relation)
            self._bases[table] = Relation(self.statement.add(table, query), dict(self.tables.kinds[table]))
        return self._bases[table]

    def reach(self, table: str, columns: Sequence[str]) -> Relation:
        """``table`` with ``columns`` available, joining ``customers`` where needed."""
        base = self.base(table)
        missing = semantics.from_customers(table, columns, self.tables.columns)
        if not missing:
            return base
        customers = self.base(semantics.CUSTOMERS)
        key = semantics.ENTITY_KEY
        attributes = exp.select(col(key), *(col(c) for c in missing)).from_(table_ref(customers.name, "c"))
        query = (
            exp.select(exp.Column(this=exp.Star(), table=identifier("t")), *(col(c, "a") for c in missing))
            .from_(table_ref(base.name, "t"))
            .join(
                attributes.subquery(identifier("a")),
                on=exp.EQ(this=col(key, "t"), expression=col(key, "a")),
                join_type="LEFT",
            )
        )
        kinds = {**base.kinds, **{c: customers.kinds.get(c, "any") for c in missing}}
        return Relation(self.statement.add(f"{table}_reach", query), kinds)

    def filtered(self, metric: str, table: str, extra: Sequence[str] = ()) -> Relation:
        """``table`` reaching the grouping and --where columns, with --where applied."""
        where = self.plan.request.where
        relation = self.reach(table, [*self.by, *semantics.where_columns(where), *extra])
        if not where:
            return relation
        context = self.context(Formula(where, Location("--where")), metric, "row", relation.kinds)
        try:
            condition = self.sql(context)
        except DefinitionError as error:
            raise UsageError(error.issues) from None
        query = exp.select(exp.Star()).from_(table_ref(relation.name, "t")).where(condition)
        return Relation(self.statement.add(f"{table}_where", query), relation.kinds)

    def in_window(self, time: str) -> exp.Expression:
        window = exp.GTE(this=col(time), expression=self.timestamp(self.plan.window_start))
        return exp.And(
            this=window, expression=exp.LT(this=col(time), expression=self.timestamp(self.plan.request.end))
        )

    def groups(self, relation: Relation) -> str | None:
        """The group values of a metric: every value its (filtered) table holds, at any time."""
        if not self.by:
            return None
        query = exp.select(*(col(c) for c in self.by)).distinct().from_(table_ref(relation.name, "t"))
        return self.statement.add("groups", query)

    # ---- periods ----------------------------------------------------------------------------

    def periods(self) -> str:
        """The window's periods: start, previous start and length in days, as literal rows."""
        if self._periods is None:
            rows = [
                exp.tuple_(self.timestamp(p.start), self.timestamp(p.previous), double(number(p.days)))
                for p in semantics.periods(self.plan)
            ]
            names = [identifier(c) for c in (PERIOD_START, PREVIOUS, PERIOD_DAYS_COLUMN)]
            values = exp.Values(expressions=rows, alias=exp.TableAlias(this=identifier("v"), columns=names))
            query = exp.select(
                alias(col(PERIOD_START, "v"), PERIOD_START),
                alias(col(PREVIOUS, "v"), PREVIOUS),
                alias(col(PERIOD_DAYS_COLUMN, "v"), PERIOD_DAYS_COLUMN),
            ).from_(values)
            self._periods = self.statement.add("periods", query)
        return self._periods

    def snapshot_periods(self) -> str:
        """The window's period starts, after the start of the period before the window."""
        if self._snapshot_periods is None:
            before = exp.select(alias(self.timestamp(semantics.snapshot_before(self.plan)), PERIOD_START))
            window = exp.select(col(PERIOD_START)).from_(table_ref(self.periods(), "p"))
            self._snapshot_periods = self.statement.add(
                "snapshot_periods", exp.union(before, window, distinct=False)
            )
        return self._snapshot_periods


__all__ = ["PREVIOUS", "Relation", "Sources"]
