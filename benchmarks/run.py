"""`make bench`: throughput of API endpoints relative to /healthz, measured in one run.

Starts embedded PostgreSQL and Redis in a temp dir (unless DATABASE_URL / REDIS_URL are
set), migrates, creates bench users and tokens, runs gunicorn with production settings
(2 sync workers on loopback, no access log) and loads each endpoint with wrk, interleaved
round by round (healthz, me, healthz, me, ...). Prints per endpoint the median req/s,
p50 and p99 latency and the median of the per-round ratios to /healthz req/s.
Everything it started is stopped at the end, also on Ctrl-C.

    python -m benchmarks.run --rounds 3 --duration 10 --connections 16 --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet

from benchmarks.endpoints import BASELINE, ENDPOINTS, Endpoint
from benchmarks.feeds import BenchError, Feed
from config.embedded import embedded_services, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
WSGI_APP = "config.wsgi"
# We sit behind a TLS-terminating load balancer in production; without this header the
# production settings answer every request with a redirect to https.
PROXY_HEADERS: tuple[tuple[str, str], ...] = (("X-Forwarded-Proto", "https"),)


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int


# --- wrk ------------------------------------------------------------------------------

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _latency_ms(output: str, percentile: int) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"no {percentile}% latency in wrk output:\n{output}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Numbers from `wrk --latency` output; BenchError if it saw errors or no requests."""
    problems = []
    non_ok = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_ok:
        problems.append(f"{non_ok.group(1)} non-2xx/3xx responses")
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket and any(int(n) for n in socket.groups()):
        problems.append(socket.group(0))
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if not (rps and total) or int(total.group(1)) == 0:
        problems.append("no completed requests")
    if problems:
        raise BenchError("; ".join(problems) + f"\n{output}")
    assert rps and total
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=_latency_ms(output, 50),
        p99_ms=_latency_ms(output, 99),
        requests=int(total.group(1)),
    )


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found; installing it with apt-get", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    return found


def run_wrk(
    wrk: str,
    url: str,
    headers: list[tuple[str, str]],
    args: argparse.Namespace,
    seconds: int,
    feed: Feed | None = None,
) -> WrkResult:
    cmd = [wrk, "--latency", "--timeout", "10s", f"-d{seconds}s"]
    cmd += [f"-t{args.threads}", f"-c{args.connections}", url]
    if feed is not None:
        cmd += ["-s", str(feed.script(args.threads))]
    else:
        for name, value in headers:
            cmd += ["-H", f"{name}: {value}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    if feed is not None:
        feed.consumed(done.stdout, args.threads)
    return parse_wrk(done.stdout)


# --- the system under test ------------------------------------------------------------


def app_env(service_env: dict[str, str]) -> dict[str, str]:
    """Production settings with throwaway secrets; secrets and settings module from the env win."""
    generated = {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "LOOKUP_HASH_KEY": secrets.token_urlsafe(32),
        "AUDIT_CHAIN_KEY": secrets.token_urlsafe(32),
        # Production refuses to start without payment-gateway secrets; none is called here.
        "STRIPE_SECRET_KEY": f"sk_test_{secrets.token_hex(12)}",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
        "PUBLIC_BASE_URL": f"https://{HOST}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    return {
        **generated,
        **os.environ,
        **service_env,
        "APP_ENV": "production",
        "DEBUG": "false",
        "ALLOWED_HOSTS": HOST,
        # What production refuses to guess or to run with; nothing here is ever called.
        "NUM_PROXIES": "0",
        "PUBLIC_APP_URL": f"https://{HOST}/app",
        "SMS_BACKEND": "notifications.sms.locmem.LocmemSmsBackend",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "STRIPE_API_BASE_URL": "",
        "TWILIO_API_BASE_URL": "",
        "VIDEO_BACKEND": "scheduling.video.daily.DailyVideoBackend",
        "DAILY_API_KEY": "bench-never-called",
        "PHARMACY_BACKEND": "prescriptions.pharmacy.http.HttpPharmacy",
        # One bench user sends thousands of requests a second: lift the per-user limit.
        "THROTTLE_USER": "100000000/min",
        "ACCESS_TOKEN_TTL_SECONDS": "86400",
        "PYTHONUNBUFFERED": "1",
    }


def migrate(env: dict[str, str]) -> None:
    """`manage.py migrate` against the database `env` names."""
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)


def prepare_database(
    env: dict[str, str],
    kinds: list[str] | None = None,
    feeds: dict[str, tuple[int, Path]] | None = None,
) -> dict[str, str]:
    """Migrate and create the bench users (of `kinds`, default every kind) and, per feed
    name ("bookings", "refills"), that many prepared requests in its file; returns
    {token kind: access token}."""
    migrate(env)
    cmd = [sys.executable, "-m", "benchmarks.setup_data", *(kinds or [])]
    for name, (count, path) in (feeds or {}).items():
        cmd += [f"--{name}", str(count), f"--{name}-file", str(path)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"setup_data failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    tokens: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return tokens


def _response(
    port: int, path: str, headers: list[tuple[str, str]], method: str = "GET", body: str = ""
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, path, body=body.encode() or None, headers=dict(headers))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _status(port: int, path: str, headers: list[tuple[str, str]]) -> int:
    return _response(port, path, headers)[0]


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int, log: Path) -> Iterator[int]:
    port = free_port()
    cmd = [str(BIN / "gunicorn"), WSGI_APP, "--bind", f"{HOST}:{port}",
           "--workers", str(workers), "--worker-class", "sync",
           "--error-logfile", str(log), "--log-level", "warning"]  # fmt: skip
    # No --access-logfile: gunicorn writes no access log unless asked to.
    env = {**env, "GUNICORN_CMD_ARGS": ""}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise BenchError(f"gunicorn exited with {proc.returncode}:\n{log.read_text()}")
            with contextlib.suppress(OSError):
                if _status(port, "/healthz", list(PROXY_HEADERS)) == 200:
                    break
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn did not answer /healthz:\n{log.read_text()}")
            time.sleep(0.2)
        yield port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- the benchmark --------------------------------------------------------------------


def request_headers(endpoint: Endpoint, tokens: dict[str, str]) -> list[tuple[str, str]]:
    headers = [*PROXY_HEADERS, *endpoint.headers]
    if endpoint.auth:
        if endpoint.auth not in tokens:
            raise BenchError(f"{endpoint.name}: no token kind {endpoint.auth!r} in setup_data")
        headers.append(("Authorization", f"Bearer {tokens[endpoint.auth]}"))
    return headers


def _precheck(port: int, e: Endpoint, headers: list[tuple[str, str]], feed: Feed | None) -> None:
    """wrk counts 3xx as success; a redirect or error here would make the numbers lie.
    A feed endpoint spends its own first entry on this."""
    body, path = "", e.path
    if feed is not None:
        token, body, path = feed.take_one()
        headers = [*headers, ("Authorization", f"Bearer {token}"),
                   ("Content-Type", "application/json")]  # fmt: skip
    status, answer = _response(port, path, headers, e.method, body)
    if status != e.ok_status:
        raise BenchError(f"{e.name}: {e.method} {path} answered {status}, expected "
                         f"{e.ok_status}: {answer[:500]!r}")  # fmt: skip


def benchmark(
    port: int,
    tokens: dict[str, str],
    endpoints: list[Endpoint],
    args: argparse.Namespace,
    feeds: dict[str, Feed] | None = None,
) -> dict[str, list[WrkResult]]:
    wrk = ensure_wrk()
    feeds = feeds or {}
    headers = {e.name: request_headers(e, tokens) for e in endpoints}
    urls = {e.name: f"http://{HOST}:{port}{e.path}" for e in endpoints}
    for e in endpoints:
        _precheck(port, e, headers[e.name], feeds.get(e.name))
        if args.warmup > 0:
            run_wrk(wrk, urls[e.name], headers[e.name], args, args.warmup, feeds.get(e.name))
    results: dict[str, list[WrkResult]] = {e.name: [] for e in endpoints}
    for round_no in range(1, args.rounds + 1):
        for e in endpoints:
            r = run_wrk(wrk, urls[e.name], headers[e.name], args, args.duration, feeds.get(e.name))
            results[e.name].append(r)
            print(
                f"  round {round_no}/{args.rounds}  {e.name:<12} {r.rps:>9.1f} req/s  "
                f"p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms",
                flush=True,
            )
    return results


def report(endpoints: list[Endpoint], results: dict[str, list[WrkResult]]) -> bool:
    """Print the summary table; returns whether every endpoint met its target."""
    baseline = results[BASELINE]
    print(f"\n{'endpoint':<12} {'path':<20} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'x healthz':>9}  {'target':<8} result")  # fmt: skip
    all_met = True
    for e in endpoints:
        runs = results[e.name]
        ratio = statistics.median(r.rps / b.rps for r, b in zip(runs, baseline, strict=True))
        target, verdict = "-", ""
        if e.target_ratio is not None:
            met = ratio >= e.target_ratio
            all_met &= met
            target, verdict = f">={e.target_ratio:.2f}", "PASS" if met else "FAIL"
        print(f"{e.name:<12} {e.path:<20} {statistics.median(r.rps for r in runs):>9.1f} "
              f"{statistics.median(r.p50_ms for r in runs):>8.2f} "
              f"{statistics.median(r.p99_ms for r in runs):>8.2f} "
              f"{ratio:>9.3f}  {target:<8} {verdict}")  # fmt: skip
    print("\nmedians over rounds; 'x healthz' is the median of per-round req/s ratios.")
    return all_met


# --- scheduling ---------------------------------------------------------------------------

SCHEDULING_ENDPOINTS = {"slots", "book"}
# Requests prepared per second of wrk load (warm-up included), per feed, with a 1.5
# margin; each needs a fresh patient (and, for bookings, a fresh open slot). Refill reached
# 221 req/s and booking 120 on a quiet 2-core machine (December 2026); running out fails
# the run with a message naming this.
FEED_REQUESTS_PER_SECOND = {"bookings": 250, "refills": 250}
FEED_MARGIN = 1.5


def feed_requests_needed(args: argparse.Namespace, feed: str) -> int:
    seconds = args.warmup + args.rounds * args.duration
    return int(FEED_REQUESTS_PER_SECOND[feed] * seconds * FEED_MARGIN) + 1  # + the pre-check


def token_kinds(endpoints: list[Endpoint]) -> list[str]:
    """The token kinds the endpoints need (setup_data makes only those)."""
    kinds = {e.auth for e in endpoints if e.auth}
    if any(e.feed == "bookings" for e in endpoints):
        kinds.add("scheduling_patient")  # the scheduling data the bookings need
    return sorted(kinds)


def scheduling_check(env: dict[str, str], since: datetime) -> tuple[int, str]:
    """benchmarks.scheduling_check after the load: (exit status, its output)."""
    cmd = [sys.executable, "-m", "benchmarks.scheduling_check", "--since", since.isoformat()]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 3):
        raise BenchError(f"scheduling_check failed ({done.returncode}):\n{done.stderr}")
    return done.returncode, done.stdout


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument(
        "--warmup", type=int, default=2, help="warm-up seconds per endpoint (0: off)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument(
        "--endpoint",
        action="append",
        default=[],
        choices=[e.name for e in ENDPOINTS],
        help="only this endpoint (repeatable; the baseline always runs)",
    )
    parser.add_argument(
        "--pg-fast",
        action="store_true",
        help="embedded PostgreSQL without fsync (default: durable commits)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if min(args.rounds, args.duration, args.threads) < 1 or args.connections < args.threads:
        parser.error("need --rounds, --duration >= 1 and --connections >= --threads >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    endpoints = [e for e in ENDPOINTS if not args.endpoint or e.name in {BASELINE, *args.endpoint}]
    # SIGTERM unwinds like Ctrl-C, so every context below stops what it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.pg_fast:
        os.environ["EMBEDDED_PG_FAST"] = "1"
    try:
        ensure_wrk()
        with contextlib.ExitStack() as stack:
            data_dir = Path(tempfile.mkdtemp(prefix="telehealth-bench-"))
            stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
            print("starting services, migrating, creating bench data ...", flush=True)
            env = app_env(stack.enter_context(embedded_services(data_dir)))
            feed_files = {e.feed: (feed_requests_needed(args, e.feed), data_dir / f"{e.feed}.tsv")
                          for e in endpoints if e.feed}  # fmt: skip
            started = time.monotonic()
            tokens = prepare_database(env, token_kinds(endpoints), feed_files)
            feeds = {e.name: Feed(e, feed_files[e.feed][1], [*PROXY_HEADERS, *e.headers])
                     for e in endpoints if e.feed}  # fmt: skip
            port = stack.enter_context(gunicorn(env, args.workers, data_dir / "gunicorn.log"))
            prepared = ", ".join(f"{n} {name} requests" for name, (n, _) in feed_files.items())
            print(
                f"bench data ready in {time.monotonic() - started:.0f} s"
                + (f" ({prepared} prepared)" if prepared else "")
            )
            print(f"gunicorn: {args.workers} sync workers on {HOST}:{port}; wrk: {args.threads} "
                  f"threads, {args.connections} connections, {args.duration}s x {args.rounds} "
                  f"rounds; {os.cpu_count()} CPUs", flush=True)  # fmt: skip
            load_began = datetime.now(UTC)
            results = benchmark(port, tokens, endpoints, args, feeds)
            checked = None
            if SCHEDULING_ENDPOINTS & {e.name for e in endpoints}:
                checked = scheduling_check(env, load_began)
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; everything started was stopped.", file=sys.stderr)
        return 130
    met = report(endpoints, results)
    if checked is not None:
        status, output = checked
        print(output, end="")
        if status != 0:
            print("\nbenchmark failed: double bookings after the run", file=sys.stderr)
            return 2
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
