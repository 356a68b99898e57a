"""What the ops tracking tests share: delivery orders for a patient, at a given status,
made through orders.order_create (with a prescriber made here when none is given)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.models import CdsRegistration, PhysicianProfile, User
from prescriptions.models import DeliveryOrder, DosingProtocol, EventSource, OrderKind
from prescriptions.services.orders import order_create
from tests.factories import DeaFactory, LicenseFactory, PhysicianFactory, far_future
from tests.prescriptions.support import pharmacy, prescription_for


def prescriber() -> PhysicianProfile:
    """A physician licensed in FL and NJ with DEA in both and NJ CDS (like the fixture)."""
    doctor = PhysicianFactory(last_name="Okafor")
    for state in ("FL", "NJ"):
        LicenseFactory(physician=doctor, state=state)
        DeaFactory(physician=doctor, state=state)
    CdsRegistration.objects.create(
        physician=doctor, state="NJ", number="CDS-9", expires_on=far_future()
    )
    return doctor


def order_for(
    patient: User,
    physician: PhysicianProfile | None = None,
    *,
    status: str | None = None,
    **fields: Any,
) -> DeliveryOrder:
    """A first fill for `patient`, then moved (directly, no events) to `status` and given
    `fields` (milestones, carrier...)."""
    pharmacy()
    # One current protocol per patient: a second prescription here starts a new one.
    DosingProtocol.objects.filter(patient=patient.patient, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )
    order = order_create(
        prescription=prescription_for(patient, physician or prescriber()),
        patient=patient.patient,
        kind=OrderKind.FIRST_FILL,
        fill_number=0,
        source=EventSource.SYSTEM,
        actor=None,
    )
    changes: dict[str, Any] = dict(fields)
    if status is not None:
        changes["status"] = status
    if changes:
        DeliveryOrder.objects.filter(pk=order.pk).update(**changes)
        order.refresh_from_db()
    return order


def sent_at(text: str) -> datetime:
    """An aware time from ISO text ("2026-12-23T10:00-05:00")."""
    return datetime.fromisoformat(text)
