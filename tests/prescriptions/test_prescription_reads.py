"""Reading and canceling prescriptions; PDMP checks; the catalog."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from prescriptions.models import (
    DeliveryOrder,
    DosingProtocol,
    EventSource,
    OrderKind,
    OrderStatus,
    PdmpCheck,
    Prescription,
)
from prescriptions.services.orders import order_create, order_transition
from tests.actors import client_for
from tests.prescriptions.support import medication, pharmacy, prescription_for

pytestmark = pytest.mark.django_db
LIST = "/api/prescriptions/prescriptions"


def _prescriptions(patient, physician, count):
    made = []
    for _ in range(count):
        DosingProtocol.objects.filter(patient=patient.patient).update(ended_at=timezone.now())
        made.append(prescription_for(patient, physician))
    return made


def _first_fill(prescription, physician):
    pharmacy()
    return order_create(
        prescription=prescription,
        patient=prescription.patient,
        kind=OrderKind.FIRST_FILL,
        source=EventSource.PHYSICIAN,
        actor=physician.user,
        fill_number=0,
    )


def test_patients_see_their_own_and_physicians_their_patients(
    patient, other_patient, physician, physician_licensed_elsewhere, ops_admin
):
    [mine] = _prescriptions(patient, physician, 1)
    [theirs] = _prescriptions(other_patient, physician, 1)
    ids = lambda response: {row["id"] for row in response.json()["results"]}  # noqa: E731
    assert ids(client_for(patient).get(LIST)) == {str(mine.public_id)}
    assert ids(client_for(physician.user).get(LIST)) == {str(mine.public_id), str(theirs.public_id)}
    assert ids(client_for(physician_licensed_elsewhere.user).get(LIST)) == {str(theirs.public_id)}
    by_patient = client_for(physician.user).get(LIST, {"patient": str(patient.patient.public_id)})
    assert ids(by_patient) == {str(mine.public_id)}
    assert client_for(ops_admin).get(LIST).status_code == 403
    detail = f"{LIST}/{mine.public_id}"
    assert client_for(other_patient).get(detail).status_code == 404
    assert client_for(ops_admin).get(detail).status_code == 403


def test_the_list_costs_the_same_queries_at_any_size(patient, physician):
    client = client_for(physician.user)
    _prescriptions(patient, physician, 1)
    with CaptureQueriesContext(connection) as one:
        assert client.get(LIST).status_code == 200
    _prescriptions(patient, physician, 4)
    with CaptureQueriesContext(connection) as five:
        response = client.get(LIST)
    assert response.json()["count"] == 5
    assert len(five) == len(one)
    reads = AuditEvent.objects.filter(action="read", object_type="prescriptions.prescription")
    assert reads.count() == 1 + 5


def test_detail_counts_refills_remaining_and_lists_orders(patient, physician):
    [prescription] = _prescriptions(patient, physician, 1)
    first = _first_fill(prescription, physician)
    order_create(
        prescription=prescription,
        patient=prescription.patient,
        kind=OrderKind.REFILL,
        source=EventSource.PATIENT,
        actor=patient,
        fill_number=1,
    )
    response = client_for(patient).get(f"{LIST}/{prescription.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["refills"] == 2 and body["refills_remaining"] == 1
    assert body["orders"][0]["number"] == first.number
    assert [o["kind"] for o in body["orders"]] == ["first_fill", "refill"]
    assert AuditEvent.objects.filter(
        action="read", object_id=str(prescription.public_id), actor=patient
    ).exists()


def test_cancel_records_who_and_why_and_cancels_orders_not_yet_sent(patient, physician):
    [prescription] = _prescriptions(patient, physician, 1)
    created = _first_fill(prescription, physician)
    sent = order_create(
        prescription=prescription,
        patient=prescription.patient,
        kind=OrderKind.REFILL,
        source=EventSource.PATIENT,
        actor=patient,
        fill_number=1,
    )
    order_transition(order=sent, to=OrderStatus.SENT_TO_PHARMACY, source=EventSource.SYSTEM)
    url = f"{LIST}/{prescription.public_id}/cancel"
    client = client_for(physician.user)
    response = client.post(url, {"reason": "Moved out of state."}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "canceled"
    prescription.refresh_from_db()
    assert prescription.canceled_by == physician.user
    assert prescription.cancel_reason == "Moved out of state."
    assert DeliveryOrder.objects.get(pk=created.pk).status == OrderStatus.CANCELED
    assert DeliveryOrder.objects.get(pk=sent.pk).status == OrderStatus.SENT_TO_PHARMACY
    again = client.post(url, {"reason": "Twice."}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "prescription_canceled"
    prescription.refresh_from_db()
    assert prescription.cancel_reason == "Moved out of state."


def test_cancel_needs_a_reason_and_a_physician_who_may_see_the_patient(
    patient, physician, physician_licensed_elsewhere
):
    [prescription] = _prescriptions(patient, physician, 1)
    url = f"{LIST}/{prescription.public_id}/cancel"
    assert client_for(physician.user).post(url, {"reason": ""}, format="json").status_code == 400
    elsewhere = client_for(physician_licensed_elsewhere.user)
    assert elsewhere.post(url, {"reason": "x"}, format="json").status_code == 404
    assert client_for(patient).post(url, {"reason": "x"}, format="json").status_code == 403
    assert Prescription.objects.get().status == "signed"


def test_pdmp_checks_are_recorded_with_who_and_when(patient, physician):
    url = f"/api/prescriptions/patients/{patient.patient.public_id}/pdmp-checks"
    client = client_for(physician.user)
    response = client.post(
        url, {"reference": "EF-42", "notes": "No other prescribers."}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["program"] == "FL" and body["checked_by"] == str(physician.user.public_id)
    check = PdmpCheck.objects.get()
    assert check.reference == "EF-42"
    assert client.post(url, {"reference": "  "}, format="json").status_code == 400
    listed = client.get(url)
    assert [row["reference"] for row in listed.json()["results"]] == ["EF-42"]
    assert AuditEvent.objects.filter(action="read", object_id=str(check.public_id)).exists()


def test_the_catalog_lists_active_formulations_for_staff(patient, physician, ops_admin):
    medication("100")
    retired = medication("50")
    retired.active = False
    retired.save()
    url = "/api/prescriptions/medications"
    response = client_for(physician.user).get(url)
    assert [row["display_name"] for row in response.json()["results"]] == [
        "Ketamine HCl 100 mg rapid dissolve tablet"
    ]
    assert client_for(ops_admin).get(url).status_code == 200
    assert client_for(patient).get(url).status_code == 403
