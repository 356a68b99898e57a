"""Signing over time and twice: the telemedicine rule's end date, and double submission
(one after the other, and concurrently)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection

from prescriptions.models import DeliveryOrder, InPersonEvaluation, Prescription
from tests.actors import client_for
from tests.prescriptions.support_sign import SIGN_URL, ready_to_sign, refusal, sign_body

AFTER_THE_RULE = datetime(2027, 1, 6, 15, 0, tzinfo=UTC)  # TELEMEDICINE_RULE_ENDS_ON + 6 days
ON_THE_LAST_DAY = datetime(2026, 12, 31, 18, 0, tzinfo=UTC)


def _sign(physician, body):
    return client_for(physician.user).post(SIGN_URL, body, format="json")


@pytest.mark.django_db
def test_after_the_telemedicine_rule_without_an_in_person_evaluation(patient, physician):
    with time_machine.travel(AFTER_THE_RULE, tick=True):
        _, visit = ready_to_sign(patient, physician)
        assert refusal(_sign(physician, sign_body(patient, physician, visit))) == [
            "telemedicine_rule_ended"
        ]


@pytest.mark.django_db
def test_after_the_telemedicine_rule_with_an_in_person_evaluation(patient, physician):
    with time_machine.travel(AFTER_THE_RULE, tick=True):
        _, visit = ready_to_sign(patient, physician)
        response = client_for(physician.user).post(
            f"/api/prescriptions/patients/{patient.patient.public_id}/in-person-evaluations",
            {"evaluated_on": "2027-01-04", "notes": "Vitals normal."},
            format="json",
        )
        assert response.status_code == 201, response.content
        response = _sign(physician, sign_body(patient, physician, visit))
        assert response.status_code == 201, response.content
        evaluation = InPersonEvaluation.objects.get()
        assert Prescription.objects.get().in_person_evaluation == evaluation


@pytest.mark.django_db
def test_on_the_rules_last_day_no_evaluation_is_needed(patient, physician):
    with time_machine.travel(ON_THE_LAST_DAY, tick=True):
        _, visit = ready_to_sign(patient, physician)
        assert _sign(physician, sign_body(patient, physician, visit)).status_code == 201


@pytest.mark.django_db
def test_an_evaluation_in_the_future_is_400(patient, physician):
    response = client_for(physician.user).post(
        f"/api/prescriptions/patients/{patient.patient.public_id}/in-person-evaluations",
        {"evaluated_on": "2099-01-01"},
        format="json",
    )
    assert response.status_code == 400
    assert "evaluated_on" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_a_double_submission_makes_one_prescription(patient, physician):
    _, visit = ready_to_sign(patient, physician)
    body = sign_body(patient, physician, visit)
    first = _sign(physician, body)
    again = _sign(physician, body)  # the very same body, TOTP code included
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Prescription.objects.count() == 1 and DeliveryOrder.objects.count() == 1


@pytest.mark.django_db
def test_different_clinical_fields_are_a_new_prescription(patient, physician):
    from tests.prescriptions.support_sign import totp_code

    _, visit = ready_to_sign(patient, physician)
    assert _sign(physician, sign_body(patient, physician, visit)).status_code == 201
    body = sign_body(patient, physician, visit, refills=1, totp_code=totp_code(physician, 1))
    assert _sign(physician, body).status_code == 201
    assert Prescription.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submissions_make_one_prescription(patient, physician):
    _, visit = ready_to_sign(patient, physician)
    body = sign_body(patient, physician, visit)
    clients = [client_for(physician.user) for _ in range(4)]
    statuses: list[int] = []
    ids: set[str] = set()
    barrier = threading.Barrier(len(clients))

    def submit(client) -> None:
        try:
            barrier.wait()
            response = client.post(SIGN_URL, body, format="json")
            statuses.append(response.status_code)
            if response.status_code < 300:
                ids.add(response.json()["id"])
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 200, 201]
    assert len(ids) == 1
    assert Prescription.objects.count() == 1 and DeliveryOrder.objects.count() == 1
