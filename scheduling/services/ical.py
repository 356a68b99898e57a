"""A physician's personal iCal feed secret: created (or rotated) and revoked.

The secret is the feed's only credential. It is returned once and never stored: the
schedule keeps its keyed hash (core.crypto.keyed_hash), so a copy of the database does
not open anyone's feed. A new secret replaces the old one, whose URL stops working at
once; revoking clears it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import PhysicianProfile, User
from audit.models import AuditAction
from audit.services import audit_record
from core.crypto import keyed_hash
from scheduling.models import PhysicianSchedule

ICAL_TOKEN_PURPOSE = "scheduling.ical_feed"
ICAL_FEED_OBJECT = "scheduling.icalfeed"
# 32 random bytes, URL-safe base64 (43 characters of [A-Za-z0-9_-]).
TOKEN_BYTES = 32


@dataclass(frozen=True)
class IcalSecret:
    token: str
    created_at: datetime


def ical_token_hash(token: str) -> str:
    return keyed_hash(token, purpose=ICAL_TOKEN_PURPOSE)


@transaction.atomic
def ical_token_create(*, physician: PhysicianProfile, actor: User) -> IcalSecret:
    """A new feed secret for `physician`, replacing any earlier one; returns the secret
    (the only time it exists outside the caller's calendar app)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    schedule, _ = PhysicianSchedule.objects.select_for_update().get_or_create(physician=physician)
    rotated = bool(schedule.ical_token_hash)
    schedule.ical_token_hash = ical_token_hash(token)
    schedule.ical_token_created_at = timezone.now()
    schedule.save(update_fields=["ical_token_hash", "ical_token_created_at", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE if rotated else AuditAction.CREATE,
        object_type=ICAL_FEED_OBJECT,
        object_id=str(physician.user.public_id),
        detail={"rotated": rotated},
    )
    return IcalSecret(token, schedule.ical_token_created_at)


@transaction.atomic
def ical_token_revoke(*, physician: PhysicianProfile, actor: User) -> bool:
    """Stop the physician's feed; False when there was none to stop."""
    revoked = (
        PhysicianSchedule.objects.filter(physician=physician)
        .exclude(ical_token_hash="")
        .update(ical_token_hash="", ical_token_created_at=None, updated_at=timezone.now())
    )
    if revoked:
        audit_record(
            actor=actor,
            action=AuditAction.DELETE,
            object_type=ICAL_FEED_OBJECT,
            object_id=str(physician.user.public_id),
        )
    return bool(revoked)
