"""Several sources in one run: each canonical table read from the source bound to it.

A project names, per table, the source that provides it (``tables: {spend: finance}``);
the tables it does not name come from the run's source (``--source`` or ``source:``). The
rest of the engine sees one connector: :class:`CombinedConnector` reads each table through
its source and converts and checks it like any connector.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from crmetrics.connector import Connector, RawTable
from crmetrics.errors import DataError, Issue, Location, UsageError
from crmetrics.model import TABLES


@dataclass(frozen=True)
class Part:
    """One source of a combined run: its name as the user wrote it, and its connector."""

    name: str
    connector: Connector

    @property
    def label(self) -> str:
        uri = f"{self.connector.scheme}:{self.connector.location}"
        return self.name if self.name == uri else f"{self.name} ({uri})"


def parse_source_options(values: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """``--source`` values as plain sources and ``TABLE=SOURCE`` bindings.

    Raises:
        UsageError: a binding names no canonical table.
    """
    plain: list[str] = []
    bindings: dict[str, str] = {}
    for value in values:
        table, sep, source = value.partition("=")
        if not sep or ":" in table:
            plain.append(value)
            continue
        if table not in TABLES or not source:
            raise UsageError(
                Issue(
                    "bad-source",
                    f"--source {value!r}: {table!r} is not a canonical table"
                    if table not in TABLES
                    else f"--source {value!r} names no source",
                    hint=f"write TABLE=SOURCE, TABLE one of {', '.join(TABLES)}",
                )
            )
        bindings[table] = source
    return plain, bindings


class CombinedConnector(Connector):
    """Canonical tables from several sources, each table from exactly one.

    Args:
        defaults: the run's own sources; a table no binding names comes from the one of
            them that has it, and is an error when several have it.
        bound: canonical table -> the source bound to it.
    """

    scheme = "combined"
    description = "canonical tables from several sources, bound per table in the project file"

    def __init__(self, defaults: Sequence[Part], bound: Mapping[str, Part]) -> None:
        super().__init__(", ".join(p.label for p in [*defaults, *bound.values()]))
        self.defaults = list(defaults)
        self.bound = dict(bound)
        self._routes: dict[str, Part] | None = None

    def _route(self) -> dict[str, Part]:
        if self._routes is None:
            routes: dict[str, Part] = {}
            for table in TABLES:
                if table in self.bound:
                    routes[table] = self.bound[table]
                    continue
                having = [p for p in self.defaults if table in p.connector.available_tables()]
                if len(having) > 1:
                    raise UsageError(
                        Issue(
                            "table-provided-twice",
                            f"table {table!r} is provided by both {having[0].label} and {having[1].label}",
                            hint=f"say which one provides it: 'tables: {{{table}: {having[1].name}}}' "
                            f"in the project file, or --source {table}={having[1].name}",
                        )
                    )
                if having:
                    routes[table] = having[0]
            self._routes = routes
        return self._routes

    def part(self, table: str) -> Part:
        """The source ``table`` is read from."""
        routes = self._route()
        if table not in routes:
            raise DataError(
                Issue(
                    "missing-table",
                    f"no source of this run has table {table!r}",
                    Location(self.location),
                    hint=f"tables present: {', '.join(routes) or 'none'}; bind one with "
                    f"'tables: {{{table}: SOURCE}}' in the project file",
                )
            )
        return routes[table]

    def available_tables(self) -> list[str]:
        """Every table some source of the run provides; a bound source lacking its table is an error."""
        routes = self._route()
        for table, part in routes.items():
            if table in self.bound and table not in part.connector.available_tables():
                raise DataError(
                    Issue(
                        "missing-table",
                        f"table {table!r} is bound to {part.label}, which has no such table",
                        Location(part.connector.location),
                        hint=f"tables it has: {', '.join(part.connector.available_tables()) or 'none'}",
                    )
                )
        return list(routes)

    def provider(self, table: str) -> str:
        """The source ``table`` comes from: ``name (scheme:location)``."""
        return self.part(table).label

    def read_table(self, table: str) -> RawTable:
        """The table's rows as its source reads them."""
        # The rows as the bound source reads them; this connector's own base class converts
        # and checks them, exactly as the source's would.
        return self.part(table).connector.read_table(table)


def open_combined(
    open_one: Callable[[str], Connector], defaults: Sequence[str], tables: Mapping[str, str]
) -> Connector:
    """The connector of a run reading ``defaults`` plus the per-table ``tables`` bindings.

    A single source with no binding is returned as it is. Each source is opened once, however
    many tables it provides.
    """
    opened: dict[str, Part] = {}

    def part(name: str) -> Part:
        if name not in opened:
            opened[name] = Part(name, open_one(name))
        return opened[name]

    parts = [part(name) for name in defaults]
    bound = {table: part(name) for table, name in tables.items()}
    if len(parts) == 1 and not bound:
        return parts[0].connector
    return CombinedConnector(parts, bound)


__all__ = ["CombinedConnector", "open_combined", "parse_source_options"]
