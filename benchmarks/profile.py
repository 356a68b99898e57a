"""Profile one bench endpoint in-process: where does a request's time go?

Same stack and data as `make bench` (embedded PostgreSQL and Redis in a temp dir,
production settings, the bench users), but the requests go straight into the WSGI
application in this process, so cProfile sees all of it and nothing else competes.

    python -m benchmarks.profile queue [--requests 2000] [--sort tottime] [--limit 40]
    python -m benchmarks.profile record --no-profile    # time per request and queries only
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.endpoints import ENDPOINTS, Endpoint
from benchmarks.run import HOST, app_env, prepare_database, request_headers
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


def profile(endpoint: Endpoint, tokens: dict[str, str], args: argparse.Namespace) -> None:
    from django.core.wsgi import get_wsgi_application
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    app = get_wsgi_application()
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
        print(f"  {q['time']}s  {q['sql'][:160]}")
    reset_queries()
    started = time.perf_counter()
    for _ in range(args.requests):
        _call(app, environ)
    elapsed = time.perf_counter() - started
    print(f"{endpoint.name}: {elapsed / args.requests * 1000:.3f} ms per request (no profiler)")
    if args.no_profile:
        return
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.requests):
        _call(app, environ)
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs().sort_stats(args.sort)
    stats.print_stats(args.limit)
    if args.callers:
        stats.print_callers(args.callers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    names = [e.name for e in ENDPOINTS]
    parser.add_argument("endpoint", nargs="+", choices=names)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--callers", default="", help="print callers of functions matching this")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        data_dir = Path(tempfile.mkdtemp(prefix="telehealth-profile-"))
        stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
        env = app_env(stack.enter_context(embedded_services(data_dir)))
        tokens = prepare_database(env)
        os.environ.update(env)
        import django

        django.setup()
        for name in args.endpoint:
            endpoint = next(e for e in ENDPOINTS if e.name == name)
            profile(endpoint, tokens, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
