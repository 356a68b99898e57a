"""Who may see which prescriptions and delivery orders: the one definition, as querysets.

- A patient: their own.
- A physician: their patients' (patients.selectors.record.patients_visible_to: the
  patients in the states where they may treat).
- An ops admin: every delivery order (addresses included, to track them), and no
  prescription: prescriptions' clinical fields are not theirs to read.
Anyone else: nothing. Another's id answers 404, like a missing one.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from accounts.models import Role, User
from core.errors import NotFound
from patients.selectors.record import patients_visible_to
from prescriptions.models import DeliveryOrder, Prescription


def prescriptions_visible_to(viewer: User) -> QuerySet[Prescription]:
    prescriptions = Prescription.objects.select_related("patient__user", "physician__user")
    if viewer.role in (Role.PATIENT, Role.PHYSICIAN):
        return prescriptions.filter(patient__in=patients_visible_to(viewer))
    return prescriptions.none()


def prescription_visible_to(viewer: User, public_id: uuid.UUID | str) -> Prescription:
    prescription = prescriptions_visible_to(viewer).filter(public_id=public_id).first()
    if prescription is None:
        raise NotFound("No such prescription.")
    return prescription


def orders_visible_to(viewer: User) -> QuerySet[DeliveryOrder]:
    orders = DeliveryOrder.objects.select_related("patient__user", "pharmacy", "carrier")
    if viewer.role == Role.OPS_ADMIN:
        return orders
    if viewer.role in (Role.PATIENT, Role.PHYSICIAN):
        return orders.filter(patient__in=patients_visible_to(viewer))
    return orders.none()


def order_visible_to(viewer: User, public_id: uuid.UUID | str) -> DeliveryOrder:
    order = orders_visible_to(viewer).filter(public_id=public_id).first()
    if order is None:
        raise NotFound("No such order.")
    return order
