"""Delivery orders: making one (first fill, refill, replacement) and moving it along.

ALLOWED_TRANSITIONS is the one lifecycle rule. Every change goes through
`order_transition`, which locks the row, refuses what the table does not allow (409
`invalid_transition`), stamps the milestone times and writes a DeliveryEvent (who or
what, when, from which source). Webhooks decide whether a late or repeated report is
stale before they call it (prescriptions.services.webhooks); staff and tasks get the 409.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import State, User
from audit.services import audit_write
from core.compiled import CompiledOnce
from core.errors import Conflict
from patients.models import Patient
from prescriptions.models import (
    Carrier,
    DeliveryEvent,
    DeliveryOrder,
    OrderKind,
    OrderStatus,
    Pharmacy,
    PharmacySubmission,
    Prescription,
)
from prescriptions.services.order_texts import order_texts_schedule

S = OrderStatus
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.SENT_TO_PHARMACY, S.EXCEPTION, S.CANCELED}),
    S.SENT_TO_PHARMACY: frozenset({S.COMPOUNDING, S.SHIPPED, S.EXCEPTION, S.CANCELED}),
    S.COMPOUNDING: frozenset({S.SHIPPED, S.EXCEPTION, S.CANCELED}),
    S.SHIPPED: frozenset({S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION, S.RETURNED}),
    S.OUT_FOR_DELIVERY: frozenset({S.DELIVERED, S.EXCEPTION, S.RETURNED}),
    # An exception is resolved by the next real status, or ends the order.
    S.EXCEPTION: frozenset(
        {S.COMPOUNDING, S.SHIPPED, S.OUT_FOR_DELIVERY, S.DELIVERED, S.RETURNED, S.CANCELED}
    ),
    S.DELIVERED: frozenset(),
    S.RETURNED: frozenset(),
    S.CANCELED: frozenset(),
}
FINAL_STATUSES = frozenset(status for status, onward in ALLOWED_TRANSITIONS.items() if not onward)
# The way forward, for webhooks: a report behind the order's place is stale.
PROGRESS = (
    S.CREATED,
    S.SENT_TO_PHARMACY,
    S.COMPOUNDING,
    S.SHIPPED,
    S.OUT_FOR_DELIVERY,
    S.DELIVERED,
)
SHIPPABLE_STATES = (State.FL, State.NJ)
_NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L


def transition_refuse(order: DeliveryOrder, to: str) -> None:
    if to not in ALLOWED_TRANSITIONS[order.status]:
        raise Conflict(
            f"An order cannot go from {order.status} to {to}.",
            code="invalid_transition",
            fields={"status": [f"{order.status} -> {to} is not allowed."]},
        )


@transaction.atomic
def order_transition(
    *,
    order: DeliveryOrder,
    to: str,
    source: str,
    actor: User | None = None,
    at: datetime | None = None,
    external_id: str = "",
    note: str = "",
    carrier: Carrier | None = None,
    tracking_number: str = "",
    signed_by: str = "",
) -> DeliveryOrder:
    """Move `order` to `to` (see the module docstring). Shipping needs the carrier and
    tracking number; delivery may say who signed."""
    order = DeliveryOrder.objects.select_for_update().get(pk=order.pk)
    transition_refuse(order, to)
    if to == S.SHIPPED and not (carrier or order.carrier) and not tracking_number:
        raise Conflict(
            "A shipped order needs its carrier and tracking number.",
            code="tracking_required",
            fields={"tracking_number": ["This field is required to mark an order shipped."]},
        )
    at = at or timezone.now()
    from_status = order.status
    order.status, order.status_changed_at = to, at
    changed = ["status", "status_changed_at"]
    if to == S.SENT_TO_PHARMACY:
        order.sent_to_pharmacy_at = at
        changed.append("sent_to_pharmacy_at")
    if carrier is not None:
        order.carrier = carrier
        changed.append("carrier")
    if tracking_number:
        order.tracking_number = tracking_number
        changed.append("tracking_number")
    # Out for delivery or delivered straight from an exception, with no "shipped" ever
    # reported: it was on its way by then at the latest, and the not-delivered overdue
    # rule counts from shipped_at (null, it would never flag the order).
    if to in (S.SHIPPED, S.OUT_FOR_DELIVERY, S.DELIVERED) and order.shipped_at is None:
        order.shipped_at = at
        changed.append("shipped_at")
    if to == S.DELIVERED:
        order.delivered_at, order.delivered_signed_by = at, signed_by
        changed += ["delivered_at", "delivered_signed_by"]
    order.save(update_fields=changed)
    DeliveryEvent.objects.create(
        order=order,
        from_status=from_status,
        to_status=to,
        at=at,
        source=source,
        actor=actor,
        external_id=external_id,
        note=note,
    )
    audit_write(
        order, actor=actor, action="delivery_order.status", detail={"from": from_status, "to": to}
    )
    order_texts_schedule(order=order)  # the patient's delivery texts (services.order_texts)
    return order


def pharmacies_for(state: str) -> QuerySet[Pharmacy]:
    """The first active pharmacy permitted to ship to `state`."""
    return Pharmacy.objects.filter(active=True, ships_to__contains=[state]).order_by("pk")[:1]


# Every order asks: built and compiled once per process.
_PHARMACIES: Final = CompiledOnce(pharmacies_for, ({"state": "#1"}, {"state": "#2"}))


def pharmacy_for(state: str) -> Pharmacy | None:
    """An active pharmacy permitted to ship to `state` (the same one each time, while it
    stays so: orders of one patient go to one pharmacy): pharmacies_for(state)."""
    return _PHARMACIES.first(state=state)


@transaction.atomic
def order_create(
    *,
    prescription: Prescription,
    patient: Patient,
    kind: str,
    source: str,
    actor: User | None,
    fill_number: int | None = None,
    replaces: DeliveryOrder | None = None,
) -> DeliveryOrder:
    """A delivery order for one fill (or a replacement) shipped to the patient's address
    as it is now, routed to a pharmacy permitted for that state, with its pharmacy
    hand-off queued (a PharmacySubmission). 409 when the address is not a complete FL
    or NJ one, or no pharmacy may ship there. A fill that exists already is a 409
    `fill_exists` (callers that expect a repeat look for it first)."""
    order, _ = order_make(
        prescription=prescription,
        patient=patient,
        kind=kind,
        source=source,
        actor=actor,
        fill_number=fill_number,
        replaces=replaces,
    )
    return order


def order_make(
    *,
    prescription: Prescription,
    patient: Patient,
    kind: str,
    source: str,
    actor: User | None,
    fill_number: int | None = None,
    replaces: DeliveryOrder | None = None,
) -> tuple[DeliveryOrder, DeliveryEvent]:
    """order_create in the caller's transaction, without a savepoint of its own, and the
    order's `created` event with it (an answer needs not read it back). For a caller
    already in `transaction.atomic`: any 409 but `fill_exists` leaves the transaction to
    be rolled back; `fill_exists` leaves it as it was."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_make needs the caller's transaction.")
    problems = _ship_to_problems(patient)
    if not problems and patient.state != prescription.patient_state:
        # Written under the license and registrations of the state the patient was in; a
        # patient who has moved needs a prescription for their new state.
        raise Conflict(
            f"This prescription was written for {prescription.patient_state}; the delivery "
            f"address is now in {patient.state}.",
            code="ship_to_state_changed",
            fields={"address": [f"state must be {prescription.patient_state}."]},
        )
    if problems:
        raise Conflict(
            "The delivery address must be a complete Florida or New Jersey address.",
            code="ship_to_invalid",
            fields={"address": problems},
        )
    pharmacy = pharmacy_for(patient.state)
    if pharmacy is None:
        raise Conflict(
            "No partner pharmacy may ship to your state right now.",
            code="no_pharmacy_for_state",
        )
    fields: dict[str, Any] = {
        "prescription": prescription,
        "patient": patient,
        "kind": kind,
        "fill_number": None if kind == OrderKind.REPLACEMENT else fill_number,
        "replaces": replaces,
        "pharmacy": pharmacy,
        "ship_to_name": f"{patient.legal_first_name} {patient.legal_last_name}",
        "ship_to_line1": patient.address_line1,
        "ship_to_line2": patient.address_line2,
        "ship_to_city": patient.city,
        "ship_to_zip": patient.zip_code,
        "ship_to_state": patient.state,
        "ship_to_county": patient.county,
        "created_by": actor,
    }
    order = _insert(fields)
    event = DeliveryEvent.objects.create(
        order=order, to_status=S.CREATED, source=source, actor=actor
    )
    from prescriptions.services.submission import submission_enqueue  # imports this module

    submission_enqueue(PharmacySubmission.objects.create(order=order))
    audit_write(order, actor=actor, action="delivery_order.create", detail={"kind": kind})
    return order, event


def _insert(fields: dict[str, Any], attempts: int = 3) -> DeliveryOrder:
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                return DeliveryOrder.objects.create(number=_order_number(), **fields)
        except IntegrityError as exc:
            if "one_order_per_fill" in str(exc):
                raise Conflict("That fill has been ordered already.", code="fill_exists") from exc
            if "number" not in str(exc) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _ship_to_problems(patient: Patient) -> list[str]:
    problems = [
        f"{name} is missing."
        for name, value in (
            ("address_line1", patient.address_line1),
            ("city", patient.city),
            ("zip_code", patient.zip_code),
            ("county", patient.county),
        )
        if not value
    ]
    if patient.state not in SHIPPABLE_STATES:
        problems.append("state must be FL or NJ.")
    return problems


def _order_number() -> str:
    """ "KD-" and 8 unambiguous characters: 31^8 (about 8.5e11) numbers; a clash with an
    existing one (the unique constraint) draws again."""
    return "KD-" + "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(8))
