"""What an ops admin does to a delivery order: mark it an exception, make a replacement
for a lost or returned package, add a note to its timeline. The API and the Django
admin's actions call these, and only these.

A replacement is a new order (kind `replacement`, `replaces` the original) made by
orders.order_create, shipped to the patient's address as it is now and routed like any
order. It never counts as a refill (no fill number). An order has at most one
replacement (the OneToOne `replaces`): a second is a 409 `replacement_exists`.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from audit.services import audit_write
from core.errors import Conflict, ValidationFailed
from core.text import plain_text_problem
from prescriptions.models import (
    DeliveryEvent,
    DeliveryOrder,
    EventSource,
    OrderKind,
    OrderStatus,
    PrescriptionStatus,
)
from prescriptions.services.orders import order_create, order_transition

REPLACEABLE_STATUSES = frozenset({OrderStatus.EXCEPTION, OrderStatus.RETURNED})


def _text(value: str, field: str) -> str:
    text = value.strip()
    problem = "This field is required." if not text else plain_text_problem(text, multiline=True)
    if problem:
        raise ValidationFailed(f"The {field} is invalid.", fields={field: [problem]})
    return text


@transaction.atomic
def order_exception_mark(*, order: DeliveryOrder, actor: User, reason: str) -> DeliveryOrder:
    """Put `order` in `exception` (a lost package, a wrong address, a pharmacy problem),
    with why in the timeline. 409 `invalid_transition` where the lifecycle refuses it."""
    reason = _text(reason, "reason")
    return order_transition(
        order=order,
        to=OrderStatus.EXCEPTION,
        source=EventSource.OPS_ADMIN,
        actor=actor,
        note=reason,
    )


@transaction.atomic
def order_replacement_create(*, order: DeliveryOrder, actor: User, reason: str) -> DeliveryOrder:
    """A replacement order for `order`, which must be in `exception` or `returned` (409
    `not_replaceable` otherwise), not replaced already (409 `replacement_exists`), of a
    prescription not canceled (409 `prescription_canceled`). An original in exception is
    canceled (a late scan of it is then stale); its timeline names the replacement and why."""
    reason = _text(reason, "reason")
    # The lock makes concurrent requests for one order take turns: the second sees the first's.
    original = (
        DeliveryOrder.objects.select_for_update()
        .select_related("prescription", "patient")
        .get(pk=order.pk)
    )
    # Asked first: replacing an order in exception cancels it.
    if DeliveryOrder.objects.filter(replaces=original).exists():
        raise Conflict("This order has a replacement already.", code="replacement_exists")
    if original.status not in REPLACEABLE_STATUSES:
        raise Conflict(
            "Only an order in exception or returned can be replaced.",
            code="not_replaceable",
            fields={"status": [f"The order is {original.status}."]},
        )
    if original.prescription.status == PrescriptionStatus.CANCELED:
        raise Conflict("The prescription was canceled.", code="prescription_canceled")
    replacement = order_create(
        prescription=original.prescription,
        patient=original.patient,
        kind=OrderKind.REPLACEMENT,
        replaces=original,
        source=EventSource.OPS_ADMIN,
        actor=actor,
    )
    note = f"Replaced by {replacement.number}: {reason}"
    if original.status == OrderStatus.EXCEPTION:
        # The original ends here, so a late scan of it cannot deliver it too: one package
        # of a Schedule III drug per fill.
        order_transition(
            order=original,
            to=OrderStatus.CANCELED,
            source=EventSource.OPS_ADMIN,
            actor=actor,
            note=note,
        )
    else:
        DeliveryEvent.objects.create(
            order=original, source=EventSource.OPS_ADMIN, actor=actor, note=note
        )
    audit_write(
        original,
        actor=actor,
        action="delivery_order.replace",
        detail={"replacement": str(replacement.public_id)},
    )
    return replacement


@transaction.atomic
def order_note_add(*, order: DeliveryOrder, actor: User, note: str) -> DeliveryEvent:
    """A note on `order`'s timeline (no status change; the note is encrypted)."""
    note = _text(note, "note")
    event = DeliveryEvent.objects.create(
        order=order, source=EventSource.OPS_ADMIN, actor=actor, note=note
    )
    audit_write(order, actor=actor, action="delivery_order.note")
    return event
