"""A canceled or moved visit's video room is deleted after the commit, by a task that gets
the room's name only, never inside the booking's transaction; the cancel stands whatever
the provider or the broker does; the task retries while the provider is down, gives up
on a refusal, and a second run deletes nothing more."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import time_machine

from scheduling.models import Appointment, AppointmentStatus
from scheduling.tasks import delete_video_room
from scheduling.video.base import TransientVideoError
from tests.actors import client_for
from tests.scheduling.support_book import NOW, OTHER_SLOT, book, office, ready_for_consultation
from tests.scheduling.support_visit import RECORDING_BACKEND, RecordingVideoBackend

pytestmark = pytest.mark.django_db

ROOM = "vroom0123456789abcdef0123456789a"
TASK = "scheduling.tasks.delete_video_room.delay"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def recording(settings: Any) -> Iterator[type[RecordingVideoBackend]]:
    settings.VIDEO_BACKEND = RECORDING_BACKEND
    RecordingVideoBackend.reset()
    yield RecordingVideoBackend
    RecordingVideoBackend.reset()


@pytest.fixture
def booked(patient, physician):
    """The patient's consultation, booked through the API, with its room made."""
    office(physician)
    ready_for_consultation(patient)
    response = book(patient, physician)
    assert response.status_code == 201, response.content
    appointment = Appointment.objects.get(public_id=response.json()["id"])
    Appointment.objects.filter(pk=appointment.pk).update(
        video_room_name=ROOM, video_room_url=f"https://video.example/{ROOM}"
    )
    appointment.refresh_from_db()
    return appointment


def cancel(user, appointment, **body):
    url = f"/api/scheduling/appointments/{appointment.public_id}/cancel"
    return client_for(user).post(url, body, format="json")


def reschedule(user, appointment, starts_at):
    url = f"/api/scheduling/appointments/{appointment.public_id}/reschedule"
    return client_for(user).post(url, {"starts_at": starts_at.isoformat()}, format="json")


def test_a_canceled_visits_room_is_deleted_after_the_commit_by_its_name_only(
    patient, booked, django_capture_on_commit_callbacks
):
    with mock.patch(TASK) as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = cancel(patient, booked)
        assert response.status_code == 200, response.content
        # Nothing asked of the provider, nothing enqueued, inside the transaction.
        assert delay.call_count == 0 and RecordingVideoBackend.deletions == []
        for callback in callbacks:
            callback()
    delay.assert_called_once_with(ROOM)


def test_a_moved_visits_old_room_is_deleted(patient, booked, django_capture_on_commit_callbacks):
    with mock.patch(TASK) as delay, django_capture_on_commit_callbacks(execute=True):
        response = reschedule(patient, booked, OTHER_SLOT)
    assert response.status_code == 201, response.content
    delay.assert_called_once_with(ROOM)
    new = Appointment.objects.get(public_id=response.json()["id"])
    assert new.video_room_name == ""  # the new time gets a room of its own at its first join


def test_a_visit_without_a_room_enqueues_nothing(
    patient, booked, django_capture_on_commit_callbacks
):
    Appointment.objects.filter(pk=booked.pk).update(video_room_name="")
    with mock.patch(TASK) as delay, django_capture_on_commit_callbacks(execute=True):
        assert cancel(patient, booked).status_code == 200
    delay.assert_not_called()


def test_the_cancel_stands_when_the_broker_is_down(
    patient, booked, django_capture_on_commit_callbacks, caplog
):
    with (
        mock.patch(TASK, side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
        caplog.at_level(logging.ERROR),
    ):
        response = cancel(patient, booked)
    assert response.status_code == 200, response.content
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.CANCELED


def test_the_task_deletes_the_room_and_a_second_run_finds_it_gone(settings, booked):
    delete_video_room(ROOM)
    delete_video_room(ROOM)
    assert RecordingVideoBackend.deletions == [ROOM, ROOM]  # the backend's "gone" is no error


def test_the_task_retries_while_the_provider_is_down(booked):
    RecordingVideoBackend.fail = "transient"
    assert delete_video_room.autoretry_for == (TransientVideoError,)

    result = delete_video_room.apply(args=[ROOM])

    assert result.failed()
    assert RecordingVideoBackend.deletions == [ROOM] * (1 + delete_video_room.max_retries)


def test_the_task_gives_up_on_a_refusal(booked, caplog):
    RecordingVideoBackend.fail = "permanent"
    with caplog.at_level(logging.ERROR):
        result = delete_video_room.apply(args=[ROOM])
    assert result.successful()
    assert RecordingVideoBackend.deletions == [ROOM]
    assert "code=http_401" in caplog.text and ROOM not in caplog.text
