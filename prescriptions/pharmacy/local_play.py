"""The local pharmacy and carrier at work, for `make run`: a beat task
(prescriptions.tasks.play_local_pharmacy) calls `play_due`, which moves each order the
local pharmacy received one step further once its current status is older than
LOCAL_PHARMACY_STEP_SECONDS, by POSTing the status report the real sender would POST to
our own webhook endpoints, signed with that sender's secret:

    sent_to_pharmacy -> compounding -> shipped (carrier, tracking number)   the pharmacy
    shipped -> out_for_delivery -> delivered (who signed)                   the carrier

It keeps no state of its own: the order's status says what is due, and each step's event
id is derived from the order and the status, so a step posted twice is a duplicate our
endpoint drops. Like billing's local webhook deliveries, it goes over HTTP to
PUBLIC_BASE_URL (a `transport` stands in for HTTP in tests).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import requests  # noqa: TID251
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from prescriptions.models import Carrier, DeliveryOrder, LocalPharmacyReceipt, OrderStatus
from prescriptions.pharmacy.signing import SIGNATURE_HEADERS, signature_header

S = OrderStatus
Transport = Callable[[str, bytes, dict[str, str]], int]
# The status each order moves to next, and who reports it.
NEXT_STEP: dict[str, tuple[str, str]] = {
    S.SENT_TO_PHARMACY: (S.COMPOUNDING, "pharmacy"),
    S.COMPOUNDING: (S.SHIPPED, "pharmacy"),
    S.SHIPPED: (S.OUT_FOR_DELIVERY, "carrier"),
    S.OUT_FOR_DELIVERY: (S.DELIVERED, "carrier"),
}
DEMO_SIGNATURE = "Adult signature on file"


def _http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return requests.post(url, data=body, headers=headers, timeout=10).status_code


def local_tracking_number(order: DeliveryOrder) -> str:
    return "LOCAL" + order.number.removeprefix("KD-")


def play_due(*, transport: Transport | None = None, now: datetime | None = None) -> int:
    """Post the next report of every local order whose step is due; returns how many
    were answered with a 2xx."""
    post = transport or _http_post
    now = now or timezone.now()
    due_before = now - timedelta(seconds=settings.LOCAL_PHARMACY_STEP_SECONDS)
    orders = (
        DeliveryOrder.objects.filter(
            pk__in=LocalPharmacyReceipt.objects.values("order_id"),
            status__in=list(NEXT_STEP),
            status_changed_at__lte=due_before,
        )
        .select_related("pharmacy", "carrier")
        .order_by("status_changed_at")[:100]
    )
    carrier = Carrier.objects.filter(active=True).order_by("pk").first()
    answered = 0
    for order in orders:
        step = _step(order, carrier, now)
        if step is None:
            continue
        path, header, secret, report = step
        body = json.dumps(report).encode()
        headers = {"Content-Type": "application/json", header: signature_header(body, secret)}
        try:
            status = post(settings.PUBLIC_BASE_URL.rstrip("/") + path, body, headers)
        except requests.RequestException:
            status = 0
        answered += 200 <= status < 300
    return answered


def _step(
    order: DeliveryOrder, carrier: Carrier | None, now: datetime
) -> tuple[str, str, str, dict[str, Any]] | None:
    to, sender = NEXT_STEP[order.status]
    report: dict[str, Any] = {
        "event_id": f"local-{order.number}-{to}",
        "status": to,
        "occurred_at": now.isoformat(),
    }
    if sender == "pharmacy":
        if to == S.SHIPPED:
            if carrier is None:
                return None  # no carrier to ship with: seed_demo makes them
            report |= {"carrier": carrier.code, "tracking_number": local_tracking_number(order)}
        report["order_number"] = order.number
        path = reverse(
            "prescriptions-webhook-pharmacy", kwargs={"pharmacy_id": order.pharmacy.public_id}
        )
        return path, SIGNATURE_HEADERS["pharmacy"], order.pharmacy.webhook_secret, report
    if order.carrier is None:
        return None
    report["tracking_number"] = order.tracking_number
    if to == S.DELIVERED:
        report["signed_by"] = DEMO_SIGNATURE
    path = reverse("prescriptions-webhook-carrier", kwargs={"code": order.carrier.code})
    return path, SIGNATURE_HEADERS["carrier"], order.carrier.webhook_secret, report
