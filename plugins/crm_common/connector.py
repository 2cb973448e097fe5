"""What the CRM connectors share: options, files or live mode, and the API client.

A location that is an ``http(s)`` URL is read live through the CRM's API with a token from
the environment; anything else is a folder of export files.
"""

from __future__ import annotations

import logging
import os
import time
from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from crmetrics.connector import Connector, RawTable
from crmetrics.errors import DataError, Issue, Location, UsageError
from crmetrics.model import TABLES
from crmetrics.plugins.crm_common.http import ApiClient, Classifier, RetryPolicy, Sleep
from crmetrics.plugins.crm_common.options import resolve_options

if TYPE_CHECKING:
    import httpx


class CrmConnector(Connector):
    """A connector over export files or a live CRM API.

    Subclasses set ``options_schema``, ``token_env``, ``service`` and ``readers`` (table ->
    function of the connector returning its RawTable).

    Args:
        location: a folder of exports, or the API's base URL.
        options: the source's options from the project file, checked against
            ``options_schema`` and merged over its defaults.
        sleep: called with the seconds to wait before retrying a throttled request.
        transport: an httpx transport, for tests.
    """

    options_schema: ClassVar[dict[str, Any]] = {}
    token_env: ClassVar[str] = ""
    service: ClassVar[str] = ""

    def __init__(
        self,
        location: str,
        options: Mapping[str, Any] | None = None,
        *,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(location, options)
        self.settings: dict[str, Any] = resolve_options(self.options_schema, options, scheme=self.scheme)
        self._sleep = sleep
        self._transport = transport
        self._client: ApiClient | None = None

    @property
    def is_live(self) -> bool:
        """Whether the connector reads a live API rather than export files."""
        return self.location.startswith(("http://", "https://"))

    @property
    def folder(self) -> Path:
        """The export folder (files mode), refused clearly when it is not one."""
        folder = Path(self.location or ".")
        if not folder.is_dir():
            raise DataError(
                Issue(
                    "missing-source",
                    f"{folder} is not a folder",
                    Location(str(folder)),
                    hint=f"point {self.scheme}: at a folder of exports, or at an https:// API URL; "
                    f"see docs/connectors/{self.scheme}.md",
                )
            )
        return folder

    def client(self, classify: Classifier | None = None) -> ApiClient:
        """The API client (live mode); the token is read from the environment only now."""
        if self._client is None:
            token = os.environ.get(self.token_env, "").strip()
            if not token:
                raise UsageError(
                    Issue(
                        "missing-token",
                        f"reading {self.service} live from {self.location} needs an access token",
                        hint=f"set the environment variable {self.token_env}",
                    )
                )
            self._client = ApiClient(
                self.location,
                token,
                service=self.service,
                token_env=self.token_env,
                policy=RetryPolicy.from_options(self.settings["http"]),
                sleep=self._sleep,
                classify=classify,
                transport=self._transport,
                logger=logging.getLogger(f"crmetrics.plugins.{self.scheme}"),
            )
        return self._client

    @abstractmethod
    def readers(self) -> Mapping[str, Callable[[], RawTable]]:
        """Table name -> the function that reads it."""

    def read_table(self, table: str) -> RawTable:
        """The canonical table ``table``, built from the CRM's objects."""
        return self.readers()[table]()

    def close(self) -> None:
        """Close the API client, if one was opened."""
        if self._client is not None:
            self._client.close()
            self._client = None


def present_tables(
    has: Callable[[str], bool],
    primary: Mapping[str, str],
    *,
    revenue: Callable[[], object],
    activity_objects: Iterable[str],
    custom: Mapping[str, str],
) -> list[str]:
    """The canonical tables a CRM's objects can build, in the model's order.

    Args:
        has: whether the CRM holds an object of that name.
        primary: table -> the object whose presence makes the table available.
        revenue: whether the objects revenue is built from are present (truthy); called
            only after the primary objects are checked, which fixes a live source's fetch order.
        activity_objects: the objects activity is built from; any one of them is enough.
        custom: table -> the object the project maps it from instead of the built-in one;
            the table is then available exactly when that object is present.
    """
    present = [table for table, name in primary.items() if has(name)]
    if revenue():
        present.append("revenue")
    if any(has(name) for name in activity_objects):
        present.append("activity")
    for table, name in custom.items():
        if has(name):
            present.append(table)
        elif table in present:
            present.remove(table)
    return [table for table in TABLES if table in present]
