"""What we know about a number, by keyed hash: STOP received, or not a number that takes SMS.

Written by the dispatcher (a provider's answer to a send), by inbound keywords and by
delivery reports; its own module so that the dispatcher needs nothing from the outbox API.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from core.phones import phone_lookup_hash
from notifications.models import PhoneStatus


def phone_flag(
    *, phone: str, opted_out: bool | None = None, invalid_code: str = "", source: str = ""
) -> None:
    """Record an opt-out (or its end) or an invalid-number flag for a number."""
    now = timezone.now()
    updates: dict[str, Any] = {}
    if opted_out is True:
        updates |= {"opted_out_at": now, "opt_out_source": source}
    elif opted_out is False:
        updates |= {"opted_out_at": None, "opt_out_source": ""}
    if invalid_code:
        updates |= {"invalid_at": now, "invalid_code": invalid_code}
    PhoneStatus.objects.update_or_create(phone_hash=phone_lookup_hash(phone), defaults=updates)
