"""Delivery tracking for ops admins, read side: the list's page, its counts by status, the
export's rows and one order's detail with its timeline.

Everything starts from scoping.orders_visible_to(viewer) (the one definition of who sees
which orders), filtered by the API's FilterSet. A row carries what an ops admin tracks:
the order's number, kind, status, where it ships (state and county), its pharmacy,
carrier and tracking number, its milestones and whether it is overdue. Never the
prescription's clinical fields, never visit notes.

The list shows no part of the encrypted address: the minimum an ops admin needs to
triage a page of orders is the state and county (what it filters by), and the list is
the screen read most often. The export adds the city; the detail shows the whole
address. (Decrypting 25 cities was also a tenth of the list's time.)
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.core.cache import cache
from django.db.models import Count, QuerySet

from accounts.models import User
from audit.services import PhiRead, audit_phi_read, audit_phi_reads
from prescriptions.models import DeliveryEvent, DeliveryOrder, OrderStatus, PharmacySubmission
from prescriptions.selectors.scoping import order_visible_to

ORDER_TYPE = DeliveryOrder._meta.label_lower
# Newest first; the id breaks ties so that pages never overlap.
ORDERING = ("-created_at", "-id")


class TrackingRow(NamedTuple):
    """One order as the list and the export show it. A tuple: 25 per page, 100,000 per
    export, and nothing a serializer would add."""

    public_id: uuid.UUID
    number: str
    kind: str
    status: str
    status_changed_at: datetime
    state: str
    county: str
    pharmacy_id: uuid.UUID
    pharmacy_name: str
    carrier_code: str | None
    carrier_name: str | None
    tracking_url_template: str | None
    tracking_number: str
    created_at: datetime
    sent_to_pharmacy_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    overdue_at: datetime | None
    overdue_reason: str
    patient_public_id: uuid.UUID

    @property
    def tracking_url(self) -> str | None:
        if not (self.tracking_url_template and self.tracking_number):
            return None
        return self.tracking_url_template.format(tracking_number=self.tracking_number)


# The columns of a TrackingRow, in order: none of them encrypted.
_COLUMNS = (
    "public_id",
    "number",
    "kind",
    "status",
    "status_changed_at",
    "ship_to_state",
    "ship_to_county",
    "pharmacy__public_id",
    "pharmacy__name",
    "carrier__code",
    "carrier__name",
    "carrier__tracking_url_template",
    "tracking_number",
    "created_at",
    "sent_to_pharmacy_at",
    "shipped_at",
    "delivered_at",
    "overdue_at",
    "overdue_reason",
    "patient__public_id",
)


@dataclass(frozen=True)
class TrackingPage:
    rows: list[TrackingRow]
    total: int | None  # None: no row at this offset, so the total was not counted


def tracking_page_audited(
    viewer: User, queryset: QuerySet[DeliveryOrder], *, offset: int, limit: int
) -> TrackingPage:
    """One page of `queryset` (already scoped and filtered), newest first, and its total,
    then one statement auditing the read of every order on it. The total is a COUNT over
    the orders table alone (no joins), asked only when the page does not tell it: a
    window count over the page's query would read every matching row with its joins
    before the LIMIT. At most three statements, whatever the page size."""
    records = list(queryset.order_by(*ORDERING).values_list(*_COLUMNS)[offset : offset + limit])
    if not records:
        return TrackingPage([], 0 if offset == 0 else None)
    rows = [TrackingRow(*record) for record in records]
    total = offset + len(rows) if len(rows) < limit else queryset.order_by().count()
    audit_phi_reads(
        actor=viewer,
        reads=[PhiRead(ORDER_TYPE, row.public_id, row.patient_public_id) for row in rows],
    )
    return TrackingPage(rows, total)


def tracking_rows(
    queryset: QuerySet[DeliveryOrder], *, chunk_size: int = 2000
) -> Iterator[tuple[TrackingRow, str]]:
    """Every row of `queryset` (scoped and filtered), newest first, with its ship-to city
    (decrypted), read through a server-side cursor `chunk_size` rows at a time (the
    export)."""
    columns = (*_COLUMNS, "ship_to_city")
    for *values, city in queryset.order_by(*ORDERING).values_list(*columns).iterator(chunk_size):
        yield TrackingRow(*values), city


def tracking_counts(queryset: QuerySet[DeliveryOrder]) -> dict[str, int]:
    """How many orders of `queryset` are in each status, every status present (zeros
    included), in one statement (GROUP BY status; an index-only scan of the status
    index where the filters allow)."""
    counts = dict.fromkeys(OrderStatus.values, 0)
    grouped = queryset.order_by().values_list("status").annotate(n=Count("*"))
    for status, n in grouped:
        counts[status] = n
    return counts


# The counts are a dashboard's: a few seconds old is fine, and one count reads every
# matching order (100,000 of them unfiltered). Polled by every ops admin's screen.
COUNTS_FRESH_SECONDS = 5


def tracking_counts_cached(
    viewer: User,
    orders: Callable[[], QuerySet[DeliveryOrder]],
    *,
    filters: Mapping[str, list[str]],
) -> dict[str, int]:
    """tracking_counts(orders()), reused for COUNTS_FRESH_SECONDS per viewer and filter
    (`filters`: the query parameters `orders()` filters by). `orders` is called only on a
    miss: building and validating the filters costs more than the cache read. Only counts
    are cached, nothing that names an order or a patient; a filter that does not validate
    raises in `orders()` and is never cached."""
    scope = [viewer.pk, viewer.role, sorted((key, sorted(v)) for key, v in filters.items())]
    digest = hashlib.sha256(json.dumps(scope).encode()).hexdigest()
    key = f"prescriptions:delivery-counts:{digest}"
    counts = cache.get(key)
    if counts is None:
        counts = tracking_counts(orders())
        cache.set(key, counts, COUNTS_FRESH_SECONDS)
    return counts


@dataclass(frozen=True)
class TrackingDetail:
    order: DeliveryOrder
    events: list[DeliveryEvent]
    replacement: DeliveryOrder | None
    submission_status: str | None


def tracking_detail_audited(viewer: User, public_id: uuid.UUID | str) -> TrackingDetail:
    """One order (404 unless visible to `viewer`) with its whole timeline, its replacement
    (if one was made) and its pharmacy hand-off status; the read is audited."""
    order = order_visible_to(viewer, public_id)
    events = list(order.events.select_related("actor").order_by("at", "pk"))
    replacement = DeliveryOrder.objects.filter(replaces=order).only("public_id", "number").first()
    submission = (
        PharmacySubmission.objects.filter(order=order).values_list("status", flat=True).first()
    )
    audit_phi_read(actor=viewer, objects=[order])
    return TrackingDetail(order, events, replacement, submission)
