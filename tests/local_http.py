"""A throwaway HTTP server on a free loopback port, for tests that drive a vendor SDK."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve_locally(
    handler: type[BaseHTTPRequestHandler], *, name: str, on_stop: Callable[[], None] = lambda: None
) -> tuple[str, Callable[[], None]]:
    """Start serving `handler` in a daemon thread; returns its base URL and an idempotent
    stop function (`on_stop` runs first, e.g. to release handlers that hang on purpose)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        on_stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{host!s}:{port}", stop
