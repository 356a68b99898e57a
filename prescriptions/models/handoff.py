"""What passes between us and the pharmacies and carriers: the hand-off outbox, the
local pharmacy's receipts, and the signed status reports received."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from prescriptions.models.orders import DeliveryOrder, OrderStatus


class StatusReport(models.Model):
    """Every signed status webhook received, once per (sender, event id): a repeat is
    answered without doing anything again, and a report that arrives before the status
    it follows waits here until it can apply."""

    sender = models.CharField(max_length=48)  # "pharmacy:<public_id>" or "carrier:<code>"
    event_id = models.CharField(max_length=128)
    order = models.ForeignKey(DeliveryOrder, on_delete=models.PROTECT, related_name="reports")
    status = models.CharField(max_length=20, choices=OrderStatus.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    # Carrier, tracking number, who signed: only what the status needs.
    payload = models.JSONField(default=dict)
    applied_at = models.DateTimeField(null=True, blank=True)
    ignored_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender", "event_id"], name="one_report_per_event"),
        ]

    def __str__(self) -> str:
        return f"report {self.sender} {self.event_id}"


class SubmissionStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class PharmacySubmission(models.Model):
    """The outbox row that hands an order to its pharmacy, once: the task claims it with
    a conditional UPDATE and does nothing on a final state. `idempotency_key` goes with
    every attempt so the pharmacy can drop a retry of one it already has."""

    order = models.OneToOneField(DeliveryOrder, on_delete=models.PROTECT, related_name="submission")
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(
        max_length=16, choices=SubmissionStatus.choices, default=SubmissionStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    pharmacy_reference = models.CharField(max_length=128, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"submission of order {self.order_id}"


class LocalPharmacyReceipt(models.Model):
    """What the local pharmacy backend (the embedded default, prescriptions.pharmacy.local)
    received: no copy of the order, only its digest. One row per idempotency key, so a
    retried hand-off is dropped as a real pharmacy would drop it; in `make run` it plays
    the pharmacy and the carrier for these orders until they are delivered."""

    order = models.ForeignKey(DeliveryOrder, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.UUIDField(unique=True)
    payload_sha256 = models.CharField(max_length=64)
    reference = models.CharField(max_length=32)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"local pharmacy receipt {self.reference}"
