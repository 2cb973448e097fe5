"""Connectors registered by where their class lives, imported when a source first uses them.

A connector that reads a CRM brings its object mappings, its API client and its export
readers: importing them takes milliseconds that a run reading other sources, or none
(``crmetrics validate``, ``crmetrics sql``), need not spend. A plugin can register a
:class:`ConnectorReference` instead of the class; the registry imports the class the
first time the scheme is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass

from crmetrics.connector import Connector
from crmetrics.errors import Issue, UsageError


@dataclass(frozen=True)
class ConnectorReference:
    """A connector class named by its module, for a ``register_connectors`` hook.

    Attributes:
        scheme: the scheme the class declares (``salesforce`` for ``salesforce:DIR``).
        target: ``"package.module:ClassName"``, the class to import on first use.
    """

    scheme: str
    target: str

    def load(self) -> type[Connector]:
        """Import the class, checking it is a connector for ``scheme``.

        Raises:
            ImportError, AttributeError or TypeError when the target is not such a class.
        """
        module_name, _, name = self.target.partition(":")
        found = getattr(importlib.import_module(module_name), name)
        if not (isinstance(found, type) and issubclass(found, Connector)):
            raise TypeError(f"{self.target} is {found!r}, not a Connector subclass")
        if getattr(found, "scheme", None) != self.scheme:
            raise TypeError(
                f"{self.target} has scheme {getattr(found, 'scheme', None)!r}, not {self.scheme!r}"
            )
        return found


class Connectors(MutableMapping[str, type[Connector]]):
    """Scheme -> connector class; a class registered by reference is imported when looked up."""

    def __init__(self) -> None:
        self._entries: dict[str, type[Connector] | ConnectorReference] = {}
        self._providers: dict[str, str] = {}  # scheme -> plugin, named when an import fails

    def add(self, scheme: str, connector: type[Connector] | ConnectorReference, provider: str) -> None:
        """Register ``connector`` under ``scheme`` for the plugin ``provider``."""
        self._entries[scheme] = connector
        self._providers[scheme] = provider

    def __getitem__(self, scheme: str) -> type[Connector]:
        entry = self._entries[scheme]
        if isinstance(entry, ConnectorReference):
            reference = entry
            try:
                entry = reference.load()
            except Exception as error:  # a broken plugin is a message, not a traceback
                plugin = self._providers.get(scheme, "?")
                raise UsageError(
                    Issue(
                        "plugin",
                        f"plugin {plugin!r}: connector {scheme}: could not be loaded from {reference.target} "
                        f"({type(error).__name__}: {error})",
                        hint=f"fix or uninstall the plugin, or set CRMETRICS_DISABLE_PLUGINS={plugin}",
                    )
                ) from error
            self._entries[scheme] = entry
        return entry

    def __setitem__(self, scheme: str, connector: type[Connector]) -> None:
        self._entries[scheme] = connector

    def __delitem__(self, scheme: str) -> None:
        del self._entries[scheme]

    def __contains__(self, scheme: object) -> bool:
        return scheme in self._entries  # without importing a class registered by reference

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
