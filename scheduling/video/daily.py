"""Daily (daily.co): the only module in the project that imports `requests` to talk to a
video provider, and the only one that knows Daily's API.

* `create_room` makes a private room (`POST /rooms`) that opens at `nbf` and closes at
  `exp`, ejecting whoever is still in it then. Its name is a keyed hash of the visit's id,
  so a second attempt for the same visit (after a lost answer, or a rolled-back
  transaction) meets Daily's "already exists" and fetches that room (`GET /rooms/<name>`).
* `join_link` asks for a meeting token per participant (`POST /meeting-tokens`), valid
  only for that room and its window; the physician's makes them the room's owner. Names
  are "Patient" and "Physician": Daily never sees who is in the visit.
* `delete_room` deletes a canceled or moved visit's room (`DELETE /rooms/<name>`), which
  ends its meeting tokens with it; a 404 means it is gone already (a repeat): done.

HTTP 5xx, 429, timeouts and connection failures are `TransientVideoError`; any other 4xx
is `PermanentVideoError`. Daily's own error text is never logged nor chained onto ours.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import requests  # noqa: TID251
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from scheduling.video.base import (
    JoinLink,
    ParticipantRole,
    PermanentVideoError,
    TransientVideoError,
    VideoBackend,
    VideoError,
    VideoRoom,
    stable_room_name,
)

logger = logging.getLogger(__name__)

DISPLAY_NAMES: dict[ParticipantRole, str] = {"patient": "Patient", "physician": "Physician"}


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _moment(value: Any, default: datetime) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    return default


class DailyVideoBackend(VideoBackend):
    def __init__(self) -> None:
        if not settings.DAILY_API_KEY:
            raise ImproperlyConfigured("DAILY_API_KEY is required by the Daily video backend.")
        self.base_url = settings.DAILY_API_BASE_URL.rstrip("/")
        self.timeout = settings.DAILY_TIMEOUT_SECONDS
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {settings.DAILY_API_KEY}"

    def create_room(
        self, *, visit_id: str, not_before: datetime, expires_at: datetime
    ) -> VideoRoom:
        name = stable_room_name(visit_id)
        payload = {
            "name": name,
            "privacy": "private",
            "properties": {
                "nbf": _epoch(not_before),
                "exp": _epoch(expires_at),
                "eject_at_room_exp": True,
            },
        }
        try:
            answer = self._call("POST", "/rooms", json=payload)
        except _AlreadyExists:
            answer = self._call("GET", f"/rooms/{name}")
        url = answer.get("url")
        if not isinstance(url, str) or not url:
            raise self._logged(
                TransientVideoError("Daily answered without a room URL", code="bad_response")
            )
        config = answer.get("config")
        if not isinstance(config, dict):
            config = {}
        return VideoRoom(
            name=str(answer.get("name") or name),
            url=url,
            not_before=_moment(config.get("nbf"), not_before),
            expires_at=_moment(config.get("exp"), expires_at),
        )

    def join_link(self, *, room: VideoRoom, role: ParticipantRole) -> JoinLink:
        properties = {
            "room_name": room.name,
            "user_name": DISPLAY_NAMES[role],
            "is_owner": role == "physician",
            "nbf": _epoch(room.not_before),
            "exp": _epoch(room.expires_at),
        }
        answer = self._call("POST", "/meeting-tokens", json={"properties": properties})
        token = answer.get("token")
        if not isinstance(token, str) or not token:
            raise self._logged(
                TransientVideoError("Daily answered without a token", code="bad_response")
            )
        separator = "&" if "?" in room.url else "?"
        return JoinLink(url=f"{room.url}{separator}t={token}", expires_at=room.expires_at)

    def delete_room(self, *, name: str) -> None:
        try:
            self._call("DELETE", f"/rooms/{name}")
        except _Gone:
            return

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        error: VideoError | None = None
        try:
            response = self.session.request(
                method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs
            )
        except requests.Timeout:
            error = TransientVideoError("Daily did not answer in time", code="timeout")
        except requests.RequestException:
            error = TransientVideoError("Could not reach Daily", code="network")
        if error is not None:
            # Raised outside the except block: nothing of the requests exception rides along.
            raise self._logged(error, method=method, path=path)
        status = response.status_code
        body = _json(response)
        if status == 400 and method == "POST" and path == "/rooms" and _already_exists(body):
            raise _AlreadyExists()
        if status == 404 and method == "DELETE":
            raise _Gone()
        if status == 429 or status >= 500:
            raise self._logged(
                TransientVideoError(f"Daily HTTP {status}", code=f"http_{status}"),
                method=method,
                path=path,
            )
        if status >= 400:
            raise self._logged(
                PermanentVideoError(f"Daily HTTP {status}", code=f"http_{status}"),
                method=method,
                path=path,
            )
        if body is None:
            raise self._logged(
                TransientVideoError("Unreadable answer from Daily", code="bad_response"),
                method=method,
                path=path,
            )
        return body

    @staticmethod
    def _logged(error: VideoError, *, method: str = "", path: str = "") -> VideoError:
        level = logging.ERROR if isinstance(error, PermanentVideoError) else logging.WARNING
        # The path names at most a room (a keyed hash); tokens are never in a path.
        logger.log(
            level,
            "daily %s %s failed: %s code=%s",
            method,
            path.split("/")[1] if path else "",
            type(error).__name__,
            error.code,
        )
        return error


class _AlreadyExists(Exception):
    pass


class _Gone(Exception):
    pass


def _json(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _already_exists(body: dict[str, Any] | None) -> bool:
    info = str((body or {}).get("info", ""))
    return "already exists" in info.lower()
