"""Dosing protocols: setting one (validation, the previous one ends, racing), and dose
changes at a check-in (titration rules)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from prescriptions.models import DoseChange, DosingProtocol
from scheduling.models import AppointmentStatus
from tests.actors import client_for
from tests.prescriptions.support import completed_visit, medication, protocol_for

pytestmark = pytest.mark.django_db


def _url(user, tail=""):
    return f"/api/prescriptions/patients/{user.patient.public_id}/protocol{tail}"


def _plan(**changes):
    return {
        "kind": "microdose",
        "medication": str(medication().public_id),
        "starting_dose_mg": "50",
        "titration_step_mg": "25",
        "min_days_between_steps": 14,
        "ceiling_dose_mg": "150",
        "max_per_session_mg": "100",
        "min_hours_between_sessions": 48,
    } | changes


def test_setting_a_protocol_ends_the_current_one(patient, physician):
    client = client_for(physician.user)
    first = client.post(_url(patient), _plan(), format="json")
    assert first.status_code == 201, first.content
    assert first.json()["current_dose_mg"] == "50.00" and first.json()["changes"] == []
    second = client.post(_url(patient), _plan(kind="standard"), format="json")
    assert second.status_code == 201
    old = DosingProtocol.objects.get(public_id=first.json()["id"])
    assert old.ended_at is not None
    assert DosingProtocol.objects.get(ended_at__isnull=True).public_id.hex == second.json()[
        "id"
    ].replace("-", "")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"starting_dose_mg": "200"}, "starting_dose_mg"),
        ({"max_per_session_mg": "200"}, "max_per_session_mg"),
        ({"max_per_session_mg": "25"}, "max_per_session_mg"),
        ({"starting_dose_mg": "0"}, "starting_dose_mg"),
        ({"min_hours_between_sessions": 0}, "min_hours_between_sessions"),
        ({"kind": "heroic"}, "kind"),
    ],
)
def test_inconsistent_numbers_are_400_with_the_field(patient, physician, changes, field):
    response = client_for(physician.user).post(_url(patient), _plan(**changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not DosingProtocol.objects.exists()


def test_a_retired_formulation_is_400(patient, physician):
    medication().__class__.objects.update(active=False)
    response = client_for(physician.user).post(_url(patient), _plan(), format="json")
    assert response.status_code == 400
    assert "medication" in response.json()["error"]["fields"]


def test_only_physicians_who_may_see_the_patient(patient, physician_licensed_elsewhere, ops_admin):
    body = _plan()
    assert (
        client_for(physician_licensed_elsewhere.user)
        .post(_url(patient), body, format="json")
        .status_code
        == 404
    )
    assert client_for(ops_admin).post(_url(patient), body, format="json").status_code == 403
    assert client_for(patient).get(_url(patient)).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_two_physicians_setting_one_at_once_leave_one_current(patient, physician):
    protocol_for(patient, physician)
    clients = [client_for(physician.user) for _ in range(3)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(clients))

    def submit(client) -> None:
        try:
            barrier.wait()
            statuses.append(client.post(_url(patient), _plan(), format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {201, 409} and 201 in statuses
    assert DosingProtocol.objects.filter(ended_at__isnull=True).count() == 1


# --- dose changes ------------------------------------------------------------------------


@pytest.fixture
def protocol(patient, physician):
    """100 mg now, steps of 50 every 14 days, ceiling 300, max 200 per session; set 20
    days ago."""
    protocol = protocol_for(patient, physician)
    DosingProtocol.objects.filter(pk=protocol.pk).update(
        created_at=timezone.now() - timedelta(days=20)
    )
    return protocol


def _change(patient, physician, to, *, visit=None, reason="Tolerating well; little effect."):
    visit = visit or completed_visit(patient, physician, days_ago=0)
    body = {"visit": str(visit.public_id), "to_dose_mg": to, "reason": reason}
    return client_for(physician.user).post(_url(patient, "/dose-changes"), body, format="json")


def test_one_step_up_at_a_check_in(patient, physician, protocol):
    response = _change(patient, physician, "150")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["current_dose_mg"] == "150.00"
    [change] = body["changes"]
    assert (change["from_dose_mg"], change["to_dose_mg"]) == ("100.00", "150.00")
    assert change["reason"] == "Tolerating well; little effect."
    assert DoseChange.objects.get().reason == "Tolerating well; little effect."


@pytest.mark.parametrize("to", ["175", "250"])
def test_more_than_one_step_up_is_400(patient, physician, protocol, to):
    response = _change(patient, physician, to)
    assert response.status_code == 400
    assert "to_dose_mg" in response.json()["error"]["fields"]


def test_not_above_the_max_per_session_nor_the_ceiling(patient, physician, protocol):
    DosingProtocol.objects.filter(pk=protocol.pk).update(current_dose_mg=Decimal("200"))
    response = _change(patient, physician, "250")
    assert response.status_code == 400
    assert "maximum per session" in " ".join(response.json()["error"]["fields"]["to_dose_mg"])


def test_going_up_waits_min_days_after_the_last_change(patient, physician, protocol):
    assert _change(patient, physician, "150").status_code == 201
    too_soon = _change(patient, physician, "200")
    assert too_soon.status_code == 400
    assert "days between steps" in " ".join(too_soon.json()["error"]["fields"]["to_dose_mg"])
    DoseChange.objects.update(changed_at=timezone.now() - timedelta(days=14))
    assert _change(patient, physician, "200").status_code == 201


def test_going_down_is_always_allowed(patient, physician, protocol):
    assert _change(patient, physician, "150").status_code == 201
    response = _change(patient, physician, "50")
    assert response.status_code == 201
    assert response.json()["current_dose_mg"] == "50.00"


def test_the_visit_must_be_this_physicians_with_this_patient_under_way_or_held(
    patient, other_patient, physician, physician_licensed_elsewhere, protocol
):
    theirs = completed_visit(patient, physician_licensed_elsewhere, days_ago=0)
    other = completed_visit(other_patient, physician, days_ago=0)
    booked = completed_visit(patient, physician, days_ago=0)
    booked.status = AppointmentStatus.BOOKED
    booked.save(update_fields=["status"])
    for visit in (theirs, other, booked):
        response = _change(patient, physician, "150", visit=visit)
        assert response.status_code == 400
        assert "visit" in response.json()["error"]["fields"]


def test_a_reason_is_required(patient, physician, protocol):
    response = _change(patient, physician, "150", reason="")
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]


def test_no_current_protocol_is_409(patient, physician):
    response = _change(patient, physician, "150")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_current_protocol"


def test_reading_the_protocol_is_audited(patient, physician, protocol):
    _change(patient, physician, "150")
    response = client_for(physician.user).get(_url(patient))
    assert response.status_code == 200
    assert len(response.json()["changes"]) == 1
    assert AuditEvent.objects.filter(
        action="read", object_id=str(protocol.public_id), actor=physician.user
    ).exists()
