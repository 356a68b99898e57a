"""Mood: from the app and from SMS replies."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from notifications.models import InboundSms
from patients.models import IntakeStatus, MoodEntry
from tests.actors import client_for
from tests.patients.support import (
    PATIENT_PHONE,
    intake_for,
    sms_from_patient_phone,
)

pytestmark = pytest.mark.django_db


def test_mood_from_the_app(patient):
    response = client_for(patient).post("/api/moods", {"score": 7}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["score"] == 7
    assert response.json()["source"] == "app"
    entry = MoodEntry.objects.get()
    assert (entry.patient, entry.score, entry.source) == (patient.patient, "7", "app")
    assert AuditEvent.objects.filter(action="create", object_type="patients.moodentry").exists()


@pytest.mark.parametrize("score", [0, 11, "seven", None])
def test_mood_out_of_range_is_a_field_error(patient, score):
    response = client_for(patient).post("/api/moods", {"score": score}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["score"]
    assert not MoodEntry.objects.exists()


def test_mood_is_for_patients_only(physician, ops_admin, api):
    assert client_for(physician.user).post("/api/moods", {"score": 5}).status_code == 403
    assert client_for(ops_admin).post("/api/moods", {"score": 5}).status_code == 403
    assert api.post("/api/moods", {"score": 5}, format="json").status_code == 401


@pytest.fixture
def texting_patient(patient):
    """The `patient` actor, in care (approved intake) and with a phone on file."""
    patient.patient.set_phone(PATIENT_PHONE)
    patient.patient.save()
    intake_for(patient.patient)
    return patient


@pytest.mark.parametrize(("body", "score"), [("7", "7"), (" 10 ", "10"), ("3.", "3"), ("1", "1")])
def test_a_number_texted_back_is_the_patients_mood(texting_patient, body, score):
    assert sms_from_patient_phone(body) is None

    entry = MoodEntry.objects.get()
    assert (entry.patient, entry.score, entry.source) == (texting_patient.patient, score, "sms")
    assert InboundSms.objects.get().handled_by == "patients.mood"


@pytest.mark.parametrize("body", ["feeling good", "7 today", "0", "11", "7/10", "3.5", ""])
def test_anything_else_texted_back_is_not_claimed(texting_patient, body):
    sms_from_patient_phone(body)

    assert not MoodEntry.objects.exists()
    assert InboundSms.objects.get().handled_by == ""


def test_a_number_from_a_patient_not_in_care_is_not_claimed(patient):
    """Only patients in care are asked for their mood; a bare number from anyone else
    is left to other handlers."""
    patient.patient.set_phone(PATIENT_PHONE)
    patient.patient.save()
    intake_for(patient.patient, status=IntakeStatus.SUBMITTED)

    sms_from_patient_phone("7")

    assert not MoodEntry.objects.exists()
    assert InboundSms.objects.get().handled_by == ""
