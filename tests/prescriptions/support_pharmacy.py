"""What the pharmacy hand-off and webhook tests share: an order at a given status, and a
status report signed the way a pharmacy or carrier signs it."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from prescriptions.models import DeliveryOrder, EventSource, OrderKind, Pharmacy
from prescriptions.pharmacy.signing import SIGNATURE_HEADERS, signature_header
from prescriptions.services.orders import order_create
from tests.prescriptions.support import carrier, pharmacy, prescription_for


def new_order(
    patient: Any, physician: Any, *, status: str = "created", **fields: Any
) -> DeliveryOrder:
    """A first-fill order for `patient` (routed to the test pharmacy), moved to `status`
    directly; `fields` are stored on it too (carrier, tracking_number...)."""
    pharmacy()
    order = order_create(
        prescription=prescription_for(patient, physician),
        patient=patient.patient,
        kind=OrderKind.FIRST_FILL,
        fill_number=0,
        source=EventSource.SYSTEM,
        actor=None,
    )
    # It reached `status` a day ago: the reports the tests send are newer.
    changes = {"status": status, "status_changed_at": timezone.now() - timedelta(days=1)}
    DeliveryOrder.objects.filter(pk=order.pk).update(**{**changes, **fields})
    order.refresh_from_db()
    return order


def shipped_fields() -> dict[str, Any]:
    return {"carrier": carrier("ups"), "tracking_number": "1ZTEST0001"}


def post_signed(
    *,
    kind: str,
    key: str,
    report: dict[str, Any],
    secret: str,
    timestamp: int | None = None,
    client: APIClient | None = None,
    header: str | None = None,
) -> Any:
    """POST `report` to the pharmacy or carrier webhook, signed with `secret`."""
    body = json.dumps(report).encode()
    name = (
        "prescriptions-webhook-pharmacy" if kind == "pharmacy" else "prescriptions-webhook-carrier"
    )
    kwargs = {"pharmacy_id": key} if kind == "pharmacy" else {"code": key}
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = signature_header(body, secret, timestamp=stamp) if header is None else header
    return (client or APIClient()).post(
        reverse(name, kwargs=kwargs),
        data=body,
        content_type="application/json",
        headers={SIGNATURE_HEADERS[kind]: signature},
    )


def from_pharmacy(order: DeliveryOrder, event_id: str, status: str, at: str, **extra: Any) -> Any:
    test_pharmacy: Pharmacy = order.pharmacy
    report = {
        "event_id": event_id,
        "status": status,
        "occurred_at": at,
        "order_number": order.number,
    }
    return post_signed(
        kind="pharmacy",
        key=str(test_pharmacy.public_id),
        report={**report, **extra},
        secret=test_pharmacy.webhook_secret,
    )


def from_carrier(tracking_number: str, event_id: str, status: str, at: str, **extra: Any) -> Any:
    ups = carrier("ups")
    report = {"event_id": event_id, "status": status, "occurred_at": at}
    return post_signed(
        kind="carrier",
        key=ups.code,
        report={**report, "tracking_number": tracking_number, **extra},
        secret=ups.webhook_secret,
    )


class RecordingPharmacy:
    """A PHARMACY_BACKEND for tests: records each send (the order number and key) in
    `sends`, and answers from `script` (exceptions to raise, in turn; then receipts)."""

    sends: list[tuple[str, str]] = []
    script: list[Exception] = []

    def send(self, *, payload: dict[str, Any], pharmacy: Pharmacy, idempotency_key: str) -> Any:
        from prescriptions.pharmacy.base import PharmacyReceipt

        RecordingPharmacy.sends.append((payload["order"]["number"], idempotency_key))
        if RecordingPharmacy.script:
            raise RecordingPharmacy.script.pop(0)
        return PharmacyReceipt(reference=f"REF-{payload['order']['number']}")


RECORDING = "tests.prescriptions.support_pharmacy.RecordingPharmacy"
