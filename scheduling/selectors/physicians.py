"""The physician a booking names: scheduling.api.slots.physician_by_public_id's read (an
active account's profile by its public id, with the user and the schedule), compiled once
per process (core.compiled): its SQL is the same for every booking
but for the id. `tests/scheduling/test_booking_facts.py` holds the two together."""

from __future__ import annotations

import uuid
from typing import Any, Final

from django.db.models import QuerySet

from accounts.models import PhysicianProfile
from core.compiled import CompiledOnce
from core.errors import NotFound


def bookable_physician_queryset(public_id: uuid.UUID) -> QuerySet[PhysicianProfile]:
    return PhysicianProfile.objects.select_related("user", "schedule").filter(
        user__public_id=public_id, user__is_active=True
    )


_BY_PUBLIC_ID: Final = CompiledOnce(
    bookable_physician_queryset,
    ({"public_id": uuid.UUID(int=1_000_001)}, {"public_id": uuid.UUID(int=1_000_002)}),
)


def bookable_physician(public_id: Any) -> PhysicianProfile:
    """The active physician with this public id, its user and schedule selected; 404."""
    physician = _BY_PUBLIC_ID.first(public_id=uuid.UUID(str(public_id)))
    if physician is None:
        raise NotFound("No such physician.")
    return physician
