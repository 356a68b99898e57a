"""What the video-visit tests share: visits placed relative to now, and a video backend
that records what it was asked and can be told to fail or to be slow."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.utils import timezone

from accounts.models import PhysicianProfile, User
from scheduling.models import Appointment
from scheduling.video.base import (
    JoinLink,
    ParticipantRole,
    PermanentVideoError,
    TransientVideoError,
    VideoBackend,
    VideoRoom,
)
from scheduling.video.embedded import EmbeddedVideoBackend
from tests.scheduling.support import appointment_for

RECORDING_BACKEND = "tests.scheduling.support_visit.RecordingVideoBackend"


def visit_in(
    patient: User, physician: PhysicianProfile, minutes: float, **kwargs: Any
) -> Appointment:
    """A visit (check-in, 20 minutes) starting `minutes` from now (negative: in the past)."""
    starts_at = timezone.now() + timedelta(minutes=minutes)
    return appointment_for(patient, physician, starts_at.replace(microsecond=0), **kwargs)


class RecordingVideoBackend(VideoBackend):
    """The embedded backend, counting rooms, links and deletions (a room's name each
    attempt, in `deletions`); `fail` makes the next calls raise
    ("transient" or "permanent"), `delay` makes room creation slow (race tests)."""

    rooms: ClassVar[list[VideoRoom]] = []
    links: ClassVar[list[tuple[str, ParticipantRole]]] = []
    deletions: ClassVar[list[str]] = []
    fail: ClassVar[str] = ""
    delay: ClassVar[float] = 0.0
    _lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        cls.rooms, cls.links, cls.fail, cls.delay = [], [], "", 0.0
        cls.deletions = []

    def _maybe_fail(self) -> None:
        if self.fail == "transient":
            raise TransientVideoError("provider down", code="http_503")
        if self.fail == "permanent":
            raise PermanentVideoError("provider refused", code="http_401")

    def create_room(
        self, *, visit_id: str, not_before: datetime, expires_at: datetime
    ) -> VideoRoom:
        self._maybe_fail()
        time.sleep(self.delay)
        room = EmbeddedVideoBackend().create_room(
            visit_id=visit_id, not_before=not_before, expires_at=expires_at
        )
        with self._lock:
            self.rooms.append(room)
        return room

    def join_link(self, *, room: VideoRoom, role: ParticipantRole) -> JoinLink:
        self._maybe_fail()
        with self._lock:
            self.links.append((room.name, role))
        return EmbeddedVideoBackend().join_link(room=room, role=role)

    def delete_room(self, *, name: str) -> None:
        with self._lock:
            self.deletions.append(name)
        self._maybe_fail()
