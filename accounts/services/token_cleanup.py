"""Forgetting what no longer matters: the digests of exchanged refresh tokens
(RotatedRefreshToken) outlive their purpose once their session's absolute lifetime is over.
A token of such a session is refused whatever it is (accounts.services.sessions), so reuse
detection has nothing left to protect there."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import STAFF_ROLES, RotatedRefreshToken

PURGE_BATCH = 5000


def _past_absolute_expiry(now: datetime) -> Q:
    """RotatedRefreshToken rows whose session is past session_absolute_expiry() at `now`:
    the same rule (lifetime by the user's current role, ended when expiry <= now)."""
    staff = Q(session__user__role__in=STAFF_ROLES)
    return (staff & Q(session__created_at__lte=now - settings.SESSION_ABSOLUTE_TTL_STAFF)) | (
        ~staff & Q(session__created_at__lte=now - settings.SESSION_ABSOLUTE_TTL_PATIENT)
    )


def rotated_refresh_tokens_purge(*, now: datetime | None = None) -> int:
    """Delete the rotated refresh-token digests of sessions past their absolute expiry, in
    batches (short transactions); returns how many. Running it again deletes nothing more."""
    now = now or timezone.now()
    deleted = 0
    while True:
        batch = list(
            RotatedRefreshToken.objects.filter(_past_absolute_expiry(now)).values_list(
                "pk", flat=True
            )[:PURGE_BATCH]
        )
        if not batch:
            return deleted
        deleted += RotatedRefreshToken.objects.filter(pk__in=batch).delete()[0]
