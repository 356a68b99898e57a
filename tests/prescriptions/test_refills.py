"""Refill requests: each refusal alone with its reason code, several at once, the refills
limit (replacements never count), the 6-month expiry and the earliest refill date to the
second, a repeat answered with the same order, and who may ask."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from patients.models import SafetyFlag
from prescriptions.models import DeliveryOrder, EventSource, OrderKind, OrderStatus
from prescriptions.services.orders import order_create
from prescriptions.services.refills import REFILL_REPEAT_WINDOW
from scheduling.models import Appointment
from tests.actors import client_for
from tests.patients.support import intake_for
from tests.prescriptions.support_refill import (
    EARLIEST,
    NOW,
    fill,
    prescription_filled,
    ready_for_refill,
    reasons,
    refill,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def ready(patient, physician, clock):
    """The patient, ready, with a prescription whose first fill left at NOW."""
    ready_for_refill(patient)
    return prescription_filled(patient, physician)


def test_a_refill_on_its_earliest_day_makes_the_next_fill(patient, ready, clock):
    clock.move_to(EARLIEST)
    response = refill(patient, ready)

    assert response.status_code == 201, response.content
    order = DeliveryOrder.objects.get(public_id=response.json()["id"])
    assert (order.kind, order.fill_number, order.status) == ("refill", 1, "created")
    assert order.created_by == patient
    assert order.events.get().source == "patient"
    assert hasattr(order, "submission")  # the pharmacy hand-off is queued
    assert response.json()["fill_number"] == 1


def test_a_refill_reads_nothing_twice(patient, ready, clock):
    """The session, the prescription found and locked with its patient, its fills, the
    check-in cadence, the clearance, the membership, the pharmacy, the order (in its
    savepoint: a clashing number draws again), its event, hand-off and audit; the answer
    from what was written. Nothing read twice, no deferred column loaded late."""
    clock.move_to(EARLIEST)
    client = client_for(patient)
    with CaptureQueriesContext(connection) as queries:
        response = refill(patient, ready, client=client)

    assert response.status_code == 201, response.content
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert len(statements) == 13, [q["sql"][:120] for q in queries.captured_queries]


def test_one_second_before_the_earliest_moment_is_too_early(patient, ready, clock):
    clock.move_to(EARLIEST - timedelta(seconds=1))
    response = refill(patient, ready)

    assert reasons(response) == ["refill_too_early"]
    error = response.json()["error"]
    assert "2026-12-23" in error["message"] and "America/Chicago" in error["message"]
    assert error["fields"]["earliest_on"] == ["2026-12-23"]
    assert not DeliveryOrder.objects.filter(kind="refill").exists()


def test_the_last_fill_counts_from_when_it_was_sent_else_made(patient, physician, clock):
    """A first fill still waiting for the pharmacy counts from its creation; the next one
    counts from the refill's hand-off, 2 days after it was made."""
    ready_for_refill(patient)
    prescription = prescription_filled(patient, physician)
    DeliveryOrder.objects.update(sent_to_pharmacy_at=None)
    clock.move_to(EARLIEST)
    first = refill(patient, prescription)
    assert first.status_code == 201, first.content

    refill_order = DeliveryOrder.objects.get(public_id=first.json()["id"])
    DeliveryOrder.objects.filter(pk=refill_order.pk).update(
        status=OrderStatus.DELIVERED, sent_to_pharmacy_at=EARLIEST + timedelta(days=2)
    )
    # Sent at 00:00 Central on 25 December: the next from 00:00 on 15 January.
    next_earliest = EARLIEST + timedelta(days=23)
    clock.move_to(next_earliest - timedelta(seconds=1))
    # A recent check-in and questionnaires: only the date is in question.
    Appointment.objects.update(completed_at=timezone.now() - timedelta(days=1))
    intake_for(patient.patient, submitted_at=timezone.now() - timedelta(days=1))
    assert reasons(refill(patient, prescription)) == ["refill_too_early"]
    clock.move_to(next_earliest)
    response = refill(patient, prescription)
    assert response.status_code == 201, response.content
    assert response.json()["fill_number"] == 2


def test_no_refills_remaining_once_every_refill_is_ordered(patient, ready, clock):
    long_ago = NOW - timedelta(days=1)
    fill(ready, number=1, status=OrderStatus.DELIVERED, created_at=long_ago, sent_at=long_ago)
    fill(ready, number=2, status=OrderStatus.DELIVERED, created_at=long_ago, sent_at=NOW)
    clock.move_to(EARLIEST)

    assert reasons(refill(patient, ready)) == ["no_refills_remaining"]


def test_replacements_never_count_as_refills(patient, ready, clock):
    first = DeliveryOrder.objects.get(prescription=ready)
    fill(ready, number=1, status=OrderStatus.DELIVERED, created_at=NOW, sent_at=NOW)
    order_create(
        prescription=ready,
        patient=ready.patient,
        kind=OrderKind.REPLACEMENT,
        replaces=first,
        source=EventSource.OPS_ADMIN,
        actor=None,
    )
    clock.move_to(EARLIEST)

    response = refill(patient, ready)
    assert response.status_code == 201, response.content
    assert response.json()["fill_number"] == 2


def test_none_after_six_months_from_the_issue_date(patient, physician, clock):
    """Issued 2 December 2026: refills until 2 June 2027 (practice calendar), none after."""
    ready_for_refill(patient)
    prescription = prescription_filled(patient, physician, refills=5)
    assert prescription.expires_on.isoformat() == "2027-06-02"

    with time_machine.travel(datetime(2027, 6, 3, 3, 59, tzinfo=UTC), tick=False):  # 23:59 ET
        assert "prescription_expired" not in reasons_or_none(patient, prescription)
    with time_machine.travel(datetime(2027, 6, 3, 4, 0, tzinfo=UTC), tick=False):  # 00:00 ET
        assert "prescription_expired" in reasons(refill(patient, prescription))


def reasons_or_none(patient, prescription) -> list[str]:
    response = refill(patient, prescription)
    return [] if response.status_code == 201 else reasons(response)


def test_a_canceled_prescription_is_refused(patient, physician, clock):
    ready_for_refill(patient)
    prescription = prescription_filled(
        patient, physician, status="canceled", canceled_at=timezone.now()
    )
    clock.move_to(EARLIEST)

    assert reasons(refill(patient, prescription)) == ["prescription_canceled"]


def test_check_in_overdue(patient, ready, clock):
    # The last check-in 29 days before the earliest day: due on day 28, overdue the next.
    Appointment.objects.update(completed_at=EARLIEST - timedelta(days=29, hours=-12))
    clock.move_to(EARLIEST)

    assert reasons(refill(patient, ready)) == ["check_in_overdue"]


def test_questionnaire_overdue(patient, physician, clock):
    ready_for_refill(patient)
    prescription = prescription_filled(patient, physician)
    # The latest intake (the questionnaires' last answers) 60 days before.
    intake_for(patient.patient, submitted_at=NOW - timedelta(days=60))
    patient.patient.intakes.filter(submitted_at__gt=NOW - timedelta(days=10)).delete()
    clock.move_to(EARLIEST)

    assert reasons(refill(patient, prescription)) == [
        "questionnaire_overdue:phq9",
        "questionnaire_overdue:gad7",
    ]


def test_safety_flag_open(patient, ready, clock):
    SafetyFlag.objects.create(patient=patient.patient, kind="phq9_item9", source="questionnaire")
    clock.move_to(EARLIEST)

    assert reasons(refill(patient, ready)) == ["safety_flag_open"]


@pytest.mark.parametrize(
    ("status", "reason"),
    [(None, "membership_required"), ("canceled", "membership_canceled")],
)
def test_membership_gate_failing(patient, physician, clock, status, reason):
    ready_for_refill(patient)
    if status is None:
        patient.patient.subscriptions.all().delete()
    else:
        patient.patient.subscriptions.update(status=status)
    prescription = prescription_filled(patient, physician)
    clock.move_to(EARLIEST)

    assert reasons(refill(patient, prescription)) == [reason]


def test_every_reason_at_once(patient, physician, clock):
    """Canceled, exhausted, expired, early, overdue, not cleared, not a member: all told."""
    cleared_intake = NOW - timedelta(days=2)
    intake_for(patient.patient, submitted_at=cleared_intake)
    prescription = prescription_filled(
        patient, physician, refills=0, status="canceled", canceled_at=timezone.now()
    )
    SafetyFlag.objects.create(patient=patient.patient, kind="phq9_item9", source="questionnaire")
    with time_machine.travel(datetime(2027, 6, 10, 15, 0, tzinfo=UTC), tick=False):
        DeliveryOrder.objects.update(sent_to_pharmacy_at=timezone.now())
        got = reasons(refill(patient, prescription))

    assert got == [
        "prescription_canceled",
        "no_refills_remaining",
        "prescription_expired",
        "refill_too_early",
        "check_in_overdue",
        "consent_outstanding:treatment",
        "consent_outstanding:telehealth",
        "safety_flag_open",
        "questionnaire_overdue:phq9",
        "questionnaire_overdue:gad7",
        "membership_required",
    ]
    assert not DeliveryOrder.objects.filter(kind="refill").exists()


def test_asking_again_answers_the_same_order(patient, ready, clock):
    clock.move_to(EARLIEST)
    made = refill(patient, ready)
    clock.shift(REFILL_REPEAT_WINDOW - timedelta(seconds=1))
    again = refill(patient, ready)

    assert (made.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == made.json()["id"]
    assert DeliveryOrder.objects.filter(kind="refill").count() == 1
    read = AuditEvent.objects.filter(action="read", object_id=made.json()["id"])
    assert read.exists()


def test_asking_again_after_the_window_is_refused_as_early(patient, ready, clock):
    clock.move_to(EARLIEST)
    assert refill(patient, ready).status_code == 201
    clock.shift(REFILL_REPEAT_WINDOW + timedelta(seconds=1))

    assert reasons(refill(patient, ready)) == ["refill_too_early"]


def test_another_patients_prescription_is_not_found(other_patient, ready, clock):
    clock.move_to(EARLIEST)
    response = refill(other_patient, ready)

    assert response.status_code == 404
    assert not DeliveryOrder.objects.filter(kind="refill").exists()


@pytest.mark.parametrize("role", ["physician", "ops_admin"])
def test_staff_may_not_ask_for_a_patient(request, role, ready, clock):
    clock.move_to(EARLIEST)
    staff = request.getfixturevalue(role)
    response = refill(None, ready, client=client_for(getattr(staff, "user", staff)))

    assert response.status_code == 403
    assert not DeliveryOrder.objects.filter(kind="refill").exists()


def test_an_incomplete_address_is_refused_by_the_order(patient, ready, clock):
    type(patient.patient).objects.filter(pk=patient.patient.pk).update(city="")
    clock.move_to(EARLIEST)
    response = refill(patient, ready)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ship_to_invalid"
