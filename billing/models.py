"""The membership mirror: what the gateway told us, by webhook or reconciliation only.

Nothing here is written from a browser redirect. Amounts are integer cents. Gateway ids
(cus_..., sub_..., in_..., evt_...) are stored as the gateway gives them; our own
`public_id`s are what the API and audit log show.
"""

from __future__ import annotations

import uuid

from django.db import models

from patients.models import Patient


class SubscriptionStatus(models.TextChoices):
    """Stripe's subscription statuses, verbatim."""

    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    PAUSED = "paused"


class BillingCustomer(models.Model):
    """The patient's customer at the gateway (one per patient, reused by every checkout)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.OneToOneField(
        Patient, on_delete=models.PROTECT, related_name="billing_customer"
    )
    gateway_customer_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"billing customer {self.public_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id


class CheckoutAttempt(models.Model):
    """One hosted checkout we opened. Its public_id is the idempotency key and the
    reference the gateway hands back, so a retried request reuses the same session."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="checkouts")
    gateway_session_id = models.CharField(max_length=255, unique=True)
    url = models.URLField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "-created_at"])]

    def __str__(self) -> str:
        return f"checkout {self.public_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id


class Subscription(models.Model):
    """The mirror of one gateway subscription. `last_event_at` is the creation time of the
    newest event (or refetch) applied: an older event never moves the mirror backwards."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="subscriptions")
    gateway_subscription_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=32, choices=SubscriptionStatus.choices)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    price_id = models.CharField(max_length=255, blank=True)
    amount_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    # When the current stretch of past_due began (the grace period counts from here).
    past_due_since = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "-created_at"]),
            models.Index(fields=["status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_cents__gte=0), name="subscription_amount_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"subscription {self.public_id} ({self.status})"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    UNCOLLECTIBLE = "uncollectible"
    VOID = "void"


class Invoice(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="invoices")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    gateway_invoice_id = models.CharField(max_length=255, unique=True)
    # Kept so an invoice that arrives before its subscription is linked once that arrives.
    gateway_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    number = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices)
    amount_due_cents = models.PositiveIntegerField(default=0)
    amount_paid_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    hosted_invoice_url = models.URLField(max_length=2000, blank=True)
    issued_at = models.DateTimeField()
    # Set by the first failed payment: dunning is open until the invoice is paid.
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "-issued_at"])]

    def __str__(self) -> str:
        return f"invoice {self.number or self.public_id} ({self.status})"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id


class WebhookOutcome(models.TextChoices):
    APPLIED = "applied"
    STALE = "stale"  # older than what the mirror already shows
    UNKNOWN_CUSTOMER = "unknown_customer"
    CUSTOMER_MISMATCH = "customer_mismatch"  # the object names another patient's customer
    UNHANDLED = "unhandled"  # a type we store and acknowledge only


class WebhookEvent(models.Model):
    """Each gateway event once, by its id, stored in the same transaction as its effect.
    The payload is not kept (it carries the customer's email); the gateway keeps it."""

    event_id = models.CharField(max_length=255, primary_key=True)
    type = models.CharField(max_length=128)
    object_id = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=32, choices=WebhookOutcome.choices)

    class Meta:
        indexes = [models.Index(fields=["type", "-created"])]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class LocalGatewayObject(models.Model):
    """The local gateway's own state (customers, checkout sessions, subscriptions,
    invoices), as the Stripe-shaped JSON it would answer with. Unused with real Stripe."""

    object_id = models.CharField(max_length=64, primary_key=True)
    kind = models.CharField(max_length=32)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"


class LocalGatewayDelivery(models.Model):
    """An event the local gateway owes our webhook endpoint (an outbox: delivered once
    it answered 2xx, retried otherwise)."""

    event_id = models.CharField(max_length=64, primary_key=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_status = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(delivered_at__isnull=True),
                name="local_delivery_pending",
            )
        ]

    def __str__(self) -> str:
        return f"delivery {self.event_id}"
