"""Profile one bench endpoint in-process: where does a request's time go?

Same stack and data as `make bench` (embedded PostgreSQL and Redis in a temp dir,
production settings, the bench users), but the requests go straight into the WSGI
application in this process, so cProfile sees all of it and nothing else competes.

    python -m benchmarks.profile queue [--requests 2000] [--sort tottime] [--limit 40]
    python -m benchmarks.profile healthz me record --no-profile --rounds 5   # timing only
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
from benchmarks.run import HOST, app_env, prepare_database, request_headers, token_kinds
from config.embedded import embedded_services


def _environ(endpoint: Endpoint, tokens: dict[str, str]) -> dict[str, Any]:
    path, _, query = endpoint.path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": HOST,
        "SERVER_PORT": "80",
        "HTTP_HOST": HOST,
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in request_headers(endpoint, tokens):
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, bytes]:
    status: list[str] = []
    body = b"".join(app({**environ, "wsgi.input": io.BytesIO()}, lambda s, h: status.append(s)))
    return status[0], body


def prepare(app: Any, endpoint: Endpoint, tokens: dict[str, str]) -> dict[str, Any]:
    """Check the endpoint answers 200, warm it up, print its queries; returns its environ."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    environ = _environ(endpoint, tokens)
    status, body = _call(app, environ)
    if not status.startswith("200"):
        raise SystemExit(f"{endpoint.path} answered {status}: {body[:500]!r}")
    for _ in range(200):  # warm up: prepared statements, caches
        _call(app, environ)
    with CaptureQueriesContext(connection) as queries:
        _call(app, environ)
    print(f"{endpoint.name}: {len(queries)} queries, {len(body)} bytes")
    for q in queries.captured_queries:
        print(f"  {' '.join(q['sql'].split())[:160]}")
    return environ


def time_per_request(app: Any, environ: dict[str, Any], requests: int) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        _call(app, environ)
    return (time.perf_counter() - started) / requests * 1000


def profile(app: Any, environ: dict[str, Any], args: argparse.Namespace) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.requests):
        _call(app, environ)
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs().sort_stats(args.sort)
    stats.print_stats(args.limit)
    if args.callers:
        stats.print_callers(args.callers)


def run(tokens: dict[str, str], args: argparse.Namespace) -> None:
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    endpoints = [next(e for e in ENDPOINTS if e.name == name) for name in args.endpoint]
    environs = {e.name: prepare(app, e, tokens) for e in endpoints}
    times: dict[str, list[float]] = {e.name: [] for e in endpoints}
    for _ in range(args.rounds):  # interleaved, like make bench: drift hits every endpoint
        for e in endpoints:
            times[e.name].append(time_per_request(app, environs[e.name], args.requests))
    for e in endpoints:
        runs = " ".join(f"{t:.3f}" for t in times[e.name])
        print(f"{e.name:<10} {statistics.median(times[e.name]):.3f} ms per request, median "
              f"of {args.rounds} x {args.requests} (no profiler): {runs}")  # fmt: skip
    if not args.no_profile:
        for e in endpoints:
            print(f"\n--- {e.name} under cProfile ({args.requests} requests)")
            profile(app, environs[e.name], args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    names = [e.name for e in ENDPOINTS if e.method == "GET"]  # POST feeds: not here
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
        tokens = prepare_database(env, token_kinds(chosen))
        os.environ.update(env)
        import django

        django.setup()
        run(tokens, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
