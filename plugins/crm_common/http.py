"""A small JSON-over-HTTPS client with bounded work and a token that never leaks.

CRM APIs throttle (429) or fail for a moment (500, 502, 503, 504) and say how long to wait
only sometimes, so such requests are retried a bounded number of times, honouring
``Retry-After`` when present and backing off exponentially otherwise. Everything else that
is not a success is one clear error: retrying a rejected token or an exhausted daily quota
cannot succeed, so it is never attempted.

Every request has a connect, a read and a total deadline and a size limit, and every
object's pagination a page and a time budget (:class:`Pagination`), so no server, however
slow or looping, keeps a run going without end. The token is sent in a header only, only to
the configured host (a next-page link elsewhere is refused), and scrubbed from every message.
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crmetrics import progress
from crmetrics.errors import DataError, Issue, Location

if TYPE_CHECKING:
    # httpx costs tens of milliseconds to import and only live API runs need it: every
    # command loads this plugin, so the import waits until a client is made.
    import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
Sleep = Callable[[float], None]
#: Turns a failed response into the issue to raise, or None to use the generic handling.
Classifier = Callable[["httpx.Response"], Issue | None]

_EXCERPT = 300


@dataclass(frozen=True)
class RetryPolicy:
    """Retries, deadlines and budgets of live requests (the connector's ``http`` option).

    Attributes:
        max_retries: retries of one throttled or failed request.
        backoff_seconds: the first wait when the API sends no ``Retry-After``; doubles.
        max_wait_seconds: the cap on any single wait, ``Retry-After`` included.
        timeout_seconds: the read deadline: the longest silence while receiving.
        connect_seconds: the deadline to open a connection.
        request_seconds: the total deadline of one request, however the bytes trickle in.
        max_response_bytes: the largest body one request may return.
        max_pages: the most pages one object's pagination may take.
        max_object_seconds: the time one object's reading may take, retries included.
    """

    max_retries: int = 4
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 60.0
    timeout_seconds: float = 30.0
    connect_seconds: float = 10.0
    request_seconds: float = 120.0
    max_response_bytes: int = 100_000_000
    max_pages: int = 10_000
    max_object_seconds: float = 3_600.0

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RetryPolicy:
        """The policy the connector options ask for; an option left out keeps its default."""
        defaults = cls()
        values = {}
        for item in fields(cls):
            default = getattr(defaults, item.name)
            values[item.name] = type(default)(options.get(item.name, default))
        return cls(**values)

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


class _Deadline(Exception):
    """A request outlasted its total deadline or size limit (raised inside the client)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class ApiClient:
    """GET JSON documents from one API, authenticated by a bearer token.

    Args:
        base_url: scheme and host (and optional path prefix) of the API.
        token: the access token; sent as ``Authorization: Bearer`` and never shown.
        service: the API's name for messages ("Salesforce").
        token_env: the environment variable the token came from, for hints.
        policy: retry, deadline and budget settings.
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
        self._transport = transport
        self._log = logger or logging.getLogger(__name__)
        base = urlsplit(self.base_url)
        self._origin = (base.scheme, base.hostname, base.port)
        self._client = self._new_client()

    def _new_client(self) -> httpx.Client:
        import httpx

        policy = self.policy
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
            timeout=httpx.Timeout(policy.timeout_seconds, connect=policy.connect_seconds),
            transport=self._transport,
            follow_redirects=False,  # a redirect would carry the token to wherever it points
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def redact(self, text: str) -> str:
        """``text`` with the token replaced, for anything shown or logged."""
        return text.replace(self._token, "[redacted]") if self._token else text

    def pagination(self, what: str) -> Pagination:
        """The page and time budget of reading ``what`` (an object), page after page."""
        return Pagination(self, what)

    def get_json(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        absent: Collection[int] = (),
    ) -> Any:
        """GET ``path`` (relative to the base URL, or absolute on its host) and decode the JSON.

        Args:
            path: the resource, relative to the base URL or absolute on the same host.
            params: query parameters.
            absent: statuses that mean "this resource is not there" for the caller (e.g. an
                optional object the token has no scope for): they return None.

        Raises:
            DataError: on a link to another host, a refused token, an exhausted quota, a
                throttle or failure that outlasts the retries, an unreachable host, a
                deadline or size limit passed, or any other unsuccessful answer.
        """
        import httpx

        self._check_host(path)
        attempt = 0
        while True:
            try:
                response, body = self._send(path, params)
            except _Deadline as deadline:
                raise DataError(
                    self._issue(
                        "api-timeout",
                        f"{self.service} {deadline.why}",
                        path,
                        hint="try again later, or raise options.http.request_seconds "
                        "or max_response_bytes (docs/connectors/live-apis.md)",
                    )
                ) from None
            except httpx.TransportError as error:
                if attempt < self.policy.max_retries:
                    self._pause(attempt, None, f"{type(error).__name__}")
                    attempt += 1
                    continue
                raise DataError(
                    self._issue(
                        "api-unreachable",
                        f"cannot reach {self.service} at {self.base_url} after {attempt} retries: "
                        f"{type(error).__name__}: {error}",
                        path,
                        hint="check the URL in the source and the network; "
                        "options.http sets the deadlines (docs/connectors/live-apis.md)",
                    )
                ) from None
            if response.is_success:
                return self._decode(body, path)
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
                        f"{self.policy.max_retries} retries"
                        + ("" if response.status_code == 429 else f": {response.text[:_EXCERPT]}"),
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

    def _check_host(self, path: str) -> None:
        """Refuse a link to another scheme, host or port: the token would go with it."""
        target = urlsplit(path)
        if not target.netloc and not target.scheme:
            return
        if (target.scheme, target.hostname, target.port) != self._origin:
            raise DataError(
                Issue(
                    "api-foreign-host",
                    f"{self.service} sent a link to another host ({target.scheme}://{target.netloc}); "
                    f"crmetrics sends the access token only to {self.base_url}",
                    Location(self.redact(self.base_url)),
                    hint="check the source's URL: it must be the API host that serves every page",
                )
            )

    def _send(self, path: str, params: Mapping[str, str | int] | None) -> tuple[httpx.Response, bytes]:
        """One GET, its body read in chunks within the total deadline and the size limit.

        The read deadline bounds each silence only: a server that trickles a byte at a time
        never passes it. A timer closes the connection at the total deadline, wherever the
        request is (even while the headers trickle in).
        """
        import httpx

        policy = self.policy
        deadline = time.monotonic() + policy.request_seconds
        client = self._client
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            client.close()

        timer = threading.Timer(policy.request_seconds, expire)
        timer.daemon = True
        timer.start()
        try:
            with client.stream("GET", path, params=params) as response:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > policy.max_response_bytes:
                        raise _Deadline(f"sent more than {policy.max_response_bytes:,} bytes in one answer")
                    if time.monotonic() > deadline:
                        raise _Deadline(f"did not finish an answer within {policy.request_seconds:g} s")
                    chunks.append(chunk)
            body = b"".join(chunks)
            # A complete response, so that classifiers may read its text and JSON.
            whole = httpx.Response(
                response.status_code, headers=response.headers, content=body, request=response.request
            )
            return whole, body
        except Exception:
            if expired.is_set():
                raise _Deadline(f"did not finish an answer within {policy.request_seconds:g} s") from None
            raise
        finally:
            timer.cancel()
            if expired.is_set():
                self._client = self._new_client()  # the old one was closed to stop the request

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

    def _decode(self, body: bytes, path: str) -> Any:
        self._log.debug("GET %s: %d bytes", self._where(path).file, len(body))
        try:
            return json.loads(body)
        except ValueError:
            raise DataError(
                self._issue(
                    "api-error",
                    f"{self.service} answered with a body that is not JSON (cut short, or not an API answer)",
                    path,
                )
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


class Pagination:
    """The budget of one object's pages: their number, the time, and cursors seen once.

    A cursor served twice would page forever, an endless chain of new cursors would too;
    either ends in one clear error, and the rows read so far are dropped with it.
    """

    def __init__(self, client: ApiClient, what: str) -> None:
        self.client = client
        self.what = what
        self.pages = 1
        self.started = time.monotonic()
        self._seen: set[str] = set()

    def advance(self, cursor: str) -> None:
        """Account for the next page, at ``cursor``; raise when a budget is spent."""
        policy = self.client.policy
        service = self.client.service
        if cursor in self._seen:
            self._fail(f"{service} served the same next-page cursor twice for {self.what}", "")
        self._seen.add(cursor)
        self.pages += 1
        if self.pages > policy.max_pages:
            self._fail(
                f"{service} kept paging {self.what} past {policy.max_pages:,} pages",
                "raise options.http.max_pages if the object is really that large",
            )
        if time.monotonic() - self.started > policy.max_object_seconds:
            self._fail(
                f"reading {self.what} from {service} took more than {policy.max_object_seconds:g} s",
                "raise options.http.max_object_seconds if the object is really that large",
            )

    def _fail(self, message: str, hint: str) -> None:
        raise DataError(
            Issue(
                "api-pagination",
                self.client.redact(message),
                Location(self.client.redact(self.client.base_url)),
                hint=hint or "the API's paging is broken; try again later",
            )
        )


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
