"""What the refill, order view and delivery text tests share: a patient ready for a refill
(cleared, a member, a recent check-in), their prescription with its first fill sent to the
pharmacy, and the API calls. The clock: NOW, 09:00 in the patient actor's zone
(America/Chicago); the first fill leaves then, so a 28-day supply at 0.75 may be refilled
from local midnight 21 days later (EARLIEST)."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.apps import apps

from accounts.models import PhysicianProfile, User
from billing.models import Subscription, SubscriptionStatus
from patients.models import ConsentKind
from patients.selectors.consent import consent_document_current
from prescriptions.models import (
    DeliveryOrder,
    EventSource,
    OrderKind,
    OrderStatus,
    Prescription,
)
from prescriptions.services.orders import order_create
from tests.actors import client_for
from tests.prescriptions.support import pharmacy, prescription_for
from tests.scheduling.support_book import cleared

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 09:00 Central
EARLIEST = datetime(2026, 12, 23, 6, 0, tzinfo=UTC)  # 00:00 Central on 23 December
_consent_documents = importlib.import_module("patients.migrations.0003_consent_documents")


def member(user: User, status: str = SubscriptionStatus.ACTIVE) -> Subscription:
    return Subscription.objects.create(
        patient=user.patient,
        gateway_subscription_id=f"sub_{uuid.uuid4().hex}",
        status=status,
        current_period_end=NOW + timedelta(days=30),
    )


def ready_for_refill(user: User) -> None:
    """Cleared (an approved intake two days ago, the consents of care) and a member."""
    if consent_document_current(ConsentKind.TREATMENT) is None:
        _consent_documents.publish(apps, None)  # a transactional test empties the database
    cleared(user)
    member(user)


def fill(
    prescription: Prescription,
    *,
    number: int = 0,
    sent_at: datetime | None = NOW,
    status: str = OrderStatus.SENT_TO_PHARMACY,
    created_at: datetime | None = None,
) -> DeliveryOrder:
    """A fill order of `prescription` (0: the first), stored as sent at `sent_at`."""
    order = order_create(
        prescription=prescription,
        patient=prescription.patient,
        kind=OrderKind.FIRST_FILL if number == 0 else OrderKind.REFILL,
        fill_number=number,
        source=EventSource.SYSTEM,
        actor=None,
    )
    changes: dict[str, Any] = {"status": status, "sent_to_pharmacy_at": sent_at}
    if created_at is not None:
        changes["created_at"] = created_at
    DeliveryOrder.objects.filter(pk=order.pk).update(**changes)
    order.refresh_from_db()
    return order


def prescription_filled(user: User, physician: PhysicianProfile, **fields: Any) -> Prescription:
    """A prescription for `user` (2 refills, 28 days' supply) with its first fill sent."""
    pharmacy()
    prescription = prescription_for(user, physician, **fields)
    fill(prescription)
    return prescription


def refill(user: User, prescription: Prescription, client: Any = None) -> Any:
    url = f"/api/prescriptions/prescriptions/{prescription.public_id}/refills"
    return (client or client_for(user)).post(url, format="json")


def reasons(response: Any) -> list[str]:
    assert response.status_code == 409, response.content
    body = response.json()["error"]
    assert body["code"] == "refill_refused", body
    return list(body["fields"]["reasons"])
