"""The Daily video backend against a local HTTP server that answers like Daily's REST API.

No database: the adapter reads settings and talks HTTP."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured

from scheduling.video.base import (
    PermanentVideoError,
    TransientVideoError,
    VideoRoom,
    get_video_backend,
    stable_room_name,
)
from scheduling.video.daily import DailyVideoBackend
from tests.local_http import serve_locally

API_KEY = "daily-test-key-0123456789"
VISIT_ID = "6f1c2e3a-0000-4000-8000-000000000001"
OPENS = datetime(2026, 3, 9, 14, 50, tzinfo=UTC)
CLOSES = datetime(2026, 3, 9, 15, 50, tzinfo=UTC)


@dataclass
class Recorded:
    method: str
    path: str
    body: dict[str, Any] | None
    authorization: str


@dataclass
class Scripted:
    status: int
    body: str
    hang: bool = False


@dataclass
class FakeDaily:
    base_url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)
    script: deque[Scripted] = field(default_factory=deque)
    release: threading.Event = field(default_factory=threading.Event)
    stop: Callable[[], None] = lambda: None

    def then(self, status: int, payload: Any, *, hang: bool = False) -> None:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        self.script.append(Scripted(status, body, hang))


def _handler_for(fake: FakeDaily) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            body = json.loads(raw) if raw else None
            auth = self.headers.get("Authorization", "")
            fake.requests.append(Recorded(method, self.path, body, auth))
            if fake.script:
                scripted = fake.script.popleft()
                if scripted.hang:
                    fake.release.wait(timeout=10)
                self._answer(scripted.status, scripted.body)
                return
            if auth != f"Bearer {API_KEY}":
                self._answer(401, {"error": "authorization-header-error", "info": "bad key"})
            elif method == "POST" and self.path == "/v1/rooms":
                self._create_room(body or {})
            elif method == "GET" and self.path.startswith("/v1/rooms/"):
                room = fake.rooms.get(self.path.removeprefix("/v1/rooms/"))
                if room is None:
                    self._answer(404, {"error": "not-found", "info": "room not found"})
                else:
                    self._answer(200, room)
            elif method == "DELETE" and self.path.startswith("/v1/rooms/"):
                name = self.path.removeprefix("/v1/rooms/")
                if fake.rooms.pop(name, None) is None:
                    self._answer(404, {"error": "not-found", "info": f"room {name} not found"})
                else:
                    self._answer(200, {"deleted": True, "name": name})
            elif method == "POST" and self.path == "/v1/meeting-tokens":
                properties = (body or {}).get("properties", {})
                token = f"tok-{properties.get('user_name')}-{len(fake.requests)}"
                self._answer(200, {"token": token})
            else:
                self._answer(404, {"error": "not-found"})

        def _create_room(self, body: dict[str, Any]) -> None:
            name = body["name"]
            if name in fake.rooms:
                info = f"a room named {name} already exists"
                self._answer(400, {"error": "invalid-request-error", "info": info})
                return
            room = {
                "id": "0f0f0f0f-1111-2222-3333-444444444444",
                "name": name,
                "api_created": True,
                "privacy": body.get("privacy", "public"),
                "url": f"https://practice.daily.co/{name}",
                "created_at": "2026-03-09T14:00:00.000Z",
                "config": body.get("properties", {}),
            }
            fake.rooms[name] = room
            self._answer(200, room)

        def _answer(self, status: int, payload: Any) -> None:
            data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test)
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_daily() -> Iterator[FakeDaily]:
    fake = FakeDaily()
    base, fake.stop = serve_locally(_handler_for(fake), name="fake-daily", on_stop=fake.release.set)
    fake.base_url = f"{base}/v1"
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def daily(settings: Any, fake_daily: FakeDaily) -> DailyVideoBackend:
    settings.VIDEO_BACKEND = "scheduling.video.daily.DailyVideoBackend"
    settings.DAILY_API_KEY = API_KEY
    settings.DAILY_API_BASE_URL = fake_daily.base_url + "/"
    settings.DAILY_TIMEOUT_SECONDS = 2.0
    backend = get_video_backend()
    assert isinstance(backend, DailyVideoBackend)
    return backend


def _room(name: str = "vroom") -> VideoRoom:
    return VideoRoom(
        name=name, url=f"https://practice.daily.co/{name}", not_before=OPENS, expires_at=CLOSES
    )


# --- rooms -------------------------------------------------------------------------------


def test_a_private_room_opens_and_closes_at_the_visit_window(daily, fake_daily):
    room = daily.create_room(visit_id=VISIT_ID, not_before=OPENS, expires_at=CLOSES)

    (request,) = fake_daily.requests
    assert (request.method, request.path) == ("POST", "/v1/rooms")
    assert request.authorization == f"Bearer {API_KEY}"
    assert request.body == {
        "name": stable_room_name(VISIT_ID),
        "privacy": "private",
        "properties": {
            "nbf": int(OPENS.timestamp()),
            "exp": int(CLOSES.timestamp()),
            "eject_at_room_exp": True,
        },
    }
    assert room == VideoRoom(
        name=stable_room_name(VISIT_ID),
        url=f"https://practice.daily.co/{stable_room_name(VISIT_ID)}",
        not_before=OPENS,
        expires_at=CLOSES,
    )


def test_the_room_name_is_stable_per_visit_and_reveals_nothing(settings):
    name = stable_room_name(VISIT_ID)
    assert name == stable_room_name(VISIT_ID)
    assert name != stable_room_name("6f1c2e3a-0000-4000-8000-000000000002")
    assert VISIT_ID not in name and VISIT_ID.replace("-", "") not in name
    settings.LOOKUP_HASH_KEY = "another-key"
    assert stable_room_name(VISIT_ID) != name  # unguessable without our key


def test_a_room_that_already_exists_is_fetched(daily, fake_daily):
    first = daily.create_room(visit_id=VISIT_ID, not_before=OPENS, expires_at=CLOSES)

    again = daily.create_room(visit_id=VISIT_ID, not_before=OPENS, expires_at=CLOSES)

    assert again == first
    assert [(r.method, r.path) for r in fake_daily.requests] == [
        ("POST", "/v1/rooms"),
        ("POST", "/v1/rooms"),
        ("GET", f"/v1/rooms/{first.name}"),
    ]
    assert fake_daily.requests[2].authorization == f"Bearer {API_KEY}"


def test_a_room_is_deleted_by_its_name(daily, fake_daily):
    room = daily.create_room(visit_id=VISIT_ID, not_before=OPENS, expires_at=CLOSES)

    daily.delete_room(name=room.name)

    assert fake_daily.rooms == {}
    request = fake_daily.requests[-1]
    assert (request.method, request.path) == ("DELETE", f"/v1/rooms/{room.name}")
    assert request.authorization == f"Bearer {API_KEY}"


def test_a_room_already_gone_is_deleted(daily, fake_daily, caplog):
    with caplog.at_level(logging.DEBUG):
        daily.delete_room(name="vgone")
    assert [(r.method, r.path) for r in fake_daily.requests] == [("DELETE", "/v1/rooms/vgone")]
    assert "failed" not in caplog.text


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, TransientVideoError), (429, TransientVideoError), (401, PermanentVideoError)],
)
def test_a_failed_deletion_says_whether_to_retry(daily, fake_daily, status, error):
    fake_daily.then(status, {"error": "some-error", "info": "no"})
    with pytest.raises(error) as caught:
        daily.delete_room(name="vroom")
    assert caught.value.code == f"http_{status}"


# --- meeting tokens ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "user_name", "is_owner"),
    [("patient", "Patient", False), ("physician", "Physician", True)],
)
def test_each_participant_gets_a_token_of_their_own(daily, fake_daily, role, user_name, is_owner):
    link = daily.join_link(room=_room(), role=role)

    (request,) = fake_daily.requests
    assert (request.method, request.path) == ("POST", "/v1/meeting-tokens")
    assert request.authorization == f"Bearer {API_KEY}"
    assert request.body == {
        "properties": {
            "room_name": "vroom",
            "user_name": user_name,
            "is_owner": is_owner,
            "nbf": int(OPENS.timestamp()),
            "exp": int(CLOSES.timestamp()),
        }
    }
    url = urlsplit(link.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://practice.daily.co/vroom"
    (token,) = parse_qs(url.query)["t"]
    assert token.startswith(f"tok-{user_name}-")
    assert link.expires_at == CLOSES


def test_the_two_participants_get_different_links(daily):
    patient = daily.join_link(room=_room(), role="patient")
    physician = daily.join_link(room=_room(), role="physician")
    assert patient.url != physician.url


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_rate_limits_are_transient(daily, fake_daily, status):
    fake_daily.then(status, {"error": "server-error", "info": "try later"})
    with pytest.raises(TransientVideoError) as caught:
        daily.create_room(visit_id=VISIT_ID, not_before=OPENS, expires_at=CLOSES)
    assert caught.value.code == f"http_{status}"


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_permanent(daily, fake_daily, status):
    fake_daily.then(status, {"error": "invalid-request-error", "info": "nbf must be a number"})
    with pytest.raises(PermanentVideoError) as caught:
        daily.join_link(room=_room(), role="patient")
    assert caught.value.code == f"http_{status}"


def test_a_wrong_api_key_is_permanent(settings, daily, fake_daily):
    settings.DAILY_API_KEY = "wrong"
    with pytest.raises(PermanentVideoError):
        get_video_backend().create_room(visit_id=VISIT_ID, not_before=OPENS, expires_at=CLOSES)


def test_a_timeout_is_transient(settings, daily, fake_daily):
    settings.DAILY_TIMEOUT_SECONDS = 0.2
    fake_daily.then(200, {"token": "late"}, hang=True)
    with pytest.raises(TransientVideoError) as caught:
        get_video_backend().join_link(room=_room(), role="patient")
    assert caught.value.code == "timeout"
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_server_is_transient(settings, daily):
    settings.DAILY_API_BASE_URL = f"http://127.0.0.1:{_unused_port()}/v1"
    with pytest.raises(TransientVideoError) as caught:
        get_video_backend().create_room(visit_id=VISIT_ID, not_before=OPENS, expires_at=CLOSES)
    assert caught.value.code == "network"


@pytest.mark.parametrize("payload", ["<html>oops</html>", {"name": "x"}, []])
def test_an_unreadable_success_is_transient(daily, fake_daily, payload):
    fake_daily.then(200, payload)
    with pytest.raises(TransientVideoError) as caught:
        daily.create_room(visit_id=VISIT_ID, not_before=OPENS, expires_at=CLOSES)
    assert caught.value.code == "bad_response"


def test_a_400_that_is_not_already_exists_is_permanent(daily, fake_daily):
    fake_daily.then(400, {"error": "invalid-request-error", "info": "exp must be in the future"})
    with pytest.raises(PermanentVideoError):
        daily.create_room(visit_id=VISIT_ID, not_before=OPENS, expires_at=CLOSES)
    assert len(fake_daily.requests) == 1


def test_errors_log_no_provider_text_and_no_token(daily, fake_daily, caplog):
    fake_daily.then(403, {"error": "forbidden", "info": "secret detail from Daily"})
    with caplog.at_level(logging.DEBUG), pytest.raises(PermanentVideoError):
        daily.join_link(room=_room(), role="patient")
    logged = caplog.text
    assert "secret detail" not in logged and API_KEY not in logged
    assert "PermanentVideoError" in logged


def test_the_backend_needs_an_api_key(settings):
    settings.VIDEO_BACKEND = "scheduling.video.daily.DailyVideoBackend"
    settings.DAILY_API_KEY = ""
    with pytest.raises(ImproperlyConfigured):
        get_video_backend()


def test_the_backend_instance_follows_the_settings(settings, daily):
    assert get_video_backend() is daily
    settings.DAILY_TIMEOUT_SECONDS = 3.0
    assert get_video_backend() is not daily
    assert get_video_backend().timeout == 3.0


def test_a_room_time_window_survives_the_round_trip(daily):
    room = daily.create_room(
        visit_id=VISIT_ID, not_before=OPENS, expires_at=OPENS + timedelta(hours=1)
    )
    assert (room.not_before, room.expires_at) == (OPENS, OPENS + timedelta(hours=1))
