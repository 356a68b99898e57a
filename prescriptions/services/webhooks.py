"""Status reports from pharmacies and carriers (their signed webhooks).

`webhook_sender_verified` finds the sender (a pharmacy by public id, a carrier by code)
and checks the signature and its timestamp (DELIVERY_WEBHOOK_TOLERANCE_SECONDS either
way) with that sender's secret: anything else is a 403, audited as a rejected webhook,
with nothing stored. An unknown sender is refused the same way (there is no secret to
check with).

`status_report_receive` stores the report once per (sender, event id) (the unique
constraint: a repeat, even a concurrent one, is a "duplicate" that does nothing) and
then settles the order's waiting reports, oldest `occurred_at` first, until none can move:

- a report for an order in a final state, or behind the order's place on the way forward
  (PROGRESS), or older than the exception the order is in, is kept as "stale";
- a cancellation after shipping is kept as "not_allowed";
- a report the lifecycle table allows is applied through `order_transition` (source
  pharmacy or carrier, the sender's event id, at `occurred_at`);
- anything else is ahead of the order (a carrier's delivery scan before the pharmacy's
  "shipped"): it waits, and is applied as soon as the order gets there.

An order nobody knows (no such number for this pharmacy, no such tracking number for
this carrier) is a 404 and nothing is stored: the sender retries, and a carrier's first
scan may well come before the pharmacy's report that names its tracking number (a
carrier report may also name our order number as its reference).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from core.crypto import decrypt, encrypt
from core.errors import NotFound, PermissionDenied, ValidationFailed
from prescriptions.models import (
    Carrier,
    DeliveryOrder,
    OrderStatus,
    Pharmacy,
    StatusReport,
)
from prescriptions.pharmacy.signing import SignatureInvalid, signature_check
from prescriptions.services.orders import (
    ALLOWED_TRANSITIONS,
    FINAL_STATUSES,
    PROGRESS,
    order_transition,
)

S = OrderStatus
SenderKind = Literal["pharmacy", "carrier"]
# What each sender may report.
REPORTABLE: dict[str, tuple[str, ...]] = {
    "pharmacy": (S.COMPOUNDING, S.SHIPPED, S.EXCEPTION, S.CANCELED),
    "carrier": (S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION, S.RETURNED),
}
Outcome = Literal["applied", "waiting", "stale", "not_allowed", "duplicate"]


@dataclass(frozen=True)
class Sender:
    kind: SenderKind
    label: str  # StatusReport.sender: "pharmacy:<public id>" or "carrier:<code>"
    pharmacy: Pharmacy | None = None
    carrier: Carrier | None = None


@dataclass(frozen=True)
class Report:
    event_id: str
    status: str
    occurred_at: datetime
    order_number: str = ""
    tracking_number: str = ""
    carrier_code: str = ""
    signed_by: str = ""


def webhook_sender_verified(*, kind: SenderKind, key: str, body: bytes, signature: str) -> Sender:
    """The sender named by the URL, if `signature` is its signature of `body` (module
    docstring); PermissionDenied (403, audited) otherwise."""
    sender = _sender(kind, key)
    secret = ""
    if sender is not None:
        secret = (sender.pharmacy or sender.carrier).webhook_secret  # type: ignore[union-attr]
    try:
        if not secret:
            raise SignatureInvalid("No sender")
        signature_check(
            body, signature, secret=secret, tolerance=settings.DELIVERY_WEBHOOK_TOLERANCE_SECONDS
        )
    except SignatureInvalid:
        audit_record(
            actor=None,
            action=AuditAction.WEBHOOK_REJECTED,
            object_type=f"prescriptions.{kind}_webhook",
            outcome=AuditOutcome.DENIED,
            detail={"reason": "invalid_signature", "known_sender": sender is not None},
        )
        raise PermissionDenied(
            "The webhook signature is missing, invalid, too old or from the future.",
            code="invalid_signature",
        ) from None
    assert sender is not None
    return sender


def _sender(kind: SenderKind, key: str) -> Sender | None:
    if kind == "pharmacy":
        try:
            public_id = uuid.UUID(key)
        except ValueError:
            return None
        pharmacy = Pharmacy.objects.filter(public_id=public_id).first()
        if pharmacy is None:
            return None
        return Sender(kind, f"pharmacy:{pharmacy.public_id}", pharmacy=pharmacy)
    carrier = Carrier.objects.filter(code=key).first()
    if carrier is None:
        return None
    return Sender(kind, f"carrier:{carrier.code}", carrier=carrier)


@transaction.atomic
def status_report_receive(*, sender: Sender, report: Report) -> Outcome:
    """Store `report` once and settle its order (module docstring); returns what became
    of it. 400 for a report its sender may not make or a carrier we do not know; 404 for
    an unknown order."""
    _refuse_invalid(sender, report)
    order = _order_of(sender, report)
    try:
        with transaction.atomic():
            row = StatusReport.objects.create(
                sender=sender.label,
                event_id=report.event_id,
                order=order,
                status=report.status,
                occurred_at=report.occurred_at,
                payload=_payload(report),
            )
    except IntegrityError:
        return "duplicate"
    status_reports_settle(order)
    row.refresh_from_db()
    if row.applied_at is not None:
        return "applied"
    return row.ignored_reason or "waiting"  # type: ignore[return-value]


def status_reports_settle(order: DeliveryOrder) -> None:
    """Apply, or set aside, the order's waiting reports, oldest first, until none can
    move. Also called after our own transitions (the hand-off to the pharmacy), which a
    quick pharmacy's first report may have beaten."""
    with transaction.atomic():
        while True:
            locked = DeliveryOrder.objects.select_for_update().get(pk=order.pk)
            waiting = StatusReport.objects.filter(
                order=locked, applied_at__isnull=True, ignored_reason=""
            ).order_by("occurred_at", "pk")
            for report in waiting:
                decision = _decision(locked, report)
                if decision == "waiting":
                    continue
                if decision == "applied":
                    _apply(locked, report)
                    break  # the order moved: look at what is left from its new place
                report.ignored_reason = decision
                report.save(update_fields=["ignored_reason"])
            else:
                return


def _decision(order: DeliveryOrder, report: StatusReport) -> str:
    if order.status in FINAL_STATUSES or report.status == order.status:
        return "stale"
    if order.status == S.EXCEPTION and report.occurred_at < order.status_changed_at:
        return "stale"
    # Off the way forward (exception, returned, canceled), a report older than the order's
    # last change would take it back: a late "exception" after "out for delivery".
    if report.status not in PROGRESS and report.occurred_at < order.status_changed_at:
        return "stale"
    if report.status in ALLOWED_TRANSITIONS[order.status]:
        return "applied"
    behind = (
        report.status in PROGRESS
        and order.status in PROGRESS
        and PROGRESS.index(S(report.status)) < PROGRESS.index(S(order.status))
    )
    if behind:
        return "stale"
    if report.status == S.CANCELED:
        return "not_allowed"  # the pharmacy cannot take back an order that has shipped
    return "waiting"


def _apply(order: DeliveryOrder, report: StatusReport) -> None:
    payload: dict[str, Any] = dict(report.payload or {})
    carrier = None
    if payload.get("carrier"):
        carrier = Carrier.objects.filter(code=payload["carrier"]).first()
    order_transition(
        order=order,
        to=report.status,
        source=report.sender.split(":", 1)[0],
        at=report.occurred_at,
        external_id=report.event_id,
        carrier=carrier if report.status == S.SHIPPED else None,
        tracking_number=payload.get("tracking_number", "") if report.status == S.SHIPPED else "",
        signed_by=decrypt(payload["signed_by"]) if payload.get("signed_by") else "",
    )
    report.applied_at = timezone.now()
    report.save(update_fields=["applied_at"])


def _payload(report: Report) -> dict[str, str]:
    """What the status needs later (a waiting report): who signed is encrypted."""
    payload = {"carrier": report.carrier_code, "tracking_number": report.tracking_number}
    if report.signed_by:
        payload["signed_by"] = encrypt(report.signed_by)
    return {key: value for key, value in payload.items() if value}


def _refuse_invalid(sender: Sender, report: Report) -> None:
    fields: dict[str, list[str]] = {}
    if report.status not in REPORTABLE[sender.kind]:
        allowed = ", ".join(REPORTABLE[sender.kind])
        fields["status"] = [f"A {sender.kind} may report {allowed}."]
    if sender.kind == "pharmacy" and not report.order_number:
        fields["order_number"] = ["This field is required."]
    if sender.kind == "carrier" and not report.tracking_number:
        fields["tracking_number"] = ["This field is required."]
    if report.status == S.SHIPPED and sender.kind == "pharmacy":
        if not report.tracking_number:
            fields["tracking_number"] = ["A shipped report needs the tracking number."]
        if not Carrier.objects.filter(code=report.carrier_code, active=True).exists():
            fields["carrier"] = ["A shipped report needs the code of a carrier we know."]
    limit = settings.DELIVERY_WEBHOOK_TOLERANCE_SECONDS
    if (report.occurred_at - timezone.now()).total_seconds() > limit:
        fields["occurred_at"] = ["This time is in the future."]
    if fields:
        raise ValidationFailed("This status report cannot be accepted.", fields=fields)


def _order_of(sender: Sender, report: Report) -> DeliveryOrder:
    if sender.pharmacy is not None:
        match = Q(number=report.order_number, pharmacy=sender.pharmacy)
    else:
        match = Q(carrier=sender.carrier, tracking_number=report.tracking_number)
        if report.order_number:  # the label's reference: before the tracking number is known
            match |= (
                Q(number=report.order_number)
                & (Q(carrier__isnull=True) | Q(carrier=sender.carrier))
                & Q(tracking_number__in=["", report.tracking_number])
            )
    order = DeliveryOrder.objects.filter(match).order_by("pk").first()
    if order is None:
        raise NotFound("No order matches this report.", code="unknown_order")
    return order
