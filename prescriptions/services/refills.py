"""A patient's refill request: every reason it is refused, at once, or the next fill's
delivery order, once however often (or however concurrently) it is asked.

Refusal reasons (409 `refill_refused`, `fields.reasons`, in this order):
- `prescription_canceled`;
- `no_refills_remaining`: as many refill orders as the prescription allows used up their
  fill (below; replacements for lost packages are not fills and never count);
- `prescription_expired`: the practice's today is after `expires_on` (21 CFR 1306.22:
  no refill more than 6 months after the issue date);
- `refill_too_early`: before the earliest refill date (below);
- `check_in_overdue`: scheduling.selectors.cadence.check_in_status(patient).overdue;
- patient_clearance's reasons as they are (`safety_flag_open`,
  `questionnaire_overdue:<instrument>`, ...);
- the membership gate's reason (`membership_required`, `membership_paused`, ...).

A fill order uses up its fill unless it was never dispensed: canceled before it shipped
(`status` canceled, `shipped_at` never set) and not replaced. Canceling is allowed from
created, sent to the pharmacy and compounding (the pharmacy still has it), and from
exception, which may come after shipping: an order canceled from there after it shipped
was dispensed (lost on the way, say) and counts, as a returned one does (the pharmacy
dispensed it). An order canceled because ops replaced it counts too: its replacement
carries that fill to the patient. A fill never dispensed keeps its fill number (the
`one_order_per_fill` constraint: the next order takes the next number) but uses up no
refill and dates nothing. `fill_used` is the one rule (the prescription API's
`refills_remaining` asks it too).

"The last fill" is the fill order that used up its fill (first fill or refill, never a
replacement) with the highest fill number; it happened when it was sent to the pharmacy
(`sent_to_pharmacy_at`), or, not sent yet, when it was made (`created_at`); with no such
fill order, when the prescription was signed. The earliest refill date is the last
fill's date in the patient's zone plus REFILL_EARLIEST_FRACTION x days' supply, rounded
up to a whole day (28 days' supply at 0.75: 21 days later). A refill may be asked from
local midnight of that date; the refusal names the date.

Once: the prescription row is locked while deciding, so concurrent requests decide one
after the other; the `one_order_per_fill` constraint is the backstop. A request that
repeats the one that made the latest fill (a refill order of this prescription made in
the last REFILL_REPEAT_WINDOW, not delivered, returned or canceled) gets that order
back rather than a confusing refusal (`created` False: the API answers 200).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import User
from billing.selectors import membership_gate_of
from core.clock import practice_today
from core.compiled import CompiledOnce
from core.errors import Conflict, NotFound
from patients.clearance import clearance_of
from patients.selectors.measurement import patient_zone
from prescriptions.models import (
    DeliveryEvent,
    DeliveryOrder,
    EventSource,
    OrderKind,
    OrderStatus,
    Prescription,
    PrescriptionStatus,
)
from prescriptions.selectors.refill_facts import refill_facts
from prescriptions.selectors.refill_lock import locked, prescription_locked_visible
from prescriptions.services.orders import order_make
from scheduling.selectors.cadence import check_in_status_of

REFILL_REFUSED: Final = "refill_refused"
PRESCRIPTION_CANCELED: Final = "prescription_canceled"
NO_REFILLS_REMAINING: Final = "no_refills_remaining"
PRESCRIPTION_EXPIRED: Final = "prescription_expired"
REFILL_TOO_EARLY: Final = "refill_too_early"
CHECK_IN_OVERDUE: Final = "check_in_overdue"
# How long a repeat of the request that made the latest refill gets that order back.
REFILL_REPEAT_WINDOW: Final = timedelta(minutes=15)
_SETTLED: Final = frozenset({OrderStatus.DELIVERED, OrderStatus.RETURNED, OrderStatus.CANCELED})


@dataclass(frozen=True)
class RefillOutcome:
    order: DeliveryOrder
    created: bool  # False: a repeat of the request that made `order`
    timeline: list[DeliveryEvent] | None = None  # a new order's: its `created` event


@dataclass(frozen=True)
class RefillDecision:
    reasons: list[str]
    earliest_on: date  # the earliest refill date, in the patient's zone
    next_fill_number: int


_SHIP_TO: Final = (
    "ship_to_name",
    "ship_to_line1",
    "ship_to_line2",
    "ship_to_city",
    "ship_to_zip",
    "delivered_signed_by",
)


def replaced() -> Exists:
    """The `replaced` annotation fill_used reads: the order has a replacement."""
    return Exists(DeliveryOrder.objects.filter(replaces=OuterRef("pk")))


def fill_used(order: DeliveryOrder) -> bool:
    """Whether the fill order `order` (annotated with `replaced`) used up its fill: not
    when it was canceled before it shipped and not replaced (module docstring)."""
    never_dispensed = order.status == OrderStatus.CANCELED and order.shipped_at is None
    return not never_dispensed or bool(order.replaced)  # type: ignore[attr-defined]


def refills_used(orders: list[DeliveryOrder]) -> int:
    """How many of the refill orders among `orders` (each annotated with `replaced`)
    used up their fill."""
    return sum(1 for order in orders if order.kind == OrderKind.REFILL and fill_used(order))


def fills_queryset(prescription_pk: int) -> QuerySet[DeliveryOrder]:
    """The prescription's fill orders (no replacements), latest fill last, with whether
    each was replaced; the ship-to snapshots stay encrypted (a repeat reads its order
    again, whole)."""
    return (
        DeliveryOrder.objects.filter(prescription_id=prescription_pk, fill_number__isnull=False)
        .exclude(kind=OrderKind.REPLACEMENT)
        .defer(*_SHIP_TO)
        .annotate(replaced=replaced())
        .order_by("fill_number")
    )


# Every refill reads them: built and compiled once per process.
_FILLS: Final = CompiledOnce(fills_queryset, ({"prescription_pk": -1}, {"prescription_pk": -2}))


def _fills(prescription: Prescription) -> list[DeliveryOrder]:
    """list(fills_queryset(prescription.pk))."""
    return _FILLS.all(prescription_pk=prescription.pk)


def last_fill_at(prescription: Prescription, fills: list[DeliveryOrder]) -> datetime:
    """When the last fill happened (module docstring)."""
    used = [fill for fill in fills if fill_used(fill)]
    if not used:
        return prescription.signed_at
    latest = used[-1]
    return latest.sent_to_pharmacy_at or latest.created_at


def refill_earliest_on(prescription: Prescription, fills: list[DeliveryOrder]) -> date:
    zone = patient_zone(prescription.patient)
    fraction = Decimal(str(settings.REFILL_EARLIEST_FRACTION))
    days = math.ceil(fraction * prescription.days_supply)
    return timezone.localdate(last_fill_at(prescription, fills), timezone=zone) + timedelta(
        days=days
    )


def refill_decision(
    prescription: Prescription, fills: list[DeliveryOrder] | None = None
) -> RefillDecision:
    """Every reason a refill of `prescription` is refused now (empty: it may be ordered)."""
    fills = _fills(prescription) if fills is None else fills
    patient = prescription.patient
    reasons: list[str] = []
    if prescription.status == PrescriptionStatus.CANCELED:
        reasons.append(PRESCRIPTION_CANCELED)
    if refills_used(fills) >= prescription.refills:
        reasons.append(NO_REFILLS_REMAINING)
    if practice_today() > prescription.expires_on:
        reasons.append(PRESCRIPTION_EXPIRED)
    earliest_on = refill_earliest_on(prescription, fills)
    if timezone.localdate(timezone=patient_zone(patient)) < earliest_on:
        reasons.append(REFILL_TOO_EARLY)
    # The check-in cadence's, the clearance's and the membership's facts in one query,
    # each read the way its own selector reads it (selectors.refill_facts).
    now = timezone.now()
    facts = refill_facts(patient.pk, now)
    if check_in_status_of(facts, now).overdue:
        reasons.append(CHECK_IN_OVERDUE)
    reasons += clearance_of(facts, now=now).reasons
    gate = membership_gate_of(facts, now)
    if not gate.allowed:
        reasons.append(gate.reason)
    # A fill never dispensed keeps its number: the next order takes the one after it.
    next_fill = (fills[-1].fill_number or 0) + 1 if fills else 1
    return RefillDecision(reasons=reasons, earliest_on=earliest_on, next_fill_number=next_fill)


def _repeat_of(fills: list[DeliveryOrder], now: datetime) -> DeliveryOrder | None:
    """The latest fill, when this request repeats the one that made it."""
    if not fills:
        return None
    latest = fills[-1]
    if (
        latest.kind == OrderKind.REFILL
        and latest.status not in _SETTLED
        and latest.created_at >= now - REFILL_REPEAT_WINDOW
    ):
        return latest
    return None


@transaction.atomic
def refill_request(*, prescription: Prescription, actor: User) -> RefillOutcome:
    """The next fill of `prescription` for its patient (module docstring); 409
    `refill_refused` with every reason in `fields.reasons`, or order_create's 409s
    (`ship_to_invalid`, `no_pharmacy_for_state`)."""
    return _refill(locked(Prescription.objects.filter(pk=prescription.pk)).get(), actor)


@transaction.atomic
def refill_request_visible(*, viewer: User, public_id: uuid.UUID | str) -> RefillOutcome:
    """refill_request for the viewer's own prescription `public_id` (404 for anyone
    else's): found and locked in one statement (selectors.refill_lock)."""
    prescription = prescription_locked_visible(viewer, public_id)
    if prescription is None:
        raise NotFound("No such prescription.")
    return _refill(prescription, actor=viewer)


def _refill(prescription: Prescription, actor: User) -> RefillOutcome:
    fills = _fills(prescription)
    repeat = _repeat_of(fills, timezone.now())
    if repeat is not None:
        return RefillOutcome(order=DeliveryOrder.objects.get(pk=repeat.pk), created=False)
    decision = refill_decision(prescription, fills)
    if decision.reasons:
        raise _refused(prescription, decision)
    try:
        order, event = order_make(
            prescription=prescription,
            patient=prescription.patient,
            kind=OrderKind.REFILL,
            fill_number=decision.next_fill_number,
            source=EventSource.PATIENT,
            actor=actor,
        )
    except Conflict as exc:
        # The backstop: the lock makes this unreachable unless a writer skipped it.
        if exc.code != "fill_exists":
            raise
        existing = DeliveryOrder.objects.get(
            prescription=prescription, fill_number=decision.next_fill_number
        )
        return RefillOutcome(order=existing, created=False)
    return RefillOutcome(order=order, created=True, timeline=[event])


def _refused(prescription: Prescription, decision: RefillDecision) -> Conflict:
    message = "This refill cannot be ordered now."
    fields = {"reasons": decision.reasons}
    if REFILL_TOO_EARLY in decision.reasons:
        earliest = decision.earliest_on.isoformat()
        zone = patient_zone(prescription.patient).key
        message += f" The earliest date for it is {earliest} ({zone})."
        fields["earliest_on"] = [earliest]
    return Conflict(message, code=REFILL_REFUSED, fields=fields)
