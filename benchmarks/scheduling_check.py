"""After the scheduling load: no double booking, what the run booked, and slot search
over 30 days in-process.

Run inside the bench environment by benchmarks.run once wrk is done:

    python -m benchmarks.scheduling_check --since 2026-12-01T23:00:00+00:00 [--searches 50]

1. Double bookings, in SQL over every active appointment (booked, in progress): pairs of
   one physician's appointments whose [starts_at, blocked_until) overlap, and pairs of
   one patient's whose [starts_at, ends_at) do: the ranges the exclusion constraints
   keep apart, checked independently of them. Any: exit status 3.
2. Appointments created since --since (the run's bookings, the pre-check's included)
   and the reminders scheduled (messages with an `appointment:<id>:reminder:` key).
3. `open_slots` for a check-in over 30 days (tomorrow and the 29 days after it, on the
   patient's calendar) for each of the search patients in turn, used as the API uses
   it (the count, and the largest page: 100 slots): p50, p95 and max of the wall time,
   and the queries per search (CaptureQueriesContext). Target p95 < 50 ms. The process
   is set up as the app's is (config.wsgi, which freezes what start-up made), so garbage
   collection costs a search what it costs a request.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import sys
import time
from typing import Any

import django

TARGET_P95_MS = 50.0
PAGE_SIZE = 100  # the API's largest page

_OVERLAPS = """
SELECT a.{key}, count(*) FROM scheduling_appointment a
JOIN scheduling_appointment b
  ON a.{key} = b.{key} AND a.id < b.id
 AND tstzrange(a.starts_at, a.{end}) && tstzrange(b.starts_at, b.{end})
WHERE a.status IN ('booked', 'in_progress') AND b.status IN ('booked', 'in_progress')
GROUP BY 1
"""


def double_bookings() -> dict[str, dict[int, int]]:
    """{"physician": {physician_id: overlapping pairs}, "patient": {...}}; empty: none."""
    from django.db import connection

    from scheduling.models import ACTIVE_STATUSES

    assert {str(s) for s in ACTIVE_STATUSES} == {"booked", "in_progress"}
    found: dict[str, dict[int, int]] = {}
    with connection.cursor() as cursor:
        for side, key, end in (
            ("physician", "physician_id", "blocked_until"),
            ("patient", "patient_id", "ends_at"),
        ):
            cursor.execute(_OVERLAPS.format(key=key, end=end))
            found[side] = dict(cursor.fetchall())
    return found


def slot_search_timing(searches: int, *, kept: bool) -> tuple[list[float], list[int], list[int]]:
    """ms per 30-day search, queries per search, slots found per search. `kept`: as the
    API searches (the physician side of a search of the last seconds reused); without
    it every search computes everything (what the first search of a shape costs)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    # The searches run in a process started as the app's (config.wsgi: the URLconf and
    # views loaded, then everything start-up made collected and frozen), not in a bare
    # django.setup(): unfrozen, the ~120,000 objects of start-up are re-scanned by every
    # full collection, which a search's allocations trigger every few searches (30 to
    # 140 ms each: most of the p95). Importing it once per process freezes once.
    import config.wsgi  # noqa: F401
    from benchmarks.scheduling_data import SEARCH_SUBSCRIPTION_PREFIX
    from patients.models import Patient
    from patients.selectors.measurement import patient_zone
    from scheduling.selectors.slots import open_slots

    patients = list(
        Patient.objects.filter(
            subscriptions__gateway_subscription_id__startswith=SEARCH_SUBSCRIPTION_PREFIX
        ).order_by("pk")[:searches]
    )
    if not patients:
        raise SystemExit("no search patients (benchmarks.scheduling_data.ensure_base)")

    def search(patient: Any) -> int:
        """What the API does with a search: the count and the first page."""
        tomorrow = timezone.localdate(timezone=patient_zone(patient)) + dt.timedelta(days=1)
        slots = open_slots(
            patient=patient,
            kind="check_in",
            date_from=tomorrow,
            date_to=tomorrow + dt.timedelta(days=29),
            kept=kept,
        )
        found = len(slots)
        slots[:PAGE_SIZE]
        return found

    # Warm up, one untimed search per patient: the connection, prepared statements and
    # plans, caches, and the allocator's arenas (the first round after the load ran ~20%
    # slower at p50 and twice as slow at its tail in one process, the later rounds alike).
    for patient in patients:
        search(patient)
    times, queries, found = [], [], []
    for n in range(searches):
        patient = patients[n % len(patients)]
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            found.append(search(patient))
            times.append((time.perf_counter() - started) * 1000)
        queries.append(len(captured))
    return times, queries, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--since", type=dt.datetime.fromisoformat, required=True)
    parser.add_argument("--searches", type=int, default=50)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.db import ProgrammingError, connection

    from notifications.models import Message
    from scheduling.models import Appointment

    overlaps = double_bookings()
    booked = Appointment.objects.filter(created_at__gte=args.since).count()
    reminders = Message.objects.filter(
        dedupe_key__startswith="appointment:", dedupe_key__contains=":reminder:"
    ).count()
    active = Appointment.objects.filter(status__in=("booked", "in_progress")).count()
    print("\nscheduling, after the load:")
    print(f"  appointments booked during the run (pre-check included): {booked}; "
          f"reminders scheduled: {reminders}; active appointments in all: {active}")  # fmt: skip
    for side, rows in overlaps.items():
        verdict = "PASS" if not rows else f"FAIL: {sum(rows.values())} overlapping pairs"
        print(f"  double bookings per {side}: {len(rows)} {side}s with overlaps  {verdict}")
    # The load just wrote thousands of rows (appointments, reminders, audit events,
    # orders): vacuumed and analyzed now, as autovacuum would soon do, and the dirty
    # pages written out (CHECKPOINT), the searches are timed against the tables they
    # meet in steady use (visibility map set for the busy-range index-only scan, fresh
    # statistics), not racing autovacuum or the checkpointer for the two cores.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
        with contextlib.suppress(ProgrammingError):  # a role without pg_checkpoint
            cursor.execute("CHECKPOINT")
    for kept, label in ((False, "computed every time"), (True, "as the API searches")):
        times, queries, found = slot_search_timing(args.searches, kept=kept)
        p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
        print(f"  slot search over 30 days in-process, {label} ({len(times)} searches, "
              f"check-in, ~{statistics.median(found):.0f} slots each): "
              f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
              f"max {max(times):.1f} ms; queries per search {min(queries)}-{max(queries)}  "
              f"target p95 < {TARGET_P95_MS:.0f} ms "
              f"{'PASS' if p95 < TARGET_P95_MS else 'FAIL'}")  # fmt: skip
    return 3 if any(overlaps.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
