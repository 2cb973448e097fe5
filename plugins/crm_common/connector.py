"""What the CRM connectors share: options, files or live mode, and the API client.

A location that is an ``http(s)`` URL is read live through the CRM's API with a token from
the environment; anything else is a folder of export files.
"""

from __future__ import annotations

import logging
import os
import time
from abc import abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from crmetrics.connector import Connector, RawTable
from crmetrics.errors import DataError, Issue, Location, UsageError
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
