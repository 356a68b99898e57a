from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    MFA_FAILED = "mfa_failed"
    EXPORT = "export"
    BREAK_GLASS = "break_glass"
    WEBHOOK_REJECTED = "webhook_rejected"  # a delivery whose signature did not verify


class AuditOutcome(models.TextChoices):
    SUCCESS = "success"
    DENIED = "denied"
    FAILURE = "failure"


class AuditEvent(models.Model):
    """One append-only record. A trigger refuses UPDATE and DELETE except the one-time seal.

    Rows are inserted unsealed (plain INSERT, no lock); the sealer later gives each a
    `seq` and chains `hash` = sha256(prev_hash + row) in seq order.
    """

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,  # users are deactivated, never deleted, while audited
        related_name="+",
        db_index=False,  # audit_actor_time_idx starts with actor and serves those lookups
    )
    actor_role = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.UUIDField(null=True, blank=True, db_index=True)
    request_id = models.CharField(max_length=64, blank=True)  # minted by us
    # The caller's X-Request-ID (printable ASCII, cut to 64): correlation only, not chained.
    client_request_id = models.CharField(max_length=64, blank=True, db_default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    outcome = models.CharField(
        max_length=16, choices=AuditOutcome.choices, default=AuditOutcome.SUCCESS
    )
    detail = models.JSONField(default=dict, blank=True)  # never PHI: codes and reasons only

    seq = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["id"], name="audit_unsealed_idx", condition=models.Q(seq__isnull=True)
            ),
            models.Index(fields=["actor", "occurred_at"], name="audit_actor_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id} ({self.outcome})"
