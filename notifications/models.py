from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.crypto import EncryptedTextField


class Channel(models.TextChoices):
    SMS = "sms"
    EMAIL = "email"


class Category(models.TextChoices):
    CARE = "care"
    BILLING = "billing"
    MARKETING = "marketing"
    # A code the recipient asked for a moment ago (phone ownership): needs no consent and
    # reaches the number on file before it is verified; nothing else may use it.
    VERIFICATION = "verification"


# The categories a person consents to (verification texts are asked for one at a time).
CONSENT_CATEGORIES = (Category.CARE, Category.BILLING, Category.MARKETING)
CONSENT_CATEGORY_CHOICES = [(c.value, c.label) for c in CONSENT_CATEGORIES]


class MessageStatus(models.TextChoices):
    SCHEDULED = "scheduled"
    CLAIMED = "claimed"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELED = "canceled"
    SUPPRESSED = "suppressed"


PENDING_STATUSES = (MessageStatus.SCHEDULED,)
FINAL_STATUSES = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.FAILED,
        MessageStatus.CANCELED,
        MessageStatus.SUPPRESSED,
    }
)


class Message(models.Model):
    """One SMS or email in the outbox. Contact details are resolved at send time.

    `context` holds only non-PHI values the template needs (ids for links, never names,
    drugs, doses or scores).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="messages"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    category = models.CharField(max_length=16, choices=Category.choices)
    template_key = models.CharField(max_length=64)
    context = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    urgent = models.BooleanField(default=False)
    send_at = models.DateTimeField(default=timezone.now)
    # Past this instant the message is worthless (a reminder once the visit has started):
    # the dispatcher never sends it then, and ends it as suppressed/expired.
    expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.SCHEDULED
    )
    status_reason = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claim_token = models.UUIDField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=64, blank=True)
    provider_error_code = models.CharField(max_length=32, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Set, in its own commit, just before the provider is called: a claim abandoned after
    # this point may have been sent, so it is never sent again automatically.
    send_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    suppressed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["send_at"], name="message_due_idx", condition=models.Q(status="scheduled")
            ),
            models.Index(
                fields=["claimed_at"],
                name="message_claimed_idx",
                condition=models.Q(status="claimed"),
            ),
            models.Index(fields=["recipient", "sent_at"], name="message_recipient_sent_idx"),
            models.Index(fields=["provider_message_id"], name="message_provider_idx"),
            models.Index(fields=["created_at"], name="message_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.template_key} ({self.status})"


class Consent(models.Model):
    """The current consent of one user for one category on one channel, with its wording."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="message_consents"
    )
    category = models.CharField(max_length=16, choices=CONSENT_CATEGORY_CHOICES)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    granted = models.BooleanField()
    changed_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=32)  # "app", "intake", "sms_keyword", ...
    wording = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "category", "channel"], name="one_consent_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category}/{self.channel}: {'granted' if self.granted else 'withdrawn'}"


class ConsentEvent(models.Model):
    """One consent change, kept forever: what was granted or withdrawn, when, how and the
    wording the patient saw. `Consent` is the current state (the fast lookup); this is the
    history behind it. Append-only: a database trigger refuses UPDATE and DELETE."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consent_events"
    )
    category = models.CharField(max_length=16, choices=CONSENT_CATEGORY_CHOICES)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    granted = models.BooleanField()
    at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=32)  # "app", "intake", "sms_keyword", ...
    wording = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "at"], name="consent_event_user_at_idx")]

    def __str__(self) -> str:
        state = "granted" if self.granted else "withdrawn"
        return f"{self.category}/{self.channel} {state} at {self.at:%Y-%m-%d %H:%M}"


class PhoneStatus(models.Model):
    """What we know about a number, by keyed hash: STOP received, or not a valid number."""

    phone_hash = models.CharField(max_length=64, unique=True)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    opt_out_source = models.CharField(max_length=32, blank=True)
    invalid_at = models.DateTimeField(null=True, blank=True)
    invalid_code = models.CharField(max_length=16, blank=True)

    def __str__(self) -> str:
        return f"phone {self.phone_hash[:8]}"


class InboundSms(models.Model):
    """Every text we receive, stored encrypted, matched to a user when the number is known."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider_message_id = models.CharField(max_length=64, unique=True)
    from_phone = EncryptedTextField()
    from_phone_hash = models.CharField(max_length=64, db_index=True)
    body = EncryptedTextField()
    received_at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=16)  # stop, start, help, reply, unknown_sender
    handled_by = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"inbound {self.provider_message_id} ({self.kind})"
