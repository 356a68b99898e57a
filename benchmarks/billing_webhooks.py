"""Renewal burst: the first of the month, Stripe renews every membership at once.

    python -m benchmarks.billing_webhooks [--members 1000] [--senders 16] [--pg-fast]

Seeds N members (Patient, BillingCustomer, an active Subscription whose period ends now)
on a throwaway embedded stack, starts gunicorn with production settings (2 sync workers,
as `make bench`), then POSTs Stripe-signed events to /api/billing/stripe/webhook from a
pool of concurrent senders: per member an `invoice.paid` and a
`customer.subscription.updated` whose period is one month later. Some pairs arrive
newest-first (out of order), and a share of all events is delivered a second time
(a duplicate, at a random moment of the burst, as Stripe's retries are).

Prints events sent, elapsed, events/s and p50/p99 latency, then checks in the database
that every subscription is active with the new period end, that there is exactly one
WebhookEvent row per distinct event id, that every invoice is paid, that every
duplicate delivery was answered `duplicate: true` (exactly one delivery per event was
not), and that no response was non-2xx. Exit status 2 when any check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.notifications_dispatch import django_setup
from benchmarks.run import HOST, PROXY_HEADERS, BenchError, app_env, gunicorn, migrate
from config.embedded import embedded_services

WEBHOOK_PATH = "/api/billing/stripe/webhook"
MONTH = 30 * 86400


@dataclass(frozen=True)
class Delivery:
    event_id: str
    body: bytes


@dataclass(frozen=True)
class Answer:
    event_id: str
    status: int  # 0: no HTTP response (connection error)
    duplicate: bool | None
    seconds: float
    detail: str = ""


# --- data -----------------------------------------------------------------------------


def _seed(members: int, renewal: int) -> None:
    """N members whose active subscription's period ends at `renewal` (epoch seconds)."""
    from accounts.models import Role, User
    from billing.models import BillingCustomer, Subscription, SubscriptionStatus
    from patients.models import Patient

    users = User.objects.bulk_create(
        (User(email=f"renew{n}@example.test", role=Role.PATIENT, password="!")
         for n in range(members)),
        batch_size=1000,
    )  # fmt: skip
    patients = Patient.objects.bulk_create(
        (Patient(user=user, state="FL", county="Orange", time_zone="America/New_York")
         for user in users),
        batch_size=1000,
    )  # fmt: skip
    BillingCustomer.objects.bulk_create(
        (BillingCustomer(patient=p, gateway_customer_id=f"cus_bench_{n}")
         for n, p in enumerate(patients)),
        batch_size=1000,
    )  # fmt: skip
    period_end = datetime.fromtimestamp(renewal, tz=UTC)
    last_event = datetime.fromtimestamp(renewal - MONTH, tz=UTC)
    Subscription.objects.bulk_create(
        (
            Subscription(
                patient=p,
                gateway_subscription_id=f"sub_bench_{n}",
                status=SubscriptionStatus.ACTIVE,
                current_period_end=period_end,
                price_id="price_bench",
                amount_cents=25000,
                currency="usd",
                last_event_at=last_event,
            )
            for n, p in enumerate(patients)
        ),
        batch_size=1000,
    )


def _event(event_id: str, event_type: str, created: int, obj: dict[str, object]) -> Delivery:
    payload = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created,
        "data": {"object": obj},
    }
    return Delivery(event_id, json.dumps(payload).encode())


def _renewal_pair(n: int, renewal: int, created: int) -> tuple[Delivery, Delivery]:
    """Member n's invoice.paid (at `created`) and subscription.updated (one second later:
    gateway times are whole seconds, and two events of one second make the app ask
    the gateway, which a benchmark with a throwaway Stripe key cannot answer)."""
    new_end = renewal + MONTH
    invoice = {
        "id": f"in_bench_{n}",
        "object": "invoice",
        "customer": f"cus_bench_{n}",
        "subscription": f"sub_bench_{n}",
        "number": f"BENCH-{n:06d}",
        "status": "paid",
        "amount_due": 25000,
        "amount_paid": 25000,
        "currency": "usd",
        "lines": {"data": [{"period": {"start": renewal, "end": new_end}}]},
        "hosted_invoice_url": f"https://invoice.stripe.test/i/{n}",
        "created": created,
        "attempt_count": 1,
    }
    subscription = {
        "id": f"sub_bench_{n}",
        "object": "subscription",
        "customer": f"cus_bench_{n}",
        "status": "active",
        "cancel_at_period_end": False,
        "items": {
            "data": [
                {
                    "id": f"si_bench_{n}",
                    "price": {"id": "price_bench", "unit_amount": 25000, "currency": "usd"},
                    "current_period_end": new_end,
                }
            ]
        },
    }
    return (
        _event(f"evt_bench_inv_{n}", "invoice.paid", created, invoice),
        _event(f"evt_bench_sub_{n}", "customer.subscription.updated", created + 1, subscription),
    )


def _plan(
    members: int, renewal: int, duplicates: float, out_of_order: float, seed: int
) -> tuple[list[list[Delivery]], int]:
    """The burst as send tasks: one per member (its pair, sent in order by one sender,
    newest-first for a share of members) plus one per duplicate delivery; shuffled.
    Returns the tasks and how many pairs were sent newest-first."""
    rng = random.Random(seed)
    created = renewal - 120
    tasks: list[list[Delivery]] = []
    events: list[Delivery] = []
    reversed_pairs = 0
    for n in range(members):
        pair = list(_renewal_pair(n, renewal, created))
        events += pair
        if rng.random() < out_of_order:
            pair.reverse()
            reversed_pairs += 1
        tasks.append(pair)
    tasks += [[d] for d in rng.sample(events, round(len(events) * duplicates))]
    rng.shuffle(tasks)
    return tasks, reversed_pairs


# --- the burst ------------------------------------------------------------------------


class Sender:
    """POSTs signed deliveries; one keep-alive connection per thread (gunicorn's sync
    workers close it after each response, and http.client then reconnects)."""

    def __init__(self, port: int, secret: str) -> None:
        self.port = port
        self.secret = secret
        self.local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        return conn

    def post(self, delivery: Delivery) -> Answer:
        from billing.gateways.shapes import signature_header

        headers = {
            **dict(PROXY_HEADERS),
            "Content-Type": "application/json",
            # Signed when sent, as Stripe does (the app refuses signatures older than 300 s).
            "Stripe-Signature": signature_header(delivery.body, self.secret),
        }
        conn = self._connection()
        started = time.perf_counter()
        try:
            conn.request("POST", WEBHOOK_PATH, body=delivery.body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            return Answer(delivery.event_id, 0, None, time.perf_counter() - started, repr(exc))
        seconds = time.perf_counter() - started
        duplicate = None
        with contextlib.suppress(ValueError, AttributeError):
            duplicate = json.loads(raw).get("duplicate")
        detail = "" if 200 <= response.status < 300 else raw[:300].decode(errors="replace")
        return Answer(delivery.event_id, response.status, duplicate, seconds, detail)

    def run(self, task: list[Delivery]) -> list[Answer]:
        return [self.post(delivery) for delivery in task]


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


# --- checks ---------------------------------------------------------------------------


def _checks(members: int, renewal: int, answers: list[Answer]) -> list[tuple[str, bool, str]]:
    from billing.models import Invoice, Subscription, SubscriptionStatus, WebhookEvent

    new_end = datetime.fromtimestamp(renewal + MONTH, tz=UTC)
    renewed = Subscription.objects.filter(
        gateway_subscription_id__startswith="sub_bench_",
        status=SubscriptionStatus.ACTIVE,
        current_period_end=new_end,
    ).count()
    paid = Invoice.objects.filter(
        gateway_invoice_id__startswith="in_bench_", status="paid", paid_at__isnull=False
    ).count()
    distinct = {a.event_id for a in answers}
    rows = Counter(WebhookEvent.objects.values_list("event_id", flat=True))
    missing = len(distinct - rows.keys())
    extra = sum(1 for event_id in rows if event_id not in distinct)
    doubled = sum(1 for count in rows.values() if count != 1)
    outcomes = Counter(WebhookEvent.objects.values_list("outcome", flat=True))
    by_event: dict[str, list[Answer]] = {}
    for a in answers:
        by_event.setdefault(a.event_id, []).append(a)
    deliveries_twice = sum(1 for got in by_event.values() if len(got) > 1)
    bad_dup = sum(
        1
        for got in by_event.values()
        if [a.duplicate for a in got].count(False) != 1
        or [a.duplicate for a in got].count(True) != len(got) - 1
    )
    failed = [a for a in answers if not 200 <= a.status < 300]
    statuses = Counter(a.status for a in failed)
    outcome_text = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    return [
        ("subscriptions active with the new period end", renewed == members,
         f"{renewed}/{members}"),
        ("renewal invoices paid", paid == members, f"{paid}/{members}"),
        ("one WebhookEvent row per distinct event id",
         missing == extra == doubled == 0 and sum(rows.values()) == len(distinct),
         f"{sum(rows.values())} rows for {len(distinct)} ids; missing {missing}, "
         f"unexpected {extra}; outcomes: {outcome_text}"),
        ("duplicates answered duplicate: true (the first delivery: false)", bad_dup == 0,
         f"{deliveries_twice} events delivered twice; {bad_dup} answered otherwise"),
        ("zero non-2xx responses", not failed,
         f"{len(failed)} ({dict(statuses)})" + (f"; first: {failed[0].detail}" if failed else "")),
    ]  # fmt: skip


# --- main -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1_000, help="members (default 1000)")
    parser.add_argument("--senders", type=int, default=16, help="concurrent senders (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument(
        "--duplicates", type=float, default=0.10, help="share of events sent twice (default 0.10)"
    )
    parser.add_argument(
        "--out-of-order",
        type=float,
        default=0.25,
        help="share of pairs sent newest-first (default 0.25)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the plan (default 1)")
    parser.add_argument(
        "--pg-fast",
        action="store_true",
        help="embedded PostgreSQL without fsync (default: durable commits)",
    )
    args = parser.parse_args(argv)
    if min(args.members, args.senders, args.workers) < 1:
        parser.error("--members, --senders and --workers must be >= 1")
    if not (0 <= args.duplicates <= 1 and 0 <= args.out_of_order <= 1):
        parser.error("--duplicates and --out-of-order are shares between 0 and 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.pg_fast:
        os.environ["EMBEDDED_PG_FAST"] = "1"
    secret = f"whsec_bench_{secrets.token_hex(16)}"
    renewal = int(time.time())  # the period every membership renews at
    try:
        with contextlib.ExitStack() as stack:
            data_dir = Path(tempfile.mkdtemp(prefix="telehealth-bench-webhooks-"))
            stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
            print("starting services, migrating, seeding members ...", flush=True)
            env = {
                **app_env(stack.enter_context(embedded_services(data_dir))),
                "STRIPE_WEBHOOK_SECRET": secret,
                "LOG_LEVEL": "WARNING",
            }
            migrate(env)
            django_setup(env)
            _seed(args.members, renewal)
            from django.db import connections

            connections.close_all()
            tasks, reversed_pairs = _plan(
                args.members, renewal, args.duplicates, args.out_of_order, args.seed
            )
            port = stack.enter_context(gunicorn(env, args.workers, data_dir / "gunicorn.log"))
            events = sum(len(t) for t in tasks)
            print(f"gunicorn: {args.workers} sync workers on {HOST}:{port}; {args.senders} "
                  f"senders; {args.members} members, {events} deliveries "
                  f"({events - 2 * args.members} duplicates, {reversed_pairs} pairs "
                  f"newest-first); {os.cpu_count()} CPUs", flush=True)  # fmt: skip
            sender = Sender(port, secret)
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.senders) as pool:
                answers = [a for batch in pool.map(sender.run, tasks) for a in batch]
            elapsed = time.perf_counter() - started
            checks = _checks(args.members, renewal, answers)
            connections.close_all()
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; everything started was stopped.", file=sys.stderr)
        return 130

    latencies = sorted(a.seconds * 1000 for a in answers)
    print(f"\nevents sent:  {len(answers)}")
    print(f"elapsed:      {elapsed:.2f} s")
    print(f"throughput:   {len(answers) / elapsed:.1f} events/s")
    print(f"latency:      p50 {statistics.median(latencies):.1f} ms, "
          f"p99 {_percentile(latencies, 0.99):.1f} ms")  # fmt: skip
    print("\nchecks (from the database after the burst):")
    for name, ok, detail in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return 0 if all(ok for _, ok, _ in checks) else 2


if __name__ == "__main__":
    sys.exit(main())
