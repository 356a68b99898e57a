"""What `make bench` measures. Add an endpoint by appending to ENDPOINTS."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

BASELINE = "healthz"
# The slot search's week: tomorrow and the six days after it, on the bench patient's
# calendar (Eastern time), fixed when the benchmark starts.
_TOMORROW = dt.datetime.now(ZoneInfo("America/New_York")).date() + dt.timedelta(days=1)
SLOT_WEEK = f"date_from={_TOMORROW}&date_to={_TOMORROW + dt.timedelta(days=6)}"


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    # Bearer token kind made by benchmarks.setup_data (a key of its TOKEN_KINDS), or None.
    auth: str | None = None
    # Minimum req/s as a fraction of the baseline's req/s in the same round; None: report only.
    target_ratio: float | None = None
    headers: tuple[tuple[str, str], ...] = ()
    # "POST" needs a feed: every request its own token and body, never reused (see
    # benchmarks.run.feed_script); the only feed is "bookings" (setup_data --bookings).
    method: str = "GET"
    feed: str | None = None
    # What the pre-check expects (a feed endpoint spends its first entry on it).
    ok_status: int = 200


ENDPOINTS: list[Endpoint] = [
    Endpoint(BASELINE, "/healthz"),
    Endpoint("me", "/api/me", auth="patient", target_ratio=0.35),
    # The patient's own record: decrypted, with its audit event.
    Endpoint("record", "/api/patients/me", auth="patient", target_ratio=0.30),
    # A physician's review queue, one page of 20, each row audited (one INSERT).
    Endpoint("queue", "/api/review/intakes?page_size=20", auth="physician", target_ratio=0.15),
    # Check-in slots for a week across the 50 physicians (20,000 booked appointments).
    Endpoint(
        "slots",
        f"/api/scheduling/slots?kind=check_in&{SLOT_WEEK}",
        auth="scheduling_patient",
        target_ratio=0.10,
    ),
    # A check-in booked by a fresh cleared patient in a fresh open slot, with its
    # confirmation and reminders scheduled; a 409 fails the run.
    Endpoint(
        "book",
        "/api/scheduling/appointments",
        method="POST",
        feed="bookings",
        ok_status=201,
        target_ratio=0.05,
    ),
    # The ops admin's delivery list over 100,000 orders: one page of 25, filtered, each
    # order on it audited (one INSERT).
    Endpoint(
        "deliveries",
        "/api/prescriptions/deliveries?status=shipped&status=out_for_delivery&state=FL"
        "&page_size=25",
        auth="ops_admin",
        target_ratio=0.15,
    ),
    # Counts by status over the 100,000 orders (one GROUP BY).
    Endpoint(
        "delivery_counts",
        "/api/prescriptions/deliveries/counts",
        auth="ops_admin",
        target_ratio=0.20,
    ),
    # A refill asked by a fresh patient whose prescription is due one: every check (the
    # prescription's, clearance, check-in cadence, membership) and the order made.
    Endpoint(
        "refill",
        "/api/prescriptions/prescriptions/{id}/refills",
        method="POST",
        feed="refills",
        ok_status=201,
        target_ratio=0.05,
    ),
]
