"""Outbox throughput: drain 10,000 due messages with the real dispatcher and one Celery
worker (its default two processes) against the in-memory SMS backend.

    python -m benchmarks.notifications_dispatch [--messages 10000] [--recipients 2500]

Prints messages per second (first claim to last status write) and the share of messages
that reached the backend exactly once (counted in Redis by the benchmark's backend).
Quiet hours and the daily cap are opened wide so that every message is due now; consent,
opt-out and the other rules are still evaluated for every message.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from config.embedded import embedded_services

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SEND_COUNTS = "bench:sms-send-counts"

try:  # importable outside Django too, for the worker's SMS_BACKEND path
    from notifications.sms.base import OutgoingSms, SentSms
    from notifications.sms.locmem import LocmemSmsBackend

    class CountingLocmemBackend(LocmemSmsBackend):
        """The locmem backend, plus a count per message in Redis (across worker processes)."""

        _redis: redis.Redis | None = None

        def send(self, sms: OutgoingSms) -> SentSms:
            if CountingLocmemBackend._redis is None:
                CountingLocmemBackend._redis = redis.Redis.from_url(os.environ["REDIS_URL"])
            CountingLocmemBackend._redis.hincrby(SEND_COUNTS, sms.message_id, 1)
            sent = super().send(sms)
            self.outbox_trim()
            return sent

        @staticmethod
        def outbox_trim() -> None:
            from notifications.sms import locmem

            locmem.outbox.clear()  # keep worker memory flat over 10,000 sends

except ImportError:  # pragma: no cover
    pass


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _seed(messages: int, recipients: int) -> None:
    from django.utils import timezone

    from accounts.models import Role, User
    from notifications.models import Consent, Message
    from patients.models import Patient

    users = User.objects.bulk_create(
        User(email=f"bench{n}@example.test", role=Role.PATIENT, password="!")
        for n in range(recipients)
    )
    patients = []
    for n, user in enumerate(users):
        patient = Patient(
            user=user,
            state="FL",
            county="Orange",
            time_zone="America/New_York",
            phone_verified_at=timezone.now(),  # care texts go only to proven numbers
        )
        patient.set_phone(f"+1407{n:07d}")
        patients.append(patient)
    Patient.objects.bulk_create(patients, batch_size=1000)
    Consent.objects.bulk_create(
        (
            Consent(user=user, category="care", channel="sms", granted=True, source="bench")
            for user in users
        ),
        batch_size=1000,
    )
    now = timezone.now()
    Message.objects.bulk_create(
        (
            Message(
                recipient=users[n % recipients],
                channel="sms",
                category="care",
                template_key="appointment_reminder",
                context={"path": f"/a/{n}"},
                dedupe_key=f"bench:{n}",
                send_at=now,
            )
            for n in range(messages)
        ),
        batch_size=2000,
    )


def _final_count() -> int:
    from notifications.models import Message

    return Message.objects.exclude(status__in=["scheduled", "claimed"]).count()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=2_500)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="bench-notify-") as data_dir,
        embedded_services(Path(data_dir)) as service_env,
    ):
        env = {
            **service_env,
            "SMS_BACKEND": "benchmarks.notifications_dispatch.CountingLocmemBackend",
            "NOTIFY_QUIET_START_HOUR": "0",
            "NOTIFY_QUIET_END_HOUR": "24",
            "NOTIFY_DAILY_CAP": "1000000",
            # One run drains everything: nothing (no beat) would start a second one.
            "NOTIFY_DISPATCH_TIME_BUDGET_SECONDS": "600",
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
        )
        django_setup(env)
        _seed(args.messages, args.recipients)
        counts = redis.Redis.from_url(env["REDIS_URL"])
        counts.delete(SEND_COUNTS)
        worker = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--loglevel",
                "WARNING",
                "--concurrency",
                str(args.concurrency),
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
        )
        try:
            from notifications.tasks import dispatch_due_messages

            time.sleep(3)  # let the worker connect before the clock starts
            started = time.monotonic()
            for _ in range(args.concurrency):  # what beat and on-commit enqueues do
                dispatch_due_messages.delay()
            while (done := _final_count()) < args.messages:
                if time.monotonic() - started > 600:
                    print(f"gave up after 600 s with {done} messages done")
                    return 1
                time.sleep(0.05)
            elapsed = time.monotonic() - started
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        per_message = [int(v) for v in counts.hvals(SEND_COUNTS)]
        exactly_once = sum(1 for v in per_message if v == 1)
        print(f"messages:            {args.messages}")
        print(f"worker processes:    {args.concurrency}")
        print(f"elapsed:             {elapsed:.2f} s")
        print(f"throughput:          {args.messages / elapsed:.0f} messages/s  (target >= 500)")
        print(
            f"sent exactly once:   {exactly_once / args.messages:.2%}"
            f"  (more than once: {sum(1 for v in per_message if v > 1)},"
            f" never: {args.messages - len(per_message)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
