"""Where the canonical tables live for a SQL backend, and what columns they hold.

A project file maps each canonical table to a warehouse table, optionally renaming
columns::

    warehouse:
      tables:
        customers: analytics.dim_customers
        deals:
          table: analytics.fct_deals
          columns: {amount: amount_usd}

The SQL generator sees canonical names only: a mapped table with renamed columns is read through
a subquery that gives each column its canonical name. Names are split on dots into
catalog, schema and table, and every part is a quoted identifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlglot import exp

from crmetrics.catalog import canonical_columns
from crmetrics.formula.typed import Kind
from crmetrics.model import TABLES, kind_of_dtype


def identifier(name: str) -> exp.Identifier:
    """``name`` as a quoted identifier."""
    return exp.Identifier(this=name, quoted=True)


@dataclass(frozen=True)
class TableMapping:
    """One canonical table in the warehouse: its qualified name and renamed columns."""

    name: str
    columns: Mapping[str, str] = field(default_factory=dict)

    def relation(self) -> exp.Table:
        """The warehouse table, its name split into catalog, schema and table."""
        *prefix, table = self.name.split(".")
        db = prefix[-1] if prefix else None
        catalog = prefix[-2] if len(prefix) > 1 else None
        return exp.Table(
            this=identifier(table),
            db=identifier(db) if db else None,
            catalog=identifier(catalog) if catalog else None,
        )


@dataclass
class Tables:
    """The canonical tables a SQL statement reads: for each, its relation and column kinds."""

    kinds: dict[str, dict[str, Kind]]
    mappings: dict[str, TableMapping] = field(default_factory=dict)

    @classmethod
    def warehouse(cls, mapping: Mapping[str, Any] | None = None) -> Tables:
        """Canonical columns, read from the tables a project's ``warehouse`` names."""
        mappings = {name: _mapping(name, value) for name, value in (mapping or {}).items()}
        kinds: dict[str, dict[str, Kind]] = {name: canonical_columns(name) for name in TABLES}
        for name, table in mappings.items():
            for column in table.columns:
                kinds[name].setdefault(column, "any")  # an extra column: a dimension
        return cls(kinds, mappings)

    @classmethod
    def frames(
        cls, schemas: Mapping[str, pl.Schema | Mapping[str, pl.DataType]], names: Mapping[str, str]
    ) -> Tables:
        """Tables loaded from frames: their own columns, read from the relations ``names``."""
        kinds = {
            table: {column: kind_of_dtype(dtype) for column, dtype in schema.items()}
            for table, schema in schemas.items()
        }
        return cls(kinds, {table: TableMapping(names[table]) for table in schemas})

    def columns(self, table: str) -> list[str]:
        """The columns ``table`` holds, by canonical name."""
        return list(self.kinds.get(table, {}))

    def relation(self, table: str) -> exp.Expr:
        """``table`` under its canonical column names, ready for a FROM clause."""
        mapping = self.mappings.get(table, TableMapping(table))
        source = mapping.relation()
        if not mapping.columns:
            return source
        columns = [
            exp.alias_(exp.column(identifier(mapping.columns.get(c, c))), identifier(c))
            for c in self.columns(table)
        ]
        return exp.select(*columns).from_(source).subquery()


def _mapping(canonical: str, value: Any) -> TableMapping:
    if isinstance(value, str):
        return TableMapping(value)
    return TableMapping(value["table"], dict(value.get("columns", {})))


__all__ = ["TableMapping", "Tables", "identifier"]
