"""What every video backend takes and returns, its errors, and which backend settings name.

A backend makes one private room per visit, open from `not_before` to `expires_at`, and a
join link per participant, and deletes the room of a visit canceled or moved (by name: a
room already gone is deleted). It returns our own dataclasses and raises only `VideoError`
subclasses: `TransientVideoError` (the provider is down, slow or unreachable: try again
later) or `PermanentVideoError` (the provider refused the request: configuration or a bug,
retrying will not help). Nothing it sends or logs carries PHI: a room's name is random
or a keyed hash of the visit's id, participants are "Patient" and "Physician".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from core.crypto import keyed_hash

ParticipantRole = Literal["patient", "physician"]


@dataclass(frozen=True)
class VideoRoom:
    name: str
    url: str
    not_before: datetime
    expires_at: datetime


@dataclass(frozen=True)
class JoinLink:
    url: str
    expires_at: datetime


class VideoError(Exception):
    """A backend failure. `code` is short and safe to log (never the provider's text)."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class TransientVideoError(VideoError):
    """Worth retrying: a 5xx, a timeout, a refused connection, a rate limit."""


class PermanentVideoError(VideoError):
    """Not worth retrying: the provider refused the request (a 4xx)."""


def stable_room_name(visit_id: str) -> str:
    """A stable, unguessable room name for a visit, for providers that keep rooms: the
    same visit always asks for the same room (a retried creation finds the first one), and
    the name says nothing about the visit to anyone without our key."""
    return "v" + keyed_hash(visit_id, purpose="video-room")[:31]


class VideoBackend:
    def create_room(
        self, *, visit_id: str, not_before: datetime, expires_at: datetime
    ) -> VideoRoom:
        """A private room for the visit `visit_id` (its public id), open from `not_before`
        to `expires_at`. Callers create one room per visit and keep it."""
        raise NotImplementedError

    def join_link(self, *, room: VideoRoom, role: ParticipantRole) -> JoinLink:
        """A link for one participant; the physician's makes them the room's owner."""
        raise NotImplementedError

    def delete_room(self, *, name: str) -> None:
        """Delete the room `name`, and every link to it with it; a room already gone (a
        repeat) is no error."""
        raise NotImplementedError


@functools.cache
def _backend_class(path: str) -> type[VideoBackend]:
    return import_string(path)


@functools.cache
def get_video_backend() -> VideoBackend:
    """The backend settings.VIDEO_BACKEND names by dotted path (like EMAIL_BACKEND), one
    instance per process; a changed setting (tests) gives a new one."""
    return _backend_class(settings.VIDEO_BACKEND)()


@receiver(setting_changed)
def _video_settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "VIDEO_BACKEND" or setting.startswith(("VIDEO_", "DAILY_")):
        get_video_backend.cache_clear()
