"""The embedded default: no provider, no network. A room is an unguessable URL made from
VIDEO_ROOM_URL_TEMPLATE ({room} is 32 random bytes, URL-safe), and each participant's
link adds their role and a random token, so no two links are alike. Nothing is hosted, so
there is nothing to delete."""

from __future__ import annotations

import secrets
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings

from scheduling.video.base import JoinLink, ParticipantRole, VideoBackend, VideoRoom


class EmbeddedVideoBackend(VideoBackend):
    def create_room(
        self, *, visit_id: str, not_before: datetime, expires_at: datetime
    ) -> VideoRoom:
        name = secrets.token_urlsafe(32)
        return VideoRoom(
            name=name,
            url=settings.VIDEO_ROOM_URL_TEMPLATE.format(room=name),
            not_before=not_before,
            expires_at=expires_at,
        )

    def join_link(self, *, room: VideoRoom, role: ParticipantRole) -> JoinLink:
        query = urlencode({"role": role, "t": secrets.token_urlsafe(24)})
        separator = "&" if "?" in room.url else "?"
        return JoinLink(url=f"{room.url}{separator}{query}", expires_at=room.expires_at)

    def delete_room(self, *, name: str) -> None:
        return None
