"""Delivery orders as patients and physicians see them: their own or their patients',
tracking, the ship-to address and the timeline without staff notes, every read audited,
and the list's query count independent of the page size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from prescriptions.models import DeliveryEvent, EventSource, OrderKind, OrderStatus
from prescriptions.services.orders import order_create, order_transition
from tests.actors import client_for
from tests.prescriptions.support import carrier, pharmacy, prescription_for
from tests.prescriptions.support_refill import fill

pytestmark = pytest.mark.django_db

S = OrderStatus


@pytest.fixture
def shipped(patient, physician):
    """The patient's first fill, shipped by UPS, with a staff note on its timeline."""
    pharmacy()
    order = fill(prescription_for(patient, physician), status=S.CREATED, sent_at=None)
    order_transition(order=order, to=S.SENT_TO_PHARMACY, source=EventSource.SYSTEM)
    order_transition(
        order=order,
        to=S.SHIPPED,
        source=EventSource.PHARMACY,
        carrier=carrier(),
        tracking_number="1Z999AA10123456784",
    )
    DeliveryEvent.objects.create(order=order, source=EventSource.OPS_ADMIN, note="Left a voicemail")
    order.refresh_from_db()
    return order


def detail(user, order):
    return client_for(getattr(user, "user", user)).get(
        f"/api/prescriptions/orders/{order.public_id}"
    )


def listing(user, **params):
    return client_for(getattr(user, "user", user)).get("/api/prescriptions/orders", params)


def test_the_patient_sees_tracking_address_and_timeline_without_notes(patient, shipped):
    response = detail(patient, shipped)

    assert response.status_code == 200, response.content
    body = response.json()
    record = patient.patient
    assert body["number"] == shipped.number
    assert (body["status"], body["carrier"], body["tracking_number"]) == (
        "shipped",
        "UPS",
        "1Z999AA10123456784",
    )
    assert body["tracking_url"] == "https://carrier.example/track/1Z999AA10123456784"
    assert body["ship_to"]["line1"] == record.address_line1
    assert body["ship_to"]["state"] == "FL"
    assert [(e["status"], e["source"]) for e in body["timeline"]] == [
        ("created", "system"),
        ("sent_to_pharmacy", "system"),
        ("shipped", "pharmacy"),
    ]
    assert "Left a voicemail" not in response.content.decode()
    assert "note" not in body["timeline"][0]


def test_the_physician_of_the_state_sees_it_and_one_licensed_elsewhere_does_not(
    shipped, physician, physician_licensed_elsewhere
):
    assert detail(physician, shipped).status_code == 200
    assert detail(physician_licensed_elsewhere, shipped).status_code == 404


def test_another_patient_gets_404_and_an_empty_list(other_patient, shipped):
    assert detail(other_patient, shipped).status_code == 404
    response = listing(other_patient)
    assert (response.status_code, response.json()["count"]) == (200, 0)


def test_ops_admins_use_the_tracking_endpoints(ops_admin, shipped):
    assert detail(ops_admin, shipped).status_code == 403
    assert listing(ops_admin).status_code == 403


def test_reads_are_audited(patient, shipped):
    detail(patient, shipped)
    listing(patient)

    reads = AuditEvent.objects.filter(action="read", object_id=str(shipped.public_id))
    assert reads.count() == 2
    assert {str(r.patient_id) for r in reads} == {str(patient.patient.public_id)}


def test_a_physician_filters_by_patient(physician, patient, other_patient, shipped):
    pharmacy()
    theirs = fill(prescription_for(other_patient, physician), status=S.CREATED, sent_at=None)

    everyone = listing(physician).json()
    assert {row["id"] for row in everyone["results"]} == {
        str(shipped.public_id),
        str(theirs.public_id),
    }
    one = listing(physician, patient=str(other_patient.patient.public_id)).json()
    assert [row["id"] for row in one["results"]] == [str(theirs.public_id)]
    by_status = listing(physician, status="shipped").json()
    assert [row["id"] for row in by_status["results"]] == [str(shipped.public_id)]


def test_the_list_runs_the_same_queries_whatever_the_page_size(patient, shipped):
    for _ in range(11):  # replacements: orders of one prescription, as many as needed
        order_create(
            prescription=shipped.prescription,
            patient=patient.patient,
            kind=OrderKind.REPLACEMENT,
            source=EventSource.OPS_ADMIN,
            actor=None,
        )
    client = client_for(patient)
    client.get("/api/prescriptions/orders")  # warm up the session

    counts = []
    for size in (2, 12):
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/prescriptions/orders", {"page_size": size})
        assert len(response.json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
