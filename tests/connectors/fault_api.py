"""Faults the fake CRM APIs can serve: stalls, trickled or cut bodies, and a port that never connects.

Built on :mod:`crm_fake_api`: a :class:`Fault` is a scripted reply that also says how to
misbehave, on the same loopback server. Every fault is bounded: a stall or trickle sleeps a
fixed, short time per step and stops when the client hangs up.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from crm_fake_api import FakeApi, Reply, Seen, _Handler, route_key


@dataclass
class Fault(Reply):
    """A reply that misbehaves: waits before answering, trickles its body, or cuts it short."""

    stall: float = 0.0  # seconds before the status line
    trickle: float = 0.0  # seconds between the body's bytes
    cut: int | None = None  # bytes of the body sent, under a Content-Length of the whole


class FaultHandler(_Handler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        key = route_key(parts.path, query)
        self.api.requests.append(Seen(key, parts.path, query, dict(self.headers.items())))
        reply = self.api.answer(key)
        if not isinstance(reply, Fault):
            self._send(reply, Fault())
            return
        with suppress(OSError):  # the client hung up, as it should on a fault
            self._send(reply, reply)

    def _send(self, reply: Reply, fault: Fault) -> None:
        time.sleep(fault.stall)
        body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        data = body.encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        shown = data if fault.cut is None else data[: fault.cut]
        if fault.trickle:
            for byte in shown:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(fault.trickle)
        else:
            self.wfile.write(shown)
        if fault.cut is not None:
            self.close_connection = True


def start_faulty(api: FakeApi) -> tuple[object, object]:
    from http.server import ThreadingHTTPServer
    from threading import Thread

    handler = type("Handler", (FaultHandler,), {"api": api})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@contextmanager
def port_that_never_connects() -> Iterator[int]:
    """A loopback port whose accept queue is full: a new connection waits until it times out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()
