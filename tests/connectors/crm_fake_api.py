"""A local fake of the Salesforce and HubSpot REST APIs, for the connector tests.

A real HTTP server (``http.server`` in a thread) bound to 127.0.0.1 on a free port, so the
connectors' HTTP code runs for real without the internet. Each route answers from a queue
of replies (the last one repeats), which is how a test scripts a 429 followed by a page, and
every request is recorded for assertions.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    key: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class FakeApi:
    """Scripted replies per route; see :func:`route_key` for how requests find their route."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Seen] = []
        self.url = ""
        self._lock = threading.Lock()

    def on(self, key: str, *replies: Reply | dict[str, Any]) -> None:
        self.routes[key] = [r if isinstance(r, Reply) else Reply(body=r) for r in replies]

    def empty_salesforce(self, prefix: str, describes: dict[str, list[dict[str, Any]]]) -> None:
        """An org whose objects exist (``describes``: object -> its describe fields) but hold no
        records: the query answers 200 with ``totalSize: 0``, as Salesforce does."""
        self.on(f"{prefix}/sobjects", {"sobjects": [{"name": n, "queryable": True} for n in describes]})
        for name, fields in describes.items():
            self.on(f"{prefix}/sobjects/{name}/describe", {"name": name, "fields": fields})
            self.on(f"{prefix}/query#{name}", {"totalSize": 0, "done": True, "records": []})

    def empty_hubspot(self, *objects: str) -> None:
        """A portal whose objects hold no records: each list answers 200 with ``results: []``."""
        for name in objects:
            self.on(f"/crm/v3/objects/{name}", {"results": []})

    def calls(self, key: str) -> list[Seen]:
        return [r for r in self.requests if r.key == key]

    def answer(self, key: str) -> Reply:
        with self._lock:
            queue = self.routes.get(key)
            if not queue:
                return Reply(404, [{"errorCode": "NOT_FOUND", "message": f"no route {key}"}])
            return queue.pop(0) if len(queue) > 1 else queue[0]


def route_key(path: str, query: dict[str, list[str]]) -> str:
    """``/query#Account`` for a SOQL query, ``/crm/v3/objects/deals?after=4`` for a later page."""
    if "q" in query:
        found = re.search(r"\bFROM\s+(\w+)", query["q"][0], re.IGNORECASE)
        return f"{path}#{found.group(1) if found else '?'}"
    if "after" in query:
        return f"{path}?after={query['after'][0]}"
    return path


class _Handler(BaseHTTPRequestHandler):
    api: FakeApi

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        key = route_key(parts.path, query)
        self.api.requests.append(Seen(key, parts.path, query, dict(self.headers.items())))
        reply = self.api.answer(key)
        body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        data = body.encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorded requests are what tests look at."""


def start(api: FakeApi) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve ``api`` on 127.0.0.1, on a free port; ``api.url`` says where."""
    handler = type("Handler", (_Handler,), {"api": api})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread
