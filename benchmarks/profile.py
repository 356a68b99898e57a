"""Profile one bench endpoint in-process: where does a request's time go?

Same stack and data as `make bench` (embedded PostgreSQL and Redis in a temp dir,
production settings, the bench users), but the requests go straight into the WSGI
application in this process, so cProfile sees all of it and nothing else competes.

    python -m benchmarks.profile queue [--requests 2000] [--sort tottime] [--limit 40]
    python -m benchmarks.profile healthz me record --no-profile --rounds 5   # timing only
    python -m benchmarks.profile book refill --requests 300   # POST feeds: each request its own

A feed endpoint (POST: `book`, `refill`) gets every request from its prepared feed, as
under wrk: a fresh token, body and path each time, never reused.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.endpoints import ENDPOINTS, Endpoint
from benchmarks.feeds import Feed
from benchmarks.run import HOST, app_env, prepare_database, request_headers, token_kinds
from config.embedded import embedded_services


def _environ(endpoint: Endpoint, tokens: dict[str, str]) -> dict[str, Any]:
    path, _, query = endpoint.path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": endpoint.method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": HOST,
        "SERVER_PORT": "80",
        "HTTP_HOST": HOST,
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in request_headers(endpoint, tokens):
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


class Requests:
    """The environ of each next request to one endpoint: always the same for a GET, the
    feed's next entry (token, body, path) for a POST."""

    def __init__(self, endpoint: Endpoint, tokens: dict[str, str], feed: Feed | None) -> None:
        self.base, self.feed = _environ(endpoint, tokens), feed

    def next(self) -> dict[str, Any]:
        if self.feed is None:
            return {**self.base, "wsgi.input": io.BytesIO()}
        token, body, path = self.feed.take_one()
        data = body.encode()
        return {
            **self.base,
            "PATH_INFO": path,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)),
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "wsgi.input": io.BytesIO(data),
        }


def _call(app: Any, requests: Requests) -> tuple[str, bytes]:
    status: list[str] = []
    body = b"".join(app(requests.next(), lambda s, h: status.append(s)))
    return status[0], body


WARM_UP = 200


def prepare(app: Any, endpoint: Endpoint, requests: Requests) -> None:
    """Check the endpoint answers as expected, warm it up, print its queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    status, body = _call(app, requests)
    if not status.startswith(str(endpoint.ok_status)):
        raise SystemExit(f"{endpoint.path} answered {status}: {body[:500]!r}")
    for _ in range(WARM_UP):  # prepared statements, caches
        _call(app, requests)
    with CaptureQueriesContext(connection) as queries:
        _call(app, requests)
    print(f"{endpoint.name}: {len(queries)} queries, {len(body)} bytes")
    for q in queries.captured_queries:
        print(f"  {' '.join(q['sql'].split())[:160]}")


def time_per_request(app: Any, requests: Requests, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        _call(app, requests)
    return (time.perf_counter() - started) / count * 1000


def profile(app: Any, requests: Requests, args: argparse.Namespace) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.requests):
        _call(app, requests)
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs().sort_stats(args.sort)
    stats.print_stats(args.limit)
    if args.callers:
        stats.print_callers(args.callers)


def run(tokens: dict[str, str], feeds: dict[str, Feed], args: argparse.Namespace) -> None:
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    endpoints = [next(e for e in ENDPOINTS if e.name == name) for name in args.endpoint]
    streams = {e.name: Requests(e, tokens, feeds.get(e.name)) for e in endpoints}
    for e in endpoints:
        prepare(app, e, streams[e.name])
    times: dict[str, list[float]] = {e.name: [] for e in endpoints}
    for _ in range(args.rounds):  # interleaved, like make bench: drift hits every endpoint
        for e in endpoints:
            times[e.name].append(time_per_request(app, streams[e.name], args.requests))
    for e in endpoints:
        runs = " ".join(f"{t:.3f}" for t in times[e.name])
        print(f"{e.name:<10} {statistics.median(times[e.name]):.3f} ms per request, median "
              f"of {args.rounds} x {args.requests} (no profiler): {runs}")  # fmt: skip
    if not args.no_profile:
        for e in endpoints:
            print(f"\n--- {e.name} under cProfile ({args.requests} requests)")
            profile(app, streams[e.name], args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    names = [e.name for e in ENDPOINTS]
    parser.add_argument("endpoint", nargs="+", choices=names)
    parser.add_argument("--requests", type=int, default=2000, help="per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (default 3)")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--callers", default="", help="print callers of functions matching this")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        data_dir = Path(tempfile.mkdtemp(prefix="telehealth-profile-"))
        stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
        env = app_env(stack.enter_context(embedded_services(data_dir)))
        chosen = [e for e in ENDPOINTS if e.name in args.endpoint]
        # Every request a feed endpoint sends: the check, the warm-up, the queries shown,
        # the timing rounds and the profiled ones.
        needed = 2 + WARM_UP + args.requests * (args.rounds + (0 if args.no_profile else 1))
        feed_files = {e.feed: (needed, data_dir / f"{e.feed}.tsv") for e in chosen if e.feed}
        tokens = prepare_database(env, token_kinds(chosen), feed_files)
        feeds = {e.name: Feed(e, feed_files[e.feed][1], []) for e in chosen if e.feed}
        os.environ.update(env)
        import django

        django.setup()
        run(tokens, feeds, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
