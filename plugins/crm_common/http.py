"""A small JSON-over-HTTPS client with bounded retries and a token that never leaks.

CRM APIs throttle (429, 503) and say how long to wait only sometimes, so throttled
requests are retried a bounded number of times, honouring ``Retry-After`` when present and
backing off exponentially otherwise. Everything else that is not a success is one clear
error: retrying a rejected token or an exhausted daily quota cannot succeed, so it is never
attempted. The token is sent in a header only and scrubbed from every message.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmetrics import progress
from crmetrics.errors import DataError, Issue, Location

if TYPE_CHECKING:
    # httpx costs tens of milliseconds to import and only live API runs need it: every
    # command loads this plugin, so the import waits until a client is made.
    import httpx

RETRY_STATUSES = frozenset({429, 503})
Sleep = Callable[[float], None]
#: Turns a failed response into the issue to raise, or None to use the generic handling.
Classifier = Callable[["httpx.Response"], Issue | None]

_EXCERPT = 300


@dataclass(frozen=True)
class RetryPolicy:
    """How throttled requests are retried (from the connector's ``http`` option)."""

    max_retries: int = 4
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 60.0
    timeout_seconds: float = 30.0

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RetryPolicy:
        """The retry policy the connector options ask for."""
        return cls(
            max_retries=int(options.get("max_retries", cls.max_retries)),
            backoff_seconds=float(options.get("backoff_seconds", cls.backoff_seconds)),
            max_wait_seconds=float(options.get("max_wait_seconds", cls.max_wait_seconds)),
            timeout_seconds=float(options.get("timeout_seconds", cls.timeout_seconds)),
        )

    def wait(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        hinted = parse_retry_after(retry_after)
        seconds = hinted if hinted is not None else self.backoff_seconds * 2**attempt
        return max(0.0, min(seconds, self.max_wait_seconds))


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class ApiClient:
    """GET JSON documents from one API, authenticated by a bearer token.

    Args:
        base_url: scheme and host (and optional path prefix) of the API.
        token: the access token; sent as ``Authorization: Bearer`` and never shown.
        service: the API's name for messages ("Salesforce").
        token_env: the environment variable the token came from, for hints.
        policy: retry and timeout settings.
        sleep: called with the seconds to wait between retries (tests pass a recorder).
        classify: a service-specific reading of failed responses.
        transport: an httpx transport, for tests that do not want a socket.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        service: str,
        token_env: str,
        policy: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        classify: Classifier | None = None,
        transport: httpx.BaseTransport | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.token_env = token_env
        self.policy = policy or RetryPolicy()
        self._token = token
        self._sleep = sleep
        self._classify = classify
        self._log = logger or logging.getLogger(__name__)
        import httpx

        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self.policy.timeout_seconds,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def redact(self, text: str) -> str:
        """``text`` with the token replaced, for anything shown or logged."""
        return text.replace(self._token, "[redacted]") if self._token else text

    def get_json(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        absent: Collection[int] = (),
    ) -> Any:
        """GET ``path`` (relative to the base URL, or absolute) and decode the JSON body.

        Args:
            path: the resource, relative to the base URL or absolute.
            params: query parameters.
            absent: statuses that mean "this resource is not there" for the caller (e.g. an
                optional object the token has no scope for): they return None.

        Raises:
            DataError: on a refused token, an exhausted quota, a throttle that outlasts the
                retries, an unreachable host, or any other unsuccessful answer.
        """
        import httpx

        attempt = 0
        while True:
            try:
                response = self._client.get(path, params=params)
            except httpx.TransportError as error:
                if attempt < self.policy.max_retries:
                    self._pause(attempt, None, f"{type(error).__name__}")
                    attempt += 1
                    continue
                raise DataError(
                    self._issue(
                        "api-unreachable",
                        f"cannot reach {self.service} at {self.base_url}: {type(error).__name__}: {error}",
                        path,
                        hint="check the URL in the source and the network",
                    )
                ) from None
            if response.is_success:
                return self._decode(response, path)
            if response.status_code in absent:
                self._log.info("%s: HTTP %d, taken as absent", self._where(path).file, response.status_code)
                return None
            if response.status_code == 401:
                raise DataError(
                    self._issue(
                        "api-unauthorized",
                        f"{self.service} refused the access token (HTTP 401{self._code(response)})",
                        path,
                        hint=f"the token in {self.token_env} is invalid or expired; set a fresh one",
                    )
                )
            special = self._classify(response) if self._classify else None
            if special is not None:
                raise DataError(
                    Issue(
                        special.code,
                        self.redact(special.message),
                        self._where(path),
                        hint=self.redact(special.hint),
                    )
                )
            if response.status_code in RETRY_STATUSES and attempt < self.policy.max_retries:
                self._pause(attempt, response.headers.get("Retry-After"), f"HTTP {response.status_code}")
                attempt += 1
                continue
            if response.status_code in RETRY_STATUSES:
                raise DataError(
                    self._issue(
                        "api-throttled",
                        f"{self.service} still answered HTTP {response.status_code} after "
                        f"{self.policy.max_retries} retries",
                        path,
                        hint="try again later, or raise options.http.max_retries",
                    )
                )
            raise DataError(
                self._issue(
                    "api-error",
                    f"{self.service} answered HTTP {response.status_code}{self._code(response)}: "
                    f"{response.text[:_EXCERPT]}",
                    path,
                )
            )

    def _pause(self, attempt: int, retry_after: str | None, why: str) -> None:
        seconds = self.policy.wait(attempt, retry_after)
        self._log.warning(
            "%s request not served (%s); retry %d of %d in %.1f s",
            self.service,
            why,
            attempt + 1,
            self.policy.max_retries,
            seconds,
        )
        progress.current().retrying(self.service, why, attempt + 1, self.policy.max_retries, seconds)
        self._sleep(seconds)

    def _decode(self, response: httpx.Response, path: str) -> Any:
        self._log.debug("GET %s -> %d", self._where(path).file, response.status_code)
        try:
            return response.json()
        except ValueError:
            raise DataError(
                self._issue("api-error", f"{self.service} answered with a body that is not JSON", path)
            ) from None

    def _code(self, response: httpx.Response) -> str:
        code = error_code(response)
        return f" {code}" if code else ""

    def _where(self, path: str) -> Location:
        import httpx

        url = (
            httpx.URL(path)
            if path.startswith(("http://", "https://"))
            else httpx.URL(self.base_url + "/" + path.lstrip("/"))
        )
        return Location(self.redact(str(url.copy_with(query=None))))

    def _issue(self, code: str, message: str, path: str, hint: str = "") -> Issue:
        return Issue(code, self.redact(message), self._where(path), hint=self.redact(hint))


def error_code(response: httpx.Response) -> str:
    """The API's own error code (``errorCode`` or ``category``), when the body has one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict):
        return str(body.get("errorCode") or body.get("category") or "")
    return ""
