"""Delivery orders (the fills of a prescription: the first at signing, one per refill
after it, and replacements for lost packages) and their timeline."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from accounts.models import State, User
from core.crypto import EncryptedTextField
from patients.models import Patient
from prescriptions.models.catalog import Carrier, Pharmacy
from prescriptions.models.prescriptions import Prescription


class OrderKind(models.TextChoices):
    FIRST_FILL = "first_fill"  # made at signing
    REFILL = "refill"
    REPLACEMENT = "replacement"  # for a lost or returned package; never counts as a refill


class OrderStatus(models.TextChoices):
    CREATED = "created"
    SENT_TO_PHARMACY = "sent_to_pharmacy"
    COMPOUNDING = "compounding"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"
    CANCELED = "canceled"


class DeliveryOrder(models.Model):
    """One fill of a prescription on its way from the pharmacy to the patient's door.
    The ship-to address is a snapshot (encrypted; state and county plain, for routing and
    the ops filters). `status` only moves through prescriptions.services.orders, which
    writes a DeliveryEvent for every change."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # What ops admins search for and read over the phone: "KD-7Q4M9X2P".
    number = models.CharField(max_length=16, unique=True)
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="orders")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(max_length=16, choices=OrderKind.choices)
    # 0 for the first fill, 1..refills for refills; null for a replacement.
    fill_number = models.PositiveSmallIntegerField(null=True, blank=True)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replacement"
    )
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.CREATED
    )
    status_changed_at = models.DateTimeField(default=timezone.now)
    ship_to_name = EncryptedTextField()
    ship_to_line1 = EncryptedTextField()
    ship_to_line2 = EncryptedTextField(blank=True)
    ship_to_city = EncryptedTextField()
    ship_to_zip = EncryptedTextField()
    ship_to_state = models.CharField(max_length=2, choices=State.choices)
    ship_to_county = models.CharField(max_length=64)
    carrier = models.ForeignKey(
        Carrier, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    tracking_number = models.CharField(max_length=64, blank=True)
    delivered_signed_by = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_to_pharmacy_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Set once by the overdue task (with why); ops admins are alerted once per order.
    overdue_at = models.DateTimeField(null=True, blank=True)
    overdue_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["ship_to_state", "ship_to_county"]),
            models.Index(fields=["pharmacy", "created_at"]),
            models.Index(fields=["tracking_number"]),
            # The ops search: a tracking number in any case (selectors.tracking, admin).
            models.Index(Upper("tracking_number"), name="order_tracking_number_upper"),
            # The ops list's usual filter (statuses in a state), newest first, and its count.
            models.Index(
                fields=["status", "ship_to_state", "created_at"], name="order_status_state_created"
            ),
            # The list's total for statuses in a state (selectors.tracking_page): a few dozen
            # distinct keys, so deduplication makes its index-only count read a fifth of
            # the pages of the one above.
            models.Index(fields=["ship_to_state", "status"], name="order_state_status"),
            models.Index(fields=["patient", "created_at"]),
            models.Index(fields=["created_at"]),
        ]
        constraints = [
            # A refill asked twice, or concurrently, is one order.
            models.UniqueConstraint(
                fields=["prescription", "fill_number"],
                condition=Q(fill_number__isnull=False),
                name="one_order_per_fill",
            ),
            models.CheckConstraint(
                condition=Q(kind=OrderKind.REPLACEMENT, fill_number__isnull=True)
                | (~Q(kind=OrderKind.REPLACEMENT) & Q(fill_number__isnull=False)),
                name="fills_numbered_replacements_not",
            ),
            models.CheckConstraint(
                condition=Q(kind=OrderKind.REPLACEMENT) | Q(replaces__isnull=True),
                name="only_replacements_replace",
            ),
            models.CheckConstraint(
                condition=Q(ship_to_state__in=[State.FL, State.NJ]),
                name="ship_only_to_fl_or_nj",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.number}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id

    @property
    def app_path(self) -> str:
        return f"/app/orders/{self.public_id}"

    @property
    def ops_path(self) -> str:
        """Where an ops admin opens the order (the link in their alerts: an id only)."""
        return f"/ops/deliveries/{self.public_id}"

    @property
    def ship_to(self) -> dict[str, str]:
        """The ship-to snapshot, decrypted (every reader shows the same address)."""
        return {
            "name": self.ship_to_name,
            "line1": self.ship_to_line1,
            "line2": self.ship_to_line2 or "",
            "city": self.ship_to_city,
            "state": self.ship_to_state,
            "zip_code": self.ship_to_zip,
            "county": self.ship_to_county,
        }


class EventSource(models.TextChoices):
    PATIENT = "patient"
    PHYSICIAN = "physician"
    OPS_ADMIN = "ops_admin"
    PHARMACY = "pharmacy"  # a signed pharmacy webhook
    CARRIER = "carrier"  # a signed carrier webhook
    SYSTEM = "system"  # our own tasks (the pharmacy hand-off, overdue detection)


class DeliveryEvent(models.Model):
    """One line of an order's timeline: a status change, or a note. Append-only."""

    order = models.ForeignKey(DeliveryOrder, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=16, choices=EventSource.choices)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT)
    # The pharmacy's or carrier's event id for webhook events.
    external_id = models.CharField(max_length=128, blank=True)
    note = EncryptedTextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["order", "at"])]

    def __str__(self) -> str:
        return f"event {self.pk} of order {self.order_id}"
