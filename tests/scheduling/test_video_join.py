"""GET /api/scheduling/appointments/<id>/join: the visit's patient and physician only,
while the room is open, one room per visit (made on the first join, even when two first
joins race), every join audited, video provider trouble a 503."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db import connection

from audit.models import AuditEvent
from scheduling.models import Appointment, AppointmentStatus
from tests.actors import client_for
from tests.scheduling.support_visit import RECORDING_BACKEND, RecordingVideoBackend, visit_in

pytestmark = pytest.mark.django_db

TEMPLATE = "https://video.practice.example/room/{room}"


@pytest.fixture(autouse=True)
def recording_backend(settings: Any) -> Iterator[type[RecordingVideoBackend]]:
    settings.VIDEO_BACKEND = RECORDING_BACKEND
    settings.VIDEO_ROOM_URL_TEMPLATE = TEMPLATE
    RecordingVideoBackend.reset()
    yield RecordingVideoBackend
    RecordingVideoBackend.reset()


def join(user: Any, visit: Appointment) -> Any:
    return client_for(user).get(f"/api/scheduling/appointments/{visit.public_id}/join")


def join_events(visit: Appointment) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            object_id=str(visit.public_id), detail__event="video_join"
        ).order_by("id")
    )


def test_the_patient_gets_their_link_and_the_room_is_made_and_kept(patient, physician):
    visit = visit_in(patient, physician, 5)

    response = join(patient, visit)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["role"] == "patient"
    visit.refresh_from_db()
    assert visit.video_room_name and visit.video_room_url == TEMPLATE.format(
        room=visit.video_room_name
    )
    assert body["url"].startswith(visit.video_room_url + "?")
    assert parse_qs(urlsplit(body["url"]).query)["role"] == ["patient"]
    opens = visit.starts_at - timedelta(minutes=10)
    closes = visit.ends_at + timedelta(minutes=30)
    assert body["room_opens_at"] == opens.isoformat().replace("+00:00", "Z")
    assert body["room_closes_at"] == closes.isoformat().replace("+00:00", "Z")
    assert body["expires_at"] == body["room_closes_at"]
    (room,) = RecordingVideoBackend.rooms
    assert (room.not_before, room.expires_at) == (opens, closes)


def test_the_physician_joins_the_same_room_with_a_link_of_their_own(patient, physician):
    visit = visit_in(patient, physician, 5)
    patient_link = join(patient, visit).json()["url"]

    response = join(physician.user, visit)

    assert response.status_code == 200
    assert response.json()["role"] == "physician"
    assert response.json()["url"] != patient_link
    assert len(RecordingVideoBackend.rooms) == 1
    room = RecordingVideoBackend.rooms[0].name
    assert RecordingVideoBackend.links == [(room, "patient"), (room, "physician")]


def test_the_room_url_is_encrypted_at_rest(patient, physician):
    visit = visit_in(patient, physician, 5)
    join(patient, visit)
    visit.refresh_from_db()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT video_room_url FROM scheduling_appointment WHERE id = %s", [visit.pk]
        )
        (raw,) = cursor.fetchone()
    assert raw and visit.video_room_name not in raw


@pytest.mark.parametrize(
    "outsider",
    ["other_patient", "physician_licensed_elsewhere", "unlicensed_physician", "ops_admin"],
)
def test_anyone_else_gets_404_and_no_room_is_made(request, patient, physician, outsider):
    visit = visit_in(patient, physician, 5)
    user = request.getfixturevalue(outsider)

    response = join(getattr(user, "user", user), visit)

    assert response.status_code == 404
    assert RecordingVideoBackend.rooms == []
    assert join_events(visit) == []


def test_an_unknown_visit_is_404(patient):
    response = client_for(patient).get(
        "/api/scheduling/appointments/00000000-0000-4000-8000-000000000000/join"
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("offset", "status", "code"),
    [
        (timedelta(minutes=-10, seconds=-1), 409, "room_not_open"),
        (timedelta(minutes=-10), 200, None),
        (timedelta(minutes=20 + 30, seconds=-1), 200, None),  # the visit lasts 20 minutes
        (timedelta(minutes=20 + 30), 409, "room_closed"),
        (timedelta(hours=5), 409, "room_closed"),
    ],
    ids=["before-opening", "at-opening", "just-before-closing", "at-closing", "long-after"],
)
def test_the_room_is_open_from_10_minutes_before_to_30_after(
    patient, physician, offset, status, code
):
    visit = visit_in(patient, physician, 60 * 24)
    with time_machine.travel(visit.starts_at + offset, tick=False):
        response = join(patient, visit)
    assert response.status_code == status, response.content
    if code:
        assert response.json()["error"]["code"] == code
        assert RecordingVideoBackend.rooms == []


def test_an_in_progress_visit_can_be_joined(patient, physician):
    visit = visit_in(patient, physician, -5, status=AppointmentStatus.IN_PROGRESS)
    assert join(physician.user, visit).status_code == 200


@pytest.mark.parametrize(
    "status", [AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELED]
)
def test_a_finished_visit_cannot_be_joined(patient, physician, status):
    visit = visit_in(patient, physician, -5, status=status)
    response = join(patient, visit)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "visit_not_active"


def test_each_join_is_audited_with_the_role(patient, physician):
    visit = visit_in(patient, physician, 5)

    join(patient, visit)
    join(physician.user, visit)
    join(patient, visit)

    events = join_events(visit)
    assert [(e.actor_id, e.detail["role"]) for e in events] == [
        (patient.pk, "patient"),
        (physician.user.pk, "physician"),
        (patient.pk, "patient"),
    ]
    assert {e.patient_id for e in events} == {patient.patient.public_id}
    created = AuditEvent.objects.filter(object_id=str(visit.public_id), detail__event="video_room")
    assert created.count() == 1


def test_a_provider_outage_is_a_503_to_retry_and_keeps_no_room(patient, physician):
    visit = visit_in(patient, physician, 5)
    RecordingVideoBackend.fail = "transient"

    response = join(patient, visit)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "video_unavailable"
    assert response["Retry-After"] == "30"
    visit.refresh_from_db()
    assert visit.video_room_name == ""
    assert join_events(visit) == []

    RecordingVideoBackend.fail = ""
    assert join(patient, visit).status_code == 200


def test_a_provider_refusal_is_a_503_the_team_hears_about(patient, physician, caplog):
    visit = visit_in(patient, physician, 5)
    RecordingVideoBackend.fail = "permanent"

    response = join(patient, visit)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "video_provider_error"
    assert any(r.levelname == "ERROR" and "http_401" in r.getMessage() for r in caplog.records)


def test_the_schema_documents_the_503(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    responses = schema["paths"]["/api/scheduling/appointments/{public_id}/join"]["get"]["responses"]
    assert "503" in responses and "video_unavailable" in responses["503"]["description"]
    assert not any(code.startswith("5") and code != "503" for code in responses)


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_joins_make_one_room(patient, physician):
    visit = visit_in(patient, physician, 5)
    RecordingVideoBackend.delay = 0.3
    clients = [client_for(patient), client_for(physician.user)] * 3
    url = f"/api/scheduling/appointments/{visit.public_id}/join"
    start = threading.Barrier(len(clients))
    statuses: list[int] = []

    def go(client: Any) -> None:
        try:
            start.wait()
            statuses.append(client.get(url).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert statuses == [200] * len(clients)
    assert len(RecordingVideoBackend.rooms) == 1
    visit.refresh_from_db()
    assert visit.video_room_name == RecordingVideoBackend.rooms[0].name
    assert {name for name, _ in RecordingVideoBackend.links} == {visit.video_room_name}
