"""Deleting the video room of a visit canceled or moved (the new time is a new visit with
a room of its own; a room's window is fixed when it is made).

The cancellation never waits on the provider: the booking's transaction holds the
appointment's lock, and a slow or failing provider must not hold it nor lose the cancel.
So the room is deleted after the commit, by the `delete_video_room` task, which gets the
room's name only (a keyed hash or random: no PHI in the broker) and retries while the
provider is down (TransientVideoError: exponential backoff from 30 seconds to 10
minutes, 8 times). A refusal (PermanentVideoError: configuration) is logged for the team and
dropped, as retrying will not help; a room already gone counts as deleted. Either way the
room closes at its own time (and ejects whoever is in it then).
"""

from __future__ import annotations

import logging

from django.db import transaction

from scheduling.models import Appointment
from scheduling.video.base import PermanentVideoError, get_video_backend

logger = logging.getLogger(__name__)


def room_delete_after_commit(visit: Appointment) -> None:
    """Have the visit's room, if it has one, deleted once the current transaction commits.
    Robust: a broker down at that moment loses the deletion (logged), never the cancel."""
    name = visit.video_room_name
    if not name:
        return
    from scheduling.tasks import delete_video_room  # tasks import this module

    transaction.on_commit(lambda: delete_video_room.delay(name), robust=True)


def video_room_delete(*, name: str) -> None:
    """Delete the room `name` (the task's work); TransientVideoError is for the task to
    retry."""
    try:
        get_video_backend().delete_room(name=name)
    except PermanentVideoError as error:
        logger.error("video room not deleted, the provider refused: code=%s", error.code)
