"""The appointment answer is built as plain JSON values (scheduling.api.appointments
`appointment_out`); AppointmentOut documents it. Both must say the same thing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
import time_machine
from rest_framework import serializers

from scheduling.api.appointments import AppointmentOut
from tests.actors import client_for
from tests.scheduling.support_book import NOW, OTHER_SLOT, book, office, ready_for_consultation

pytestmark = pytest.mark.django_db


def _fields(serializer: serializers.Serializer) -> dict[str, Any]:
    return {
        name: _fields(field) if isinstance(field, serializers.Serializer) else None
        for name, field in serializer.fields.items()
    }


def _keys(answer: dict[str, Any]) -> dict[str, Any]:
    return {name: _keys(v) if isinstance(v, dict) else None for name, v in answer.items()}


def _raw(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer's instants and ids as Python values, for the serializer to render."""
    raw = dict(answer)
    for name in ("starts_at", "ends_at", "canceled_at"):
        raw[name] = datetime.fromisoformat(answer[name]) if answer[name] else None
    for name in ("id", "patient", "rescheduled_from", "rescheduled_to"):
        raw[name] = uuid.UUID(answer[name]) if answer[name] else None
    raw["physician"] = {**answer["physician"], "id": uuid.UUID(answer["physician"]["id"])}
    return raw


def test_every_answer_is_the_documented_shape_and_the_serializer_s_rendering(patient, physician):
    with time_machine.travel(NOW, tick=False):
        office(physician)
        ready_for_consultation(patient)
        booked = book(patient, physician)
        assert booked.status_code == 201
        public_id = booked.json()["id"]
        client = client_for(patient)
        moved = client.post(
            f"/api/scheduling/appointments/{public_id}/reschedule",
            {"starts_at": OTHER_SLOT.isoformat()},
            format="json",
        )
        assert moved.status_code == 201
        old = client.get(f"/api/scheduling/appointments/{public_id}")
        canceled = client.post(
            f"/api/scheduling/appointments/{moved.json()['id']}/cancel", {}, format="json"
        )
        assert canceled.status_code == 200
        seen_by_physician = client_for(physician.user).get(
            f"/api/scheduling/appointments/{public_id}"
        )
    documented = _fields(AppointmentOut())
    for response in (booked, moved, old, canceled, seen_by_physician):
        answer = response.json()
        assert _keys(answer) == documented
        assert AppointmentOut(_raw(answer)).data == answer
    assert old.json()["rescheduled_to"] == moved.json()["id"]
    assert moved.json()["rescheduled_from"] == public_id
    assert canceled.json()["canceled_at"] is not None
